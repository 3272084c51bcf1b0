"""The fast parts of chhnn-bench reliability with real node processes over localhost DDS:
kill -9 trials of the classifier, the QoS-mismatch warning, and fuzzed teach/features
messages into a lone classifier (ncm learner, features published by the test)."""

import json
import os
import time

import pytest

rclpy = pytest.importorskip("rclpy")

from chhnn_ros.bench.reliability_fuzz import generate  # noqa: E402
from chhnn_ros.ros.dds import allocate_domain, release_domain  # noqa: E402


@pytest.fixture(scope="module")
def domain():
    d = allocate_domain()
    yield d
    release_domain(d)


def test_kill9_never_loses_a_completed_class(domain, tmp_path):
    from chhnn_ros.bench.reliability_kill9 import run_kill9

    r = run_kill9(tmp_path, trials=3, domain=domain, seed=1, learner="ncm", max_delay=2.0)
    assert r["kill9_trials"] == 3
    assert r["teaches_completed"] > 0, r  # the trials did teach (and save) before the kills
    assert r["lost_classes"] == 0 and r["load_failures"] == 0, r
    assert r["final_classes"] == r["teaches_completed"] and r["temp_files_left"] == 0, r


def test_qos_mismatch_warning_names_topic_and_fix_within_2s(domain, tmp_path):
    from chhnn_ros.bench.reliability_qos import run_qos

    r = run_qos(tmp_path, domain, camera=False)
    assert r["qos_warning_s"] is not None and r["qos_warning_s"] <= 2.0, r
    assert "/rq/image_raw" in r["qos_warning_line"] and "image_reliability: best_effort" in r["qos_warning_line"]
    assert r["detector_alive"]


PACE_S = 0.02  # 50 messages/s: still a flood next to a person typing commands


def test_fuzzed_teach_and_features_into_a_classifier(domain, tmp_path):
    from std_msgs.msg import String

    from chhnn_ros.bench.reliability_fuzzrun import to_message
    from chhnn_ros.bench.reliability_kill9 import NS, Feeder, classifier_params, list_classes
    from chhnn_ros.graph import Graph
    from chhnn_ros.msg import FeatureArray
    from chhnn_ros.ros import qos

    msgs = [m for m in generate(seed=5, total=300, dim=16) if m.topic in ("teach", "features")]
    msgs = [m for m in msgs if m.category != "unknown_target"]  # its 5 s timeout is covered by test_ros_classifier
    graph = Graph(tmp_path, classifier_params(tmp_path / "memory.pt", "ncm", 3, 16), namespace=NS,
                  nodes=("classifier",), domain=domain)
    probe, node = graph.probe, graph.procs["classifier"]
    try:
        assert list_classes(probe, node, 60.0) is not None, node.text()[-2000:]
        feeder = Feeder(probe, 16, 0)
        pubs = {t: probe.create_publisher(kind, f"/{NS}/{t}", qos.command_qos())
                for t, kind in (("teach", String), ("features", FeatureArray))}
        probe.wait_for(lambda: all(p.get_subscription_count() > 0 for p in pubs.values()), 10.0)
        # teach one real class first, so wrong-dimension features meet a learned classifier
        t0 = time.monotonic()
        pubs["teach"].publish(String(data="mug"))
        while not [s for s in probe.messages_of("teach_status", t0) if s["state"] == "learned"]:
            assert time.monotonic() - t0 < 20, probe.messages_of("teach_status", t0)
            feeder.frame("mug")
            probe.wait_for(lambda: False, 0.05)
        t1 = time.monotonic()
        n_errors_expected = 0
        for m in msgs:
            pub = pubs[m.topic]
            if m.raw is not None:
                pub.publish(m.raw)  # serialised bytes (invalid UTF-8): rclpy publishes them as they are
            else:
                pub.publish(to_message(m.topic, m.fields) if m.fields is not None else String(data=m.text))
            if m.topic == "teach":
                n_errors_expected += 1
            # Paced: unpaced, the burst outran the depth-100 command queue on a loaded machine.
            time.sleep(PACE_S)

        def errors():
            return [s for s in probe.messages_of("teach_status", t1) if s["state"] == "error"]

        assert probe.wait_for(lambda: len(errors()) >= n_errors_expected, 20.0), \
            (len(errors()), n_errors_expected, node.text()[-2000:])
        assert len(errors()) == n_errors_expected  # one error per bad command, no more
        assert node.alive()
        # still answering and still labelling
        assert list_classes(probe, node, 10.0)["classes"] == ["mug"]
        t2 = time.monotonic()
        for _ in range(40):
            feeder.frame("mug")
            if probe.wait_for(lambda: [o for o in probe.messages_of("objects", t2)
                                       if o["frame_id"] == "cam" and o["objects"][0]["label"] == "mug"], 0.1):
                break
        else:
            pytest.fail("no objects labelled 'mug' after the fuzz")
        # The features subscription keeps only the newest message (depth 1), so on a loaded machine
        # the fuzz's bad features may all be overtaken before the node takes them; one bad message
        # alone is always taken, and must be logged as skipped.
        bad = to_message("features", next(m for m in msgs if m.category == "shape_mismatch").fields)
        for _ in range(20):
            pubs["features"].publish(bad)
            if probe.wait_for(lambda: "features skipped" in node.text(), 0.5):
                break
        else:
            pytest.fail(f"no bad features logged as skipped:\n{node.text()[-2000:]}")
        assert node.alive() and "stale" not in json.dumps(errors())
    finally:
        text = node.text()
        assert graph.stop() == {"classifier": 0}, text[-2000:]
    assert "Traceback" not in text
    assert os.path.exists(tmp_path / "memory.pt")
