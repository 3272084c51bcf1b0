"""The one learner interface shared by CH-HNN and every baseline.

Modelled on scikit-learn's incremental estimators (``partial_fit`` /
``predict_proba``) with two continual-learning additions: labels may arrive at
any time (the class set grows) and ``forget`` removes a class.  Every method
validates its input *before* touching state, so a bad call raises
``ValueError`` and leaves the learner exactly as it was.

Open set: a robot meets objects it was never taught.  Every learner gives
a per-class *known-ness* (the ``_open_scores`` hook: higher = more like that
class; the default combines the class probability with the input's cosine to
the class's mean input, learners override it with a better-founded score)
and calibrates its own threshold from what it was taught: each teach adds
calibration scores of the taught samples.  For a class the learner already
knew they are scored *before* the update (test-then-train: exactly how a new
sample of a known class scores; a learner whose new-class scores are held out
keeps only the views it names right, ``held_out_calibration``); for a new class the ``_calibration_scores``
hook estimates what a held-out sample would score (the in-sample score by
default; the statistical learners compute held-out scores of every taught
sample after the update instead: leave-one-out for NCM and SLDA, held-out
blocks of the teach for CH-HNN).  Each class keeps its most
recent :data:`CALIBRATION_SIZE` scores (``forget`` drops them with the
class); the threshold is the :data:`KNOWN_QUANTILE` quantile of all of them,
so about 98 % of samples like the taught ones (with ``held_out_calibration``:
of those it names right) are accepted (with fewer than
49 scores the smallest score, which accepts n/(n+1) of them; nothing is
rejected until 19 scores exist: fewer cannot support even 95 %).  One threshold
for all classes rather than one per class: a quantile of a class's few
scores is noisy, and per-class thresholds lowered the AUROC of the resulting
score on split-MNIST by 0.01-0.2 (``chhnn-bench openset``).  ``score_known``
is the nearest class's known-ness minus the threshold, in units of the median
taught view's margin above it (0 at the threshold, about 1 for a typical taught
view), ``predict_open`` returns the class or ``None``.  The calibration scores are
part of ``state_dict()``.
"""

from __future__ import annotations

import copy
import math
from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from chhnn_ros.learning.class_stats import ClassStats

Label = Hashable
STATE_FORMAT = 1
#: The threshold is this quantile of the calibration scores (≈ 98 % of samples like the taught ones accepted).
#: A robot that rejects one known object in 20 says "unknown" every few seconds; at 98 % the sim objects'
#: unknowns are still rejected at >= 0.9 (``chhnn-bench openset``, README).
KNOWN_QUANTILE = 0.02
#: The largest rejection rate of taught-like samples the threshold may have while few scores exist (the
#: smallest of n scores rejects 1/(n+1) of them): below 19 scores nothing is rejected.
MAX_MISS_RATE = 0.05
#: Relative slack of the threshold: known-ness is computed in float32/float64 along two paths (leave-one-out
#: at calibration, direct at prediction), and an exact repeat of a taught view must not fall below it.
TIE_TOLERANCE = 1e-6
#: Most recent calibration scores kept per class (they follow the learner as it changes).
CALIBRATION_SIZE = 64
#: Two views whose features are this similar (cosine) are one view: a still camera on a still object
#: gives identical crops, whose features differ only by rounding.  A teach counts its distinct views
#: by it, and no learner's calibration asks a new view to be closer than this to the taught ones (a
#: teach of one view would otherwise accept that exact view and nothing else).
SAME_VIEW_COSINE = 0.999


def pack_calibration(scores: Sequence[np.ndarray]) -> dict[str, torch.Tensor]:
    """Per-class calibration scores as two tensors (all scores, float64, and each class's count): a
    state file holds two records instead of one per class, which at hundreds of classes was a
    third of a save's time."""
    flat = np.concatenate(scores) if len(scores) else np.zeros(0)
    return {"scores": torch.from_numpy(flat.astype(np.float64, copy=True)),
            "counts": torch.tensor([len(s) for s in scores], dtype=torch.int64)}


@dataclass(frozen=True)
class OpenPrediction:
    """Open-set answer for a batch, from one pass over the learner (see :meth:`Learner.predict_open_detail`)."""

    proba: np.ndarray  #: (n, C) class probabilities, columns ordered as ``classes_``
    nearest: np.ndarray  #: (n,) object: the most probable class
    nearest_proba: np.ndarray  #: (n,) its probability
    known: np.ndarray  #: (n,) known-ness (``score_known``): >= 0 is accepted at the calibrated threshold

    @property
    def accepted(self) -> np.ndarray:
        return self.known >= 0

    @property
    def labels(self) -> np.ndarray:
        """(n,) object: the nearest class where accepted, ``None`` where rejected."""
        out = self.nearest.copy()
        out[~self.accepted] = None
        return out


class Learner(ABC):
    """Online, class-incremental classifier over fixed-size float32 features.

    Subclasses implement the ``_fit``, ``_proba``, ``_forget``, ``_get_state``
    and ``_set_state`` hooks; the public methods here do all input checking.
    ``config`` holds the constructor arguments so a state dict can rebuild
    the learner (see :func:`chhnn_ros.learning.registry.learner_from_state`).
    """

    name: str = "learner"
    #: True when the learner needs a task id at train and test time (XdG).
    needs_task: bool = False
    #: Keep the mean of each class's taught (L2-normalised) inputs for the default known-ness;
    #: learners with class statistics of their own turn it off.
    input_means: bool = True
    #: ``_calibration_scores`` is exact for any taught sample (leave-one-out of class statistics): every
    #: teach is calibrated after the update and nothing is scored before it (one pass instead of two).
    calibrates_all: bool = False
    #: ``_calibration_scores`` holds a new class's samples out (it is not the in-sample score): then only the
    #: test-then-train views the learner names right calibrate, so the threshold bounds how many views it
    #: would name right it turns into "unknown", and a view it would misname is rejected at no cost.
    #: In-sample calibration is optimistic, and there the misnamed views' low scores are what keep the
    #: threshold honest (without them XdG, calibrated in-sample, rejected every held-out digit of the
    #: conformance suite), so those learners keep every view.
    held_out_calibration: bool = False

    def __init__(self, dim: int, seed: int = 0) -> None:
        if not isinstance(dim, int | np.integer) or dim <= 0:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        self.dim = int(dim)
        self.seed = int(seed)
        self.classes_: list[Label] = []
        self.config: dict[str, Any] = {"dim": self.dim, "seed": self.seed}
        self.calibration_: list[np.ndarray] = []  # per class: recent calibration scores (float64)
        # (threshold, known_scale), derived from calibration_; None = recompute after it changed
        self._calibrated: tuple[float, float] | None = None
        self.input_stats = ClassStats(self.dim, normalize=True, scatter=False) if self.input_means else None

    # ------------------------------------------------------------------ checks
    def check_X(self, X: Any) -> np.ndarray:
        """Return ``X`` as a C-contiguous float32 (n, dim) array or raise."""
        try:
            arr = np.asarray(X, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"features must be numeric: {exc}") from None
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2:
            raise ValueError(f"features must be 2-D (n, {self.dim}), got shape {arr.shape}")
        if arr.shape[0] == 0:
            raise ValueError("empty batch: at least one feature vector is required")
        if arr.shape[1] != self.dim:
            raise ValueError(f"feature dimension {arr.shape[1]} != learner dimension {self.dim}")
        if not np.isfinite(arr).all():
            raise ValueError("features contain NaN or inf")
        return np.ascontiguousarray(arr)

    @staticmethod
    def check_label(label: Any) -> Label:
        if isinstance(label, np.generic):
            label = label.item()
        if isinstance(label, bool) or not isinstance(label, str | int):
            raise ValueError(f"labels must be str or int, got {type(label).__name__}")
        if isinstance(label, str) and not label.strip():
            raise ValueError("labels must be non-empty strings")
        if isinstance(label, float) and not math.isfinite(label):
            raise ValueError("label is not finite")
        return label

    def check_y(self, y: Any, n: int) -> list[Label]:
        if isinstance(y, str | int | np.generic):
            y = [y] * n
        labels = [self.check_label(v) for v in np.asarray(y, dtype=object).ravel()]
        if len(labels) != n:
            raise ValueError(f"{len(labels)} labels for {n} feature vectors")
        return labels

    def _check_task(self, task: Any) -> None:
        if self.needs_task and task is None:
            raise ValueError(f"{self.name} is a task-incremental method and needs a task id")

    # ------------------------------------------------------------------ public
    def partial_fit(self, X: Any, y: Any, task: int | None = None) -> Learner:
        """Learn from a small batch; unseen labels become new classes (and the open-set calibration follows)."""
        X = self.check_X(X)
        labels = self.check_y(y, X.shape[0])
        self._check_task(task)
        n_before = len(self.classes_)
        old = np.array([i for i, lab in enumerate(labels) if lab in self.classes_ and not self.calibrates_all],
                       dtype=np.int64)
        # Test-then-train: samples of classes the learner already knew, scored before it learns them.
        before = None
        if len(old):
            own = np.array([self.classes_.index(labels[i]) for i in old], dtype=np.int64)
            if self.held_out_calibration:
                right = np.asarray(self._proba(X[old], task)).argmax(axis=1) == own
                old, own = old[right], own[right]
            before = self._known_of(X[old], own, task) if len(old) else None
        for lab in labels:
            if lab not in self.classes_:
                self.classes_.append(lab)
        idx = np.array([self.classes_.index(lab) for lab in labels], dtype=np.int64)
        self._fit(X, idx, task)
        if self.input_stats is not None:
            self.input_stats.update(X, idx)
        self.calibration_ += [np.zeros(0)] * (len(self.classes_) - len(self.calibration_))
        if before is not None:
            self._add_calibration(idx[old], before)
        new = np.flatnonzero((idx >= n_before) | self.calibrates_all)
        if len(new):
            self._add_calibration(idx[new], np.asarray(self._calibration_scores(X[new], idx[new], task),
                                                       dtype=np.float64))
        return self

    def predict_proba(self, X: Any, task: int | None = None) -> np.ndarray:
        """(n, len(classes_)) class probabilities, columns ordered as ``classes_``."""
        X = self.check_X(X)
        self._check_task(task)
        if not self.classes_:
            raise ValueError("the learner knows no class yet: teach one first")
        proba = np.asarray(self._proba(X, task), dtype=np.float64)
        return proba

    def predict(self, X: Any, task: int | None = None) -> np.ndarray:
        proba = self.predict_proba(X, task)
        out = np.empty(proba.shape[0], dtype=object)
        out[:] = [self.classes_[i] for i in proba.argmax(axis=1)]
        return out

    def predict_open_detail(self, X: Any, task: int | None = None) -> OpenPrediction:
        """Probabilities, nearest class, its probability and known-ness in one pass (what a classifier
        shows per frame: "unknown, nearest: cup")."""
        X = self.check_X(X)
        self._check_task(task)
        if not self.classes_:
            raise ValueError("the learner knows no class yet: teach one first")
        proba, known = self._checked_scores(X, task)
        best = proba.argmax(axis=1)
        rows = np.arange(len(best))
        nearest = np.empty(len(best), dtype=object)
        nearest[:] = [self.classes_[i] for i in best]
        known = (known[rows, best] - self.threshold()) / self.known_scale()
        return OpenPrediction(proba, nearest, proba[rows, best], known)

    def score_known(self, X: Any, task: int | None = None) -> np.ndarray:
        """(n,) known-ness: higher = more likely a taught class; 0 is the calibrated threshold and 1 the
        margin of a typical taught view above it (:meth:`known_scale`)."""
        return self.predict_open_detail(X, task).known

    def predict_open(self, X: Any, task: int | None = None) -> np.ndarray:
        """(n,) object: the predicted class, or ``None`` for a sample the learner rejects as unknown."""
        return self.predict_open_detail(X, task).labels

    def threshold(self) -> float:
        """The calibrated threshold on the nearest class's known-ness: the :data:`KNOWN_QUANTILE` quantile
        of the calibration scores of all classes, as split conformal prediction takes it (the k-th
        smallest of n scores, k = ⌊q·(n + 1)⌋), so that a new sample like the taught ones is accepted
        with probability ≥ 1 − q.  With fewer scores than that needs (49) the smallest score is the
        threshold while it keeps the rejection rate 1/(n+1) within :data:`MAX_MISS_RATE` (from 19
        scores), and −inf before: nothing is rejected until one teach of 20 samples (or several smaller
        ones) has been calibrated.  A score equal to a calibration score up to rounding (a taught view
        seen again) is accepted."""
        return self._calibration()[0]

    def known_scale(self) -> float:
        """The unit of ``score_known``: how far the median calibration score lies above the threshold
        (:meth:`_unit_without_spread` while that is undefined).  Raw known-ness has a scale
        of its own for every learner and data (class log-densities of 1280-d features run to 10⁵); in
        this unit an operator reads 0 as the threshold and 1 as a typical taught view, on any learner.
        A positive constant of the learner, so the ranking of objects (and the AUROC) is the raw
        score's."""
        return self._calibration()[1]

    def _calibration(self) -> tuple[float, float]:
        """(threshold, known_scale) from the pooled calibration scores, cached until they change."""
        if self._calibrated is None:
            pooled = np.concatenate(self.calibration_) if self.calibration_ else np.zeros(0)
            q = conformal_quantile(pooled, KNOWN_QUANTILE, MAX_MISS_RATE)
            thr = q - TIE_TOLERANCE * max(1.0, abs(q)) if np.isfinite(q) else q
            margin = float(np.median(pooled)) - thr if len(pooled) and np.isfinite(thr) else 0.0
            # Scores that are all equal (one view taught) leave only the tie slack as a margin: no unit.
            undefined = margin <= 2.0 * TIE_TOLERANCE * max(1.0, abs(q))
            self._calibrated = (thr, self._unit_without_spread() if undefined else margin)
        return self._calibrated

    def forget(self, label: Any) -> None:
        """Remove a class; later predictions never return it."""
        label = self.check_label(label)
        if label not in self.classes_:
            raise ValueError(f"unknown label {label!r}; known: {self.classes_}")
        i = self.classes_.index(label)
        self._forget(i)
        del self.classes_[i]
        if i < len(self.calibration_):
            del self.calibration_[i]
        if self.input_stats is not None:
            self.input_stats.remove(i)
        self._calibrated = None

    def consolidation_steps(self) -> int:
        """The updates :meth:`consolidate` runs by default now (0: nothing to consolidate)."""
        return 0

    def consolidate(self, steps: int | None = None) -> int:
        """Rehearse what is known, with no new data, for up to ``steps`` updates (the learner's own
        amount by default); returns the updates run.  The classifier calls it when a teach has ended
        and no other waits, the benchmarks after every teach.  Learners whose update is exact
        (statistics, prototypes, closed-form refits) have nothing to consolidate: 0."""
        steps = self.consolidation_steps() if steps is None else int(steps)
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        return self._consolidate(steps) if steps else 0

    def _consolidate(self, steps: int) -> int:
        """Hook: run ``steps`` (> 0) rehearsal updates; returns the number run."""
        return 0

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "learner": self.name,
            "config": dict(self.config),
            "classes": list(self.classes_),
            "state": self._get_state(),
            "calibration": pack_calibration(self.calibration_),
            **({"input_means": self.input_stats.state()} if self.input_stats is not None else {}),
        }

    def clone(self) -> Learner:
        """An independent copy: teaching or forgetting on it never changes this learner.

        The default goes through the state dict; learners with large frozen parts
        (CH-HNN's prior) override it to share them and copy only what learning changes.
        """
        cls = type(self)
        fixed = getattr(cls, "fixed_params", {})  # set by the class itself, recorded in the config
        new = cls(**{k: v for k, v in self.config.items() if k not in fixed})
        new.load_state_dict(copy.deepcopy(self.state_dict()))
        return new

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError("not a chhnn_ros learner state (missing or unsupported format)")
        if state.get("learner") != self.name:
            raise ValueError(f"state is for learner {state.get('learner')!r}, not {self.name!r}")
        if state.get("config", {}).get("dim") != self.dim:
            raise ValueError(f"state has feature dimension {state['config'].get('dim')}, learner has {self.dim}")
        n_classes = len(state["classes"])
        calibration = self._parse_calibration(state.get("calibration", []), n_classes)
        input_stats = None
        if self.input_means:
            input_stats = ClassStats(self.dim, normalize=True, scatter=False)
            if "input_means" in state:
                input_stats.load(state["input_means"], n_classes)
            else:  # a state saved before open-set scores existed: no mean yet (cosine 0, everything accepted)
                input_stats.grow(n_classes)
        self._set_state(state["state"], list(state["classes"]))
        self.classes_ = list(state["classes"])
        self.calibration_, self._calibrated, self.input_stats = calibration, None, input_stats

    # ---------------------------------------------------------- open-set calibration
    @staticmethod
    def _parse_calibration(raw: Any, n_classes: int) -> list[np.ndarray]:
        """Per-class calibration scores of a state, packed (:func:`pack_calibration`) or one tensor per
        class (older states); an empty list (states from before open-set scores) means uncalibrated."""
        try:
            if isinstance(raw, dict):
                flat = torch.as_tensor(raw["scores"], dtype=torch.float64).numpy().ravel()
                counts = torch.as_tensor(raw["counts"], dtype=torch.int64).numpy().ravel()
                if (counts < 0).any() or counts.sum() != len(flat):
                    raise ValueError(f"{int(counts.sum())} scores counted, {len(flat)} stored")
                scores = [a.copy() for a in np.split(flat, np.cumsum(counts)[:-1])] if len(counts) else []
            else:
                scores = [torch.as_tensor(s, dtype=torch.float64).numpy().ravel().copy() for s in raw]
        except (TypeError, RuntimeError, ValueError, KeyError) as exc:
            raise ValueError(f"bad open-set calibration in state: {exc}") from None
        if not scores:
            return [np.zeros(0) for _ in range(n_classes)]
        if len(scores) != n_classes or not all(np.isfinite(s).all() for s in scores):
            raise ValueError(f"state holds calibration scores for {len(scores)} classes, expected {n_classes}, "
                             "all finite")
        return scores

    def _add_calibration(self, idx: np.ndarray, scores: np.ndarray) -> None:
        for c in np.unique(idx):
            fresh = scores[(idx == c) & np.isfinite(scores)]
            self.calibration_[c] = np.concatenate([self.calibration_[c], fresh])[-CALIBRATION_SIZE:]
        self._calibrated = None

    def _checked_scores(self, X: np.ndarray, task: int | None) -> tuple[np.ndarray, np.ndarray]:
        proba, known = self._open_scores(X, task)
        proba, known = np.asarray(proba, dtype=np.float64), np.asarray(known, dtype=np.float64)
        expected = (X.shape[0], len(self.classes_))
        if proba.shape != expected or known.shape != expected:
            raise RuntimeError(f"{self.name}._open_scores returned shapes {proba.shape}, {known.shape}; "
                               f"expected {expected}")
        return proba, known

    def _known_of(self, X: np.ndarray, idx: np.ndarray, task: int | None) -> np.ndarray:
        """Known-ness of each sample for class ``idx`` (its own class) under the current learner."""
        return self._checked_scores(X, task)[1][np.arange(len(idx)), idx]

    # --------------------------------------------------------------- reporting
    def n_parameters(self) -> int:
        """Trainable parameters (0 for purely statistical learners)."""
        return 0

    def memory_bytes_per_class(self) -> float:
        """Bytes of stored per-class memory (prototypes, exemplars, stats)."""
        return 0.0

    # ------------------------------------------------------------------ hooks
    def _open_scores(self, X: np.ndarray, task: int | None) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, known-ness), both (n, len(classes_)): known-ness of each sample for each class,
        higher = more like the class (one pass for both, so a frame is scored once).

        Default: the class probability times the cosine of the input to the mean of the class's taught
        inputs.  The probability alone (max-softmax) cannot reject anything while one class is known
        (it is 1 for every input) and trusts a model that forgot; the cosine alone ignores what the
        model learned.  Learners with a better-founded score override this.
        """
        proba = self._proba(X, task)
        return proba, proba * self.input_stats.cosine(X).numpy().clip(min=0.0)

    def _calibration_scores(self, X: np.ndarray, idx: np.ndarray, task: int | None) -> np.ndarray:
        """Known-ness a new sample of class ``idx`` would get, estimated from its just-taught samples
        ``X`` (called after ``_fit``); NaN drops a sample.  Default: the in-sample probability times the
        exact leave-one-out cosine to the class's input mean."""
        rows = np.arange(len(idx))
        proba = np.asarray(self._proba(X, task), dtype=np.float64)[rows, idx]
        return proba * self.input_stats.loo_cosine(X, idx).numpy().clip(min=0.0)

    def _unit_without_spread(self) -> float:
        """The unit of ``score_known`` while the calibration scores have no spread (no scores yet, or a
        teach of one view whose samples all score alike): the margin of a taught view above the
        threshold by the score's own construction, so that view still reads about 1.  Default 1."""
        return 1.0

    @abstractmethod
    def _fit(self, X: np.ndarray, idx: np.ndarray, task: int | None) -> None:
        """Learn from validated features and class indices into ``classes_``."""

    @abstractmethod
    def _proba(self, X: np.ndarray, task: int | None) -> np.ndarray:
        """Probabilities (n, len(classes_))."""

    @abstractmethod
    def _forget(self, index: int) -> None:
        """Drop class ``index`` (``classes_`` is updated by the caller)."""

    @abstractmethod
    def _get_state(self) -> dict[str, Any]: ...

    @abstractmethod
    def _set_state(self, state: dict[str, Any], classes: Sequence[Label]) -> None: ...


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def conformal_quantile(scores: np.ndarray, q: float, max_q: float | None = None) -> float:
    """The k-th smallest of n scores, k = ⌊q·(n + 1)⌋: the split-conformal lower quantile, below which a
    new score like these falls with probability ≤ q.  When k < 1 (too few scores to reject at q), the
    smallest score if its rate 1/(n + 1) is within ``max_q``, else −inf."""
    n = len(scores)
    k = int(np.floor(q * (n + 1)))
    if k < 1:
        if max_q is None or n < 1 or 1.0 / (n + 1) > max_q + 1e-12:
            return -np.inf
        k = 1
    return float(np.partition(np.asarray(scores, dtype=np.float64), k - 1)[k - 1])
