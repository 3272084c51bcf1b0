"""The robot's continual-learning protocol (the run loop of ``chhnn-bench cl``).

For every step the step's training samples arrive as *teaches*: one
``partial_fit`` call with ``teach_size`` samples of ONE class, the classes of
the step interleaved round robin, every sample used exactly once (single
pass, online, no epochs).  After each teach the learner gets the idle time
the classifier gives it (``consolidate()``: rehearsal without new data, timed
apart from the teach; a no-op for learners with exact updates).  The
within-class order is shuffled with the run seed, so seeds vary both the
learner's initialisation and the data order.

After each step the learner is tested on every step's test set:

* ``class-il``  – argmax over all learned classes; steps not yet trained are
  NaN (their classes are unknown, so accuracy would trivially be 0).
* ``task-il``   – argmax restricted to the classes of the tested step; a
  learner with ``needs_task`` also receives ``task=step`` in ``partial_fit``
  and ``predict_proba``.  Future steps are NaN.
* ``domain-il`` – labels shared across steps; argmax over all classes; every
  step is tested (the upper triangle shows forward transfer).  ``task`` is
  given only to learners with ``needs_task``.

A method that cannot run a scenario (``needs_task`` in class-IL) or that
raises is reported as skipped with the reason; the other methods still run.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chhnn_ros.bench.streams import Stream
from chhnn_ros.learning.base import Learner
from chhnn_ros.learning.registry import make_learner

SCENARIOS = ("class-il", "task-il", "domain-il")
EVAL_BATCH = 2048  # bounds the memory of one predict_proba call (SNN learners unroll time steps)


@dataclass
class SeedRun:
    """One method, one seed."""

    method: str
    seed: int
    acc: np.ndarray  # (T, T) percent; NaN = not evaluated
    update_ms: list[float] = field(default_factory=list)
    consolidate_ms: list[float] = field(default_factory=list)
    bytes_per_class: float = 0.0
    n_params: int = 0
    train_s: float = 0.0
    eval_s: float = 0.0


class Skip(Exception):
    """The method cannot run this scenario or failed; the message says why."""


def teach_batches(y: np.ndarray, idx: np.ndarray, classes: Sequence[Any], teach_size: int,
                  rng: np.random.Generator) -> list[np.ndarray]:
    """Split the samples ``idx`` (of one step) into single-class teaches of at
    most ``teach_size``, classes interleaved round robin, each sample once."""
    if teach_size < 1:
        raise ValueError(f"teach_size must be >= 1, got {teach_size}")
    per_class = []
    for c in classes:
        members = rng.permutation(idx[y[idx] == c])
        per_class.append([members[i : i + teach_size] for i in range(0, len(members), teach_size)])
    batches = []
    for r in range(max((len(b) for b in per_class), default=0)):
        batches.extend(b[r] for b in per_class if r < len(b))
    return batches


def _proba(learner: Learner, X: np.ndarray, task: int | None) -> np.ndarray:
    """``predict_proba`` in bounded batches, with its shape checked."""
    out = []
    for i in range(0, len(X), EVAL_BATCH):
        proba = learner.predict_proba(X[i : i + EVAL_BATCH], task=task)
        if proba.shape != (len(X[i : i + EVAL_BATCH]), len(learner.classes_)):
            raise ValueError(f"predict_proba returned shape {proba.shape}, expected "
                             f"({len(X[i:i + EVAL_BATCH])}, {len(learner.classes_)})")
        out.append(proba)
    return np.concatenate(out)


def evaluate(learner: Learner, stream: Stream, X_test: np.ndarray, scenario: str, trained: int) -> np.ndarray:
    """Row of the accuracy matrix (percent) after training steps ``0..trained``."""
    T = stream.n_steps
    row = np.full(T, np.nan)
    col_of = {c: i for i, c in enumerate(learner.classes_)}
    y_idx = np.array([col_of.get(c.item() if isinstance(c, np.generic) else c, -1) for c in stream.y_test])
    tested = [j for j in (range(T) if scenario == "domain-il" else range(trained + 1)) if (stream.t_test == j).any()]
    if not learner.needs_task:  # one batched pass over every tested sample
        rows = np.flatnonzero(np.isin(stream.t_test, tested))
        shared = _proba(learner, X_test[rows], None)
        pos = np.full(len(y_idx), -1)
        pos[rows] = np.arange(len(rows))
    for j in tested:
        m = np.flatnonzero(stream.t_test == j)
        P = _proba(learner, X_test[m], j) if learner.needs_task else shared[pos[m]]
        if scenario == "task-il":
            cols = np.array([col_of[c] for c in stream.steps[j] if c in col_of], dtype=np.int64)
            if cols.size == 0:
                continue  # nothing of this step learned yet
            pred = cols[P[:, cols].argmax(axis=1)]
        else:
            pred = P.argmax(axis=1)
        row[j] = 100.0 * float(np.mean(pred == y_idx[m]))
    return row


def build(method: str, dim: int, seed: int, scenario: str) -> Learner:
    """A fresh learner for ``method``; :class:`Skip` if it cannot be built or cannot run ``scenario``."""
    try:
        learner = make_learner(method, dim=dim, seed=seed)
    except Exception as exc:  # noqa: BLE001 - any construction failure skips only this method
        raise Skip(f"cannot build: {type(exc).__name__}: {exc}") from exc
    if scenario == "class-il" and learner.needs_task:
        raise Skip("needs task ids at test time, which class-IL does not give")
    return learner


def _timed(fit: Callable[[], Any], consolidate: Callable[[], Any]) -> tuple[float, float]:
    """(ms of ``fit``, ms of ``consolidate`` after it)."""
    start = time.perf_counter()
    fit()
    taught = time.perf_counter()
    consolidate()
    return 1000.0 * (taught - start), 1000.0 * (time.perf_counter() - taught)


def teach(learner: Learner, X: np.ndarray, label: Any, task: int | None = None) -> tuple[float, float]:
    """One teach as the classifier runs it: ``partial_fit`` with the samples of ``label``, then the
    consolidation its learning thread runs next.  Returns (teach ms, consolidation ms)."""
    return _timed(lambda: learner.partial_fit(X, [label] * len(X), task=task), learner.consolidate)


def teach_knowledge(knowledge: Any, label: str, X: np.ndarray) -> tuple[float, float]:
    """The same through the classifier's own path (:class:`~chhnn_ros.app.knowledge.Knowledge`: copy,
    fit, swap, atomic save; then its consolidation).  Returns (teach ms, consolidation ms)."""
    return _timed(lambda: knowledge.teach(label, X, "efficientnet"), knowledge.consolidate)


def teach_step(learner: Learner, stream: Stream, X_train: np.ndarray, k: int, teach_size: int,
               rng: np.random.Generator, update_ms: list[float] | None = None,
               consolidate_ms: list[float] | None = None) -> None:
    """Teach step ``k`` of the stream (its single-class teaches, see :func:`teach_batches`), each
    followed by the learner's ``consolidate()`` as in the classifier; :class:`Skip` if either fails.
    Appends each teach's duration (ms) to ``update_ms`` and each consolidation's to ``consolidate_ms``."""
    idx = np.flatnonzero(stream.t_train == k)
    task = k if learner.needs_task else None
    for b in teach_batches(stream.y_train, idx, stream.steps[k], teach_size, rng):
        try:
            teach_ms, consolidated_ms = teach(learner, X_train[b], stream.y_train[b[0]], task)
        except Exception as exc:  # noqa: BLE001 - a failing method must not end the benchmark
            raise Skip(f"partial_fit or consolidate failed at step {k}: {type(exc).__name__}: {exc}\n"
                       f"{traceback.format_exc(limit=3)}") from exc
        if update_ms is not None:
            update_ms.append(teach_ms)
        if consolidate_ms is not None:
            consolidate_ms.append(consolidated_ms)


def run_seed(method: str, seed: int, stream: Stream, X_train: np.ndarray, X_test: np.ndarray, scenario: str,
             teach_size: int, on_step: Any = None) -> SeedRun:
    """Train ``method`` through the stream once; raise :class:`Skip` if it cannot."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    learner = build(method, int(X_train.shape[1]), seed, scenario)
    rng = np.random.default_rng(seed)
    T = stream.n_steps
    run = SeedRun(method=method, seed=seed, acc=np.full((T, T), np.nan))
    for k in range(T):
        t0 = time.perf_counter()
        teach_step(learner, stream, X_train, k, teach_size, rng, run.update_ms, run.consolidate_ms)
        t1 = time.perf_counter()
        try:
            run.acc[k] = evaluate(learner, stream, X_test, scenario, k)
        except Exception as exc:  # noqa: BLE001
            raise Skip(f"evaluation failed at step {k}: {type(exc).__name__}: {exc}\n"
                       f"{traceback.format_exc(limit=3)}") from exc
        run.train_s += t1 - t0
        run.eval_s += time.perf_counter() - t1
        if on_step is not None:
            on_step()
    run.bytes_per_class = float(learner.memory_bytes_per_class())
    run.n_params = int(learner.n_parameters())
    return run


def run_benchmark(methods: Sequence[str], seeds: Sequence[int], stream: Stream, X_train: np.ndarray,
                  X_test: np.ndarray, scenario: str, teach_size: int, progress: bool = True
                  ) -> tuple[dict[str, list[SeedRun]], dict[str, str]]:
    """Run every method for every seed; return ``(runs, skipped)``."""
    import sys

    from tqdm import tqdm

    T = stream.n_steps
    runs: dict[str, list[SeedRun]] = {}
    skipped: dict[str, str] = {}
    bar = tqdm(total=len(methods) * len(seeds) * T, desc="cl", unit="step", file=sys.stderr, disable=not progress)
    with bar:
        for method in methods:
            done = 0
            for seed in seeds:
                bar.set_postfix_str(f"{method} seed {seed}")
                steps_before = bar.n
                try:
                    run = run_seed(method, seed, stream, X_train, X_test, scenario, teach_size, on_step=bar.update)
                    runs.setdefault(method, []).append(run)
                    done += 1
                except Skip as exc:
                    skipped[method] = str(exc) if seed == seeds[0] else f"seed {seed}: {exc}"
                    runs.pop(method, None)
                    # Keep the bar's total honest: account for the steps this method will not run.
                    bar.update(len(seeds) * T - done * T - (bar.n - steps_before))
                    break
    return runs, skipped
