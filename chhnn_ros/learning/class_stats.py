"""Streaming class statistics: exact class means and one pooled within-class scatter.

One implementation shared by the statistical learners (NCM, SLDA) and the
novelty scores of any learner that keeps class statistics.  Every update is
exact under any teach order and batch split: a batch of ``m`` samples of one
class with mean ``x̄`` and centred scatter ``S_b`` updates the class mean ``μ``
(``n`` samples so far) and the pooled within-class scatter ``S`` by the
parallel formula of Chan et al. (1979)::

    S += S_b + n·m/(n+m) · (x̄ − μ)(x̄ − μ)ᵀ
    μ += m/(n+m) · (x̄ − μ)

From these: LDA discriminants, squared Mahalanobis distances with the shared
covariance ``Σ = S / N`` shrunk towards the identity, ``A = (1−ε)Σ + εI``
(Hayes & Kanan 2020 use ε = 1e-4 on raw features), the relative Mahalanobis
distance (Ren et al. 2021: the class distance minus the distance to one
background Gaussian of all data, whose covariance is the within-class plus
the between-class scatter, so it needs no extra storage), cosine similarity
to the class means, and exact leave-one-out versions of the cosine and
Mahalanobis scores of samples already added (what a held-out sample of the
class would score: the taught samples calibrate a novelty threshold without
a held-out set).

``normalize=True`` L2-normalises every input first (statistics of the
directions of the features): Mahalanobis scores on normalised features
separate unseen classes better for many backbones.  ``scatter=False`` keeps
only the means (NCM needs no d×d matrix).

``remove`` drops a class's mean; its contribution to the pooled scatter stays
(separating it would need one d×d scatter per class): the shared covariance
estimates the within-class spread of the feature space, which the other
classes share.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

_F64 = torch.float64


class ClassStats:
    """Class means (``means`` (C, d) float64, ``counts``) and the pooled within-class ``scatter`` (d, d)."""

    def __init__(self, dim: int, normalize: bool = False, scatter: bool = True) -> None:
        if not isinstance(dim, int | np.integer) or dim <= 0:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        self.dim = int(dim)
        self.normalize = bool(normalize)
        self.has_scatter = bool(scatter)
        self.means = torch.zeros((0, self.dim), dtype=_F64)
        self.counts: list[int] = []
        self.scatter = torch.zeros((self.dim, self.dim), dtype=_F64) if scatter else None
        self.n_seen = 0  # samples in the scatter (forgotten classes' samples included)
        self._chol: dict[float, torch.Tensor] = {}
        self._background: dict[float, tuple[torch.Tensor, torch.Tensor]] = {}
        self._disc: dict[float, tuple[torch.Tensor, torch.Tensor]] = {}

    # ----------------------------------------------------------------- updates
    @property
    def n_classes(self) -> int:
        return len(self.counts)

    def prepare(self, X: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Inputs as float64 rows in the space the statistics live in (L2-normalised if ``normalize``)."""
        x = torch.as_tensor(X).to(_F64)
        if x.ndim == 1:
            x = x[None]
        if self.normalize:
            x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return x

    def grow(self, n_classes: int) -> None:
        """Append empty classes (zero mean, count 0) up to ``n_classes``."""
        n_new = n_classes - self.n_classes
        if n_new > 0:
            self.means = torch.cat([self.means, torch.zeros((n_new, self.dim), dtype=_F64)])
            self.counts += [0] * n_new

    def update(self, X: np.ndarray | torch.Tensor, idx: np.ndarray) -> None:
        """Add samples ``X`` of classes ``idx`` (indices into the class list; it grows as needed)."""
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) == 0:
            return
        self.grow(int(idx.max()) + 1)
        x = self.prepare(X)
        for c in np.unique(idx):
            xc = x[torch.from_numpy(idx == c)]
            n, m = self.counts[c], len(xc)
            xbar = xc.mean(0)
            d = xbar - self.means[c]
            if self.scatter is not None:
                centred = xc - xbar
                # In place (addmm_/addr_): no d×d temporaries, which dominate the cost at d = 1280.
                self.scatter.addmm_(centred.T, centred).addr_(d, d, alpha=n * m / (n + m))
                self.n_seen += m
            self.means[c] += d * (m / (n + m))
            self.counts[c] = n + m
        self._invalidate()

    def remove(self, index: int) -> None:
        self.means = torch.cat([self.means[:index], self.means[index + 1 :]])
        del self.counts[index]
        self._invalidate()

    def _invalidate(self) -> None:
        self._chol.clear()
        self._background.clear()
        self._disc.clear()

    # ------------------------------------------------------------- covariance
    def covariance(self) -> torch.Tensor:
        """Pooled within-class covariance ``S / N`` (zeros before any sample)."""
        self._need_scatter()
        return self.scatter / max(1, self.n_seen)

    def _need_scatter(self) -> None:
        if self.scatter is None:
            raise ValueError("these class statistics keep no scatter (made with scatter=False)")

    def _shrunk(self, sigma: torch.Tensor, shrinkage: float) -> torch.Tensor:
        if not 0.0 < shrinkage <= 1.0:
            raise ValueError(f"shrinkage must be in (0, 1], got {shrinkage!r}")
        return (1 - shrinkage) * sigma + shrinkage * torch.eye(self.dim, dtype=_F64)

    def cholesky(self, shrinkage: float) -> torch.Tensor:
        """Lower Cholesky factor of ``A = (1−ε)Σ + εI`` (symmetric positive definite for ε > 0), cached."""
        if shrinkage not in self._chol:
            self._chol[shrinkage] = torch.linalg.cholesky(self._shrunk(self.covariance(), shrinkage))
        return self._chol[shrinkage]

    def discriminant(self, shrinkage: float) -> tuple[torch.Tensor, torch.Tensor]:
        """LDA discriminants ``x·W + b`` with ``W = A⁻¹μᵀ`` (d, C) and ``b = −½ μ A⁻¹ μᵀ`` (C,), cached."""
        if shrinkage not in self._disc:
            W = torch.cholesky_solve(self.means.T.contiguous(), self.cholesky(shrinkage))
            self._disc[shrinkage] = (W, -0.5 * (self.means * W.T).sum(1))
        return self._disc[shrinkage]

    def _quad(self, x: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
        """``xᵀA⁻¹x`` per row, by one triangular solve."""
        z = torch.linalg.solve_triangular(L, x.T.contiguous(), upper=False)
        return (z * z).sum(0)

    def mahalanobis(self, X: np.ndarray | torch.Tensor, shrinkage: float) -> torch.Tensor:
        """Squared Mahalanobis distances (n, C) to every class mean under the shared shrunk covariance."""
        x = self.prepare(X)
        W, b = self.discriminant(shrinkage)
        # (x−μ)ᵀA⁻¹(x−μ) = xᵀA⁻¹x − 2(x·W + b): the discriminant already holds −½μᵀA⁻¹μ.
        return (self._quad(x, self.cholesky(shrinkage))[:, None] - 2 * (x @ W + b)).clamp_min(0)

    def background(self, shrinkage: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and Cholesky factor of one Gaussian of all data (within- plus between-class scatter)."""
        if shrinkage not in self._background:
            counts = torch.tensor(self.counts, dtype=_F64)
            total = counts.sum().clamp_min(1)
            mu = (counts[:, None] * self.means).sum(0) / total
            dm = self.means - mu
            between = (dm.T * counts) @ dm
            sigma = (self.scatter + between) / max(1, self.n_seen)
            self._background[shrinkage] = (mu, torch.linalg.cholesky(self._shrunk(sigma, shrinkage)))
        return self._background[shrinkage]

    def relative_mahalanobis(self, X: np.ndarray | torch.Tensor, shrinkage: float) -> torch.Tensor:
        """Class distances minus the distance to the background Gaussian (n, C) (Ren et al. 2021)."""
        self._need_scatter()
        mu, L = self.background(shrinkage)
        return self.mahalanobis(X, shrinkage) - self._quad(self.prepare(X) - mu, L)[:, None]

    def cosine(self, X: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Cosine similarity (n, C) to the class means."""
        x = self.prepare(X)
        x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
        mu = self.means / self.means.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return x @ mu.T

    # ----------------------------------------------- leave-one-out calibration
    def _loo_residual(self, x: torch.Tensor, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """``x − μ_c`` of (prepared) samples already added to class ``c = idx`` and the class sizes ``n_c``."""
        n = torch.tensor([self.counts[c] for c in idx], dtype=_F64)
        return x - self.means[torch.from_numpy(np.asarray(idx, dtype=np.int64))], n

    def loo_cosine(self, X: np.ndarray | torch.Tensor, idx: np.ndarray) -> torch.Tensor:
        """Cosine of each (already added) sample to its class mean computed without it (NaN for a class
        of one sample)."""
        x = self.prepare(X)
        r, n = self._loo_residual(x, idx)
        mu_loo = x - r * (n / (n - 1)).clamp_max(1e12)[:, None]  # (n·μ − x)/(n − 1) = x − n/(n−1)·(x − μ)
        cos = torch.nn.functional.cosine_similarity(x, mu_loo, dim=1, eps=1e-12)
        return torch.where(n >= 2, cos, torch.nan)

    def loo_mahalanobis(self, X: np.ndarray | torch.Tensor, idx: np.ndarray, shrinkage: float) -> torch.Tensor:
        """Exact leave-one-out squared Mahalanobis distance of each (already added) sample to its class
        (NaN for a class of one sample).

        Without sample ``x`` the class mean moves to ``μ − (x−μ)/(n−1)`` and the scatter loses
        ``n/(n−1)·vvᵀ`` (``v = x − μ``), a rank-one change of ``A`` by ``−c·vvᵀ`` with
        ``c = (1−ε)·n/((n−1)N)``; by Sherman-Morrison ``vᵀ(A − c vvᵀ)⁻¹v = q/(1 − c q)`` with
        ``q = vᵀA⁻¹v``, and the distance to the moved mean is ``(n/(n−1))²`` times that.
        (The total count ``N`` is kept: one sample of many changes it negligibly.)
        """
        r, n = self._loo_residual(self.prepare(X), idx)
        q = self._quad(r, self.cholesky(shrinkage))
        k = n / (n - 1).clamp_min(1)
        c = (1 - shrinkage) * k / max(1, self.n_seen)
        return torch.where(n >= 2, k**2 * q / (1 - c * q).clamp_min(1e-12), torch.nan)

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = {"means": self.means.clone(), "counts": list(self.counts)}
        if self.scatter is not None:
            out.update(scatter=self.scatter.clone(), n_seen=self.n_seen)
        return out

    def load(self, state: dict[str, Any], n_classes: int) -> None:
        """Restore from :meth:`state`; ``ValueError`` (and nothing changed) if it does not fit."""
        try:
            means = torch.as_tensor(state["means"], dtype=_F64).reshape(-1, self.dim).clone()
            counts = [int(c) for c in state["counts"]]
            scatter = n_seen = None
            if self.has_scatter:
                scatter = torch.as_tensor(state["scatter"], dtype=_F64).clone()
                n_seen = int(state["n_seen"])
        except (KeyError, TypeError, RuntimeError, ValueError) as exc:
            raise ValueError(f"bad class statistics: {exc}") from None
        if means.shape[0] != n_classes or len(counts) != n_classes:
            raise ValueError(f"state holds {means.shape[0]} means / {len(counts)} counts for {n_classes} classes")
        if scatter is not None and scatter.shape != (self.dim, self.dim):
            raise ValueError(f"scatter has shape {tuple(scatter.shape)}, expected ({self.dim}, {self.dim})")
        self.means, self.counts = means, counts
        if scatter is not None:
            self.scatter, self.n_seen = scatter, n_seen
        self._invalidate()

    def nbytes_per_class(self) -> float:
        """Bytes of one class mean plus the shared scatter amortised over the known classes."""
        per = self.dim * self.means.element_size()
        if self.scatter is None:
            return float(per)
        return float(per + self.scatter.numel() * self.scatter.element_size() / max(1, self.n_classes))
