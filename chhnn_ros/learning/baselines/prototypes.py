"""Statistical baselines over frozen features: nearest class mean and streaming LDA.

Both are exact under any teach order (running sums, no gradient steps), so
they cannot forget; they are the strong simple baselines of the field for
frozen pretrained features (Janson et al. 2022; Hayes & Kanan 2020).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from chhnn_ros.learning.base import SAME_VIEW_COSINE, Learner, softmax
from chhnn_ros.learning.checks import check_positive
from chhnn_ros.learning.class_stats import ClassStats
from chhnn_ros.learning.registry import register


def _stats_property(name: str) -> property:
    """Read access to one field of the learner's :class:`ClassStats` (``means``, ``counts``, ...)."""
    return property(lambda self: getattr(self.stats, name), doc=f"``stats.{name}``")


@register
class NCM(Learner):
    """Cosine similarity to L2-normalised running class means; softmax(scale · cos)."""

    name = "ncm"
    input_means = False  # its own class means are the input means
    calibrates_all = True  # leave-one-out cosine

    def __init__(self, dim: int, seed: int = 0, scale: float = 16.0) -> None:
        super().__init__(dim, seed)
        check_positive(scale=scale)
        self.config["scale"] = float(scale)
        self.stats = ClassStats(dim, scatter=False)

    means = _stats_property("means")
    counts = _stats_property("counts")

    def _fit(self, X: np.ndarray, idx: np.ndarray, task: int | None) -> None:
        self.stats.update(X, idx)

    def _proba(self, X: np.ndarray, task: int | None) -> np.ndarray:
        return softmax(self.config["scale"] * self.stats.cosine(X).numpy())

    def _open_scores(self, X: np.ndarray, task: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Known-ness: cosine to the class mean."""
        cos = self.stats.cosine(X).numpy()
        return softmax(self.config["scale"] * cos), cos

    def _calibration_scores(self, X: np.ndarray, idx: np.ndarray, task: int | None) -> np.ndarray:
        """Leave-one-out cosine of each taught sample (NaN for a class of one sample), at most
        :data:`SAME_VIEW_COSINE`: the samples of a teach of one view coincide with their class mean."""
        return np.minimum(self.stats.loo_cosine(X, idx).numpy(), SAME_VIEW_COSINE)

    def _unit_without_spread(self) -> float:
        """A taught view (cosine 1) lies 1 − :data:`SAME_VIEW_COSINE` above a threshold at that cosine."""
        return 1.0 - SAME_VIEW_COSINE

    def _forget(self, index: int) -> None:
        self.stats.remove(index)

    def _get_state(self) -> dict[str, Any]:
        return self.stats.state()

    def _set_state(self, state: dict[str, Any], classes: Sequence[Any]) -> None:
        stats = ClassStats(self.dim, scatter=False)
        stats.load(state, len(classes))
        self.stats = stats

    def memory_bytes_per_class(self) -> float:
        return self.stats.nbytes_per_class()


@register
class SLDA(Learner):
    """Streaming LDA: running class means + one shared within-class covariance.

    The covariance is the pooled within-class scatter of
    :class:`~chhnn_ros.learning.class_stats.ClassStats`, updated exactly for a
    whole batch of one class by the parallel (Chan et al.) formula; Hayes &
    Kanan update it sample by sample with the global count as weight, an
    approximation of the same quantity.  Scores are the LDA discriminants
    ``x·Λμ_c − ½ μ_cᵀΛμ_c`` with ``Λ = ((1−ε)Σ + εI)⁻¹`` (shrinkage ε),
    recomputed lazily when the statistics changed.

    ``forget`` removes the class mean; its contribution to the shared
    covariance stays (separating it would need one d×d scatter per class).
    """

    name = "slda"
    input_means = False  # its own class statistics give the known-ness
    calibrates_all = True  # leave-one-out Mahalanobis: one covariance factorisation per teach

    def __init__(self, dim: int, seed: int = 0, shrinkage: float = 1e-4) -> None:
        super().__init__(dim, seed)
        if not (isinstance(shrinkage, int | float) and 0 < shrinkage <= 1):
            raise ValueError(f"shrinkage must be in (0, 1], got {shrinkage!r}")
        self.config["shrinkage"] = float(shrinkage)
        self.stats = ClassStats(dim)

    means = _stats_property("means")
    counts = _stats_property("counts")
    scatter = _stats_property("scatter")
    n_seen = _stats_property("n_seen")

    def _fit(self, X: np.ndarray, idx: np.ndarray, task: int | None) -> None:
        self.stats.update(X, idx)

    def _proba(self, X: np.ndarray, task: int | None) -> np.ndarray:
        W, b = self.stats.discriminant(self.config["shrinkage"])
        return softmax((torch.from_numpy(X).double() @ W + b).numpy())

    def _open_scores(self, X: np.ndarray, task: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Known-ness: minus the squared Mahalanobis distance to the class mean under the shared covariance."""
        eps = self.config["shrinkage"]
        return self._proba(X, task), -self.stats.mahalanobis(X, eps).numpy()

    def _calibration_scores(self, X: np.ndarray, idx: np.ndarray, task: int | None) -> np.ndarray:
        """Exact leave-one-out Mahalanobis score of each taught sample (NaN for a class of one sample)."""
        eps = self.config["shrinkage"]
        return -self.stats.loo_mahalanobis(X, idx, eps).numpy()

    def _forget(self, index: int) -> None:
        self.stats.remove(index)

    def _get_state(self) -> dict[str, Any]:
        return self.stats.state()

    def _set_state(self, state: dict[str, Any], classes: Sequence[Any]) -> None:
        stats = ClassStats(self.dim)
        stats.load(state, len(classes))
        self.stats = stats

    def memory_bytes_per_class(self) -> float:
        """Class mean plus the shared covariance amortised over the known classes."""
        return self.stats.nbytes_per_class()
