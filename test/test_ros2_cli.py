"""The package's main entry points with the real ros2 CLI, as a ROS 2 user runs them:
``ros2 launch chhnn_ros perception.launch.py`` (the installed launch file and lib/chhnn_ros
executables), ``ros2 node list``, ``ros2 topic pub/echo``, ``ros2 service call``,
``ros2 param get/set/describe``; a params file sets learner/detector/encoder/device and an explicit
launch argument overrides it; the perception part of sim.launch.py (``use_camera:=false`` and an
image topic) fed by a test publisher."""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

from chhnn_ros.graph import Graph, child_env  # noqa: E402
from chhnn_ros.ros.dds import allocate_domain, release_domain  # noqa: E402

BIN = Path(sys.prefix) / "bin"
INSTALLED = [BIN / "ros2", Path(sys.prefix) / "lib" / "chhnn_ros" / "classifier_node",
             Path(sys.prefix) / "share" / "chhnn_ros" / "launch" / "perception.launch.py"]
NODES = {"/chhnn/camera", "/chhnn/detector", "/chhnn/encoder", "/chhnn/classifier"}


@pytest.fixture(scope="module")
def env():
    missing = [str(p) for p in INSTALLED if not p.exists()]
    if missing:
        reason = f"the ros2 CLI or the installed package is missing ({', '.join(missing)}): run tools/setup.sh"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    domain = allocate_domain()
    e = {**child_env(domain), "AMENT_PREFIX_PATH": sys.prefix, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run([str(BIN / "ros2"), "daemon", "start"], env=e, capture_output=True, timeout=60)
    yield e
    subprocess.run([str(BIN / "ros2"), "daemon", "stop"], env=e, capture_output=True, timeout=60)
    release_domain(domain)


def ros2(env, *args, timeout=60.0) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "ros2"), *args], env=env, capture_output=True, text=True, timeout=timeout)


class Launch:
    """``ros2 launch chhnn_ros perception.launch.py ARGS`` in its own process group, stopped with SIGINT."""

    def __init__(self, env, log: Path, *args: str) -> None:
        self.log = log
        self.proc = subprocess.Popen([str(BIN / "ros2"), "launch", "chhnn_ros", "perception.launch.py", *args],
                                     env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(10)


def wait_nodes(env, launch: Launch, wanted: set[str], timeout: float = 150.0) -> set[str]:
    end = time.monotonic() + timeout
    got: set[str] = set()
    while time.monotonic() < end and launch.proc.poll() is None:
        got = set(ros2(env, "node", "list").stdout.split())
        if wanted <= got:
            return got
        time.sleep(1.0)
    raise AssertionError(f"nodes {sorted(wanted - got)} did not appear:\n{launch.text()[-3000:]}")


def params_file(tmp_path: Path, **classifier) -> Path:
    path = tmp_path / "my.yaml"
    c = {"learner": "ncm", "memory_path": str(tmp_path / "memory.pt"), "teach_samples": 5, "teach_interval": 0.0,
         **classifier}
    lines = ["/**/camera:", "  ros__parameters:", "    rate: 5.0", "    sim_n_objects: 2",
             "/**/encoder:", "  ros__parameters:", "    device: cpu", "/**/detector:", "  ros__parameters:",
             "    detector: groundtruth", "/**/classifier:", "  ros__parameters:",
             *[f"    {k}: {v!r}" if isinstance(v, str) else f"    {k}: {v}" for k, v in c.items()]]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_launch_teach_services_and_parameters(env, tmp_path):
    launch = Launch(env, tmp_path / "launch.log", f"params_file:={params_file(tmp_path)}")
    probe = Graph(tmp_path / "probe", namespace="chhnn", nodes=(), domain=int(env["ROS_DOMAIN_ID"]))
    try:
        wait_nodes(env, launch, NODES)
        assert probe.wait_objects(120.0), launch.text()[-3000:]
        # the params file set the learner (the launch argument was not given)
        out = ros2(env, "param", "get", "/chhnn/classifier", "learner")
        assert "ncm" in out.stdout, out.stdout + out.stderr
        # teach with ros2 topic pub, as the README shows
        t0 = time.monotonic()
        out = ros2(env, "topic", "pub", "--once", "--keep-alive", "1", "/chhnn/teach", "std_msgs/msg/String",
                   "{data: duck}")
        assert out.returncode == 0, out.stderr
        done = probe.probe.wait_for(lambda: [s for s in probe.probe.messages_of("teach_status", t0)
                                             if s["state"] in ("learned", "error")], 90.0)
        assert done and done[-1]["state"] == "learned", (done, launch.text()[-3000:])
        assert probe.labels_seen("duck", 30.0)
        out = ros2(env, "topic", "echo", "--once", "/chhnn/objects", "chhnn_ros/msg/LabelledObjectArray",
                   timeout=60.0)
        assert "label: duck" in out.stdout and "database_version: 1" in out.stdout, out.stdout[-2000:]
        out = ros2(env, "service", "call", "/chhnn/classifier/list_classes", "chhnn_ros/srv/ListClasses")
        assert "names=['duck']" in out.stdout, out.stdout + out.stderr
        # live parameters take effect; read-only ones and values out of range are refused
        out = ros2(env, "param", "set", "/chhnn/classifier", "min_confidence", "0.5")
        assert "successful" in out.stdout.lower(), out.stdout + out.stderr
        assert "0.5" in ros2(env, "param", "get", "/chhnn/classifier", "min_confidence").stdout
        out = ros2(env, "param", "set", "/chhnn/classifier", "learner", "slda")
        assert "successful" not in out.stdout.lower() and "read-only" in (out.stdout + out.stderr).lower(), \
            out.stdout + out.stderr
        out = ros2(env, "param", "set", "/chhnn/detector", "max_det", "5000")
        assert "successful" not in out.stdout.lower(), out.stdout + out.stderr
        out = ros2(env, "param", "describe", "/chhnn/classifier", "teach_samples")
        assert "Min value: 1" in out.stdout and "Max value: 500" in out.stdout, out.stdout
        assert "read only: true" in ros2(env, "param", "describe", "/chhnn/classifier", "learner").stdout.lower()
    finally:
        code = launch.stop()
        probe.stop()
    assert code == 0, launch.text()[-3000:]
    assert "Traceback" not in launch.text(), launch.text()[-3000:]


def test_a_launch_argument_overrides_the_params_file(env, tmp_path):
    launch = Launch(env, tmp_path / "launch.log", f"params_file:={params_file(tmp_path)}", "learner:=slda",
                    "use_camera:=false", "device:=cpu")
    try:
        wait_nodes(env, launch, NODES - {"/chhnn/camera"})
        assert "slda" in ros2(env, "param", "get", "/chhnn/classifier", "learner").stdout
        assert "cpu" in ros2(env, "param", "get", "/chhnn/detector", "device").stdout
        assert "/chhnn/camera" not in ros2(env, "node", "list").stdout
    finally:
        assert launch.stop() == 0, launch.text()[-3000:]


def test_perception_on_an_external_camera_topic(env, tmp_path):
    """The perception part of sim.launch.py: no built-in camera, the detector and encoder on another image
    topic (here a test publisher's photo instead of the Gazebo bridge's camera), a real detector."""
    skimage = pytest.importorskip("skimage.data")
    from sensor_msgs.msg import Image

    from chhnn_ros.ros.conversions import array_to_image
    from chhnn_ros.ros.qos import image_qos

    launch = Launch(env, tmp_path / "launch.log", f"params_file:={params_file(tmp_path)}", "use_camera:=false",
                    "image_topic:=/test/image_raw", "detector:=ssd")
    probe = Graph(tmp_path / "probe", namespace="chhnn", nodes=(), domain=int(env["ROS_DOMAIN_ID"]))
    pub = probe.probe.create_publisher(Image, "/test/image_raw", image_qos("reliable"))
    photo = np.ascontiguousarray(skimage.coffee())
    try:
        wait_nodes(env, launch, NODES - {"/chhnn/camera"})
        t0 = time.monotonic()
        while time.monotonic() - t0 < 120 and not [m for m in probe.probe.messages_of("objects", t0) if m["objects"]]:
            pub.publish(array_to_image(photo, "rgb8", probe.probe.get_clock().now().to_msg(), "test_camera"))
            time.sleep(0.3)
        got = [m for m in probe.probe.messages_of("objects", t0) if m["objects"]]
        assert got, launch.text()[-3000:]
        assert got[-1]["frame_id"] == "test_camera" and got[-1]["objects"][0]["label"] == "unknown"
        assert "cup" in {o["detector_class"] for m in got for o in m["objects"]}  # the SSD saw the cup
    finally:
        code = launch.stop()
        probe.stop()
    assert code == 0, launch.text()[-3000:]


def _state(pid: int) -> str | None:
    """The process's state letter (R, S, D, Z, ...); None once it is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    return next(line for line in lines if line.startswith("State:")).split()[1]


def _running(pid: int) -> bool:
    """Not yet exited.  A zombie has exited: reaping it is the job of whatever adopted it (PID 1 or a
    subreaper), which in a container may be slow to do so."""
    return _state(pid) not in (None, "Z")


def _where(pids: list[int]) -> str:
    """Each process's state and the kernel function each of its threads waits in (why it did not stop)."""
    out = []
    for p in pids:
        with contextlib.suppress(OSError):
            waits = sorted({t.joinpath("wchan").read_text() for t in Path(f"/proc/{p}/task").iterdir()})
            out.append(f"{p}: state {_state(p)}, threads wait in {waits}")
    return "; ".join(out)


def test_the_nodes_stop_when_the_launch_is_killed(env, tmp_path):
    """ros2 launch exits on SIGTERM without stopping its nodes; ours stop themselves when it is gone."""
    launch = Launch(env, tmp_path / "launch.log", f"params_file:={params_file(tmp_path)}")
    pids: list[int] = []
    try:
        wait_nodes(env, launch, NODES)
        pids = [int(p) for p in re.findall(r"process started with pid \[(\d+)\]", launch.text())]
        assert len(pids) == len(NODES), launch.text()[-3000:]
        launch.proc.send_signal(signal.SIGTERM)  # the launch process only, as `kill PID` does
        launch.proc.wait(30)
        end = time.monotonic() + 40.0
        while time.monotonic() < end and any(_running(p) for p in pids):
            time.sleep(0.5)
        left = [p for p in pids if _running(p)]
        assert not left, f"nodes {left} outlived the launch ({_where(left)}):\n{launch.text()[-3000:]}"
    finally:
        for p in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        launch.stop()
    assert "Traceback" not in launch.text(), launch.text()[-3000:]
