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
from std_msgs.msg import String  # noqa: E402

from chhnn_ros.app import payloads  # noqa: E402
from chhnn_ros.graph import child_env  # noqa: E402

DIM = 8


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    """A graph runner with no node started yet: each test starts its classifier process."""
    from chhnn_ros.graph import Graph

    g = Graph(tmp_path_factory.mktemp("classifier"), namespace="t", nodes=())
    g.probe.features_pub = g.probe.create_publisher(String, "features", 10)
    yield g
    g.stop()


@pytest.fixture()
def probe(graph):
    return graph.probe


CENTRES = {1: np.full(DIM, 1.0, np.float32), 2: np.full(DIM, -1.0, np.float32)}
_seq = [0]


def features_msg(rng, vectors=None) -> str:
    """One frame: object 1 (big, central) and object 2 (small, corner), noisy cluster vectors."""
    _seq[0] += 1
    stamp = Time(sec=1000 + _seq[0], nanosec=0)
    dets = [{"box": [60, 40, 140, 100], "score": 1.0, "class_name": "o1", "track_id": 1},
            {"box": [0, 0, 20, 20], "score": 1.0, "class_name": "o2", "track_id": 2}]
    if vectors is None:
        vectors = np.stack([CENTRES[1], CENTRES[2]]) + 0.1 * rng.standard_normal((2, DIM)).astype(np.float32)
    return payloads.encode("features", stamp, "cam", image_size=[200, 150], encoder="test", dim=DIM,
                           detections=dets, vectors=payloads.vectors_to_lists(vectors))


def pump(probe, rng, until, timeout=20.0):
    """Publish feature frames at ~20 Hz until ``until()`` holds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        probe.features_pub.publish(String(data=features_msg(rng)))
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
        bad = np.full((2, DIM), np.nan, np.float32).tolist()
        payload = json.loads(features_msg(rng))
        payload["vectors"] = bad
        probe.features_pub.publish(String(data=json.dumps(payload)))
        vals = errors_after(graph, base)
        assert vals and "NaN" in vals["last_error"], vals
        assert probe.wait_for(lambda: "NaN" in node.text(), 5.0), node.text()[-1000:]
        probe.features_pub.publish(String(data="{not json"))
        vals = errors_after(graph, base + 1)
        assert vals and "not valid JSON" in vals["last_error"] and int(vals["total_errors"]) == base + 2, vals
        cls = probe.list_classes("/t/classifier/list_classes")
        assert cls == {"classes": ["mug", "key"], "database_version": 2}
        assert node.proc.poll() is None
        ok, msg = probe.trigger("/t/classifier/save")
        assert ok and "saved 2 classes" in msg and memory.is_file()
        # a best-effort publisher meets the reliable features subscription: a WARNING names topic and fix
        from chhnn_ros.ros.qos import image_qos

        be_pub = probe.create_publisher(String, "features", image_qos("best_effort"))
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
        assert json.loads(out.stdout) == {"classes": ["mug"], "database_version": 3}, out.stderr
    finally:
        assert node.stop() == 0, node.text()
    assert "shutdown: saved 1 classes" in node.text()
    # restart: the learned class survives
    node = classifier(graph, memory)
    try:
        t3 = time.monotonic()
        labels = pump(probe, rng, lambda: latest_labels(probe, t3))
        assert labels[1] == "mug"
        assert probe.list_classes("/t/classifier/list_classes") == {"classes": ["mug"], "database_version": 3}
        ok, msg = probe.trigger("/t/classifier/reset")
        assert ok and json.loads(msg)["classes"] == [] and not memory.exists()
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
