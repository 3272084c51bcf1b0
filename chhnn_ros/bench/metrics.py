"""Continual-learning metrics on the accuracy matrix.

``A[i][j]`` is the accuracy (percent, 0–100) on the test set of step ``j``
after training step ``i``; ``T`` steps, ``last = T - 1``.  Entries that were
not evaluated (future classes in class-/task-IL) are NaN and ignored.

* ``final_acc``   – mean of the last row, ``mean_j A[last][j]`` (Avalanche's
  ``Top1_Acc_Stream`` at the end of training with balanced step test sets).
* ``avg_inc_acc`` – average incremental accuracy (iCaRL, PODNet):
  ``mean_i mean_{j<=i} A[i][j]``.
* ``forgetting``  – average forgetting (Chaudhry et al. 2018; Avalanche
  ``StreamForgetting``, Mammoth ``forgetting``):
  ``mean_{j<last} ( max_{j<=i<last} A[i][j] - A[last][j] )``; larger is worse.
* ``bwt``         – backward transfer (Lopez-Paz & Ranzato 2017; Mammoth
  ``bwt``): ``mean_{j<last} ( A[last][j] - A[j][j] )``; negative = forgetting.
* ``max_min_gap`` – ``max_j A[last][j] - min_j A[last][j]``: how unevenly the
  final model serves the steps (a recency-biased learner has a large gap).
* ``update_ms``   – mean wall time of one ``partial_fit`` call (ms).
* ``consolidate_ms`` – mean wall time of the ``consolidate()`` after a teach (ms; 0 for learners
  with nothing to consolidate).
* ``bytes_per_class`` / ``n_params`` – reported by the learner.

Forgetting and BWT are undefined (NaN) for a single-step stream.  Over seeds
we report the mean and the population standard deviation (``np.std``,
``ddof=0``, as Avalanche/Mammoth scripts do).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

#: Metrics computed per seed from the accuracy matrix and run statistics.
METRICS = ("final_acc", "avg_inc_acc", "forgetting", "bwt", "max_min_gap", "update_ms", "consolidate_ms",
           "bytes_per_class", "n_params")


def _matrix(A: Any) -> np.ndarray:
    arr = np.asarray(A, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise ValueError(f"accuracy matrix must be square (T, T) with T >= 1, got shape {arr.shape}")
    return arr


def _nanmean(values: Iterable[float]) -> float:
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0 or np.isnan(v).all():
        return float("nan")
    return float(np.nanmean(v))


def final_acc(A: Any) -> float:
    return _nanmean(_matrix(A)[-1])


def avg_inc_acc(A: Any) -> float:
    A = _matrix(A)
    return _nanmean(_nanmean(A[i, : i + 1]) for i in range(A.shape[0]))


def forgetting(A: Any) -> float:
    A = _matrix(A)
    last = A.shape[0] - 1
    per_step = []
    for j in range(last):
        past = A[j:last, j]
        if np.isnan(past).all() or np.isnan(A[last, j]):
            continue
        per_step.append(np.nanmax(past) - A[last, j])
    return _nanmean(per_step)


def bwt(A: Any) -> float:
    A = _matrix(A)
    last = A.shape[0] - 1
    return _nanmean(A[last, j] - A[j, j] for j in range(last))


def max_min_gap(A: Any) -> float:
    row = _matrix(A)[-1]
    if np.isnan(row).all():
        return float("nan")
    return float(np.nanmax(row) - np.nanmin(row))


def update_ms(times_ms: Sequence[float]) -> float:
    return _nanmean(times_ms)


def seed_metrics(A: Any, times_ms: Sequence[float], bytes_per_class: float, n_params: int,
                 consolidate_ms: Sequence[float] = ()) -> dict[str, float]:
    """All metrics of one run (one method, one seed)."""
    return {
        "final_acc": final_acc(A),
        "avg_inc_acc": avg_inc_acc(A),
        "forgetting": forgetting(A),
        "bwt": bwt(A),
        "max_min_gap": max_min_gap(A),
        "update_ms": update_ms(times_ms),
        "consolidate_ms": _nanmean(consolidate_ms) if len(consolidate_ms) else 0.0,
        "bytes_per_class": float(bytes_per_class),
        "n_params": int(n_params),
    }


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population std over seeds, ignoring NaN (undefined) values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std())


def aggregate(per_seed: Sequence[dict[str, float]]) -> dict[str, float]:
    """``{metric: mean, metric_std: std}`` over the per-seed dicts."""
    if not per_seed:
        raise ValueError("no per-seed results to aggregate")
    out: dict[str, float] = {}
    for name in METRICS:
        m, s = mean_std([d[name] for d in per_seed])
        # A count stays an int when the seeds agree.
        out[name] = int(m) if name == "n_params" and np.isfinite(m) and m == int(m) else m
        out[f"{name}_std"] = s
    return out


def mean_matrix(matrices: Sequence[Any]) -> np.ndarray:
    """Element-wise mean over seeds; entries NaN in every seed stay NaN."""
    stack = np.stack([_matrix(A) for A in matrices])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)  # all-NaN cells (never evaluated)
        return np.nanmean(stack, axis=0)


def seen_accuracy_curve(A: Any) -> np.ndarray:
    """Accuracy on everything seen so far after each step: ``mean_{j<=i} A[i][j]``."""
    A = _matrix(A)
    return np.array([_nanmean(A[i, : i + 1]) for i in range(A.shape[0])])
