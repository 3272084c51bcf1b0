"""``chhnn-bench robustness``: recognition accuracy under pixel noise and on viewpoints never taught.

Teach views of every sim object come from the ``train`` viewpoint range
(front half, elevation 20-50°, chhnn_ros/sim/views.py); each learner is
taught one class at a time (one ``partial_fit`` of ``--teach-size`` samples
per teach and the learner's consolidation after it, single pass,
class-incremental: the robot's protocol), then tested
on fresh views of the same range (clean), the same images with Gaussian pixel
noise σ ∈ ``--sigmas`` on [0, 1] intensities, and views from the held-out
``test`` range (the far side, elevations 8-20° and 50-70°).  Features are the
robot's EfficientNet-Lite0 (ONNX first), cached.  Prints a markdown table,
writes ``robustness.json`` and ``robustness.png`` to ``--out``.

    chhnn-bench robustness --quick                       # < 3 min on 2 cores
    chhnn-bench robustness --methods chhnn,ncm --seeds 3 --out results/
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from chhnn_ros.bench.report import write_results

DEFAULT_METHODS = "chhnn,ncm,slda,ewc,si,finetune"
SIGMAS = (0.05, 0.1, 0.2)


def add_noise(x: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """uint8 images + N(0, σ) on [0, 1] intensities, clipped and re-quantised to uint8."""
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    rng = np.random.default_rng(seed)
    noisy = x.astype(np.float32) / 255.0 + rng.normal(0.0, sigma, x.shape).astype(np.float32)
    return np.clip(np.rint(noisy * 255.0), 0, 255).astype(np.uint8)


def load_views(objects: list[str], n_train: int, n_test: int, seed: int, size: int) -> dict[str, np.ndarray]:
    """Teach views and clean / unseen-viewpoint test views (rendered once, cached on disk)."""
    from chhnn_ros.sim.dataset import sim_object_images

    seen = sim_object_images(objects, n_train, n_test, seed, size, "train", "train")
    unseen = sim_object_images(objects, 1, n_test, seed, size, "train", "test")
    return {"x_train": seen["x_train"], "y_train": seen["y_train"], "x_test": seen["x_test"],
            "y_test": seen["y_test"], "x_unseen": unseen["x_test"], "y_unseen": unseen["y_test"]}


def conditions(views: dict[str, np.ndarray], sigmas: Sequence[float], seed: int) -> dict[str, tuple]:
    """condition name → (images, labels)."""
    out = {"clean": (views["x_test"], views["y_test"])}
    for i, s in enumerate(sigmas):
        out[f"noise σ={s:g}"] = (add_noise(views["x_test"], s, seed * 1000 + i), views["y_test"])
    out["unseen viewpoint"] = (views["x_unseen"], views["y_unseen"])
    return out


def teach_and_test(method: str, seed: int, X: np.ndarray, y: np.ndarray, tests: dict[str, tuple],
                   teach_size: int) -> dict[str, float]:
    """Class-incremental single pass (one class per teach, each followed by the learner's
    consolidation, as in the classifier), then accuracy (%) per condition."""
    from chhnn_ros.bench.protocol import teach
    from chhnn_ros.learning.registry import make_learner

    learner = make_learner(method, dim=X.shape[1], seed=seed)
    rng = np.random.default_rng(seed)
    for c in dict.fromkeys(y.tolist()):  # classes in stream order
        idx = rng.permutation(np.flatnonzero(y == c))
        for i in range(0, len(idx), teach_size):
            teach(learner, X[idx[i:i + teach_size]], c)
    return {name: 100.0 * float(np.mean(np.asarray(learner.predict(Xt)).astype(str) == yt.astype(str)))
            for name, (Xt, yt) in tests.items()}


def markdown(results: dict[str, dict], names: list[str]) -> str:
    head = "| method | " + " | ".join(names) + " |\n|---|" + "---:|" * len(names)
    rows = []
    for m, r in results.items():
        cells = [f"{r[n]['mean']:.1f} ± {r[n]['std']:.1f}" if r[n]["n"] > 1 else f"{r[n]['mean']:.1f}" for n in names]
        rows.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join([head, *rows])


def plot(results: dict[str, dict], names: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(results), 3.6))
    width = 0.8 / len(names)
    for j, n in enumerate(names):
        xs = np.arange(len(results)) + (j - (len(names) - 1) / 2) * width
        ax.bar(xs, [r[n]["mean"] for r in results.values()], width, yerr=[r[n]["std"] for r in results.values()],
               label=n, capsize=2)
    ax.set_xticks(np.arange(len(results)), list(results))
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Recognition under pixel noise and unseen viewpoints (sim objects, EfficientNet-Lite0)")
    ax.legend(fontsize=7, ncol=len(names), loc="lower center", bbox_to_anchor=(0.5, 1.08))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="chhnn-bench robustness", description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", default=DEFAULT_METHODS, help=f"registry names (default {DEFAULT_METHODS})")
    ap.add_argument("--objects", help="comma-separated sim objects (default: chhnn_ros.sim DEFAULT_OBJECTS)")
    ap.add_argument("--quick", action="store_true", help="20 teach / 15 test views per object, 1 seed (< 3 min)")
    ap.add_argument("--train-per-class", type=int, help="teach views per object (default 40, quick 20)")
    ap.add_argument("--test-per-class", type=int, help="test views per object and condition (default 40, quick 15)")
    ap.add_argument("--teach-size", type=int, default=20, help="samples per teach (partial_fit), default 20")
    ap.add_argument("--sigmas", default=",".join(map(str, SIGMAS)), help="noise std on [0, 1] pixels")
    ap.add_argument("--seeds", type=int, help="learner seeds 0..N-1 (default 3, quick 1)")
    ap.add_argument("--data-seed", type=int, default=0, help="seed of the rendered views and the noise")
    ap.add_argument("--size", type=int, default=128, help="rendered crop side in pixels (default 128)")
    ap.add_argument("--out", type=Path, default=Path("bench_results"), help="output directory")
    ap.add_argument("--no-plots", action="store_true")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from chhnn_ros.bench.cli import _resolve_methods
    from chhnn_ros.perception.frontends import efficientnet
    from chhnn_ros.sim.objects import DEFAULT_OBJECTS, check_objects

    n_train = args.train_per_class or (20 if args.quick else 40)
    n_test = args.test_per_class or (15 if args.quick else 40)
    n_seeds = args.seeds or (1 if args.quick else 3)
    try:
        methods = _resolve_methods(args.methods)
        objects = check_objects([s.strip() for s in args.objects.split(",")] if args.objects else DEFAULT_OBJECTS)
        sigmas = [float(s) for s in args.sigmas.split(",") if s.strip()]
        if min(n_train, n_test, n_seeds, args.teach_size) < 1 or any(s < 0 for s in sigmas):
            raise ValueError("sizes, seeds and teach size must be >= 1 and sigmas >= 0")
        args.out.mkdir(parents=True, exist_ok=True)
    except ValueError as exc:
        print(f"chhnn-bench robustness: error: {exc}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    views = load_views(objects, n_train, n_test, args.data_seed, args.size)
    render_s = time.perf_counter() - t0
    key = f"robust-{args.data_seed}-{args.size}"
    X = efficientnet(views["x_train"], f"{key}-train")
    tests = {n: (efficientnet(x, f"{key}-test{i}"), y)
             for i, (n, (x, y)) in enumerate(conditions(views, sigmas, args.data_seed).items())}
    encode_s = time.perf_counter() - t0 - render_s
    names = list(tests)
    results, skipped = {}, {}
    for m in methods:
        t_m = time.perf_counter()
        try:
            runs = [teach_and_test(m, s, X, views["y_train"], tests, args.teach_size) for s in range(n_seeds)]
        except Exception as exc:  # one failing method must not sink the table
            skipped[m] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
            continue
        results[m] = {n: {"mean": float(np.mean([r[n] for r in runs])), "std": float(np.std([r[n] for r in runs])),
                          "n": len(runs), "per_seed": [r[n] for r in runs]} for n in names}
        results[m]["drop_unseen_viewpoint"] = results[m]["clean"]["mean"] - results[m]["unseen viewpoint"]["mean"]
        results[m]["seconds"] = time.perf_counter() - t_m  # teaching + testing, all seeds
        print(f"{m}: " + ", ".join(f"{n} {results[m][n]['mean']:.1f}" for n in names), file=sys.stderr)
    report = {"benchmark": "robustness", "objects": objects, "conditions": names, "sigmas": sigmas,
              "protocol": {"train_per_class": n_train, "test_per_class": n_test, "teach_size": args.teach_size,
                           "seeds": list(range(n_seeds)), "data_seed": args.data_seed, "size": args.size,
                           "train_viewpoints": "train", "unseen_viewpoints": "test", "frontend": "efficientnet",
                           "quick": args.quick, "render_s": render_s, "encode_s": encode_s,
                           "total_s": time.perf_counter() - t0},
              "methods": results, "skipped": {k: v.splitlines()[0] for k, v in skipped.items()}}
    table = markdown(results, names)
    print(table)
    write_results(args.out / "robustness.json", report, table, "Robustness (chhnn-bench robustness)")
    wrote = [args.out / "robustness.json", args.out / "robustness.md"]
    if not args.no_plots and results:
        plot(results, names, args.out / "robustness.png")
        wrote.append(args.out / "robustness.png")
    for m, why in skipped.items():
        print(f"skipped {m}: {why.splitlines()[0]}", file=sys.stderr)
    print("wrote " + ", ".join(map(str, wrote)), file=sys.stderr)
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
