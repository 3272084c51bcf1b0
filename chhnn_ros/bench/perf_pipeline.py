"""ROS 2 measurements of ``chhnn-bench perf``: the four nodes end to end.

The camera publishes cached sim frames (``sim_cache``, so publishing is
cheap and any rate is possible) and the classifier loads a CH-HNN memory
file, so every frame goes through detector → crop → encoder → learner.  The
graph is started by the package's graph runner (:class:`~chhnn_ros.graph.Graph`:
``chhnn-perception`` in one child process, or one process per node).
Latency = receive time of ``objects`` − stamp of the camera frame, read by
the graph's probe in this process.  The same frames are then run through the
same stages the nodes call (:mod:`chhnn_ros.app.stages`, ``Knowledge.predict``,
the labeller) without ROS, right before and after each ROS run, so the
overhead ratio compares the two under the same machine load.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chhnn_ros.app.factories import open_encoder
from chhnn_ros.app.knowledge import Knowledge
from chhnn_ros.app.labelling import Labeller
from chhnn_ros.app.stages import CropGeometry, DetectStage, EncodeStage, crops_from_image
from chhnn_ros.bench.perf_encoders import SCENE, sim_frames
from chhnn_ros.params import defaults
from chhnn_ros.perception.detectors.groundtruth import GroundTruthDetector
from chhnn_ros.perception.types import Frame

MODES = {"one": "oneprocess", "four": "processes"}


def default_encoder() -> tuple[Any, str]:
    """The encoder the encoder node builds with its default parameters (on the CPU)."""
    return open_encoder({**defaults("encoder"), "device": "cpu"})


def direct_times(frames: Sequence[Frame], encoder: Any, knowledge: Knowledge, passes: int = 2,
                 period: float = 0.0) -> list[float]:
    """Seconds per frame of the nodes' stages called directly: detect and keep (detector node), crop and
    encode (encoder node), predict and label (classifier node), with the nodes' default parameters.

    ``period`` > 0 starts a frame every ``period`` seconds, as the camera does: after an idle gap the
    caches are cold and a frame takes longer than back to back, a cost the pipeline pays at its rate
    and that is not ROS overhead."""
    detect = DetectStage(GroundTruthDetector(), CropGeometry.from_params(defaults("detector")))
    encode, label = EncodeStage(encoder), Labeller(defaults("classifier")["unknown_label"])
    g = detect.geometry
    out = []
    for _ in range(passes):
        for f in frames:
            t0 = time.perf_counter()
            kept = detect.detect(f)
            label.label(kept, knowledge.predict(encode.encode(crops_from_image(f.image, kept, g.size, g.pad))))
            out.append(time.perf_counter() - t0)
            if period > 0:
                time.sleep(max(0.0, t0 + period - time.perf_counter()))
    return out


def graph_params(rate: float, cache: int, memory: Path, seed: int, **extra: Any) -> dict[str, dict[str, Any]]:
    return {"**": {**extra, "rate": float(rate), "sim_cache": int(cache), "sim_reset_every": 1, "seed": seed,
                   "sim_objects": ",".join(SCENE["objects"]), "width": SCENE["width"], "height": SCENE["height"],
                   "memory_path": str(memory), "device": "cpu"}}


def measure(mode: str, rate: float, cache: int, memory: Path, logdir: Path, warmup: float, duration: float,
            tag: str, seed: int = 1, stages: bool = False, **extra: Any) -> dict[str, Any]:
    """Run the pipeline at ``rate`` Hz; latency statistics of the ``objects`` of ``duration`` seconds.

    ``stages`` also times ``detections`` and ``features`` (where the latency goes).  Off for the
    overhead runs: each extra subscriber is one more delivery the publishing node makes on the
    critical path, work a deployed pipeline does not do."""
    from chhnn_ros.app import payloads
    from chhnn_ros.graph import Graph

    record = [("truth", "truth")] + ([("detections", "detections"), ("features", "features")] if stages else [])
    g = Graph(logdir / tag, graph_params(rate, cache, memory, seed, **extra), mode=MODES[mode],
              namespace=f"perf_{tag}", record=record)
    probe = g.probe
    try:
        t_boot = time.monotonic()
        if not g.wait_objects(180.0, since=t_boot):
            raise RuntimeError(f"{mode}-process pipeline produced no objects in 180 s:\n{g.logs()}")
        boot_s = time.monotonic() - t_boot
        probe.wait_for(lambda: False, warmup)
        t0 = time.monotonic()
        probe.wait_for(lambda: False, duration)
        t1 = time.monotonic()
        offset = time.time() - time.monotonic()
        with probe.lock:
            got = {k: [(t, m) for t, m in probe.received.get(k, []) if t0 <= t < t1]
                   for k in ("objects", "truth", "detections", "features")}
    finally:
        codes = g.stop()
    objs, truth = got["objects"], [m for _, m in got["truth"]]
    if not objs:
        raise RuntimeError(f"no objects during the {mode}-process measurement:\n{g.logs()}")
    stamps = {payloads.stamp_key(m) for m in truth}

    def latency(items: list) -> list[float]:
        return sorted(1e3 * (t + offset - payloads.stamp_sec(m)) for t, m in items)

    lat = latency(objs)
    done = sum(payloads.stamp_key(m) in stamps for _, m in objs)
    dets, feats = got["detections"], got["features"]
    return {"mode": mode, "rate_hz": rate, "published_hz": len(truth) / (t1 - t0), "output_hz": len(objs) / (t1 - t0),
            "frames_published": len(truth), "frames_out": len(objs), "frames_dropped": max(0, len(truth) - done),
            "median_ms": statistics.median(lat), "p90_ms": lat[int(0.9 * (len(lat) - 1))], "max_ms": lat[-1],
            "detections_median_ms": statistics.median(latency(dets)) if dets else float("nan"),
            "features_median_ms": statistics.median(latency(feats)) if feats else float("nan"),
            "boot_s": boot_s, "exit_codes": codes}


def pipeline_suite(learner: Any, quick: bool, logdir: Path, log=print) -> dict[str, Any]:
    """One-process and four-process latency vs direct calls, and the overload test."""
    from chhnn_ros.app import memory_file

    cache, warmup, duration = (16, 2.0, 6.0) if quick else (40, 5.0, 25.0)
    frames = sim_frames(cache, seed=1)
    mem = memory_file.save(logdir / "perf_memory.pt", learner.state_dict(), 1,
                           {"encoder": "efficientnet", "dim": learner.dim})
    knowledge = Knowledge(learner.name, "", 0, str(mem), False)  # the classifier's own load of that file
    encoder, kind = default_encoder()
    direct_times(frames[:2], encoder, knowledge, passes=1)  # warm-up
    out: dict[str, Any] = {"frames": cache, "encoder_backend": kind, "objects_per_frame":
                           statistics.mean(len(f.truth) for f in frames)}
    d = statistics.median(direct_times(frames, encoder, knowledge))
    base = min(5.0, 0.5 / d)
    for mode in ("one", "four"):
        # Direct calls right before and right after the ROS run, pooled (the machine's load
        # drifts), at the camera's rate; back to back as well, for comparison.
        packed = direct_times(frames, encoder, knowledge, passes=1)
        before = direct_times(frames, encoder, knowledge, passes=1, period=1.0 / base)
        log(f"perf: {mode}-process pipeline at {base:.1f} Hz (direct {1e3 * statistics.median(before):.1f} "
            "ms/frame before)")
        r = measure(mode, base, cache, mem, logdir, warmup, duration, f"{mode}_base")
        after = direct_times(frames, encoder, knowledge, passes=1, period=1.0 / base)
        packed += direct_times(frames, encoder, knowledge, passes=1)
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
    if not quick:  # the product default: live rendering, in a child process or in the node
        for live in (True, False):
            tag = "one_live_child" if live else "one_live_inproc"
            log(f"perf: one-process pipeline, sim rendered live ({'child process' if live else 'in process'})")
            r = measure("one", base, 0, mem, logdir, warmup, duration, tag, sim_process=live)
            r["overhead_ratio"] = r["median_ms"] / out["one"]["direct_ms"]
            out[tag] = r
    return out
