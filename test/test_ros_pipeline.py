"""camera → detector → encoder → classifier as four processes over real DDS,
and chhnn-perception (one process): a teach over the topic makes the
classifier label that object; bad images are logged, not fatal; SIGTERM
stops cleanly.  Sim scene, ground-truth boxes, EfficientNet features, the
default learner (chhnn).
"""

import json
import signal
import statistics
import subprocess
import sys
import time

import pytest

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("chhnn_ros.sim.scene", reason="the PyBullet scene (chhnn_ros.sim) is needed")

from sensor_msgs.msg import Image  # noqa: E402

from chhnn_ros.graph import child_env  # noqa: E402
from chhnn_ros.ros.dds import allocate_domain, release_domain  # noqa: E402
from chhnn_ros.ros.qos import image_qos, latest_qos  # noqa: E402

NS = "p"


def key(m):
    return m["stamp"]["sec"], m["stamp"]["nanosec"]


def latency_ms(probe, topic, since):
    with probe.lock:
        items = [(t, m) for t, m in probe.received[topic] if t >= since]
    offset = time.time() - time.monotonic()
    return [1e3 * (t + offset - (m["stamp"]["sec"] + m["stamp"]["nanosec"] * 1e-9)) for t, m in items]


def detector_errors(graph, before, timeout=15.0):
    def counted():
        vals = graph.diagnostics(time.monotonic() - 1.0).get(f"/{NS}/detector")
        return vals if vals and int(vals["total_errors"]) > before else None

    return graph.probe.wait_for(counted, timeout)


def test_four_processes_teach_and_recognise(tmp_path):
    from chhnn_ros.graph import Graph

    params = {"camera": {"rate": 5.0}, "encoder": {"device": "cpu"}, "detector": {"diagnostics_period": 0.2},
              "classifier": {"memory_path": f"{tmp_path}/memory.pt", "teach_samples": 5, "teach_interval": 0.0}}
    graph = Graph(tmp_path, params, namespace=NS, record=[("truth", "truth"), ("detections", "detections"),
                                                          ("features", "features")])
    probe, procs = graph.probe, graph.procs
    try:
        t0 = time.monotonic()
        first = probe.wait_for(lambda: probe.messages_of("objects", t0), 90.0)
        assert first, {k: p.text()[-2000:] for k, p in procs.items()}

        def seen():  # objects of frames whose truth the probe received (it may join after the first frames)
            truth = {key(m): m for m in probe.messages_of("truth")}
            return [(o, truth[key(o)]) for o in probe.messages_of("objects", t0) if key(o) in truth]

        # every stage carries the camera frame's stamp and frame_id
        pairs = probe.wait_for(seen, 20.0)
        assert pairs, (probe.messages_of("objects")[:1], len(probe.messages_of("truth")))
        o, o_truth = pairs[0]
        assert o["frame_id"] == o_truth["frame_id"] == "camera"
        assert all(ob["label"] == "unknown" for ob in o["objects"])
        # teach the object the sim calls target by its track id, over the teach topic
        target = o_truth["detections"][0]
        t1 = time.monotonic()
        cmd = {"label": "thing", "track_id": target.track_id} if target.track_id is not None else \
            {"label": "thing", "box": list(target.box)}
        probe.publish("teach", json.dumps(cmd))
        done = probe.wait_for(lambda: [s for s in probe.messages_of("teach_status", t1)
                                       if s["state"] in ("learned", "error")], 90.0)
        assert done and done[-1]["state"] == "learned", done
        t2 = time.monotonic()
        labelled = probe.wait_for(lambda: [m for m in probe.messages_of("objects", t2)
                                           if any(ob["label"] == "thing" for ob in m["objects"])], 30.0)
        assert labelled, probe.messages_of("objects", t2)[-1:]
        probe.wait_for(lambda: False, 3.0)  # a few more frames for the latency figure
        lat = latency_ms(probe, "objects", t2)
        print(f"\nfour processes: frame→objects latency median {statistics.median(lat):.0f} ms, "
              f"max {max(lat):.0f} ms over {len(lat)} frames")
        # the debug overlay is rendered once someone subscribes
        probe.record("detector/debug_image", Image, qos_profile=image_qos("best_effort"))
        assert probe.wait_for(lambda: probe.messages_of("detector/debug_image"), 20.0)
        # so is the crop mosaic (the encoder cut its crops from image_raw so far): N crops of the
        # detections with the same stamp, stacked vertically
        assert not probe.messages_of("crops")
        probe.record("crops", Image, qos_profile=latest_qos())
        def paired():  # (mosaic, its detections): the mosaic is published just before the boxes
            dets = {key(d): d for d in probe.messages_of("detections")}
            return [(m, dets[k]) for m in probe.messages_of("crops")
                    if (k := (m.header.stamp.sec, m.header.stamp.nanosec)) in dets]

        pairs = probe.wait_for(paired, 20.0)
        assert pairs, procs["detector"].text()[-2000:]
        m, d = pairs[-1]
        assert (m.height, m.width) == (len(d["detections"]) * d["crop_size"], d["crop_size"]) and d["crop_pad"] == 0.1
        # a wrong encoding on image_raw: logged by the detector, which keeps running
        pub = probe.create_publisher(Image, "image_raw", 10)
        probe.wait_for(lambda: pub.get_subscription_count() > 0, 5.0)
        bad_images = [
            (Image(height=2, width=2, encoding="yuv422", step=4, data=bytes(8)), "unsupported image encoding"),
            (Image(height=2, width=2, encoding="rgb8", step=6, data=bytes(5)), "expected height*step"),
        ]
        for bad, why in bad_images:
            before = int(detector_errors(graph, -1)["total_errors"])
            end = time.monotonic() + 15
            # repeated: the one-slot buffer may replace a bad image by a camera frame before it is processed
            while time.monotonic() < end:
                pub.publish(bad)
                vals = detector_errors(graph, before, 0.3)
                if vals and why in vals["last_error"]:
                    break
            assert vals and why in vals["last_error"], (vals, procs["detector"].text()[-2000:])
        t3 = time.monotonic()
        assert probe.wait_for(lambda: probe.messages_of("objects", t3), 20.0)
    finally:
        logs = graph.logs()
        codes = graph.stop()
    assert codes == dict.fromkeys(procs, 0), logs


def test_one_process_bringup_teach_demo(tmp_path):
    """chhnn-perception --teach-demo: teaches over the topic, writes the accuracy JSON, exits 0.
    With the encoder on the detector's crop mosaic (crop_source: crops; the four-process test
    runs the default, crops cut from image_raw)."""
    domain = allocate_domain()
    env = {**child_env(domain)}
    env.pop("FASTDDS_DEFAULT_PROFILES_FILE", None)  # bringup must set it itself
    out = tmp_path / "demo.json"
    proc = subprocess.run(
        [sys.executable, "-m", "chhnn_ros.cli.perception", "--teach-demo", "--max-classes", "2", "--views", "2",
         "--json", str(out), "--ros-args", "-p", "teach_samples:=5", "-p", "device:=cpu",
         "-p", "crop_source:=crops"],
        env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    release_domain(domain)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert len(result["steps"]) == 2 and all(t["state"] == "learned" for t in result["teaches"])
    assert all(t["views"] >= 2 for t in result["teaches"])  # the objects turn while they are taught
    assert result["steps"][0]["n"] >= 2 and result["final_acc"] > 0.5
    print("\n" + proc.stdout[-1500:])


@pytest.mark.parametrize("executor", ["events", "multi"])
def test_bringup_stops_on_sigterm(tmp_path, executor):
    """Both executors (CHHNN_EXECUTOR) run the graph and stop cleanly; events is the default."""
    domain = allocate_domain()
    env = {**child_env(domain)}
    if executor == "multi":
        env["CHHNN_EXECUTOR"] = "multi"
    else:
        env.pop("CHHNN_EXECUTOR", None)
    log = tmp_path / "bringup.log"
    proc = subprocess.Popen([sys.executable, "-m", "chhnn_ros.cli.perception", "--ros-args", "-p", "learner:=ncm",
                             "-p", f"memory_path:={tmp_path}/m.pt", "-p", "device:=cpu"],
                            env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while "encoder efficientnet ready" not in log.read_text() and time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        time.sleep(0.5)
    time.sleep(2.0)
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(30)
    release_domain(domain)
    assert code == 0, log.read_text()[-3000:]
    text = log.read_text()
    assert "Traceback" not in text and "context is invalid" not in text, text[-3000:]
    assert f"executor: {'EventsExecutor' if executor == 'events' else 'MultiThreadedExecutor'}" in text
