"""``chhnn-bench ablation``: what each CH-HNN mechanism and memory budget is worth.

Runs full CH-HNN and its ablations (no masks, no metaplasticity, neither) at
each memory budget, plus reference learners, over several streams and seeds,
through the same protocol code as ``chhnn-bench cl`` (:func:`chhnn_ros.bench.cli.run_cl`).
Streams: split-MNIST, split-Fashion and sim-objects with many teaches per class
(two classes per step), and the same three in the one-teach-per-class regime
(20 training samples a class, one class per step).  Writes::

    DIR/ablation.json   {"variants": {label: {"method", "learner", "params", "streams":
                           {stream: {"final_acc": {"mean", "std"}, "forgetting": {...},
                                     "bytes_per_class", "update_ms", "consolidate_ms"}}, "mean_final_acc"}},
                         "checks": {...}, "streams": {...}, ...}
    DIR/ablation.md     the tables
    DIR/ablation.png    final accuracy per variant and stream
    DIR/streams/        the full ``cl`` report of every stream

    chhnn-bench ablation --quick --out docs/results/ablation-quick
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Mechanism ablations: parameters of ``chhnn``, explicit so a variant means the same whatever the
#: learner's defaults.  ``full`` has every mechanism at its best measured setting (masks at 80 %
#: density, metaplasticity guarding the output layer, the class means' vote; docs/results/ablation).
FULL_MASKS: dict[str, Any] = {"prior": "auto", "mask_gate": 8}
FULL_META: dict[str, Any] = {"meta": 5.0, "meta_layers": "head"}
VOTE: dict[str, Any] = {"prototype_weight": 1.0}
MECHANISMS: dict[str, dict[str, Any]] = {
    "full": {**FULL_MASKS, **FULL_META, **VOTE},
    "no-mask": {"prior": "none", **FULL_META, **VOTE},
    "no-meta": {**FULL_MASKS, "meta": 0.0, **VOTE},
    "no-mask-no-meta": {"prior": "none", "meta": 0.0, **VOTE},
    "no-vote": {**FULL_MASKS, **FULL_META, "prototype_weight": 0.0},
}
#: Memory budgets: parameters of ``chhnn``.
BUDGETS: dict[str, dict[str, Any]] = {
    "compact": {"memory": "stats", "memory_bytes": 32768},
    "exemplars-400": {"memory": "exemplars", "memory_per_class": 400},
}
REFERENCES = ("slda", "ncm", "joint")
ONE_TEACH = {"train_per_class": 20, "classes_per_step": 1}
#: stream key → (stream name, options of prepare_cl)
STREAMS: dict[str, tuple[str, dict[str, Any]]] = {
    "split-mnist": ("split-mnist", {}),
    "split-fashion": ("split-fashion", {}),
    "sim-objects": ("sim-objects", {}),
    "split-mnist-1teach": ("split-mnist", ONE_TEACH),
    "split-fashion-1teach": ("split-fashion", ONE_TEACH),
    "sim-objects-1teach": ("sim-objects", ONE_TEACH),
}


def variant_methods(mechanisms: Sequence[str], budgets: Sequence[str],
                    extra: dict[str, Any] | None = None) -> dict[str, str]:
    """label (``mechanism@budget``) → canonical variant name of ``chhnn`` (``extra`` params added to each)."""
    from chhnn_ros.learning.registry import check_params, format_variant

    extra = dict(extra or {})
    check_params("chhnn", extra)
    out = {}
    for b in budgets:
        for m in mechanisms:
            clash = set(extra) & (set(BUDGETS[b]) | set(MECHANISMS[m]))
            if clash:
                raise ValueError(f"--method-params sets {', '.join(sorted(clash))}, which variant {m}@{b} sets itself")
            out[f"{m}@{b}"] = format_variant("chhnn", {**BUDGETS[b], **MECHANISMS[m], **extra})
    return out


def summarise(rep: dict[str, Any]) -> dict[str, Any]:
    """Per-stream entry of one method from its ``cl`` report entry."""
    return {"final_acc": {"mean": rep["final_acc"], "std": rep["final_acc_std"]},
            "forgetting": {"mean": rep["forgetting"], "std": rep["forgetting_std"]},
            "bytes_per_class": rep["bytes_per_class"], "update_ms": rep["update_ms"],
            "consolidate_ms": rep["consolidate_ms"]}


def _mean(values: Sequence[Any]) -> float | None:
    v = [x for x in values if x is not None]
    return float(np.mean(v)) if v and len(v) == len(values) else None


def checks(variants: dict[str, dict[str, Any]], mechanisms: Sequence[str], budgets: Sequence[str],
           streams: Sequence[str]) -> dict[str, Any]:
    """The issue's targets, computed from the table (None where a run is missing)."""
    acc = lambda label, s: variants.get(label, {}).get("streams", {}).get(s, {}).get("final_acc", {}).get("mean")  # noqa: E731
    fgt = lambda label, s: variants.get(label, {}).get("streams", {}).get(s, {}).get("forgetting", {}).get("mean")  # noqa: E731
    out: dict[str, Any] = {}
    for b in budgets:
        full = f"full@{b}"
        for m in mechanisms:
            if m == "full":
                continue
            diffs = [None if acc(full, s) is None or acc(f"{m}@{b}", s) is None else acc(full, s) - acc(f"{m}@{b}", s)
                     for s in streams]
            out[f"full-minus-{m}@{b}"] = {"mean": _mean(diffs), "worst": None if None in diffs else min(diffs),
                                          "per_stream": dict(zip(streams, diffs))}
        per = {}
        for s in streams:
            a, slda, joint = acc(full, s), acc("slda", s), acc("joint", s)
            per[s] = {"vs_slda": None if a is None or slda is None else a - slda,
                      "vs_joint": None if a is None or joint is None else a - joint,
                      "forgetting_vs_joint": None if fgt(full, s) is None or fgt("joint", s) is None
                      else fgt(full, s) - fgt("joint", s)}
        out[f"full@{b}-vs-references"] = per
    return out


def markdown(result: dict[str, Any]) -> str:
    streams = list(result["streams"])
    lines = []
    for metric, title in (("final_acc", "Final accuracy (%)"), ("forgetting", "Forgetting (points)")):
        lines += [f"### {title}", "",
                  "| variant | " + " | ".join(streams) + (" | mean |" if metric == "final_acc" else " |"),
                  "|---|" + "---:|" * (len(streams) + (metric == "final_acc"))]
        for label, v in result["variants"].items():
            cells = []
            for s in streams:
                e = v["streams"].get(s, {}).get(metric)
                cells.append("–" if not e or e["mean"] is None else
                             f"{e['mean']:.1f} ± {e['std']:.1f}" if e["std"] else f"{e['mean']:.1f}")
            if metric == "final_acc":
                mean = v.get("mean_final_acc")
                cells.append("–" if mean is None else f"{mean:.1f}")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["### Memory and teach cost", "", "| variant | " + " | ".join(f"{s} bytes/class" for s in streams[:3])
              + " | update ms (mean over streams) | consolidate ms |", "|---|" + "---:|" * (min(3, len(streams)) + 2)]
    for label, v in result["variants"].items():
        cells = []
        for s in streams[:3]:
            b = v["streams"].get(s, {}).get("bytes_per_class")
            cells.append("–" if b is None else f"{b:,.0f}")
        for key in ("update_ms", "consolidate_ms"):
            ms = _mean([v["streams"].get(s, {}).get(key) for s in streams])
            cells.append("–" if ms is None else f"{ms:.1f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "### Mechanism checks (full minus ablation, final accuracy points)", "",
              "| comparison | mean over streams | worst stream |", "|---|---:|---:|"]
    for key, c in result["checks"].items():
        if "mean" in c:
            f = lambda x: "–" if x is None else f"{x:+.1f}"  # noqa: E731
            lines.append(f"| {key} | {f(c['mean'])} | {f(c['worst'])} |")
    lines.append("")
    methods = "; ".join(f"`{label}` = `{v['method']}`" for label, v in result["variants"].items())
    lines += [f"Variants: {methods}.", "", f"Command: `{result['command']}`", ""]
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    """Final accuracy of every variant on every stream (bars, seed std as error bars)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    streams, labels = list(result["streams"]), list(result["variants"])
    fig, ax = plt.subplots(figsize=(2.0 + 1.9 * len(streams), 4.2))
    width = 0.85 / max(1, len(labels))
    for j, label in enumerate(labels):
        entries = [result["variants"][label]["streams"].get(s, {}).get("final_acc") or {} for s in streams]
        xs = np.arange(len(streams)) + (j - (len(labels) - 1) / 2) * width
        ax.bar(xs, [e.get("mean") or 0.0 for e in entries], width, yerr=[e.get("std") or 0.0 for e in entries],
               label=label, capsize=1.5, color=plt.cm.tab20(j % 20))
    ax.set_xticks(np.arange(len(streams)), streams, fontsize=8)
    ax.set_ylabel("final accuracy (%)")
    ax.set_ylim(50, 100)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=6, ncol=4, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="chhnn-bench ablation", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    ap.add_argument("--quick", action="store_true", help="quick stream sizes (200 train / 200 test per class)")
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    ap.add_argument("--streams", default=",".join(STREAMS), help=f"subset of {', '.join(STREAMS)}")
    ap.add_argument("--mechanisms", default=",".join(MECHANISMS), help=f"subset of {', '.join(MECHANISMS)}")
    ap.add_argument("--budgets", default=",".join(BUDGETS), help=f"subset of {', '.join(BUDGETS)}")
    ap.add_argument("--references", default=",".join(REFERENCES), help="reference learners run beside (or '')")
    ap.add_argument("--method-params", action="append", metavar="'chhnn: {key: value}'",
                    help="extra parameters of every CH-HNN variant (e.g. to ablate around another setting)")
    ap.add_argument("--test-per-class", type=int, default=None, help="test samples per class (default: as cl)")
    ap.add_argument("--no-progress", action="store_true")
    return ap


def _pick(text: str, options: Sequence[str], what: str) -> list[str]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in items if s not in options]
    if bad or not items:
        raise ValueError(f"unknown {what} {', '.join(bad) or '(none given)'}; choose from {', '.join(options)}")
    return items


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from chhnn_ros.bench import report
    from chhnn_ros.bench.cli import prepare_cl, run_cl
    from chhnn_ros.bench.variants import describe, parse_method_params, resolve_methods

    try:
        if args.seeds < 1:
            raise ValueError("--seeds must be >= 1")
        streams = _pick(args.streams, list(STREAMS), "stream(s)")
        mechanisms = _pick(args.mechanisms, list(MECHANISMS), "mechanism(s)")
        budgets = _pick(args.budgets, list(BUDGETS), "budget(s)")
        extra = parse_method_params(args.method_params)
        if set(extra) - {"chhnn"}:
            raise ValueError("--method-params of the ablation apply to chhnn only")
        labels = variant_methods(mechanisms, budgets, extra.get("chhnn"))
        refs = resolve_methods(args.references) if args.references.strip() else []
        labels.update({r: r for r in refs})
        methods = list(dict.fromkeys(labels.values()))
        args.out.mkdir(parents=True, exist_ok=True)
    except (ValueError, OSError) as exc:
        print(f"chhnn-bench ablation: error: {exc}", file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    result: dict[str, Any] = {"benchmark": "ablation", "quick": args.quick, "seeds": list(range(args.seeds)),
                              "command": "chhnn-bench ablation " + " ".join(sys.argv[2:] if argv is None else argv),
                              "streams": {}, "variants": {}}
    for label, method in labels.items():
        result["variants"][label] = {"method": method, **describe(method), "streams": {}}
    for key in streams:
        name, opts = STREAMS[key]
        try:
            setup = prepare_cl(name, quick=args.quick, test_per_class=args.test_per_class, **opts)
        except (ValueError, OSError) as exc:
            print(f"chhnn-bench ablation: error: stream {key}: {exc}", file=sys.stderr)
            return 2
        print(f"ablation: {key} ({setup.stream.n_steps} steps, {len(setup.X_train)} train samples)", file=sys.stderr)
        rep = run_cl(setup, methods, range(args.seeds), progress=not args.no_progress)
        report.write_all(rep, args.out / "streams", key, plots=False)
        result["streams"][key] = {"stream": name, **opts, "protocol": rep["protocol"], "skipped": rep["skipped"]}
        for label, method in labels.items():
            if method in rep["methods"]:
                result["variants"][label]["streams"][key] = summarise(rep["methods"][method])
        report.write_json(result, args.out / "ablation.json")  # partial results survive an interrupted run
    for v in result["variants"].values():
        v["mean_final_acc"] = _mean([v["streams"].get(s, {}).get("final_acc", {}).get("mean") for s in streams])
    result["checks"] = checks(result["variants"], mechanisms, budgets, streams)
    result["run_s"] = time.perf_counter() - t0
    result["machine"] = report.machine_info()
    report.write_json(result, args.out / "ablation.json")
    md = markdown(result)
    (args.out / "ablation.md").write_text(md)
    plot(result, args.out / "ablation.png")
    print(md)
    print(f"wrote {args.out / 'ablation.json'}, {args.out / 'ablation.md'}, {args.out / 'ablation.png'}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
