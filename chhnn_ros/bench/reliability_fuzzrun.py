"""Send the fuzz messages of :mod:`reliability_fuzz` into a running graph and count the answers.

``teach``: every message must get its own ``teach_status`` error (counted
exactly: each command is sent after the previous one was answered, except
the flood).  ``image_raw`` / ``truth`` / ``detections`` / ``features``: the
receiving node counts each rejected input in the ``total_errors`` of its
/diagnostics (and a frame replaced before processing in ``dropped_frames``);
the run compares those counters with what was sent.  Those topics keep only
the newest input (depth-1 QoS, by design: a robot wants the latest frame), so
an input superseded in the DDS queue before a starved node reads it is never
seen by the node: messages are paced (80 ms) and ``fuzz_stream_counted_pct``
reports the share the nodes did count.
"""

from __future__ import annotations

import time
from typing import Any

from builtin_interfaces.msg import Time
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import String

from chhnn_ros.app import payloads
from chhnn_ros.bench.graph_checks import valid
from chhnn_ros.bench.reliability_fuzz import FuzzMsg
from chhnn_ros.graph import Graph
from chhnn_ros.ros import qos
from chhnn_ros.ros.conversions import sec_to_stamp

RECEIVER = {"image_raw": "detector", "truth": "detector", "detections": "encoder", "features": "classifier"}


def to_image(spec: dict[str, Any], stamp: Time | None = None) -> Image:
    msg = Image(height=spec["height"], width=spec["width"], encoding=spec["encoding"], step=spec["step"],
                is_bigendian=spec["is_bigendian"], data=spec["data"])
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = "fuzz"
    return msg


class Sender:
    def __init__(self, graph: Graph) -> None:
        self.g, self.p = graph, graph.probe
        self.pubs: dict[str, Any] = {}
        for topic in ("teach", "truth", "detections", "features"):
            self.pubs[topic] = self.p.create_publisher(String, graph.topic(topic), qos.result_qos())
        self.pubs["image_raw"] = self.p.create_publisher(Image, graph.topic("image_raw"), qos.result_qos())
        # the flooder keeps its whole burst (a depth-10 writer would drop most of it before it is sent)
        self.pubs["flood"] = self.p.create_publisher(String, graph.topic("teach"), QoSProfile(
            depth=1000, reliability=ReliabilityPolicy.RELIABLE))
        self.p.wait_for(lambda: all(p.get_subscription_count() > 0 for p in self.pubs.values()), 10.0)

    def send(self, m: FuzzMsg) -> None:
        pub = self.pubs["flood" if m.flood else m.topic]
        if m.raw is not None:
            pub.publish(m.raw)  # serialised bytes: rclpy publishes them as they are
        elif m.image is not None:
            stamp = sec_to_stamp(time.time())
            if m.truth_box is not None:  # a matching ground truth, so the odd image is processed in full
                self.pubs["truth"].publish(String(data=payloads.encode(
                    "truth", stamp, "fuzz", image_size=[m.image["width"], m.image["height"]],
                    detections=[{"box": m.truth_box, "score": 1.0, "class_name": "fuzz", "track_id": 1}])))
            pub.publish(to_image(m.image, stamp))
        else:
            pub.publish(String(data=m.text))


def _teach_answers(g: Graph, sender: Sender, msgs: list[FuzzMsg], timeout: float) -> dict[str, Any]:
    p = g.probe
    res = {"sent": 0, "answered": 0, "unanswered": [], "wrong_answer": []}

    def statuses(since: float) -> list[dict]:
        return p.messages_of("teach_status", since)

    def expect_ok(m: FuzzMsg, got: list[dict]) -> bool:
        if m.expect == "reject":
            return got[0]["state"] == "error"
        return any(s["state"] == "error" for s in got)  # later_error: accepted first, then failed

    for m in [m for m in msgs if not m.flood]:
        t0 = time.monotonic()
        sender.send(m)
        res["sent"] += 1
        wait = timeout + (6.0 if m.expect == "later_error" else 0.0)
        need = (lambda t0=t0: any(s["state"] == "error" for s in statuses(t0))) if m.expect == "later_error" \
            else (lambda t0=t0: statuses(t0))
        if not p.wait_for(need, wait):
            res["unanswered"].append(m.category)
            continue
        got = statuses(t0)
        if expect_ok(m, got):
            res["answered"] += 1
        else:
            res["wrong_answer"].append({"category": m.category, "status": got[0]["message"][:160]})
    flood = [m for m in msgs if m.flood]
    t0 = time.monotonic()
    for m in flood:
        sender.send(m)
    p.wait_for(lambda: len([s for s in statuses(t0) if s["state"] == "error"]) >= len(flood), timeout + 5.0)
    n = len([s for s in statuses(t0) if s["state"] == "error"])
    res.update(flood_sent=len(flood), flood_answered=min(n, len(flood)))
    res["sent"] += len(flood)
    res["answered"] += min(n, len(flood))
    return res


def _fuzz_outputs(g: Graph, topic: str, since: float) -> int:
    """Outputs of fuzzed valid inputs (frame_id 'fuzz'): the node processed them."""
    if topic == "objects":  # the classifier's own fuzz (stale features), not the detector's odd images
        return sum(m["frame_id"] == "fuzz_stale" for m in g.probe.messages_of("objects", since))
    return sum(m["frame_id"] == "fuzz" for m in valid(g, topic, since))


def run_fuzz(g: Graph, msgs: list[FuzzMsg], pace_s: float = 0.08, teach_timeout: float = 3.0) -> dict[str, Any]:
    sender = Sender(g)
    before = g.counters()
    t_start = time.monotonic()
    teach = _teach_answers(g, sender, [m for m in msgs if m.topic == "teach"], teach_timeout)
    others = [m for m in msgs if m.topic != "teach"]
    sent: dict[str, dict[str, int]] = {}
    for m in others:
        sender.send(m)
        node = RECEIVER[m.topic]
        sent.setdefault(node, {"reject": 0, "accept": 0})[m.expect] += 1
        time.sleep(pace_s)
    g.probe.wait_for(lambda: False, 3.0)  # the last frames are processed and reported
    after = g.counters()
    processed = {"detector": _fuzz_outputs(g, "detections", t_start), "classifier": _fuzz_outputs(
        g, "objects", t_start), "encoder": 0}
    nodes = {}
    for node, n in sent.items():
        b, a = before.get(node, {}), after.get(node, {})
        delta = {k: a.get(k, 0) - b.get(k, 0) for k in ("total_errors", "dropped_frames", "stale_frames")}
        # errors + replaced frames, less those of valid odd inputs that were not processed
        counted = delta["total_errors"] + delta["dropped_frames"] - max(0, n["accept"] - processed[node])
        nodes[node] = {"sent_bad": n["reject"], "sent_valid_odd": n["accept"], "processed_valid_odd":
                       processed[node], **delta, "unanswered": max(0, n["reject"] - counted)}
    stream_bad = sum(v["sent_bad"] for v in nodes.values())
    return {
        "fuzz_messages": len(msgs),
        "fuzz_unanswered_teach": len(teach["unanswered"]) + len(teach["wrong_answer"]) +
        (teach["flood_sent"] - teach["flood_answered"]),
        "fuzz_stream_counted_pct": round(100.0 * (1 - sum(v["unanswered"] for v in nodes.values()) /
                                                  max(1, stream_bad)), 1),
        "teach": teach,
        "nodes": nodes,
        "fuzz_s": round(time.monotonic() - t_start, 1),
        "fuzz_unanswered": len(teach["unanswered"]) + len(teach["wrong_answer"]) +
        (teach["flood_sent"] - teach["flood_answered"]) + sum(v["unanswered"] for v in nodes.values()),
    }
