"""Crash-safe memory: kill -9 the classifier at random moments while it teaches and saves.

The classifier runs as a real process fed directly on its ``features`` topic
(one central object whose vectors form one cluster per label), so each trial
needs no camera/detector/encoder.  Per trial: start the node on the same
memory file, check it loads and still holds every class whose teach was
reported ``learned`` on ``teach_status``, then teach new labels while
``~/save`` is called back to back, and SIGKILL it after a random delay.
The node is started and restarted by the graph runner (:class:`~chhnn_ros.graph.Graph`).
"""

from __future__ import annotations

import random
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from std_msgs.msg import String
from std_srvs.srv import Trigger

from chhnn_ros.app import memory_file, payloads
from chhnn_ros.graph import Graph, NodeProcess
from chhnn_ros.ros import qos
from chhnn_ros.ros.conversions import sec_to_stamp
from chhnn_ros.ros.probe import Probe

NS = "rk"


def centre(label: str, dim: int) -> np.ndarray:
    v = np.random.default_rng(zlib.crc32(label.encode())).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


class Feeder:
    """Publishes one-object feature frames for the label being taught (~50 Hz)."""

    def __init__(self, probe: Probe, dim: int, seed: int) -> None:
        self.probe, self.dim = probe, dim
        self.pub = probe.create_publisher(String, f"/{NS}/features", qos.result_qos())
        self.rng = np.random.default_rng(seed)
        self.seq = 0

    def frame(self, label: str) -> None:
        self.seq += 1
        v = centre(label, self.dim) + 0.05 * self.rng.standard_normal(self.dim).astype(np.float32)
        dets = [{"box": [80, 60, 240, 180], "score": 1.0, "class_name": "obj", "track_id": 1}]
        self.pub.publish(String(data=payloads.encode(
            "features", sec_to_stamp(time.time()), "cam", image_size=[320, 240],
            encoder="kill9", dim=self.dim, detections=dets, vectors=payloads.vectors_to_lists(v[None]))))


def classifier_params(mem: Path, learner: str, samples: int, dim: int) -> dict[str, dict[str, Any]]:
    """The classifier of a trial: its own memory file, short teaches, no minimum time between samples."""
    return {"classifier": {"learner": learner, "memory_path": str(mem), "teach_samples": samples,
                           "teach_timeout": 5.0, "teach_interval": 0.0, "feature_dim": dim}}


def list_classes(probe: Probe, node: NodeProcess, timeout: float) -> dict | None:
    """The node's classes once its service answers; None if it died or never answered."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and node.alive():
        try:
            return probe.list_classes(f"/{NS}/classifier/list_classes", timeout=min(5.0, end - time.monotonic()))
        except (TimeoutError, RuntimeError):
            continue
    return None


def run_kill9(workdir: Path, trials: int, domain: int, seed: int = 0, learner: str = "chhnn", dim: int = 16,
              samples: int = 5, max_delay: float = 2.5, log=print) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    mem = workdir / "memory.pt"
    rng = random.Random(seed)
    g = Graph(workdir, classifier_params(mem, learner, samples, dim), namespace=NS, nodes=(), domain=domain)
    probe = g.probe
    feeder = Feeder(probe, dim, seed)
    saver = probe.create_client(Trigger, f"/{NS}/classifier/save")
    completed: set[str] = set()
    result: dict[str, Any] = {"kill9_trials": 0, "lost_classes": 0, "load_failures": 0, "learner": learner,
                              "kills_by_phase": {"collecting": 0, "learning_or_saving": 0, "idle": 0},
                              "saves_called": 0, "kills_during_save_call": 0, "teaches_completed": 0, "lost": []}
    next_label = 0
    durations: list[float] = []  # teach command → learned, seconds
    t_start = time.monotonic()

    def statuses(since: float = 0.0) -> list[dict]:
        return probe.messages_of("teach_status", since)

    def check(node: NodeProcess, trial: int) -> bool:
        # the memory file itself must load (outside the node too) and hold every completed class
        ok = True
        try:
            payload = memory_file.load(mem)
        except memory_file.MemoryFileError as exc:
            log(f"kill9 trial {trial}: memory file does not load: {exc}")
            payload, ok = None, False
        got = list_classes(probe, node, 60.0)
        if got is None:
            log(f"kill9 trial {trial}: the classifier did not start:\n{node.text()[-1500:]}")
            ok = False
        known = set(got["classes"]) if got else set()
        lost = sorted(completed - known)
        if lost:
            log(f"kill9 trial {trial}: lost {lost} (file version "
                f"{payload and payload['database_version']})")
            result["lost"] += lost
            result["lost_classes"] += len(lost)
            completed.difference_update(lost)  # count each loss once
        if not ok:
            result["load_failures"] += 1
        return ok

    for trial in range(trials + 1):  # the last start only checks
        node = g.start_node("classifier")
        if not check(node, trial):
            node.kill9()
            break
        if trial == trials:
            result["final_classes"] = len(completed)
            node.stop()
            break
        t_trial = time.monotonic()
        if f"/{NS}/teach" not in probe.pubs:
            probe.pubs[f"/{NS}/teach"] = probe.create_publisher(String, f"/{NS}/teach", qos.result_qos())
        teach_pub = probe.pubs[f"/{NS}/teach"]
        probe.wait_for(lambda pub=teach_pub: pub.get_subscription_count() > 0 and
                       feeder.pub.get_subscription_count() > 0, 10.0)
        # teach label after label while saving back to back; after 0-2 completed teaches, SIGKILL at a
        # random moment within one teach's duration, so kills land while collecting, learning and saving
        arm_after = rng.choice([0, 1, 1, 2])
        kill_at, give_up = float("inf"), time.monotonic() + 120.0
        label, t_teach, n_done = None, 0.0, 0
        save_future = None
        while time.monotonic() < min(kill_at, give_up):
            done = [s for s in statuses(t_teach) if s["label"] == label and s["state"] in ("learned", "error")]
            if label is None or done:
                if done and done[-1]["state"] == "learned":
                    n_done += 1
                    durations.append(time.monotonic() - t_teach)
                if n_done >= arm_after and kill_at == float("inf"):
                    window = 1.5 * float(np.mean(durations[-5:])) if durations else max_delay
                    kill_at = time.monotonic() + rng.uniform(0.0, window)
                label, next_label = f"c{next_label}", next_label + 1
                t_teach = time.monotonic()
                probe.publish(f"/{NS}/teach", label, wait_subscriber=0.0)
            if (save_future is None or save_future.done()) and saver.service_is_ready():
                save_future = saver.call_async(Trigger.Request())
                result["saves_called"] += 1
            feeder.frame(label)
            time.sleep(0.02)
        last = [s for s in statuses(t_teach) if s["label"] == label]
        phase = "idle" if not last or last[-1]["state"] != "collecting" else \
            "learning_or_saving" if last[-1]["collected"] >= last[-1]["needed"] > 0 else "collecting"
        in_save = save_future is not None and not save_future.done()
        node.kill9()
        result["kills_by_phase"][phase] += 1
        result["kills_during_save_call"] += int(in_save)
        result["kill9_trials"] += 1
        probe.wait_for(lambda: False, 0.2)  # statuses still in flight
        learned = {s["label"] for s in statuses(t_trial) if s["state"] == "learned"}
        result["teaches_completed"] += len(learned)
        completed.update(learned)
    result["elapsed_s"] = round(time.monotonic() - t_start, 1)
    result["teach_s_median"] = round(float(np.median(durations)), 2) if durations else None
    leftovers = [p.name for p in workdir.glob(".memory.pt.*.tmp")]
    result["temp_files_left"] = len(leftovers)
    g.stop()
    return result
