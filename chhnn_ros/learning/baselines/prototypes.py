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

from chhnn_ros.learning.base import Learner, softmax
from chhnn_ros.learning.baselines.mlp import check_positive
from chhnn_ros.learning.registry import register


def _means_from_state(state: dict[str, Any], dim: int, n_classes: int) -> tuple[torch.Tensor, list[int]]:
    means = torch.as_tensor(state["means"], dtype=torch.float64).reshape(-1, dim).clone()
    counts = [int(c) for c in state["counts"]]
    if means.shape[0] != n_classes or len(counts) != n_classes:
        raise ValueError(f"state holds {means.shape[0]} means / {len(counts)} counts for {n_classes} classes")
    return means, counts



def _grow_means(learner) -> None:
    """Append zero means / counts for classes that arrived since the last update (NCM and SLDA)."""
    n_new = len(learner.classes_) - len(learner.counts)
    if n_new > 0:
        learner.means = torch.cat([learner.means, torch.zeros((n_new, learner.dim), dtype=torch.float64)])
        learner.counts += [0] * n_new

@register
class NCM(Learner):
    """Cosine similarity to L2-normalised running class means; softmax(scale · cos)."""

    name = "ncm"

    def __init__(self, dim: int, seed: int = 0, scale: float = 16.0) -> None:
        super().__init__(dim, seed)
        check_positive(scale=scale)
        self.config["scale"] = float(scale)
        self.means = torch.zeros((0, dim), dtype=torch.float64)
        self.counts: list[int] = []

    def _fit(self, X: np.ndarray, idx: np.ndarray, task: int | None) -> None:
        _grow_means(self)
        x = torch.from_numpy(X).double()
        for c in np.unique(idx):
            xc = x[torch.from_numpy(idx == c)]
            n, m = self.counts[c], len(xc)
            # Exact incremental mean: μ ← μ + m/(n+m) · (x̄ − μ).
            self.means[c] += (xc.mean(0) - self.means[c]) * (m / (n + m))
            self.counts[c] = n + m

    def _proba(self, X: np.ndarray, task: int | None) -> np.ndarray:
        x = torch.from_numpy(X).double()
        x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
        mu = self.means / self.means.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return softmax(self.config["scale"] * (x @ mu.T).numpy())

    def _forget(self, index: int) -> None:
        self.means = torch.cat([self.means[:index], self.means[index + 1 :]])
        del self.counts[index]

    def _get_state(self) -> dict[str, Any]:
        return {"means": self.means.clone(), "counts": list(self.counts)}

    def _set_state(self, state: dict[str, Any], classes: Sequence[Any]) -> None:
        try:
            means, counts = _means_from_state(state, self.dim, len(classes))
        except (KeyError, TypeError, RuntimeError) as exc:
            raise ValueError(f"bad ncm state: {exc}") from None
        self.means, self.counts = means, counts

    def memory_bytes_per_class(self) -> float:
        return float(self.dim * self.means.element_size())


@register
class SLDA(Learner):
    """Streaming LDA: running class means + one shared within-class covariance.

    The covariance is the pooled within-class scatter, updated exactly for
    a whole batch of one class by the parallel (Chan et al.) formula
    ``S += S_batch + n·m/(n+m) · (x̄ − μ)(x̄ − μ)ᵀ``; Hayes & Kanan update it
    sample by sample with the global count as weight, an approximation of
    the same quantity.  Scores are the LDA discriminants
    ``x·Λμ_c − ½ μ_cᵀΛμ_c`` with ``Λ = ((1−ε)Σ + εI)⁻¹`` (shrinkage ε),
    recomputed lazily when the statistics changed.

    ``forget`` removes the class mean; its contribution to the shared
    covariance stays (separating it would need one d×d scatter per class).
    """

    name = "slda"

    def __init__(self, dim: int, seed: int = 0, shrinkage: float = 1e-4) -> None:
        super().__init__(dim, seed)
        if not (isinstance(shrinkage, int | float) and 0 < shrinkage <= 1):
            raise ValueError(f"shrinkage must be in (0, 1], got {shrinkage!r}")
        self.config["shrinkage"] = float(shrinkage)
        self.means = torch.zeros((0, dim), dtype=torch.float64)
        self.counts: list[int] = []
        self.scatter = torch.zeros((dim, dim), dtype=torch.float64)
        self.n_seen = 0
        self._cache: tuple[torch.Tensor, torch.Tensor] | None = None

    def _fit(self, X: np.ndarray, idx: np.ndarray, task: int | None) -> None:
        _grow_means(self)
        x = torch.from_numpy(X).double()
        for c in np.unique(idx):
            xc = x[torch.from_numpy(idx == c)]
            n, m = self.counts[c], len(xc)
            xbar = xc.mean(0)
            centred = xc - xbar
            d = xbar - self.means[c]
            # In place (addmm_/addr_): no d×d temporaries, which dominate the cost at d = 1280.
            self.scatter.addmm_(centred.T, centred).addr_(d, d, alpha=n * m / (n + m))
            self.means[c] += d * (m / (n + m))
            self.counts[c] = n + m
            self.n_seen += m
        self._cache = None

    def _discriminant(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._cache is None:
            eps = self.config["shrinkage"]
            sigma = self.scatter / max(1, self.n_seen)
            A = (1 - eps) * sigma + eps * torch.eye(self.dim, dtype=torch.float64)
            # A is symmetric positive definite (shrinkage), so a Cholesky solve replaces the explicit inverse.
            L = torch.linalg.cholesky(A)
            W = torch.cholesky_solve(self.means.T.contiguous(), L)  # Λμᵀ, (dim, C)
            b = -0.5 * (self.means * W.T).sum(1)
            self._cache = (W, b)
        return self._cache

    def _proba(self, X: np.ndarray, task: int | None) -> np.ndarray:
        W, b = self._discriminant()
        return softmax((torch.from_numpy(X).double() @ W + b).numpy())

    def _forget(self, index: int) -> None:
        self.means = torch.cat([self.means[:index], self.means[index + 1 :]])
        del self.counts[index]
        self._cache = None

    def _get_state(self) -> dict[str, Any]:
        return {"means": self.means.clone(), "counts": list(self.counts), "scatter": self.scatter.clone(),
                "n_seen": self.n_seen}

    def _set_state(self, state: dict[str, Any], classes: Sequence[Any]) -> None:
        try:
            means, counts = _means_from_state(state, self.dim, len(classes))
            scatter = torch.as_tensor(state["scatter"], dtype=torch.float64).clone()
            n_seen = int(state["n_seen"])
        except (KeyError, TypeError, RuntimeError) as exc:
            raise ValueError(f"bad slda state: {exc}") from None
        if scatter.shape != (self.dim, self.dim):
            raise ValueError(f"slda scatter has shape {tuple(scatter.shape)}, expected ({self.dim}, {self.dim})")
        self.means, self.counts, self.scatter, self.n_seen, self._cache = means, counts, scatter, n_seen, None

    def memory_bytes_per_class(self) -> float:
        """Class mean plus the shared covariance amortised over the known classes."""
        per = self.dim * self.means.element_size()
        return float(per + self.scatter.numel() * self.scatter.element_size() / max(1, len(self.classes_)))
