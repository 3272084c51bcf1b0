"""The classifier node in its own process, driven over real ROS topics and services.

Features are published by this test (two well-separated clusters), so the
learning, teaching, persistence and error paths are tested without the
camera/detector/encoder.  Learner: ncm (fast); the default (chhnn) is checked
by the pipeline test.
"""

import json
import subprocess
import sys
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

from builtin_interfaces.msg import Time  # noqa: E402

from chhnn_ros.graph import child_env  # noqa: E402
from chhnn_ros.msg import FeatureArray  # noqa: E402
from chhnn_ros.perception.types import Detection  # noqa: E402
from chhnn_ros.ros import messages  # noqa: E402

DIM = 8


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    """A graph runner with no node started yet: each test starts its classifier process."""
    from chhnn_ros.graph import Graph

    g = Graph(tmp_path_factory.mktemp("classifier"), namespace="t", nodes=())
    g.probe.features_pub = g.probe.create_publisher(FeatureArray, "features", 10)
    yield g
    g.stop()


@pytest.fixture()
def probe(graph):
    return graph.probe


CENTRES = {1: np.full(DIM, 1.0, np.float32), 2: np.full(DIM, -1.0, np.float32)}
_seq = [0]


def features_msg(rng, vectors=None) -> FeatureArray:
    """One frame: object 1 (big, central) and object 2 (small, corner), noisy cluster vectors."""
    _seq[0] += 1
    stamp = Time(sec=1000 + _seq[0], nanosec=0)
    dets = [Detection(60, 40, 140, 100, class_name="o1", track_id=1), Detection(0, 0, 20, 20, class_name="o2",
                                                                                 track_id=2)]
    if vectors is None:
        vectors = np.stack([CENTRES[1], CENTRES[2]]) + 0.1 * rng.standard_normal((2, DIM)).astype(np.float32)
    return messages.features_to_msg(messages.header(stamp, "cam"), dets, vectors, "test", (200, 150))


def pump(probe, rng, until, timeout=20.0):
    """Publish feature frames at ~20 Hz until ``until()`` holds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        probe.features_pub.publish(features_msg(rng))
        got = probe.wait_for(until, 0.05)
        if got:
            return got
    return None


def status(probe, since, label, states=("learned", "error", "forgotten")):
    return [s for s in probe.messages_of("teach_status", since) if s["label"] == label and s["state"] in states]


def teach(probe, rng, text, label):
    t0 = time.monotonic()
    probe.publish("teach", text)
    got = pump(probe, rng, lambda: status(probe, t0, label))
    assert got, f"no final teach status for {label}"
    return got[-1]


def latest_labels(probe, since):
    objs = probe.messages_of("objects", since)
    return {o["track_id"]: o["label"] for o in objs[-1]["objects"]} if objs else None


def classifier(graph, memory, *extra):
    return graph.start_node("classifier", ["-p", "learner:=ncm", "-p", f"memory_path:={memory}", "-p",
                                           "teach_samples:=5", "-p", "teach_timeout:=3.0", "-p", "teach_interval:=0.0",
                                           "-p", f"feature_dim:={DIM}", "-p", "diagnostics_period:=0.2", *extra])


def errors_after(graph, before: int, timeout: float = 5.0) -> dict | None:
    """The classifier's /diagnostics values once its total_errors exceeds ``before``."""
    def counted():
        vals = graph.diagnostics(time.monotonic() - 1.0).get("/t/classifier")
        return vals if vals and int(vals["total_errors"]) > before else None

    return graph.probe.wait_for(counted, timeout)


def test_teach_recognise_persist_and_services(graph, probe, tmp_path):
    rng = np.random.default_rng(0)
    memory = tmp_path / "mem" / "memory.pt"
    node = classifier(graph, memory)
    try:
        # before any teach: every object is unknown
        t0 = time.monotonic()
        assert pump(probe, rng, lambda: latest_labels(probe, t0)) == {1: "unknown", 2: "unknown"}
        # plain label = the big central object
        s = teach(probe, rng, "mug", "mug")
        assert s["state"] == "learned" and s["database_version"] == 1, s
        s = teach(probe, rng, json.dumps({"label": "key", "track_id": 2}), "key")
        assert s["state"] == "learned", s
        t1 = time.monotonic()
        labels = pump(probe, rng, lambda: latest_labels(probe, t1) == {1: "mug", 2: "key"} and latest_labels(
            probe, t1))
        assert labels == {1: "mug", 2: "key"}
        assert probe.messages_of("objects", t1)[-1]["database_version"] == 2
        # malformed commands: an error status, nothing changes
        for bad, why in [('{"label": ', "bad teach command"), ("", "empty"), ("x" * 65, "limit is 64")]:
            t2 = time.monotonic()
            probe.publish("teach", bad)
            err = probe.wait_for(lambda t2=t2: [m for m in probe.messages_of("teach_status", t2)
                                                if m["state"] == "error"], 5.0)
            assert err and why in err[-1]["message"]
        # a teach with no such object in view times out cleanly
        s = teach(probe, rng, json.dumps({"label": "ghost", "track_id": 42}), "ghost")
        assert s["state"] == "error" and "nothing was learned" in s["message"]
        # NaN features and a broken message: each logged, counted in /diagnostics and skipped; node alive
        base = int(errors_after(graph, -1)["total_errors"])
        probe.features_pub.publish(features_msg(rng, np.full((2, DIM), np.nan, np.float32)))
        vals = errors_after(graph, base)
        assert vals and "NaN" in vals["last_error"], vals
        assert probe.wait_for(lambda: "NaN" in node.text(), 5.0), node.text()[-1000:]
        short = features_msg(rng)
        short.data = np.asarray(short.data)[:-1]  # a feature matrix that does not match its detections
        probe.features_pub.publish(short)
        vals = errors_after(graph, base + 1)
        assert vals and "values for 2 detections" in vals["last_error"] and int(vals["total_errors"]) == base + 2, \
            vals
        cls = probe.list_classes("/t/classifier/list_classes")
        assert cls == {"classes": ["mug", "key"], "teaches": [1, 1], "database_version": 2}
        assert node.proc.poll() is None
        ok, msg = probe.trigger("/t/classifier/save")
        assert ok and "saved 2 classes" in msg and memory.is_file()
        # a best-effort publisher meets the reliable features subscription: a WARNING names topic and fix
        from chhnn_ros.ros.qos import image_qos

        be_pub = probe.create_publisher(FeatureArray, "features", image_qos("best_effort"))
        assert probe.wait_for(lambda: "incompatible QoS on subscription 'features'" in node.text(), 10.0), \
            node.text()[-1500:]
        assert "make the publisher reliable" in node.text()
        probe.destroy_publisher(be_pub)
        # forget, through chhnn-teach (the tool for users without the ros2 CLI)
        cli = [sys.executable, "-m", "chhnn_ros.cli.teach", "--namespace", "t"]
        env = child_env(graph.domain)
        out = subprocess.run([*cli, "--forget", "key"], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "forgotten" in out.stdout, out.stdout + out.stderr
        out = subprocess.run([*cli, "--list"], env=env, capture_output=True, text=True, timeout=60)
        assert json.loads(out.stdout) == {"classes": ["mug"], "teaches": [1], "database_version": 3}, out.stderr
    finally:
        assert node.stop() == 0, node.text()
    assert "shutdown: saved 1 classes" in node.text()
    # restart: the learned class survives
    node = classifier(graph, memory)
    try:
        t3 = time.monotonic()
        labels = pump(probe, rng, lambda: latest_labels(probe, t3))
        assert labels[1] == "mug"
        assert probe.list_classes("/t/classifier/list_classes") == {"classes": ["mug"], "teaches": [1],
                                                                     "database_version": 3}
        ok, msg = probe.trigger("/t/classifier/reset")
        assert ok and "database version 4" in msg and not memory.exists()
        assert probe.list_classes("/t/classifier/list_classes")["classes"] == []
    finally:
        assert node.stop() == 0, node.text()


def test_corrupt_memory_refused_or_kept_aside(graph, probe, tmp_path):
    memory = tmp_path / "memory.pt"
    memory.write_bytes(b"not a memory file")
    node = classifier(graph, memory)
    assert node.proc.wait(30) == 1
    assert "cannot start" in node.text() and "start_empty_on_error" in node.text()
    assert memory.read_bytes() == b"not a memory file"
    node = classifier(graph, memory, "-p", "start_empty_on_error:=true")
    try:
        assert probe.list_classes("/t/classifier/list_classes", timeout=20.0)["classes"] == []
        kept = list(tmp_path.glob("memory.pt.corrupt-*"))
        assert len(kept) == 1 and kept[0].read_bytes() == b"not a memory file" and not memory.exists()
    finally:
        assert node.stop() == 0


def test_teach_and_forget_services_and_the_annotated_image(graph, probe, tmp_path):
    """~/teach answers when the teach has ended, with its result; ~/forget likewise; ~/annotated is the
    camera image with the labels drawn, published while someone subscribes, with the camera's size and stamp."""
    import threading

    from sensor_msgs.msg import Image

    from chhnn_ros.ros.conversions import array_to_image
    from chhnn_ros.ros.qos import image_qos
    from chhnn_ros.srv import Forget, Teach

    rng = np.random.default_rng(1)
    node = classifier(graph, tmp_path / "memory.pt")
    image_pub = probe.create_publisher(Image, "image_raw", image_qos("best_effort"))
    probe.record("classifier/annotated", Image, qos_profile=image_qos("best_effort"))
    pixels = np.zeros((150, 200, 3), np.uint8)
    try:
        answers = {}

        def call(name, srv, request, timeout=60.0):
            answers[name] = probe.call(srv, "/t/classifier/" + name, request, timeout=timeout)

        request = Teach.Request(label="cup", track_id=1)
        caller = threading.Thread(target=call, args=("teach", Teach, request))
        caller.start()
        while caller.is_alive():  # frames keep coming while the teach collects its samples
            msg = features_msg(rng)
            image_pub.publish(array_to_image(pixels, "rgb8", msg.header.stamp, "cam"))
            probe.features_pub.publish(msg)
            caller.join(0.05)
        r = answers["teach"]
        assert r.success and r.samples_used == 5 and r.database_version == 1 and "learned 'cup'" in r.message, r
        bad = probe.call(Teach, "/t/classifier/teach", Teach.Request(label=" "), timeout=20.0)
        assert not bad.success and "label is empty" in bad.message and bad.database_version == 1
        annotated = None
        end = time.monotonic() + 20.0
        while not annotated and time.monotonic() < end:  # the node subscribes to images once it sees a viewer
            msg = features_msg(rng)
            image_pub.publish(array_to_image(pixels, "rgb8", msg.header.stamp, "cam"))
            probe.features_pub.publish(msg)
            annotated = probe.wait_for(lambda: probe.messages_of("classifier/annotated"), 0.1)
        assert annotated, node.text()[-2000:]
        a = annotated[-1]
        assert (a.width, a.height, a.encoding) == (200, 150, "rgb8") and a.header.frame_id == "cam"
        assert a.header.stamp.sec > 1000 and np.frombuffer(a.data, np.uint8).any()  # boxes drawn on black
        f = probe.call(Forget, "/t/classifier/forget", Forget.Request(label="cup"), timeout=30.0)
        assert f.success and f.database_version == 2 and "forgot 'cup'" in f.message
        f = probe.call(Forget, "/t/classifier/forget", Forget.Request(label="cup"), timeout=30.0)
        assert not f.success and "unknown class 'cup'" in f.message and f.database_version == 2
    finally:
        assert node.stop() == 0, node.text()
