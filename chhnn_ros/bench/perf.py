"""``chhnn-bench perf``: the package measured against its own parts, in one run.

    chhnn-bench perf [--quick] [--json perf.json] [--skip-ros]

Every headline figure is a ratio of two timings taken in the same run
(absolute times on a shared, noisy machine are not comparable between
runs).  Sections: encoders (eager vs ONNX Runtime, INT8), teaching cost,
the CH-HNN spiking network (parallel vs step-by-step simulation, PSN,
energy estimate, time-step reduction, INT8), and the ROS 2 pipeline
(one process and four processes vs direct calls, overload).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chhnn_ros.bench.report import machine_info, write_results

#: CH-HNN with all its training on the teach path, measured beside the default (which stops a new class's
#: training once a batch is learned, after 5 steps, and rebalances the classes by consolidation afterwards).
TEACH_TIME_ONLY: dict[str, Any] = {"new_min_steps": 20, "consolidate_steps": 0}
# key → (goal text, test of the value)
GOALS: dict[str, tuple[str, Any]] = {
    "overhead_ratio": ("<= 1.15", lambda v: v <= 1.15),
    "overload_latency_ratio": ("<= 2", lambda v: v <= 2.0),
    "teach_cost_ratio": ("<= 0.5", lambda v: v <= 0.5),
    "snn_parallel_speedup": (">= 3", lambda v: v >= 3.0),
    "onnx_speedup": (">= 1.5", lambda v: v >= 1.5),
    "energy_ratio": ("< 1", lambda v: v < 1.0),
}


def model_suite(quick: bool, log=print) -> tuple[dict[str, Any], Any]:
    """Encoders, teaching, SNN; returns (results, the CH-HNN learner taught on the sim objects)."""
    from chhnn_ros.bench import perf_encoders as pe
    from chhnn_ros.bench import perf_models as pm

    # 90 frames even in quick mode: ~420 test views, so "accuracy within 1 point" is resolvable
    n_frames, repeat, views = (90, 1, 20) if quick else (90, 3, 20)
    log(f"perf: rendering {n_frames} sim frames")
    per = pe.frame_crops(pe.sim_frames(n_frames, seed=0))
    per_frame = [c for c, _ in per]
    crops = [c for cs, _ in per for c in cs]
    labels = np.asarray([lab for _, ls in per for lab in ls], dtype=object)
    import torch

    from chhnn_ros.params import defaults

    sub = per_frame[:8] if quick else per_frame[:24]  # eager PyTorch is the slow one: a subset
    log(f"perf: encoders on {sum(map(len, sub))} crops (eager, ONNX), {len(crops)} crops (ONNX, INT8)")
    enc, _, encoders = pe.encoder_comparison(sub, repeat)
    feats = pe.encode_frames(encoders["onnx"], per_frame)
    split = pe.teach_split(labels, views)
    enc["int8"] = pe.onnx_int8(enc["onnx_path"], crops[::max(1, len(crops) // 16)][:16], per_frame, feats,
                               split, labels, repeat)
    enc["torch_threads"] = torch.get_num_threads()
    # From here on PyTorch runs as in the classifier node (its torch_threads parameter).
    torch.set_num_threads(defaults("classifier")["torch_threads"] or torch.get_num_threads())
    log("perf: teaching")
    # The denominator is the encoder as the encoder node runs it (ONNX Runtime, its onnx_threads
    # parameter), as the learner runs as in the classifier node; all-core ONNX is reported too.
    from chhnn_ros.bench.perf_pipeline import default_encoder

    node_enc = {"node": default_encoder()[0], "onnx": encoders["onnx"]}
    teach, learner = pe.teach_cost(feats, crops, labels, split,
                                   node_enc if quick else {**node_enc, "eager": encoders["eager"]}, repeat)
    teach["torch_threads"] = torch.get_num_threads()
    teach["onnx_threads_node"] = defaults("encoder")["onnx_threads"]
    # The lever for teach cost is the number of training steps on the teach path: measure the teach that
    # does all its training there too, with the accuracy it buys.
    slow, slow_learner = pe.teach_cost(feats, crops, labels, split, {"node": node_enc["node"]}, repeat,
                                       **TEACH_TIME_ONLY)
    teach["teach_time_only"] = {"params": TEACH_TIME_ONLY, "teach_ms": slow["teach_ms"],
                                "ratio_node": slow["ratio_node"],
                                "acc": pm.accuracy(slow_learner, feats[~split], labels[~split])}
    X_tr, X_te, y_te = feats[split], feats[~split], labels[~split]
    log("perf: spiking network")
    speed = pm.snn_speed(feats.shape[1], learner.net.hidden, learner.net.n_out, learner.net.T, 64, 10 if quick else 30)
    psn = pm.train_incremental(X_tr, labels[split], teach=views, neuron="psn")
    acc = {"lif_multistep": pm.accuracy(learner, X_te, y_te), "lif_stepwise": pm.stepwise_accuracy(learner, X_te, y_te),
           "psn": pm.accuracy(psn, X_te, y_te), "data": f"sim objects, {len(X_te)} test views"}
    res = {"encoder": enc, "teach": teach, "snn_speed": speed, "snn_accuracy": [acc],
           "energy": pm.snn_energy(learner, X_te),
           "time_steps": pm.time_step_reduction(learner, X_tr[:60], X_te, y_te, repeat=3 if quick else 10),
           "snn_int8": pm.snn_int8(learner, X_te, y_te, repeat=3 if quick else 10)}
    if not quick:  # a harder set: 10 MNIST digits, one class per teach, shipped pixel prior
        from chhnn_ros.bench.streams import load_stream
        from chhnn_ros.perception.frontends import apply_frontend

        log("perf: split-MNIST accuracy (LIF multi-step, step-by-step, PSN)")
        s = load_stream("split-mnist", train_per_class=100, test_per_class=100)
        Xm, Xt = apply_frontend("pixels", s.x_train, "perf-train"), apply_frontend("pixels", s.x_test, "perf-test")
        lif_m = pm.train_incremental(Xm, s.y_train)
        psn_m = pm.train_incremental(Xm, s.y_train, neuron="psn")
        res["snn_accuracy"].append({"lif_multistep": pm.accuracy(lif_m, Xt, s.y_test),
                                    "lif_stepwise": pm.stepwise_accuracy(lif_m, Xt, s.y_test),
                                    "psn": pm.accuracy(psn_m, Xt, s.y_test), "data": f"split-MNIST, {len(Xt)} test"})
        res["time_steps_mnist"] = pm.time_step_reduction(lif_m, Xm[:500], Xt, s.y_test, repeat=5)
    return res, learner


def headline(res: dict[str, Any]) -> dict[str, Any]:
    """The issue's keys from the detailed results (missing sections give NaN, never a made-up value)."""
    nan = float("nan")
    m, pipe = res.get("models", {}), res.get("pipeline", {})
    speed, accs = m.get("snn_speed", {}), m.get("snn_accuracy", [])
    # "Accuracy within 1 point": the parallel variant may not lose more than 1 point (being more
    # accurate does not disqualify it; on 72 quick test views one view is already 1.4 points).
    psn_ok = bool(accs) and all(a["psn"] >= a["lif_multistep"] - 0.01 for a in accs)
    same_ok = bool(accs) and all(abs(a["lif_stepwise"] - a["lif_multistep"]) <= 0.01 for a in accs)
    options = {}
    if same_ok:
        options["multistep"] = speed.get("speedup_multistep", nan)
    if psn_ok:
        options["psn"] = speed.get("speedup_psn", nan)
    variant = max(options, key=options.get) if options else "none"
    return {
        "overhead_ratio": pipe.get("one", {}).get("overhead_ratio", nan),
        "overhead_ratio_four_process": pipe.get("four", {}).get("overhead_ratio", nan),
        "overhead_ratio_back_to_back": pipe.get("one", {}).get("overhead_ratio_back_to_back", nan),
        "overload_latency_ratio": pipe.get("overload", {}).get("latency_ratio", nan),
        "frames_dropped": pipe.get("overload", {}).get("frames_dropped", nan),
        "teach_cost_ratio": m.get("teach", {}).get("ratio_node", nan),
        "snn_parallel_speedup": options.get(variant, nan),
        "snn_parallel_variant": variant,
        "onnx_speedup": m.get("encoder", {}).get("onnx_speedup", nan),
        "energy_ratio": m.get("energy", {}).get("energy_ratio", nan),
    }


def _f(v: Any, nd: int = 2) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.{nd}f}"
    return str(v)


def markdown(res: dict[str, Any]) -> str:
    h, m, pipe = res["summary"], res.get("models", {}), res.get("pipeline", {})
    lines = ["| key | value | goal | met |", "|---|---|---|---|"]
    for key, (goal, ok) in GOALS.items():
        v = h[key]
        met = "n/a" if isinstance(v, float) and math.isnan(v) else ("yes" if ok(v) else "no")
        lines.append(f"| {key} | {_f(v)} | {goal} | {met} |")
    lines.append(f"| overhead_ratio_four_process | {_f(h['overhead_ratio_four_process'])} | <= 1.15 | |")
    lines.append(f"| overhead_ratio_back_to_back (direct calls unpaced) | {_f(h['overhead_ratio_back_to_back'])} | | |")
    lines.append(f"| frames_dropped (overload) | {_f(h['frames_dropped'])} | dropped, not queued | |")
    out = ["\n".join(lines)]
    for mode in ("one", "four", "saturation", "overload", "one_live_child", "one_live_inproc"):
        r = pipe.get(mode)
        if r:
            out.append(f"- pipeline {mode}: {r['rate_hz']:.1f} Hz asked, {r['published_hz']:.1f} published, "
                       f"{r['output_hz']:.1f} out, latency median {r['median_ms']:.1f} ms (p90 {r['p90_ms']:.1f})"
                       + (f", direct {r['direct_ms']:.1f} ms at its rate" if "direct_ms" in r else "")
                       + (f" ({r['direct_back_to_back_ms']:.1f} back to back)" if "direct_back_to_back_ms" in r else "")
                       + "".join(f", camera->{k} {r[f'{k}_median_ms']:.1f} ms" for k in ("detections", "features")
                                 if not math.isnan(r.get(f"{k}_median_ms", math.nan)))
                       + f", dropped {r['frames_dropped']}/{r['frames_published']}")
    if m:
        e, sp, t = m["encoder"], m["snn_speed"], m["teach"]
        out.append(f"- encoder: eager {e['eager_ms_per_crop']:.1f} ms/crop, ONNX {e['onnx_ms_per_crop']:.1f} ms/crop, "
                   f"max |diff| {e['max_abs_diff']:.1e}; INT8 (static QDQ) {e['int8']['speedup']:.2f}x vs ONNX fp32, "
                   f"cosine {e['int8']['cosine_mean']:.4f}, NCM acc {e['int8']['ncm_acc_fp32']:.3f} -> "
                   f"{e['int8']['ncm_acc_int8']:.3f}")
        out.append(f"- teach: {t['teach_ms']:.0f} ms per class of 20 views (then {t['consolidate_ms']:.0f} ms of "
                   "consolidation off the teach path); ratio vs the encoder node's encode "
                   f"(ONNX, {t['onnx_threads_node']} thread(s)) {t['ratio_node']:.2f}, vs all-core ONNX "
                   f"{t['ratio_onnx']:.2f}"
                   + (f", vs eager encode {t['ratio_eager']:.2f}" if "ratio_eager" in t else "")
                   + f"; all training on the teach path ({t['teach_time_only']['params']}): "
                   f"{t['teach_time_only']['teach_ms']:.0f} ms, ratio "
                   f"{t['teach_time_only']['ratio_node']:.2f}, acc {t['teach_time_only']['acc']:.3f} (default: "
                   f"{m['snn_accuracy'][0]['lif_multistep']:.3f})")
        out.append(f"- SNN train step (fwd+bwd, batch {sp['batch']}, T={sp['T']}): step-by-step "
                   f"{sp['stepwise_ms']:.1f} ms, multi-step {sp['multistep_ms']:.1f} ms "
                   f"({sp['speedup_multistep']:.2f}x, max logit diff "
                   f"{sp['max_abs_logit_diff']:.1e}), PSN {sp['psn_ms']:.1f} ms ({sp['speedup_psn']:.2f}x); "
                   f"inference multi-step {sp['inference_speedup_multistep']:.2f}x")
        for a in m["snn_accuracy"]:
            out.append(f"- accuracy ({a['data']}): LIF multi-step {a['lif_multistep']:.3f}, step-by-step "
                       f"{a['lif_stepwise']:.3f}, PSN {a['psn']:.3f}")
        en = m["energy"]
        out.append(f"- energy/sample: SNN {en['snn_pj'] / 1e6:.3f} uJ vs ANN {en['ann_pj'] / 1e6:.3f} uJ "
                   f"(spike-driven layers only {en['spiking_layers_ratio']:.2f}); spike rates per layer "
                   f"{', '.join(f'{r:.3f}' for r in en['spike_rates'])}; mask prior adds {en['prior_pj'] / 1e6:.3f} uJ "
                   f"(ratio with prior {en['with_prior_ratio']:.2f})")
        for key in ("time_steps", "time_steps_mnist"):
            for r in m.get(key, []):
                out.append(f"- {key} T={r['T']}: threshold {r['threshold']:.2f}, acc {r['acc']:.3f} (unadjusted "
                           f"{r['acc_no_adjust']:.3f}), batch {r['batch_ms']:.1f} ms, one sample {r['one_ms']:.2f} ms")
        q = m["snn_int8"]
        out.append(f"- SNN INT8 (dynamic): acc {q['acc_fp32']:.3f} -> {q['acc_int8']:.3f}, batch speedup "
                   f"{q['speedup']:.2f}x, one-sample speedup {q['one_speedup']:.2f}x")
    mc = res["machine"]
    out.append(f"\nMachine: {mc['cpu']}, {mc['cores']} cores, Python {mc['python']}, torch {mc['torch']}, "
               f"onnxruntime {mc['onnxruntime']}, load average at start {mc['load_avg_start'][0]:.2f}; "
               f"{'--quick' if res['quick'] else 'full'} run in {res['elapsed_s']:.0f} s")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="chhnn-bench perf", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes and short ROS runs (about 2-3 minutes)")
    ap.add_argument("--json", default="perf.json", help="result file (default perf.json)")
    ap.add_argument("--skip-ros", action="store_true", help="model measurements only (no ROS 2 pipeline)")
    ap.add_argument("--logdir", help="where node logs and the params/memory files go (default: a temp dir)")
    args = ap.parse_args(argv)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    t0 = time.perf_counter()
    res: dict[str, Any] = {"quick": args.quick, "machine": machine_info()}
    res["models"], learner = model_suite(args.quick, log)
    if not args.skip_ros:
        from chhnn_ros.bench.perf_pipeline import pipeline_suite

        with tempfile.TemporaryDirectory(prefix="chhnn_perf_") as tmp:
            logdir = Path(args.logdir) if args.logdir else Path(tmp)
            logdir.mkdir(parents=True, exist_ok=True)
            res["pipeline"] = pipeline_suite(learner, args.quick, logdir, log)
    res["elapsed_s"] = time.perf_counter() - t0
    res["summary"] = headline(res)
    res.update(res["summary"])  # the issue's keys at the top level of the JSON
    text = markdown(res)
    print(text)
    try:
        write_results(Path(args.json), res, text, "Performance (chhnn-bench perf)")
    except OSError as exc:
        print(f"chhnn-bench perf: cannot write {args.json}: {exc}", file=sys.stderr)
        return 1
    log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
