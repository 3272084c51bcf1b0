"""Benchmark output: the JSON report, a markdown table and PNG plots.

JSON layout (``DIR/<stream>-<scenario>.json``)::

    {"stream", "scenario", "frontend", "protocol": {...}, "machine": {...},
     "methods": {name: {"final_acc", "final_acc_std", "avg_inc_acc", ...,
                        "acc_matrix": mean (T, T) matrix with null for NaN,
                        "seeds": [{"seed", metrics..., "acc_matrix", ...}]}},
     "skipped": {name: reason}}
"""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chhnn_ros.bench import metrics
from chhnn_ros.bench.protocol import SeedRun

TABLE_COLUMNS = (
    ("final_acc", "final acc", 1),
    ("avg_inc_acc", "avg inc acc", 1),
    ("forgetting", "forgetting", 1),
    ("bwt", "BWT", 1),
    ("max_min_gap", "max−min", 1),
    ("update_ms", "update ms", 2),
    ("bytes_per_class", "bytes/class", 0),
    ("n_params", "params", 0),
)


def jsonable(v: Any) -> Any:
    """NaN/inf → null, numpy → python, recursively."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist())
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu": _cpu_name(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        info["torch"] = None
    return info


def method_summary(seed_runs: Sequence[SeedRun]) -> dict[str, Any]:
    per_seed = []
    for r in seed_runs:
        m = metrics.seed_metrics(r.acc, r.update_ms, r.bytes_per_class, r.n_params)
        per_seed.append({"seed": r.seed, **m, "n_updates": len(r.update_ms), "train_s": r.train_s,
                         "eval_s": r.eval_s, "acc_matrix": r.acc})
    out: dict[str, Any] = metrics.aggregate(per_seed)
    out["acc_matrix"] = metrics.mean_matrix([r.acc for r in seed_runs])
    out["seeds"] = per_seed
    return out


def build_report(stream_name: str, scenario: str, frontend: str, protocol: dict[str, Any],
                 runs: dict[str, list[SeedRun]], skipped: dict[str, str]) -> dict[str, Any]:
    report = {
        "stream": stream_name,
        "scenario": scenario,
        "frontend": frontend,
        "protocol": protocol,
        "machine": machine_info(),
        "methods": {name: method_summary(r) for name, r in runs.items()},
        "skipped": dict(skipped),
    }
    return jsonable(report)


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(jsonable(report), indent=1, allow_nan=False))
    os.replace(tmp, path)


def _fmt(mean: Any, std: Any, digits: int) -> str:
    if mean is None:
        return "–"
    s = f"{mean:,.{digits}f}"
    if std is not None and digits > 0 and std > 0:
        s += f" ± {std:.{digits}f}"
    return s


def _sort_key(item: tuple[str, dict[str, Any]]) -> float:
    v = item[1].get("final_acc")
    return -v if v is not None else math.inf


def markdown_table(report: dict[str, Any]) -> str:
    head = "| method | " + " | ".join(title for _, title, _ in TABLE_COLUMNS) + " |"
    lines = [head, "|---|" + "---:|" * len(TABLE_COLUMNS)]
    for name, m in sorted(report["methods"].items(), key=_sort_key):
        cells = [_fmt(m.get(k), m.get(f"{k}_std"), d) for k, _, d in TABLE_COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for name, why in report.get("skipped", {}).items():
        lines.append(f"| {name} | skipped: {why.splitlines()[0]} |" + " |" * (len(TABLE_COLUMNS) - 1))
    return "\n".join(lines)


def _matrix_of(values: Any) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in values], dtype=np.float64)


def plot_matrices(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n, _ in sorted(report["methods"].items(), key=_sort_key)]
    if not names:
        return
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.3 * rows), squeeze=False)
    im = None
    for ax, name in zip(axes.flat, names):
        A = _matrix_of(report["methods"][name]["acc_matrix"])
        im = ax.imshow(np.ma.masked_invalid(A), vmin=0, vmax=100, cmap="viridis")
        T = A.shape[0]
        if T <= 10:  # numbers stay legible only on small matrices
            for i in range(T):
                for j in range(T):
                    if not np.isnan(A[i, j]):
                        ax.text(j, i, f"{A[i, j]:.0f}", ha="center", va="center", fontsize=7,
                                color="white" if A[i, j] < 60 else "black")
        ax.set_title(f"{name} ({report['methods'][name]['final_acc'] or 0:.1f}%)", fontsize=9)
        ax.set_xlabel("tested step")
        ax.set_ylabel("after training step")
        ax.set_xticks(range(T))
        ax.set_yticks(range(T))
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="accuracy (%)")
    fig.suptitle(f"{report['stream']} {report['scenario']} ({report['frontend']})")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = report["protocol"]["steps"]
    domain = report["scenario"] == "domain-il"
    seen: list[Any] = []
    x = []
    for i, step in enumerate(steps):
        seen.extend(c for c in step if c not in seen)
        x.append(i + 1 if domain else len(seen))
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, m in sorted(report["methods"].items(), key=_sort_key):
        curves = np.array([metrics.seen_accuracy_curve(_matrix_of(s["acc_matrix"])) for s in m["seeds"]])
        mean, std = curves.mean(axis=0), curves.std(axis=0)
        ax.plot(x, mean, marker="o", label=name)
        ax.fill_between(x, mean - std, mean + std, alpha=0.15)
    ax.set_xlabel("tasks learned" if domain else "classes learned")
    ax.set_ylabel("accuracy on everything seen (%)")
    ax.set_ylim(0, 100)
    ax.set_xticks(x)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{report['stream']} {report['scenario']} ({report['frontend']})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_all(report: dict[str, Any], out_dir: Path, slug: str, plots: bool = True) -> dict[str, Path]:
    """Write JSON, markdown and (optionally) the two PNGs; return their paths."""
    base = f"{slug}-{report['scenario']}"
    paths = {"json": out_dir / f"{base}.json", "md": out_dir / f"{base}.md"}
    write_json(report, paths["json"])
    paths["md"].write_text(markdown_table(report) + "\n")
    if plots and report["methods"]:
        paths["matrix"] = out_dir / f"{base}-matrix.png"
        paths["curve"] = out_dir / f"{base}-curve.png"
        plot_matrices(report, paths["matrix"])
        plot_curves(report, paths["curve"])
    return paths
