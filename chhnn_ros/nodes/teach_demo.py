"""``chhnn-perception --teach-demo``: teach the sim's objects one at a time
through the real ``teach`` topic and measure recognition on fresh scenes.

For each object: re-randomise the scene (camera ``~/randomize``), teach it by
its track id (or box) as the sim's truth gives it, keep re-randomising while
the classifier collects samples (varied views), wait for ``learned``, then
score ``objects`` against the truth on ``--views`` fresh scenes, over every
class learned so far.  Writes a JSON with per-step accuracies (``steps``)
and ``final_acc`` (mean per-class accuracy after the last step).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from chhnn_ros.nodes.probe import Probe

STATUS_TIMEOUT = 120.0


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _key(payload: dict) -> tuple[int, int]:
    return payload["stamp"]["sec"], payload["stamp"]["nanosec"]


def score_frame(truth: list, objects: list[dict], learned: set) -> dict[str, list[int]]:
    """Per learned class: 1/0 per truth instance (right label on the best-IoU object, IoU >= 0.5)."""
    hits: dict[str, list[int]] = {}
    for t in truth:
        if t.class_name not in learned:
            continue
        best = max(objects, key=lambda o: iou(t.box, o["box"]), default=None)
        ok = best is not None and iou(t.box, best["box"]) >= 0.5 and best["label"] == t.class_name
        hits.setdefault(t.class_name, []).append(int(ok))
    return hits


class Demo:
    def __init__(self, probe: Probe) -> None:
        self.p = probe
        probe.record("truth", kind="truth")
        probe.record("objects", kind="objects")
        probe.record("teach_status", kind="teach_status")

    def randomize(self) -> float:
        for attempt in range(3):  # under heavy load a service response can take long: retry, then give up
            try:
                ok, msg = self.p.trigger("camera/randomize", timeout=10.0)
                break
            except TimeoutError:
                if attempt == 2:
                    raise
        if not ok:
            raise RuntimeError(msg)
        return time.monotonic()

    def fresh_truth(self, since: float) -> dict:
        got = self.p.wait_for(lambda: self.p.messages_of("truth", since), 15.0)
        if not got:
            raise TimeoutError("no ground truth from the camera: is it a sim with publish_truth?")
        return got[-1]

    def evaluate(self, learned: set, views: int) -> tuple[dict[str, list[int]], list[float]]:
        hits: dict[str, list[int]] = {}
        latencies: list[float] = []
        for _ in range(views):
            t = self.randomize()
            truth = {_key(m): m for m in self.p.wait_for(lambda t=t: self.p.messages_of("truth", t), 15.0) or []}

            def matched(t=t, truth=truth):
                truth.update({_key(m): m for m in self.p.messages_of("truth", t)})
                return [o for o in self.p.messages_of("objects", t) if _key(o) in truth]

            objs = self.p.wait_for(matched, 30.0)
            if not objs:
                raise TimeoutError("no objects for a fresh scene within 30 s")
            o = objs[0]
            for k, v in score_frame(truth[_key(o)]["detections"], o["objects"], learned).items():
                hits.setdefault(k, []).extend(v)
            with self.p.lock:
                arrivals = [(rt, m) for rt, m in self.p.received["objects"] if rt >= t]
            latencies += [rt - time.monotonic() + time.time() - (m["stamp"]["sec"] + m["stamp"]["nanosec"] * 1e-9)
                          for rt, m in arrivals]
        return hits, latencies

    def teach(self, label: str) -> dict:
        for _ in range(10):  # find a scene where the object is visible
            t = self.randomize()
            truth = self.fresh_truth(t)
            target = next((d for d in truth["detections"] if d.class_name == label), None)
            if target is not None:
                break
        else:
            raise RuntimeError(f"object {label!r} never visible in 10 scenes")
        cmd = {"label": label, "track_id": target.track_id} if target.track_id is not None else \
            {"label": label, "box": list(target.box)}
        t0 = time.monotonic()
        self.p.publish("teach", json.dumps(cmd))
        while time.monotonic() - t0 < STATUS_TIMEOUT:
            done = [s for s in self.p.messages_of("teach_status", t0)
                    if s["label"] == label and s["state"] in ("learned", "error")]
            if done:
                return done[-1]
            if target.track_id is not None:  # vary the views while samples are collected
                self.randomize()
            self.p.wait_for(lambda: False, 0.3)
        raise TimeoutError(f"teaching {label!r}: no result in {STATUS_TIMEOUT:g} s")


def run_demo(probe: Probe, json_path: str, views: int = 3, max_classes: int = 0) -> int:
    demo = Demo(probe)
    names: list[str] = []
    for _ in range(5):  # the identities the sim shows, in order of appearance
        for d in demo.fresh_truth(demo.randomize())["detections"]:
            if d.class_name not in names:
                names.append(d.class_name)
    if max_classes:
        names = names[:max_classes]
    learned: set[str] = set()
    steps, all_lat = [], []
    print(f"{'step':>4} {'taught':<16} {'classes':>7} {'accuracy':>8}  per class", flush=True)
    for i, label in enumerate(names):
        status = demo.teach(label)
        if status["state"] != "learned":
            print(f"teaching {label!r} failed: {status['message']}", flush=True)
            continue
        learned.add(label)
        hits, lat = demo.evaluate(learned, views)
        all_lat += lat
        per_class = {k: sum(v) / len(v) for k, v in sorted(hits.items())}
        acc = statistics.fmean(per_class.values()) if per_class else 0.0
        steps.append({"step": i + 1, "taught": label, "classes": sorted(learned), "acc": acc,
                      "per_class": per_class, "n": sum(len(v) for v in hits.values())})
        print(f"{i + 1:>4} {label:<16} {len(learned):>7} {acc:>8.3f}  "
              + " ".join(f"{k}={v:.2f}" for k, v in per_class.items()), flush=True)
    result = {
        "steps": steps,
        "final_acc": steps[-1]["acc"] if steps else 0.0,
        "mean_acc": statistics.fmean(s["acc"] for s in steps) if steps else 0.0,
        "latency_ms": {"median": 1e3 * statistics.median(all_lat), "max": 1e3 * max(all_lat)} if all_lat else {},
    }
    Path(json_path).write_text(json.dumps(result, indent=2))
    print(f"final accuracy {result['final_acc']:.3f} over {len(learned)} classes; wrote {json_path}", flush=True)
    return 0 if steps else 1
