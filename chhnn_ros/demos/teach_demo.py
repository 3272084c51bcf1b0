"""``chhnn-perception --teach-demo``: teach the sim's objects one at a time
through the real ``teach`` topic and measure recognition on fresh scenes.

While an object is taught, the robot walks around it: the objects turn on the
spot (``sim_motion: turn``) and the scene is re-randomised every
``TEACH_MOVE_S`` seconds (new distance, viewpoint and light; the object keeps
its track id), so the teach's samples (``teach_interval`` apart) are views of
the conditions the robot will meet, not of one moment.  For each object:
re-randomise the scene (camera ``~/randomize``) until it is in view, teach it
by its track id as the sim's truth gives it, wait for ``learned``, then score
``objects`` against the truth on ``views`` fresh scenes, over every class
learned so far.  Writes a JSON with per-step accuracies (``steps``),
``final_acc`` (mean per-class accuracy after the last step) and the teaches'
statuses (samples, distinct views).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from chhnn_ros.graph import Graph, teach_command
from chhnn_ros.perception.crops import iou
from chhnn_ros.ros import messages

DEMO_PARAMS: dict[str, Any] = {"sim_motion": "turn", "teach_interval": 0.3}
TEACH_TIMEOUT = 120.0
TEACH_MOVE_S = 1.0


OUTCOMES = ("right", "wrong", "unknown", "missed")


def score_frame(truth: list, objects: list[dict], learned: set) -> dict[str, list[str]]:
    """Per learned class, one outcome per truth instance: ``right`` (its label on the best-IoU object,
    IoU >= 0.5), ``wrong`` (another class), ``unknown`` (rejected as never taught) or ``missed``
    (no object over it)."""
    outcomes: dict[str, list[str]] = {}
    for t in truth:
        if t.class_name not in learned:
            continue
        best = max(objects, key=lambda o: iou(t.box, o["box"]), default=None)
        if best is None or iou(t.box, best["box"]) < 0.5:
            out = "missed"
        elif best["label"] == t.class_name:
            out = "right"
        else:
            out = "wrong" if best["known"] else "unknown"
        outcomes.setdefault(t.class_name, []).append(out)
    return outcomes


class Demo:
    def __init__(self, graph: Graph) -> None:
        self.g = graph
        graph.probe.record("truth", kind="truth")

    def randomize(self) -> float:
        for attempt in range(3):  # under heavy load a service response can take long: retry, then give up
            try:
                ok, msg = self.g.trigger("camera/randomize", timeout=10.0)
                break
            except TimeoutError:
                if attempt == 2:
                    raise
        if not ok:
            raise RuntimeError(msg)
        return time.monotonic()

    def fresh_truth(self, since: float) -> dict:
        got = self.g.probe.wait_for(lambda: self.g.probe.messages_of("truth", since), 15.0)
        if not got:
            raise TimeoutError("no ground truth from the camera: is it a sim with publish_truth?")
        return got[-1]

    def evaluate(self, learned: set, views: int) -> tuple[dict[str, list[str]], list[float]]:
        outcomes: dict[str, list[str]] = {}
        latencies: list[float] = []
        probe = self.g.probe
        for _ in range(views):
            t = self.randomize()

            def matched(t: float = t) -> list[tuple[dict, dict]]:
                truth = {messages.frame_key(m): m for m in probe.messages_of("truth", t)}
                return [(o, truth[messages.frame_key(o)]) for o in probe.messages_of("objects", t)
                        if messages.frame_key(o) in truth]

            pairs = probe.wait_for(matched, 30.0)
            if not pairs:
                raise TimeoutError("no objects for a fresh scene within 30 s")
            objects, truth = pairs[0]
            for k, v in score_frame(truth["detections"], objects["objects"], learned).items():
                outcomes.setdefault(k, []).extend(v)
            with probe.lock:
                arrivals = [(rt, m) for rt, m in probe.received["objects"] if rt >= t]
            latencies += [rt - time.monotonic() + time.time() - messages.frame_sec(m) for rt, m in arrivals]
        return outcomes, latencies

    def teach(self, label: str) -> dict:
        for _ in range(10):  # find a scene where the object is visible
            truth = self.fresh_truth(self.randomize())
            target = next((d for d in truth["detections"] if d.class_name == label), None)
            if target is not None:
                break
        else:
            raise RuntimeError(f"object {label!r} never visible in 10 scenes")
        probe, t0 = self.g.probe, time.monotonic()
        probe.publish(self.g.topic("teach"), json.dumps(teach_command(label, target)))
        while time.monotonic() - t0 < TEACH_TIMEOUT:
            done = [s for s in probe.messages_of("teach_status", t0)
                    if s["label"] == label and s["state"] in ("learned", "error")]
            if done:
                return done[-1]
            probe.wait_for(lambda: False, TEACH_MOVE_S)
            self.randomize()  # the robot moves on around the object
        raise TimeoutError(f"teaching {label!r}: no result in {TEACH_TIMEOUT:g} s")


def run_demo(graph: Graph, json_path: str, views: int = 10, max_classes: int = 0) -> int:
    demo = Demo(graph)
    names: list[str] = []
    for _ in range(5):  # the identities the sim shows, in order of appearance
        for d in demo.fresh_truth(demo.randomize())["detections"]:
            if d.class_name not in names:
                names.append(d.class_name)
    if max_classes:
        names = names[:max_classes]
    learned: set[str] = set()
    steps, teaches, all_lat = [], [], []
    print(f"{'step':>4} {'taught':<16} {'classes':>7} {'accuracy':>8}  per class", flush=True)
    for i, label in enumerate(names):
        status = demo.teach(label)
        teaches.append({k: status.get(k) for k in ("label", "state", "message", "collected", "views")})
        if status["state"] != "learned":
            print(f"teaching {label!r} failed: {status['message']}", flush=True)
            continue
        learned.add(label)
        outcomes, lat = demo.evaluate(learned, views)
        all_lat += lat
        per_class = {k: v.count("right") / len(v) for k, v in sorted(outcomes.items())}
        acc = statistics.fmean(per_class.values()) if per_class else 0.0
        every = [o for v in outcomes.values() for o in v]
        steps.append({"step": i + 1, "taught": label, "classes": sorted(learned), "acc": acc,
                      "per_class": per_class, "n": len(every),
                      "outcomes": {o: every.count(o) for o in OUTCOMES}})
        print(f"{i + 1:>4} {label:<16} {len(learned):>7} {acc:>8.3f}  "
              + " ".join(f"{k}={v:.2f}" for k, v in per_class.items()), flush=True)
    result = {
        "steps": steps,
        "teaches": teaches,
        "views": views,
        "final_acc": steps[-1]["acc"] if steps else 0.0,
        "mean_acc": statistics.fmean(s["acc"] for s in steps) if steps else 0.0,
        "latency_ms": {"median": 1e3 * statistics.median(all_lat), "max": 1e3 * max(all_lat)} if all_lat else {},
    }
    Path(json_path).parent.mkdir(parents=True, exist_ok=True)
    Path(json_path).write_text(json.dumps(result, indent=2))
    misses = ", ".join(f"{k} {v}" for k, v in steps[-1]["outcomes"].items() if k != "right") if steps else ""
    print(f"final accuracy {result['final_acc']:.3f} over {len(learned)} classes ({misses}); wrote {json_path}",
          flush=True)
    return 0 if steps else 1
