"""The full perception graph (camera on the PyBullet scene → detector → encoder →
classifier) as four node processes, and what the reliability runs ask of it:
is every node alive and answering, do objects still flow and get labelled,
what do the nodes' /diagnostics counters say.  Needs rclpy initialised.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray

from chhnn_ros.bench.reliability_proc import NodeProc
from chhnn_ros.nodes import messages, qos
from chhnn_ros.nodes.probe import Probe

NODES = ("camera", "detector", "encoder", "classifier")


class Graph:
    def __init__(self, workdir: Path, domain: int, ns: str = "rf", rate: float = 10.0, learner: str = "chhnn",
                 teach_samples: int = 5, teach_timeout: float = 3.0) -> None:
        self.ns, self.workdir = ns, workdir
        common = ["-r", f"__ns:=/{ns}"]
        args = {
            "camera": [*common, "-p", f"rate:={rate}"],
            "detector": common,
            "encoder": [*common, "-p", "device:=cpu"],
            "classifier": [*common, "-p", f"learner:={learner}", "-p", f"memory_path:={workdir}/memory.pt",
                           "-p", f"teach_samples:={teach_samples}", "-p", f"teach_timeout:={teach_timeout}"],
        }
        self.procs = {n: NodeProc(f"{n}_node", workdir / f"{n}.log", a, domain) for n, a in args.items()}
        self.probe = Probe(f"reliability_{ns}", namespace=ns)
        self.probe.record("objects", kind="objects")
        self.probe.record("teach_status", kind="teach_status", qos_profile=qos.command_qos())
        for topic in ("truth", "features", "detections"):  # fuzzed: kept raw, decoded when needed
            self.probe.record(topic)
        self.probe.record("/diagnostics", DiagnosticArray)

    def topic(self, name: str) -> str:
        return f"/{self.ns}/{name}"

    def logs(self, tail: int = 1500) -> dict[str, str]:
        return {n: p.text()[-tail:] for n, p in self.procs.items()}

    def valid(self, topic: str, since: float = 0.0) -> list[dict]:
        """The messages of a raw-recorded topic that decode as ``topic`` payloads."""
        out = []
        for msg in self.probe.messages_of(topic, since):
            with contextlib.suppress(ValueError):
                out.append(messages.decode(msg.data, topic))
        return out

    def trim(self, keep_s: float = 120.0) -> None:
        """Forget recorded messages older than ``keep_s`` (a long soak would pile up features)."""
        cut = time.monotonic() - keep_s
        with self.probe.lock:
            for topic, items in self.probe.received.items():
                self.probe.received[topic] = [(t, m) for t, m in items if t >= cut]

    def wait_objects(self, timeout: float) -> list:
        t0 = time.monotonic()
        return self.probe.wait_for(lambda: self.probe.messages_of("objects", t0), timeout) or []

    def alive(self) -> dict[str, bool]:
        return {n: p.alive() for n, p in self.procs.items()}

    def answering(self, timeout: float = 10.0) -> dict[str, bool]:
        """Each node still answers: the classifier's ~/list_classes service, and a fresh /diagnostics
        message from every node."""
        t0 = time.monotonic()
        ok = {}
        try:
            self.probe.list_classes(f"/{self.ns}/classifier/list_classes", timeout)
            ok["classifier_service"] = True
        except (TimeoutError, RuntimeError):
            ok["classifier_service"] = False
        self.probe.wait_for(lambda: len(self.diagnostics(t0)) == len(NODES), timeout)
        fresh = self.diagnostics(t0)
        for n in NODES:
            ok[n] = f"/{self.ns}/{n}" in fresh
        return ok

    def diagnostics(self, since: float = 0.0) -> dict[str, dict[str, str]]:
        """The latest /diagnostics values of each of this graph's nodes (by full name)."""
        latest: dict[str, dict[str, str]] = {}
        for arr in self.probe.messages_of("/diagnostics", since):
            for st in arr.status:
                if st.name.startswith(f"/{self.ns}/"):
                    latest[st.name] = {kv.key: kv.value for kv in st.values}
        return latest

    def counters(self) -> dict[str, dict[str, int]]:
        """Cumulative total_errors / dropped_frames / stale_frames per node, from fresh diagnostics."""
        t0 = time.monotonic()
        self.probe.wait_for(lambda: len(self.diagnostics(t0)) == len(NODES), 5.0)
        out = {}
        for name, vals in self.diagnostics(t0).items():
            out[name.rsplit("/", 1)[-1]] = {k: int(vals.get(k, "0")) for k in
                                            ("total_errors", "dropped_frames", "stale_frames")}
        return out

    def teach_visible(self, label: str, timeout: float = 90.0) -> dict | None:
        """Teach the first ground-truth object of a recent frame as ``label``; its final teach_status."""
        truths = self.probe.wait_for(lambda: [m for m in self.valid("truth", time.monotonic() - 2.0)
                                              if m["detections"] and m["frame_id"] != "fuzz"], 20.0)
        if not truths:
            return None
        target = truths[-1]["detections"][0]
        cmd = {"label": label, "track_id": target.track_id} if target.track_id is not None else \
            {"label": label, "box": list(target.box)}
        t0 = time.monotonic()
        self.probe.publish(self.topic("teach"), json.dumps(cmd))
        done = self.probe.wait_for(lambda: [s for s in self.probe.messages_of("teach_status", t0)
                                            if s["label"] == label and s["state"] in ("learned", "error")], timeout)
        return done[-1] if done else None

    def labels_seen(self, label: str, timeout: float = 30.0) -> bool:
        t0 = time.monotonic()
        return bool(self.probe.wait_for(lambda: [m for m in self.probe.messages_of("objects", t0)
                                                 if any(o["label"] == label for o in m["objects"])], timeout))

    def rss_mb(self) -> dict[str, float]:
        return {n: round(p.rss_mb(), 1) for n, p in self.procs.items()}

    def stop(self) -> dict[str, int]:
        codes = {n: p.stop() for n, p in self.procs.items()}
        self.probe.destroy_node()
        return codes


def result_summary(graph: Graph) -> dict[str, Any]:
    """Graph facts used by several runs: who is alive, who answers."""
    return {"alive": graph.alive(), "answering": graph.answering()}
