"""Joint (cumulative) training: the reference that forgets nothing.

Not an online learner: it keeps every sample it was taught and, when it is
queried after new data arrived, retrains a multinomial logistic regression
from scratch on all of them (Avalanche calls this strategy ``Cumulative`` /
``JointTraining``).  Its memory grows with every sample and its retraining
cost with the data, so it is no product option; it is in the benchmark
because its accuracy matrix shows what "no forgetting at all" scores.  In
class-IL its ``forgetting`` is not zero: an early step's two classes are
easy to tell apart, and the same test images get harder once look-alike
classes arrive.  That part of the metric is the floor no learner can beat
without scoring lower on early steps.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from chhnn_ros.learning.base import Learner
from chhnn_ros.learning.checks import check_counts, check_positive
from chhnn_ros.learning.registry import register


@register
class Joint(Learner):
    """All data so far → ``sklearn.linear_model.LogisticRegression`` (L2, lbfgs), refit lazily."""

    name = "joint"

    def __init__(self, dim: int, seed: int = 0, C: float = 1.0, max_iter: int = 300) -> None:
        super().__init__(dim, seed)
        check_positive(C=C)
        check_counts(max_iter=max_iter)
        self.config.update(C=float(C), max_iter=int(max_iter))
        self.X = np.zeros((0, dim), np.float32)
        self.y = np.zeros(0, np.int64)
        self._model: Any = None  # fitted on (X, y) as they were at fit time; None = stale

    def _fit(self, X: np.ndarray, idx: np.ndarray, task: int | None) -> None:
        self.X = np.concatenate([self.X, X])
        self.y = np.concatenate([self.y, idx])
        self._model = None

    def _refit(self) -> None:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=self.config["C"], max_iter=self.config["max_iter"])
        with warnings.catch_warnings():  # a capped lbfgs is still a valid reference
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(self.X, self.y)
        self._model = model

    def _proba(self, X: np.ndarray, task: int | None) -> np.ndarray:
        present = np.unique(self.y)
        out = np.zeros((len(X), len(self.classes_)))
        if len(present) == 1:  # one class seen: nothing to separate
            out[:, present[0]] = 1.0
            return out
        if self._model is None:
            self._refit()
        out[:, self._model.classes_] = self._model.predict_proba(X)
        return out

    def _forget(self, index: int) -> None:
        keep = self.y != index
        self.X, self.y = self.X[keep], self.y[keep]
        self.y[self.y > index] -= 1
        self._model = None

    def _get_state(self) -> dict[str, Any]:
        return {"X": torch.from_numpy(self.X.copy()), "y": torch.from_numpy(self.y.copy())}

    def _set_state(self, state: dict[str, Any], classes: Sequence[Any]) -> None:
        try:
            X = torch.as_tensor(state["X"], dtype=torch.float32).numpy().reshape(-1, self.dim).copy()
            y = torch.as_tensor(state["y"], dtype=torch.int64).numpy().ravel().copy()
        except (KeyError, TypeError, RuntimeError, ValueError) as exc:
            raise ValueError(f"bad joint state: {exc}") from None
        if len(X) != len(y) or (len(y) and not (y.min() >= 0 and y.max() < len(classes))):
            raise ValueError("joint state: samples and labels do not match the class list")
        self.X, self.y, self._model = X, y, None

    def memory_bytes_per_class(self) -> float:
        n = max(1, len(self.classes_))
        return float(self.X.nbytes + self.y.nbytes) / n
