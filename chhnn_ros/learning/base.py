"""The one learner interface shared by CH-HNN and every baseline.

Modelled on scikit-learn's incremental estimators (``partial_fit`` /
``predict_proba``) with two continual-learning additions: labels may arrive at
any time (the class set grows) and ``forget`` removes a class.  Every method
validates its input *before* touching state, so a bad call raises
``ValueError`` and leaves the learner exactly as it was.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

Label = Hashable
STATE_FORMAT = 1


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

    def __init__(self, dim: int, seed: int = 0) -> None:
        if not isinstance(dim, int | np.integer) or dim <= 0:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        self.dim = int(dim)
        self.seed = int(seed)
        self.classes_: list[Label] = []
        self.config: dict[str, Any] = {"dim": self.dim, "seed": self.seed}

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
        """Learn from a small batch; unseen labels become new classes."""
        X = self.check_X(X)
        labels = self.check_y(y, X.shape[0])
        self._check_task(task)
        for lab in labels:
            if lab not in self.classes_:
                self.classes_.append(lab)
        idx = np.array([self.classes_.index(lab) for lab in labels], dtype=np.int64)
        self._fit(X, idx, task)
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

    def forget(self, label: Any) -> None:
        """Remove a class; later predictions never return it."""
        label = self.check_label(label)
        if label not in self.classes_:
            raise ValueError(f"unknown label {label!r}; known: {self.classes_}")
        i = self.classes_.index(label)
        self._forget(i)
        del self.classes_[i]

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "learner": self.name,
            "config": dict(self.config),
            "classes": list(self.classes_),
            "state": self._get_state(),
        }

    def clone(self) -> Learner:
        """An independent copy: teaching or forgetting on it never changes this learner.

        The default goes through the state dict; learners with large frozen parts
        (CH-HNN's prior) override it to share them and copy only what learning changes.
        """
        import copy

        from chhnn_ros.learning.registry import learner_from_state  # the registry imports this module

        return learner_from_state(copy.deepcopy(self.state_dict()))

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError("not a chhnn_ros learner state (missing or unsupported format)")
        if state.get("learner") != self.name:
            raise ValueError(f"state is for learner {state.get('learner')!r}, not {self.name!r}")
        if state.get("config", {}).get("dim") != self.dim:
            raise ValueError(f"state has feature dimension {state['config'].get('dim')}, learner has {self.dim}")
        self._set_state(state["state"], list(state["classes"]))
        self.classes_ = list(state["classes"])

    # --------------------------------------------------------------- reporting
    def n_parameters(self) -> int:
        """Trainable parameters (0 for purely statistical learners)."""
        return 0

    def memory_bytes_per_class(self) -> float:
        """Bytes of stored per-class memory (prototypes, exemplars, stats)."""
        return 0.0

    # ------------------------------------------------------------------ hooks
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
