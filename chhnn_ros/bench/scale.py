"""``chhnn-bench scale``: a learner that lives for hundreds of classes, through the classifier's own path.

Classes are taught one at a time through :class:`~chhnn_ros.app.knowledge.Knowledge`
(what the classifier node runs on a teach: copy the learner, fit it, swap it in,
save the memory file atomically), with the node's default teach size, each
followed by the consolidation the classifier's learning thread runs next (timed
apart: it is off the teach path).  At each checkpoint it records the median
teach and consolidation times of the last teaches, the time to
label one frame of 5 objects (``Knowledge.predict`` + the labeller, as the node
does per frame: the median of 20 frames, and the first frame after the teach, which
builds the learner's per-class caches), the memory file's size and the process's
resident memory.

Features: ``synthetic`` (default) draws each class as a cluster on the unit
sphere of the encoder's 1280 dimensions, with the spread the sim objects'
EfficientNet features have (cosine to the class mean ≈ 0.85); the learner's
cost depends on the dimension, the class count and what it stores, not on the
pixels.  ``sim`` uses real EfficientNet features of rendered views: the sim
catalogue objects plus PyBullet random blobs (slow: every class is rendered).

    chhnn-bench scale --classes 500 --json docs/results/scale.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chhnn_ros.app.knowledge import Knowledge
from chhnn_ros.app.labelling import Labeller
from chhnn_ros.bench.protocol import teach_knowledge
from chhnn_ros.bench.report import machine_info, write_results
from chhnn_ros.params import defaults

SPREAD = 0.62  # noise norm per unit direction: cosine of a sample to its class mean ≈ 0.85
FRAME_OBJECTS = 5


def synthetic_classes(n: int, per_class: int, dim: int, seed: int) -> list[np.ndarray]:
    """``n`` clusters of ``per_class`` L2-normalised samples (the encoder's output is L2-normalised)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        centre = rng.standard_normal(dim)
        centre /= np.linalg.norm(centre)
        x = centre + SPREAD * rng.standard_normal((per_class, dim)) / np.sqrt(dim)
        out.append((x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32))
    return out


FIRST_SCALE_BLOB = 100  # random blobs 100.. : not the prior's (1-40) nor the open-set unknowns (993-999)


def sim_classes(n: int, per_class: int, seed: int) -> list[np.ndarray]:
    """EfficientNet features of ``per_class`` rendered views of ``n`` sim objects (catalogue, then blobs)."""
    from chhnn_ros.perception.frontends import efficientnet
    from chhnn_ros.sim.objects import CATALOGUE
    from chhnn_ros.sim.prior_data import blob
    from chhnn_ros.sim.views import render_object_views

    objects = [*list(CATALOGUE)[:n], *(blob(FIRST_SCALE_BLOB + k) for k in range(max(0, n - len(CATALOGUE))))]
    return [efficientnet(render_object_views(o, per_class, seed=seed), f"scale-{getattr(o, 'name', o)}")
            for o in objects]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def run(classes: list[np.ndarray], learner: str, params: str, checkpoints: Sequence[int], window: int,
        workdir: Path, log=print) -> dict[str, Any]:
    dim = int(classes[0].shape[1])
    memory = workdir / "memory.pt"
    knowledge = Knowledge(learner, params, 0, str(memory), False, dim)
    labeller = Labeller(defaults("classifier")["unknown_label"])
    rng = np.random.default_rng(1)
    teach_ms: list[float] = []
    consolidate_ms: list[float] = []
    rows = []
    for i, X in enumerate(classes, start=1):
        taught_ms, consolidated_ms = teach_knowledge(knowledge, f"class{i:04d}", X)
        teach_ms.append(taught_ms)
        consolidate_ms.append(consolidated_ms)
        if i in checkpoints:
            from chhnn_ros.perception.types import Detection

            frames = [np.stack([classes[j][rng.integers(len(classes[j]))] for j in rng.integers(i, size=FRAME_OBJECTS)])
                      for _ in range(20)]
            dets = [Detection(0, 0, 10, 10)] * FRAME_OBJECTS
            predict = []
            for f in frames:
                t0 = time.perf_counter()
                labeller.label(dets, knowledge.predict(f))
                predict.append(1e3 * (time.perf_counter() - t0))
            recent = teach_ms[-min(window, len(teach_ms)):]
            row = {"classes": i, "teach_ms": statistics.median(recent), "teach_ms_max": max(recent),
                   "consolidate_ms": statistics.median(consolidate_ms[-min(window, len(consolidate_ms)):]),
                   "predict_ms": statistics.median(predict), "predict_first_ms": predict[0],
                   "file_mb": memory.stat().st_size / 2**20,
                   "rss_mb": rss_mb(), "bytes_per_class": knowledge.learner.memory_bytes_per_class()}
            rows.append(row)
            log(f"scale: {i:>4} classes  teach {row['teach_ms']:7.1f} ms  "
                f"consolidate {row['consolidate_ms']:7.1f} ms  predict {row['predict_ms']:6.2f} ms  "
                f"file {row['file_mb']:7.2f} MB  rss {row['rss_mb']:7.0f} MB")
    first, last = rows[0], rows[-1]
    per_class = (last["file_mb"] - first["file_mb"]) * 2**20 / max(1, last["classes"] - first["classes"])
    return {"learner": learner, "learner_params": params, "dim": dim, "teach_size": int(classes[0].shape[0]),
            "path": "Knowledge.teach (copy, fit, swap, atomic save)", "checkpoints": rows,
            "teach_ms_ratio": last["teach_ms"] / first["teach_ms"],
            "consolidate_ms_ratio": (last["consolidate_ms"] / first["consolidate_ms"]
                                     if first["consolidate_ms"] else None),
            "predict_ms_ratio": last["predict_ms"] / first["predict_ms"],
            "file_bytes_per_class": per_class,
            "file_constant_mb": last["file_mb"] - per_class * last["classes"] / 2**20,
            "learner_bytes_per_class": last["bytes_per_class"]}


def markdown(res: dict[str, Any]) -> str:
    rows = ["| classes | teach ms (median) | consolidate ms (median) | label a 5-object frame, ms (first after "
            "the teach) | memory file MB | RSS MB |", "|---:|---:|---:|---:|---:|---:|"]
    rows += [f"| {r['classes']} | {r['teach_ms']:.1f} | {r['consolidate_ms']:.1f} | {r['predict_ms']:.2f} "
             f"({r['predict_first_ms']:.1f}) | {r['file_mb']:.2f} | {r['rss_mb']:.0f} |"
             for r in res["checkpoints"]]
    n = res["checkpoints"]
    return "\n".join(rows) + (
        f"\n\n{res['learner']} ({res['learner_params'] or 'defaults'}), {res['dim']}-d {res['features']} features, "
        f"{res['teach_size']} samples a teach through {res['path']}. teach_ms_ratio ({n[-1]['classes']} vs "
        f"{n[0]['classes']} classes) {res['teach_ms_ratio']:.2f}; the memory file grows by "
        f"{res['file_bytes_per_class'] / 1024:.1f} KB a class (the learner counts "
        f"{res['learner_bytes_per_class'] / 1024:.1f} KB) on a constant {res['file_constant_mb']:.2f} MB.\n"
        f"\n![scale]({Path(res.get('png', 'scale.png')).name})\n")


def plot(res: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = res["checkpoints"]
    n = [r["classes"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for ax, key, label in zip(axes, ("teach_ms", "predict_ms", "file_mb"),
                              ("teach through Knowledge (ms, median)", "label one frame of 5 objects (ms)",
                               "memory file (MB)")):
        ax.plot(n, [r[key] for r in rows], marker="o")
        ax.set_xlabel("classes known")
        ax.set_title(label, fontsize=10)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{res['learner']} over {n[-1]} classes ({res['dim']}-d features, {res['teach_size']} samples "
                 "a teach)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="chhnn-bench scale", description=__doc__.split("\n\n")[0])
    ap.add_argument("--classes", type=int, default=500, help="classes to teach (default 500)")
    ap.add_argument("--learner", default="chhnn", help="registry name (default chhnn)")
    ap.add_argument("--learner-params", default="", help="YAML/JSON mapping of constructor arguments")
    ap.add_argument("--features", choices=("synthetic", "sim"), default="synthetic")
    ap.add_argument("--dim", type=int, default=1280, help="synthetic feature size (default 1280, the encoder's)")
    ap.add_argument("--teach-size", type=int, default=defaults("classifier")["teach_samples"])
    ap.add_argument("--window", type=int, default=10, help="teaches the median teach time is taken over")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=Path("scale.json"), help="result file (a PNG is written beside)")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.classes < 10 or args.teach_size < 1 or args.window < 1:
        print("chhnn-bench scale: error: --classes must be >= 10, --teach-size and --window >= 1", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(defaults("classifier")["torch_threads"] or torch.get_num_threads())  # as the node
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    marks = sorted({c for c in (10, 20, 50, 100, 200, 300, 400, 500, 750, 1000) if c <= args.classes}
                   | {args.classes})
    t0 = time.perf_counter()
    classes = (synthetic_classes(args.classes, args.teach_size, args.dim, args.seed) if args.features == "synthetic"
               else sim_classes(args.classes, args.teach_size, args.seed))
    try:
        with tempfile.TemporaryDirectory(prefix="chhnn_scale_") as tmp:
            res = run(classes, args.learner, args.learner_params, marks, args.window, Path(tmp), log)
    except ValueError as exc:
        print(f"chhnn-bench scale: error: {exc}", file=sys.stderr)
        return 2
    res.update(features=args.features, elapsed_s=time.perf_counter() - t0, machine=machine_info(),
               png=str(args.json.with_suffix(".png")))
    write_results(args.json, res, markdown(res), "Lifelong scale (chhnn-bench scale)")
    plot(res, args.json.with_suffix(".png"))
    print(f"teach_ms_ratio ({marks[-1]} vs {marks[0]} classes) {res['teach_ms_ratio']:.2f}; file "
          f"{res['file_bytes_per_class'] / 1024:.1f} KB per class + {res['file_constant_mb']:.2f} MB; learner "
          f"{res['learner_bytes_per_class'] / 1024:.1f} KB per class")
    log(f"wrote {args.json} and {args.json.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
