"""``chhnn-bench openset``: does a learner know what it was never taught?

The known classes are taught with the ``cl`` protocol (class-incremental,
single pass, teaches of one class, :func:`chhnn_ros.bench.protocol.teach_step`),
then every test sample of every class is scored: the untaught classes are the
unknowns.  Known classes: the first half of the stream's classes; a stream
with objects of its own outside its classes (``sim-objects``: the held-out
catalogue objects and unused pybullet random blobs,
:func:`chhnn_ros.bench.streams.open_set_unknowns`) keeps all its classes known
and tests against those objects.  Per method (mean/std over seeds):

* ``auroc`` (known vs unknown from ``score_known``) and ``fpr95`` (fraction of
  unknowns accepted at the score threshold that keeps 95 % of the knowns),
  both from scikit-learn's ROC;
* at the learner's own calibrated threshold (``predict_open``):
  ``known_acc_closed`` / ``known_acc_open`` (known samples given their right
  class, without / with rejection), ``unknown_reject`` (unknowns rejected) and
  ``open_acc`` (knowns right and accepted plus unknowns rejected, over all
  test samples).

Writes ``DIR/<stream>-openset.json``, ``.md`` (table) and ``.png``
(histograms of the known-ness score, knowns vs unknowns, per method)::

    chhnn-bench openset --stream split-mnist --methods chhnn,ncm,slda --quick --out docs/results/openset
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from chhnn_ros.learning.base import Learner

DEFAULT_METHODS = "chhnn,ncm,slda,replay,joint"
METRICS = ("auroc", "fpr95", "open_acc", "known_acc_closed", "known_acc_open", "unknown_reject")


@dataclass
class OpenSetData:
    stream: Any  # Stream of the known classes only (what is taught)
    X_train: np.ndarray
    X_test: np.ndarray  # every test sample: known and unknown classes
    y_test: np.ndarray
    known: np.ndarray  # bool per test sample
    known_classes: list[Any]
    unknown_classes: list[Any]
    frontend: str
    source: str


def load_openset(spec: str, train_per_class: int, test_per_class: int, classes_per_step: int = 2,
                 data_seed: int = 0, frontend: str | None = None) -> OpenSetData:
    """Features of the known classes' training samples and of every test sample (known and unknown)."""
    from chhnn_ros.bench.streams import Stream, load_stream, open_set_unknowns
    from chhnn_ros.perception.frontends import apply_frontend

    full = load_stream(spec, classes_per_step=1, train_per_class=train_per_class, test_per_class=test_per_class,
                       data_seed=data_seed)
    if full.domain:
        raise ValueError(f"{spec} shares its labels across steps: open-set needs a class split")
    extra = open_set_unknowns(spec, test_per_class, data_seed)
    classes = full.classes
    known = classes if extra is not None else classes[: len(classes) // 2]
    if not known or (extra is None and len(known) == len(classes)):
        raise ValueError(f"{spec} has {len(classes)} class(es): open-set needs at least two")
    frontend = frontend or full.default_frontend
    X_train_all = apply_frontend(frontend, full.x_train, f"{full.slug()}-train")
    X_test = apply_frontend(frontend, full.x_test, f"{full.slug()}-test")
    y_test = np.asarray(full.y_test, dtype=object)
    source = full.source
    if extra is not None:
        x_unk, y_unk, unk_source = extra
        X_test = np.concatenate([X_test, apply_frontend(frontend, x_unk, f"{full.slug()}-unknown")])
        y_test = np.concatenate([y_test, y_unk])
        source += "; unknowns: " + unk_source
    rows = np.flatnonzero(np.isin(np.asarray(full.y_train, dtype=object), np.asarray(known, dtype=object)))
    steps = [known[i : i + classes_per_step] for i in range(0, len(known), classes_per_step)]
    step_of = {c: k for k, step in enumerate(steps) for c in step}
    y_train = full.y_train[rows]
    stream = Stream(name=full.name, x_train=full.x_train[rows], y_train=y_train,
                    t_train=np.array([step_of[_py(c)] for c in y_train], dtype=np.int64),
                    x_test=full.x_test[:0], y_test=full.y_test[:0], t_test=full.t_test[:0], steps=steps,
                    source=source, default_frontend=full.default_frontend)
    is_known = np.isin(y_test, np.asarray(known, dtype=object))
    unknown = list(dict.fromkeys(_py(c) for c in y_test[~is_known]))
    return OpenSetData(stream, X_train_all[rows], X_test, y_test, is_known, list(known), unknown, frontend, source)


def _py(label: Any) -> Any:
    return label.item() if isinstance(label, np.generic) else label


# ------------------------------------------------------------------ scoring
def open_metrics(known: np.ndarray, correct: np.ndarray, accepted: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """The metrics of one run from per-test-sample arrays: ``known`` (sample of a taught class),
    ``correct`` (nearest class is its class), ``accepted`` (at the calibrated threshold), ``score``
    (known-ness, higher = more likely known)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    known, correct, accepted = (np.asarray(a, dtype=bool) for a in (known, correct, accepted))
    if known.all() or not known.any():
        raise ValueError("open-set metrics need both known and unknown test samples")
    # An uncalibrated learner scores +inf; roc_curve needs finite values (order is what counts).
    s = np.asarray(score, dtype=np.float64)
    finite = s[np.isfinite(s)]
    hi, lo = (finite.max() + 1, finite.min() - 1) if finite.size else (1.0, -1.0)
    s = np.nan_to_num(s, nan=lo, posinf=hi, neginf=lo)
    fpr, tpr, _ = roc_curve(known, s)
    return {
        "auroc": float(roc_auc_score(known, s)),
        "fpr95": float(fpr[np.searchsorted(tpr, 0.95, side="left")]),
        "open_acc": float(((known & correct & accepted) | (~known & ~accepted)).mean()),
        "known_acc_closed": float(correct[known].mean()),
        "known_acc_open": float((correct & accepted)[known].mean()),
        "unknown_reject": float((~accepted[~known]).mean()),
    }


def teach_known(method: str, seed: int, data: OpenSetData, teach_size: int,
                update_ms: list[float] | None = None) -> Learner:
    """``method`` taught the known classes with the ``cl`` protocol; each teach's duration (ms) is
    appended to ``update_ms``.  :class:`~chhnn_ros.bench.protocol.Skip` if a teach fails."""
    from chhnn_ros.bench.protocol import build, teach_step

    learner = build(method, int(data.X_train.shape[1]), seed, "class-il")
    rng = np.random.default_rng(seed)
    for k in range(data.stream.n_steps):
        teach_step(learner, data.stream, data.X_train, k, teach_size, rng, update_ms)
    return learner


def score_test(learner: Learner, data: OpenSetData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(correct, known-ness, accepted) of every test sample: its nearest class is its class, the
    learner's ``score_known``, and its calibrated decision."""
    from chhnn_ros.bench.protocol import EVAL_BATCH

    parts = [learner.predict_open_detail(data.X_test[i : i + EVAL_BATCH])
             for i in range(0, len(data.X_test), EVAL_BATCH)]
    nearest = np.concatenate([p.nearest for p in parts])
    correct = np.array([a == b for a, b in zip(nearest, data.y_test)], dtype=bool)
    return correct, np.concatenate([p.known for p in parts]), np.concatenate([p.accepted for p in parts])


def run_seed(method: str, seed: int, data: OpenSetData, teach_size: int) -> dict[str, Any]:
    """Teach the known classes (the ``cl`` protocol), score every test sample; :class:`Skip` on failure."""
    from chhnn_ros.bench.protocol import Skip

    update_ms: list[float] = []
    t0 = time.perf_counter()
    learner = teach_known(method, seed, data, teach_size, update_ms)
    t1 = time.perf_counter()
    try:
        correct, score, accepted = score_test(learner, data)
    except Exception as exc:  # noqa: BLE001 - a failing method must not end the benchmark
        raise Skip(f"open-set scoring failed: {type(exc).__name__}: {exc}") from exc
    out: dict[str, Any] = {"seed": seed, **open_metrics(data.known, correct, accepted, score)}
    out.update(update_ms=float(np.median(update_ms)) if update_ms else float("nan"), train_s=t1 - t0,
               eval_s=time.perf_counter() - t1, bytes_per_class=float(learner.memory_bytes_per_class()))
    out["scores_known"], out["scores_unknown"] = score[data.known], score[~data.known]
    return out


def run_all(methods: Sequence[str], seeds: Sequence[int], data: OpenSetData, teach_size: int,
            progress: bool = True) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    from tqdm import tqdm

    from chhnn_ros.bench.protocol import Skip

    runs: dict[str, list[dict[str, Any]]] = {}
    skipped: dict[str, str] = {}
    with tqdm(total=len(methods) * len(seeds), desc="openset", unit="run", file=sys.stderr,
              disable=not progress) as bar:
        for method in methods:
            for seed in seeds:
                bar.set_postfix_str(f"{method} seed {seed}")
                try:
                    runs.setdefault(method, []).append(run_seed(method, seed, data, teach_size))
                except Skip as exc:
                    skipped[method] = str(exc) if seed == seeds[0] else f"seed {seed}: {exc}"
                    runs.pop(method, None)
                    bar.update(len(seeds) - seeds.index(seed))
                    break
                bar.update(1)
    return runs, skipped


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    from chhnn_ros.bench.metrics import mean_std

    out: dict[str, Any] = {}
    for key in (*METRICS, "update_ms", "bytes_per_class"):
        out[key], out[f"{key}_std"] = mean_std([r[key] for r in runs])
    out["seeds"] = [{k: v for k, v in r.items() if not k.startswith("scores_")} for r in runs]
    return out


# ------------------------------------------------------------------ output
TABLE = (("auroc", "AUROC", 3), ("fpr95", "FPR95", 3), ("open_acc", "open acc", 3),
         ("known_acc_closed", "known acc closed", 3), ("known_acc_open", "known acc open", 3),
         ("unknown_reject", "unknown reject", 3), ("update_ms", "update ms", 1))


def markdown_table(report: dict[str, Any]) -> str:
    lines = ["| method | " + " | ".join(t for _, t, _ in TABLE) + " |", "|---|" + "---:|" * len(TABLE)]
    order = sorted(report["methods"].items(), key=lambda kv: -(kv[1]["auroc"] or 0.0))
    for name, m in order:
        cells = []
        for key, _, digits in TABLE:
            v, s = m.get(key), m.get(f"{key}_std")
            cell = "–" if v is None else f"{v:.{digits}f}"
            if v is not None and s and len(m["seeds"]) > 1:
                cell += f" ± {s:.{digits}f}"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for name, why in report.get("skipped", {}).items():
        lines.append(f"| {name} | skipped: {why.splitlines()[0]} |" + " |" * (len(TABLE) - 1))
    return "\n".join(lines)


def plot_histograms(runs: dict[str, list[dict[str, Any]]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(runs)
    cols = min(4, max(1, len(names)))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.ravel(), names):
        k, u = runs[name][0]["scores_known"], runs[name][0]["scores_unknown"]
        both = np.concatenate([k, u])
        both = both[np.isfinite(both)]
        lo, hi = np.percentile(both, [1, 99]) if both.size else (-1.0, 1.0)
        bins = np.linspace(min(lo, -0.5), max(hi, 0.5), 40)
        ax.hist(np.clip(k, bins[0], bins[-1]), bins, alpha=0.6, label="known", color="tab:blue")
        ax.hist(np.clip(u, bins[0], bins[-1]), bins, alpha=0.6, label="unknown", color="tab:red")
        ax.axvline(0.0, color="k", lw=1, ls="--")
        ax.set_title(f"{name} (AUROC {runs[name][0]['auroc']:.3f})", fontsize=9)
        ax.set_xlabel("score_known (0 = threshold, 1 = median taught view)", fontsize=8)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------ CLI
def parser() -> argparse.ArgumentParser:
    from chhnn_ros.bench.cli import FULL_SIZES, QUICK_SIZES, _positive
    from chhnn_ros.perception.frontends import FRONTENDS

    p = argparse.ArgumentParser(prog="chhnn-bench openset", description=__doc__.split("\n\n")[0])
    p.add_argument("--stream", required=True, help="split-mnist, split-fashion, sim-objects or npz:PATH")
    p.add_argument("--methods", default=DEFAULT_METHODS, help=f"comma-separated names or 'all' ({DEFAULT_METHODS})")
    p.add_argument("--seeds", type=_positive, default=None, help="number of seeds 0..N-1 (default 3; 1 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help=f"{QUICK_SIZES[0]} train / {QUICK_SIZES[1]} test samples per class, 1 seed")
    p.add_argument("--train-per-class", type=_positive, default=None,
                   help=f"training samples per class (default {FULL_SIZES[0]}, quick {QUICK_SIZES[0]}; "
                   "20 = one teach per class)")
    p.add_argument("--test-per-class", type=_positive, default=None,
                   help=f"test samples per class (default {FULL_SIZES[1]}, quick {QUICK_SIZES[1]})")
    p.add_argument("--teach-size", type=_positive, default=20, help="samples of one class per partial_fit call")
    p.add_argument("--classes-per-step", type=_positive, default=2, help="known classes taught per step")
    p.add_argument("--frontend", choices=FRONTENDS, default=None, help="default: the stream's own")
    p.add_argument("--data-seed", type=int, default=0, help="seed of sub-sampling and rendering")
    p.add_argument("--out", type=Path, default=Path("bench_results"), help="output directory")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from chhnn_ros.bench import report
    from chhnn_ros.bench.cli import FULL_SIZES, QUICK_SIZES, _resolve_methods

    args = parser().parse_args(argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    n_train, n_test = args.train_per_class or sizes[0], args.test_per_class or sizes[1]
    seeds = list(range(args.seeds or (1 if args.quick else 3)))
    try:
        methods = _resolve_methods(args.methods)
        args.out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        data = load_openset(args.stream, n_train, n_test, args.classes_per_step, args.data_seed, args.frontend)
        frontend_s = time.perf_counter() - t0
    except (ValueError, OSError) as exc:
        print(f"chhnn-bench openset: error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.stream} open set: {len(data.known_classes)} known classes {data.known_classes}, "
          f"{len(data.unknown_classes)} unknown; {len(data.X_train)} train / {len(data.X_test)} test "
          f"({int((~data.known).sum())} unknown) {data.X_train.shape[1]}-d {data.frontend} features; "
          f"methods {', '.join(methods)}; {len(seeds)} seed(s)", file=sys.stderr)
    t0 = time.perf_counter()
    runs, skipped = run_all(methods, seeds, data, args.teach_size, progress=not args.no_progress)
    slug = data.stream.slug()
    rep = {
        "stream": args.stream,
        "frontend": data.frontend,
        "protocol": {
            "known_classes": data.known_classes, "unknown_classes": data.unknown_classes,
            "steps": data.stream.steps, "teach_size": args.teach_size, "train_per_class": n_train,
            "test_per_class": n_test, "n_train": len(data.X_train), "n_test": len(data.X_test),
            "n_unknown": int((~data.known).sum()), "feature_dim": int(data.X_train.shape[1]), "seeds": seeds,
            "data_seed": args.data_seed, "quick": args.quick, "source": data.source, "frontend_s": frontend_s,
            "run_s": time.perf_counter() - t0,
        },
        "machine": report.machine_info(),
        "methods": {m: summarise(r) for m, r in runs.items()},
        "skipped": skipped,
    }
    table = markdown_table(report.jsonable(rep))
    try:
        report.write_json(rep, args.out / f"{slug}-openset.json")
        (args.out / f"{slug}-openset.md").write_text(table + "\n")
        if runs and not args.no_plots:
            plot_histograms(runs, args.out / f"{slug}-openset.png", f"{args.stream}: known vs unknown")
    except OSError as exc:
        print(table)
        print(f"chhnn-bench openset: error: cannot write results to {args.out}: {exc}", file=sys.stderr)
        return 1
    print(table)
    for name, why in skipped.items():
        print(f"skipped {name}: {why.splitlines()[0]}", file=sys.stderr)
    print(f"wrote {args.out / (slug + '-openset.json')}", file=sys.stderr)
    return 0
