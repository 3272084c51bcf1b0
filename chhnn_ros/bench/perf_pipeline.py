"""ROS 2 measurements of ``chhnn-bench perf``: the four nodes end to end.

The camera publishes cached sim frames (``sim_cache``, so publishing is
cheap and any rate is possible) and the classifier loads a CH-HNN memory
file, so every frame goes through detector → crop → encoder → learner.
Latency = receive time of ``objects`` − stamp of the camera frame, read by
a probe node in this process.  The same frames are then run through the
same four parts called directly (no ROS), right before each ROS run, so
the overhead ratio compares the two under the same machine load.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from chhnn_ros.bench.perf_encoders import SCENE, sim_frames
from chhnn_ros.perception.crops import crop_detections
from chhnn_ros.perception.detectors.groundtruth import GroundTruthDetector
from chhnn_ros.perception.types import Frame

ROOT = Path(__file__).resolve().parents[2]
NODES = ("camera_node", "detector_node", "encoder_node", "classifier_node")


def setup_environment() -> dict[str, str]:
    """Localhost DDS with the package's large-data profile on a random free-ish domain (this process)."""
    from chhnn_ros.nodes.share import config_file  # source tree or installed share/ directory

    env = {"ROS_DOMAIN_ID": str(random.Random(os.getpid()).randint(120, 180)),
           "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
           "FASTDDS_DEFAULT_PROFILES_FILE": str(config_file("fastdds_large_data.xml")),
           "YOLO_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    os.environ.update(env)
    return env


def default_encoder():
    """The encoder the encoder node picks with its default parameters."""
    from chhnn_ros.nodes.encoder_node import encoder_kind, encoder_kwargs
    from chhnn_ros.params import defaults
    from chhnn_ros.perception.encoders import make_encoder

    p = {**defaults("encoder"), "device": "cpu"}
    kind = encoder_kind(p)
    return make_encoder(kind, **encoder_kwargs({**p, "encoder": kind})), kind


def direct_times(frames: Sequence[Frame], encoder, learner, passes: int = 2, period: float = 0.0) -> list[float]:
    """Seconds per frame of detector + crop + encoder + learner called directly.

    ``period`` > 0 starts a frame every ``period`` seconds, as the camera does: after an idle gap
    the caches are cold and a frame takes 3-14 % longer (measured here) than back to back, a cost
    the pipeline pays at its rate and that is not ROS overhead."""
    det = GroundTruthDetector()
    out = []
    for _ in range(passes):
        for f in frames:
            t0 = time.perf_counter()
            crops, _ = crop_detections(f.image, det.detect(f), size=224, pad=0.1, min_size=8)
            if crops:
                learner.predict_proba(encoder.encode(crops))
            out.append(time.perf_counter() - t0)
            if period > 0:
                time.sleep(max(0.0, t0 + period - time.perf_counter()))
    return out


def params_file(path: Path, rate: float, cache: int, memory: Path, seed: int, **extra: Any) -> Path:
    p = {**extra, "rate": float(rate), "sim_cache": int(cache), "sim_reset_every": 1, "seed": seed,
         "sim_objects": ",".join(SCENE["objects"]), "width": SCENE["width"], "height": SCENE["height"],
         "memory_path": str(memory), "device": "cpu"}
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": p}}))
    return path


class Pipeline:
    """The four nodes in one process (chhnn-perception) or four processes."""

    def __init__(self, mode: str, ns: str, params: Path, logdir: Path) -> None:
        py = [sys.executable, "-m"]
        if mode == "one":
            cmds = {"bringup": py + ["chhnn_ros.nodes.bringup", "--namespace", ns, "--params-file", str(params)]}
        else:
            cmds = {n: py + [f"chhnn_ros.nodes.{n}", "--ros-args", "-r", f"__ns:=/{ns}", "--params-file", str(params)]
                    for n in NODES}
        self.logs = {n: logdir / f"{ns}_{n}.log" for n in cmds}
        self.procs = {n: subprocess.Popen(c, stdout=self.logs[n].open("w"), stderr=subprocess.STDOUT, cwd=logdir)
                      for n, c in cmds.items()}

    def tail(self) -> str:
        return "\n".join(f"--- {n}\n" + p.read_text()[-1500:] for n, p in self.logs.items())

    def stop(self) -> dict[str, int | None]:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes = {}
        for n, p in self.procs.items():
            try:
                codes[n] = p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                codes[n] = None
        return codes


def measure(mode: str, rate: float, cache: int, memory: Path, logdir: Path, warmup: float, duration: float,
            tag: str, seed: int = 1, stages: bool = False, **extra: Any) -> dict[str, Any]:
    """Run the pipeline at ``rate`` Hz; latency statistics of the ``objects`` of ``duration`` seconds.

    ``stages`` also times ``detections`` and ``features`` (where the latency goes).  Off for the
    overhead runs: each extra subscriber in this process is one more delivery the publishing node
    makes on the critical path, work a deployed pipeline does not do."""
    from chhnn_ros.nodes.probe import Probe

    ns = f"perf_{tag}"
    params = params_file(logdir / f"{ns}.yaml", rate, cache, memory, seed, **extra)
    probe = Probe(f"perf_probe_{tag}", namespace=ns)
    probe.record("objects", kind="objects")
    probe.record("truth", kind="truth")
    if stages:
        probe.record("detections", kind="detections")
        probe.record("features", kind="features")
    pipe = Pipeline(mode, ns, params, logdir)
    try:
        t_boot = time.monotonic()
        if not probe.wait_for(lambda: probe.messages_of("objects"), 180.0):
            raise RuntimeError(f"{mode}-process pipeline produced no objects in 180 s:\n{pipe.tail()}")
        boot_s = time.monotonic() - t_boot
        probe.wait_for(lambda: False, warmup)
        t0 = time.monotonic()
        probe.wait_for(lambda: False, duration)
        t1 = time.monotonic()
        offset = time.time() - time.monotonic()
        with probe.lock:
            objs = [(t, m) for t, m in probe.received["objects"] if t0 <= t < t1]
            truth = [m for t, m in probe.received["truth"] if t0 <= t < t1]
            dets = [(t, m) for t, m in probe.received.get("detections", []) if t0 <= t < t1]
            feats = [(t, m) for t, m in probe.received.get("features", []) if t0 <= t < t1]
    finally:
        codes = pipe.stop()
        probe.destroy_node()
    if not objs:
        raise RuntimeError(f"no objects during the {mode}-process measurement:\n{pipe.tail()}")
    stamps = {(m["stamp"]["sec"], m["stamp"]["nanosec"]) for m in truth}
    def latency(items: list) -> list[float]:
        return sorted(1e3 * (t + offset - (m["stamp"]["sec"] + m["stamp"]["nanosec"] * 1e-9)) for t, m in items)

    lat = latency(objs)
    done = sum((m["stamp"]["sec"], m["stamp"]["nanosec"]) in stamps for _, m in objs)
    return {"mode": mode, "rate_hz": rate, "published_hz": len(truth) / (t1 - t0), "output_hz": len(objs) / (t1 - t0),
            "frames_published": len(truth), "frames_out": len(objs), "frames_dropped": max(0, len(truth) - done),
            "median_ms": statistics.median(lat), "p90_ms": lat[int(0.9 * (len(lat) - 1))], "max_ms": lat[-1],
            "detections_median_ms": statistics.median(latency(dets)) if dets else float("nan"),
            "features_median_ms": statistics.median(latency(feats)) if feats else float("nan"),
            "boot_s": boot_s, "exit_codes": codes}


def pipeline_suite(learner, quick: bool, logdir: Path, log=print) -> dict[str, Any]:
    """One-process and four-process latency vs direct calls, and the overload test."""
    import rclpy

    from chhnn_ros.nodes import memory

    setup_environment()
    cache, warmup, duration = (16, 2.0, 6.0) if quick else (40, 5.0, 25.0)
    frames = sim_frames(cache, seed=1)
    mem = memory.save(logdir / "perf_memory.pt", learner.state_dict(), 1,
                      {"encoder": "efficientnet", "dim": learner.dim})
    encoder, kind = default_encoder()
    direct_times(frames[:2], encoder, learner, passes=1)  # warm-up
    out: dict[str, Any] = {"frames": cache, "encoder_backend": kind, "objects_per_frame":
                           statistics.mean(len(f.truth) for f in frames)}
    rclpy.init()
    try:
        d = statistics.median(direct_times(frames, encoder, learner))
        base = min(5.0, 0.5 / d)
        for mode in ("one", "four"):
            # Direct calls right before and right after the ROS run, pooled (the machine's load
            # drifts), at the camera's rate; back to back as well, for comparison.
            packed = direct_times(frames, encoder, learner, passes=1)
            before = direct_times(frames, encoder, learner, passes=1, period=1.0 / base)
            log(f"perf: {mode}-process pipeline at {base:.1f} Hz (direct {1e3 * statistics.median(before):.1f} "
                "ms/frame before)")
            r = measure(mode, base, cache, mem, logdir, warmup, duration, f"{mode}_base")
            after = direct_times(frames, encoder, learner, passes=1, period=1.0 / base)
            packed += direct_times(frames, encoder, learner, passes=1)
            r["direct_ms"] = 1e3 * statistics.median(before + after)
            r["direct_before_after_ms"] = [1e3 * statistics.median(before), 1e3 * statistics.median(after)]
            r["direct_back_to_back_ms"] = 1e3 * statistics.median(packed)
            r["overhead_ratio"] = r["median_ms"] / r["direct_ms"]
            r["overhead_ratio_back_to_back"] = r["median_ms"] / r["direct_back_to_back_ms"]
            out[mode] = r
        # Saturate first (the stages run in parallel: about one frame per direct time, twice that is
        # more than it can take) to measure the rate it sustains; then publish at twice that rate.
        sat = min(60.0, 2.0 * 1e3 / out["one"]["direct_ms"])
        log(f"perf: one-process pipeline saturated at {sat:.1f} Hz")
        out["saturation"] = measure("one", sat, cache, mem, logdir, warmup, duration, "one_sat", stages=True)
        over = min(60.0, 2.0 * out["saturation"]["output_hz"])
        log(f"perf: one-process pipeline at {over:.1f} Hz, twice the {over / 2:.1f} Hz it sustains")
        r = measure("one", over, cache, mem, logdir, warmup, duration, "one_over")
        r["sustained_hz"] = out["saturation"]["output_hz"]
        r["latency_ratio"] = r["median_ms"] / out["one"]["median_ms"]
        r["overload_factor"] = r["published_hz"] / max(r["sustained_hz"], 1e-9)
        out["overload"] = r
        if not quick:  # the product default: live rendering, in a child process or (old way) in the node
            for live in (True, False):
                tag = "one_live_child" if live else "one_live_inproc"
                log(f"perf: one-process pipeline, sim rendered live ({'child process' if live else 'in process'})")
                r = measure("one", base, 0, mem, logdir, warmup, duration, tag, sim_process=live)
                r["overhead_ratio"] = r["median_ms"] / out["one"]["direct_ms"]
                out[tag] = r
    finally:
        rclpy.try_shutdown()
    return out
