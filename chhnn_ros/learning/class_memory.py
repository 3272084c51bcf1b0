"""Per-class memories that give CH-HNN negatives of the classes not in a teach.

One teach is one class, and cross-entropy over a single class has zero
gradient, so each update replays samples of
the other classes.  Two memories share one interface (``add_class``,
``remove_class``, ``add``, ``sample``, ``nbytes_per_class``, ``state``/``load``,
``copy``):

* :class:`GaussianMemory` (default): per class the exact running mean and
  per-dimension variance and a rank-k approximation of the within-class
  scatter, kept by incremental SVD (Ross et al. 2008); ``sample`` draws
  pseudo-features from N(μ, UΛUᵀ/n + diag(residual)).  Its size per class is
  fixed by a byte budget and does not grow with the samples taught.
* :class:`ExemplarMemory`: up to ``per_class`` raw features a class
  (reservoir sampling, float16), the classic replay buffer.

``sample`` costs O(classes asked for), never O(classes stored), so a teach's
cost does not grow with the number of known classes.  ``nbytes_per_class`` is
the bytes of every array the memory stores (its ``state``), divided by the
number of classes: nothing is shared between classes.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from chhnn_ros.learning.base import SAME_VIEW_COSINE
from chhnn_ros.learning.reservoir import ClassReservoirs

MEMORY_KINDS = ("stats", "exemplars")
MAX_RANK = 64


def _state_nbytes(state: dict[str, Any]) -> int:
    """Bytes of the arrays and counters of a memory state (python ints count as int64)."""
    total = 0
    for v in state.values():
        for t in v if isinstance(v, list) else [v]:
            if isinstance(t, torch.Tensor):
                total += t.numel() * t.element_size()
            elif isinstance(t, int):
                total += 8
    return total


class ExemplarMemory:
    """Raw features in per-class reservoirs (the replay memory the baselines use too)."""

    kind = "exemplars"

    def __init__(self, dim: int, per_class: int, seed: int = 0) -> None:
        if per_class < 1:
            raise ValueError("memory per class must be >= 1")
        self.dim, self.per_class, self.seed = dim, per_class, seed
        self.store = ClassReservoirs((dim,), torch.float16)
        self.version = 0  # counts changes: what is derived from the contents is valid for one version

    def __len__(self) -> int:
        return len(self.store)

    def add_class(self) -> None:
        self.store.grow(len(self.store) + 1)
        self.version += 1

    def remove_class(self, i: int) -> None:
        self.store.remove(i)
        self.version += 1

    def add(self, i: int, X: np.ndarray) -> None:
        """Every sample ever offered to class ``i`` is kept with equal probability."""
        # seeded by (seed, class, samples seen): a copy taught the same samples keeps the same rows
        rng = np.random.default_rng([self.seed, i, self.store.seen[i]])
        rows = torch.from_numpy(np.asarray(X, np.float32))
        self.store.offer([i] * len(rows), rows, self.per_class, rng)
        self.version += 1

    def rows(self, c: int) -> np.ndarray:
        """The stored features of class ``c``, float32."""
        return self.store.buffers[c].float().numpy()

    def sample(self, classes: list[int], n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` stored features of each listed class (with replacement), float32, and their indices."""
        xs, ys = [], []
        for c in classes:
            buf = self.rows(c)
            if len(buf):
                xs.append(buf[rng.integers(len(buf), size=n)])
                ys.append(np.full(n, c, np.int64))
        if not xs:
            return np.zeros((0, self.dim), np.float32), np.zeros(0, np.int64)
        return np.concatenate(xs), np.concatenate(ys)

    def means(self) -> np.ndarray:
        """(C, d) float32 mean of each class's stored features."""
        return np.stack([self.rows(c).mean(0) if len(self.store.buffers[c]) else np.zeros(self.dim, np.float32)
                         for c in range(len(self))]).astype(np.float32)

    def loglik(self, X: np.ndarray, classes: list[int] | None = None) -> np.ndarray:
        """(n, C) known-ness per listed class: minus the squared distance to the nearest stored exemplar."""
        X = torch.from_numpy(np.asarray(X, np.float32))
        classes = list(range(len(self))) if classes is None else list(classes)
        out = np.full((len(X), len(classes)), -np.inf)
        for j, c in enumerate(classes):
            buf = self.store.buffers[c]
            if len(buf):
                out[:, j] = -(torch.cdist(X, buf.float()) ** 2).min(1).values.numpy()
        return out

    def warm(self) -> None:
        """Nothing to build: the exemplars are scored as stored."""

    def held_out_loglik(self, X: np.ndarray) -> np.ndarray:
        """(n,) the same score of each row against the rows outside its block (see
        :meth:`GaussianMemory.held_out_loglik`)."""
        if len(X) < 2:
            return np.full(len(X), np.nan)
        d = torch.cdist(torch.from_numpy(np.asarray(X, np.float32)), torch.from_numpy(np.asarray(X, np.float32))) ** 2
        for rows in held_out_blocks(len(X)):  # as GaussianMemory.held_out_loglik: other moments only
            d[np.ix_(rows, rows)] = float("inf")
        return -d.min(1).values.double().numpy()

    def nbytes_per_class(self) -> float:
        return _state_nbytes(self.state()) / max(1, len(self))

    def copy(self) -> ExemplarMemory:
        return copy.deepcopy(self)

    def state(self) -> dict[str, Any]:
        st = self.store.state()
        return {"kind": self.kind, "items": st["store"], "seen": st["seen"]}

    def load(self, state: dict[str, Any]) -> None:
        self.store = self.store.load({"store": state["items"], "seen": state["seen"]}, len(state["items"]),
                                     "CH-HNN exemplar memory")
        self.version += 1


#: Contiguous blocks a teach is split into for its held-out calibration scores.
HELD_OUT_BLOCKS = 4


def held_out_blocks(n: int, blocks: int = HELD_OUT_BLOCKS) -> list[np.ndarray]:
    """Row indices of ``min(n, blocks)`` contiguous, nearly equal blocks of ``range(n)``."""
    return [b for b in np.array_split(np.arange(n), min(n, blocks)) if len(b)]


def left_singular(F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left singular vectors (columns) and singular values, largest first, of a tall thin ``F`` (d × m,
    m ≪ d) from the eigendecomposition of its m × m Gram matrix.  At 1280 × 25 this takes 0.2 ms where
    the SVD takes 4.6 ms (a teach runs six of them); the Gram matrix squares the condition number, so
    directions below ~1e-8 of the largest singular value are lost: the memory keeps its top k
    directions in float16 and drops those below 1e-6 anyway."""
    if F.shape[1] == 0:
        return np.zeros((F.shape[0], 0)), np.zeros(0)
    w, V = np.linalg.eigh(F.T @ F)
    w, V = np.clip(w[::-1], 0.0, None), V[:, ::-1]
    sv = np.sqrt(w)
    u = F @ V / np.where(sv > 0, sv, 1.0)
    return u, sv


def rank_for_budget(dim: int, budget: int) -> int:
    """Largest rank k whose class statistics fit ``budget`` bytes (see :meth:`GaussianMemory.class_nbytes`)."""
    return min(MAX_RANK, (int(budget) - 8 * dim - 8) // (2 * dim + 4))


class GaussianMemory:
    """Per class: count n, mean μ (float32), variance σ² (float32), top-k scatter
    directions U (k×d, float16) with their scatter values s (float32).

    The scatter S = Σ(x−μ)(x−μ)ᵀ is merged with a batch by Chan's formula
    written as factors: S' = [U√s | Xc | √(nm/(n+m))(x̄−μ)] [..]ᵀ, whose thin SVD
    gives the new top k.  The per-dimension variance is exact, so the part of
    the variance the k directions do not explain is sampled as independent
    per-dimension noise (a factor-analysis-like model).
    """

    kind = "stats"

    def __init__(self, dim: int, budget: int, seed: int = 0) -> None:
        k = rank_for_budget(dim, budget)
        if k < 1:
            raise ValueError(f"a memory budget of {budget} bytes a class (after the output row and calibration "
                             f"scores) cannot hold the statistics of {dim}-d features: they need at least "
                             f"{self.class_nbytes(dim, 1)} bytes; raise memory_bytes")
        self.dim, self.rank, self.budget, self.seed = dim, k, int(budget), seed
        self.n: list[int] = []
        self.mean: list[np.ndarray] = []  # (d,) float32
        self.var: list[np.ndarray] = []  # (d,) float32, population variance
        self.U: list[np.ndarray] = []  # (r<=k, d) float16, orthonormal rows
        self.s: list[np.ndarray] = []  # (r,) float32, scatter along each row of U
        self._spread_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._density_cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]] = {}
        self._stacked: tuple[np.ndarray, ...] | None = None  # all classes' factors (see loglik)
        self.version = 0  # counts changes: what is derived from the contents is valid for one version

    @staticmethod
    def class_nbytes(dim: int, rank: int) -> int:
        return 8 + 4 * dim + 4 * dim + 2 * rank * dim + 4 * rank

    def __len__(self) -> int:
        return len(self.n)

    def add_class(self) -> None:
        self.n.append(0)
        self._stacked = None
        self.version += 1
        self.mean.append(np.zeros(self.dim, np.float32))
        self.var.append(np.zeros(self.dim, np.float32))
        self.U.append(np.zeros((0, self.dim), np.float16))
        self.s.append(np.zeros(0, np.float32))

    def remove_class(self, i: int) -> None:
        for lst in (self.n, self.mean, self.var, self.U, self.s):
            del lst[i]
        self._spread_cache.clear()  # class indices shift
        self._density_cache.clear()
        self._stacked = None
        self.version += 1

    def add(self, i: int, X: np.ndarray) -> None:
        X = np.asarray(X, np.float64)
        n, m = self.n[i], len(X)
        mu, xbar = self.mean[i].astype(np.float64), X.mean(0)
        delta = xbar - mu
        w = n * m / (n + m)
        var = (self.var[i] * n + ((X - xbar) ** 2).sum(0) + w * delta**2) / (n + m)
        factors = [self.U[i].astype(np.float64).T * np.sqrt(self.s[i]), (X - xbar).T]
        if n:
            factors.append(np.sqrt(w) * delta[:, None])
        u, sv = left_singular(np.concatenate(factors, axis=1))
        keep = min(self.rank, int((sv > 1e-6 * max(sv[0], 1e-12)).sum())) if sv.size else 0
        self._spread_cache.pop(i, None)
        self._density_cache.pop(i, None)
        self._stacked = None
        self.version += 1
        self.n[i] = n + m
        self.mean[i] = (mu + delta * (m / (n + m))).astype(np.float32)
        self.var[i] = var.astype(np.float32)
        self.U[i] = np.ascontiguousarray(u[:, :keep].T, dtype=np.float16)  # C order, as after a load
        self.s[i] = (sv[:keep] ** 2).astype(np.float32)

    def sample(self, classes: list[int], n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` pseudo-features of each listed class, float32, and their indices (one draw for all)."""
        classes = [c for c in classes if self.n[c]]
        if not classes or n < 1:
            return np.zeros((0, self.dim), np.float32), np.zeros(0, np.int64)
        k = max(len(self.s[c]) for c in classes)
        U = np.zeros((len(classes), k, self.dim), np.float32)  # ranks may differ: pad with zero rows
        sd = np.zeros((len(classes), k), np.float32)
        resid = np.empty((len(classes), self.dim), np.float32)
        for j, c in enumerate(classes):
            r = len(self.s[c])
            U[j, :r] = self.U[c]
            sd[j, :r], resid[j] = self._spread(c)
        z1 = rng.standard_normal((len(classes), n, k), dtype=np.float32) * sd[:, None, :]
        z2 = rng.standard_normal((len(classes), n, self.dim), dtype=np.float32) * resid[:, None, :]
        mean = np.stack([self.mean[c] for c in classes])[:, None, :]
        x = mean + np.matmul(z1, U) + z2
        return x.reshape(-1, self.dim), np.repeat(np.asarray(classes, np.int64), n)

    def _spread(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Standard deviation along each stored direction and of the per-dimension residual
        (derived from the statistics, cached until the class changes; not stored)."""
        if c not in self._spread_cache:
            lam = self.s[c] / self.n[c]  # variance along each direction
            resid = np.clip(self.var[c] - lam @ self.U[c].astype(np.float32) ** 2, 0.0, None)
            self._spread_cache[c] = (np.sqrt(lam), np.sqrt(resid))
        return self._spread_cache[c]

    def means(self) -> np.ndarray:
        """(C, d) float32 exact running mean of each class."""
        return np.stack(self.mean) if self.mean else np.zeros((0, self.dim), np.float32)

    def loglik(self, X: np.ndarray, classes: list[int] | None = None) -> np.ndarray:
        """(n, C) log-density of each row under each listed class's Gaussian N(μ, UΛUᵀ/n + D) (all classes
        by default), up to a shared constant: the class model the memory replays, used as the
        known-ness of an input.

        D is the residual per-dimension variance plus a floor of :data:`VAR_FLOOR` × the class's mean
        variance (a dimension that never varied in the taught samples must not make every other
        input infinitely unlikely).  Woodbury on the rank-k part; the per-class factors are cached
        until the class changes, and all classes are scored by a few matrix products.
        """
        X = np.asarray(X, np.float64)
        every_class = classes is None
        classes = list(range(len(self))) if classes is None else list(classes)
        out = np.full((len(X), len(classes)), -np.inf)
        live = [j for j, c in enumerate(classes) if self.n[c]]
        if not live or not len(X):
            return out
        if every_class:
            # Every frame scores all classes: their stacked factors are built once per change of
            # the memory, not per call (at hundreds of classes assembling them was most of the cost).
            self.warm()
            factors = self._stacked
        else:
            factors = self._stack([classes[j] for j in live])
        dinv, mdinv, const, W, Wmean, Linv = factors
        C, k = Wmean.shape
        for i in range(0, len(X), 512):  # bounded temporaries
            x = X[i : i + 512]
            quad = (x**2) @ dinv.T - 2.0 * x @ mdinv.T + const  # logdet + (x−μ)ᵀD⁻¹(x−μ)
            P = (x @ W.T).reshape(len(x), C, k) - Wmean
            Z = np.einsum("ckj,ncj->nck", Linv, P)
            out[i : i + 512, live] = -0.5 * (quad - (Z**2).sum(-1))
        return out

    def warm(self) -> None:
        """Build the stacked factors that scoring all classes uses (what the next prediction would do)."""
        if self._stacked is None:
            live = [c for c in range(len(self)) if self.n[c]]
            if live:
                self._stacked = self._stack(live)

    def _stack(self, classes: list[int]) -> tuple[np.ndarray, ...]:
        """The listed (non-empty) classes' density factors stacked for :meth:`loglik`: 1/D and μ/D
        (C, d), logdet + μᵀD⁻¹μ (C,), U/D as (C·k, d) with zero rows padding lower ranks, (U/D)μ
        (C, k) and the inverse Cholesky factors of M = Λ⁻¹ + U D⁻¹ Uᵀ (C, k, k)."""
        f = [self._density(c) for c in classes]
        k = max(len(g[3]) for g in f)
        C, d = len(f), self.dim
        mean, dinv = np.stack([g[0] for g in f]), np.stack([g[1] for g in f])
        W = np.zeros((C, k, d))
        Linv = np.tile(np.eye(k), (C, 1, 1))
        for j, g in enumerate(f):
            r = len(g[3])
            W[j, :r], Linv[j, :r, :r] = g[2], g[3]
        const = np.array([g[4] for g in f]) + ((mean**2) * dinv).sum(1)
        return dinv, mean * dinv, const, W.reshape(C * k, d), np.einsum("ckd,cd->ck", W, mean), Linv

    def _density(self, c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
        """(μ, 1/D, U/D, L⁻¹ of M, log det C) of class ``c``'s Gaussian (derived, cached, not stored).

        A class of few samples (one teach of 20) gets a density that does not trust them further than
        they go, so that a model of 15 of them (what :meth:`held_out_loglik` calibrates with) scores a
        new view as the model of all 20 will: at most ⌊(n−1)/2⌋ directions (k directions fitted to
        n ≤ k + 1 samples explain all their spread and leave none for the residual, which then is the
        floor alone); the residual variance scaled by n/(n−1−r), the degrees of freedom the r fitted
        directions leave it; and shrunk towards its mean over dimensions with the weight of
        :data:`PRIOR_SAMPLES` samples.  With one teach a class, held-out scores then match fresh
        views' (median Mahalanobis distance² on split-Fashion 580-970 held out against 700-880 fresh;
        without these terms 3,300-3,800 against 1,700-2,400).  A class of hundreds of samples is hardly
        changed."""
        if c not in self._density_cache:
            n = self.n[c]
            U = self.U[c].astype(np.float64)
            lam = (self.s[c] / n).astype(np.float64)
            keep = lam > 0
            r = min(int(keep.sum()), max(0, (n - 1) // 2))  # directions are stored by falling variance
            U, lam = U[keep][:r], lam[keep][:r]
            var = self.var[c].astype(np.float64)
            mean = self.mean[c].astype(np.float64)
            floor = max(VAR_FLOOR * float(var.mean()), MIN_REL_VAR * float((mean**2 + var).mean()), 1e-12)
            resid = np.clip(var - lam @ U**2, 0.0, None) * (n / max(n - 1 - r, 1))
            resid = (n * resid + PRIOR_SAMPLES * float(resid.mean())) / (n + PRIOR_SAMPLES)
            D = resid + floor
            logdet = float(np.log(D).sum())
            W = U / D
            Linv = np.zeros((0, 0))
            if len(lam):
                L = np.linalg.cholesky(np.diag(1.0 / lam) + W @ U.T)
                Linv = np.linalg.inv(L)
                logdet += 2.0 * float(np.log(np.diag(L)).sum()) + float(np.log(lam).sum())
            self._density_cache[c] = (mean, 1.0 / D, W, Linv, logdet)
        return self._density_cache[c]

    def held_out_loglik(self, X: np.ndarray) -> np.ndarray:
        """(n,) log-density of each row of ``X`` under a class model made from the rows outside its
        block: what a new sample of a class taught with ``X`` would score.

        The rows of one teach are consecutive views, each much like its neighbours; a model of all the
        other rows (leave one out) has seen those neighbours and scores the row as if a fresh view
        would look the same, which a robot that walks on then rejects.  Leaving out contiguous blocks
        of the teach (blocked cross-validation for dependent samples) scores each row against views
        of other moments.

        No row scores above what a typical sample of its held-out model would (Mahalanobis distance²
        = d): a teach of one view (a still object before a still camera) has held-out rows that
        coincide with their model's mean, and their score would make the threshold accept that exact
        view and nothing else.  The threshold is a low quantile of the scores, so the cap does not
        move it for a teach of varied views: it lowers the better-fitting half of their held-out rows
        (with one teach a class 64 % on sim objects, 57 % on split-MNIST, 48 % on split-Fashion, as a
        model whose Mahalanobis distance² has its median near d would)."""
        X = np.asarray(X, np.float64)
        if len(X) < 2:
            return np.full(len(X), np.nan)
        out = np.empty(len(X))
        for rows in held_out_blocks(len(X)):
            tmp = GaussianMemory(self.dim, self.budget, self.seed)
            tmp.add_class()
            tmp.add(0, np.delete(X, rows, axis=0))
            out[rows] = np.minimum(tmp.loglik(X[rows])[:, 0], -0.5 * (tmp._density(0)[4] + self.dim))
        return out

    def nbytes_per_class(self) -> float:
        return _state_nbytes(self.state()) / max(1, len(self))

    def copy(self) -> GaussianMemory:
        new = copy.copy(self)
        # Arrays are replaced, never written in place, by add(): copying the lists is enough.
        new.n, new.mean, new.var = list(self.n), list(self.mean), list(self.var)
        new.U, new.s = list(self.U), list(self.s)
        new._spread_cache, new._density_cache = dict(self._spread_cache), dict(self._density_cache)
        return new

    def state(self) -> dict[str, Any]:
        """Stacked over classes (a few tensors, not a few per class: a saved file grows by the bytes of
        the statistics and nothing else); ``rank`` splits the stacked directions back per class."""
        stack = lambda arrs, shape, dt: torch.from_numpy(  # noqa: E731
            np.concatenate(arrs).astype(dt) if arrs else np.zeros(shape, dt))
        return {"kind": self.kind, "n": list(self.n), "rank": [len(e) for e in self.s],
                "mean": stack([m[None] for m in self.mean], (0, self.dim), np.float32),
                "var": stack([v[None] for v in self.var], (0, self.dim), np.float32),
                "U": stack(self.U, (0, self.dim), np.float16), "s": stack(self.s, (0,), np.float32)}

    def load(self, state: dict[str, Any]) -> None:
        arr = lambda v, dt: torch.as_tensor(v).numpy().astype(dt)  # noqa: E731
        n, ranks = [int(c) for c in state["n"]], [int(r) for r in state["rank"]]
        mean = arr(state["mean"], np.float32).reshape(-1, self.dim)
        var = arr(state["var"], np.float32).reshape(-1, self.dim)
        U_all = arr(state["U"], np.float16).reshape(-1, self.dim)
        s_all = arr(state["s"], np.float32).ravel()
        if not len(n) == len(ranks) == len(mean) == len(var) or sum(ranks) != len(U_all) or len(s_all) != len(U_all):
            raise ValueError("class statistics of different lengths")
        if any(not 0 <= r <= self.rank for r in ranks):
            raise ValueError(f"class statistics of rank above the memory's rank {self.rank}")
        cut = np.cumsum([0, *ranks])
        U = [np.ascontiguousarray(U_all[a:b]) for a, b in zip(cut[:-1], cut[1:])]
        s = [s_all[a:b].copy() for a, b in zip(cut[:-1], cut[1:])]
        mean, var = [m.copy() for m in mean], [v.copy() for v in var]
        self.n, self.mean, self.var, self.U, self.s = n, mean, var, U, s
        self._spread_cache.clear()
        self._density_cache.clear()
        self._stacked = None
        self.version += 1


#: Shrinkage of the known-ness density towards a round one: the residual variance of each dimension
#: gets this fraction of the class's mean variance added.  Tens of samples cannot estimate the
#: variance of a feature dimension that barely moved in them; with a near-zero floor such a dimension
#: dominates the density of every new view.  ``chhnn-bench openset`` (first half of the classes
#: known; a density without the few-sample terms of :meth:`GaussianMemory._density`), floor 1e-3 /
#: 1e-2 / 0.1 / 1: AUROC sklearn digits 0.966 / 0.975 / 0.983 / -, split-MNIST with one teach a class
#: 0.823 / 0.841 / 0.856 / -, sim-objects 0.993 / 0.993 / 0.992 / 0.969,
#: split-Fashion 0.916 / 0.915 / 0.911 / 0.910; unknowns rejected at the calibrated threshold on
#: digits 0.18 / 0.32 / 0.69 / -, split-Fashion 0.18 / 0.31 / 0.52 / 0.54, split-MNIST 0.29 / 0.21 /
#: 0.22 / 0.25.
VAR_FLOOR = 0.1
#: A second floor of the residual variance, relative to the class's mean second moment E[x²].  Without
#: it a teach of one view (a still object before a still camera: every sample the same crop) has zero
#: variance, and every other view, however close, is infinitely unlikely.  At this floor such a class
#: accepts views whose features are within ~4.5 % of the taught one (‖x − μ‖² ≤ 0.002·‖μ‖², cosine
#: ≈ 0.999: what a teach counts as the same view, :data:`SAME_VIEW_COSINE`).  A class taught from
#: several views varies far more (variance / E[x²] per class, 20 views: sim objects >= 0.12,
#: split-Fashion >= 0.18, split-MNIST >= 0.38, against the 0.02 below which this floor exceeds
#: :data:`VAR_FLOOR`'s), so it is left as it is.
MIN_REL_VAR = 2.0 * (1.0 - SAME_VIEW_COSINE)
#: Weight (in samples) of the mean residual variance in each dimension's residual variance of the
#: known-ness density.  ``chhnn-bench openset --quick``, never-taught rejected at the calibrated
#: threshold with one teach a class, sim objects / split-MNIST / split-Fashion: 0.50 / 0.02 / 0.02
#: without the few-sample corrections of :meth:`GaussianMemory._density`; with them and 0 / 10 / 20 /
#: 40: 0.75 / 0.83 / 0.85 / 0.86, 0.04 / 0.06 / 0.06 / 0.07, 0.02 / 0.10 / 0.14 / 0.15; with 200 samples
#: a class split-MNIST rejects 0.25 / 0.24 / 0.22 / 0.20: 10 keeps the many-teach results.
PRIOR_SAMPLES = 10


def make_memory(kind: str, dim: int, per_class: int, budget: int, seed: int) -> ExemplarMemory | GaussianMemory:
    if kind == "stats":
        return GaussianMemory(dim, budget, seed)
    if kind == "exemplars":
        return ExemplarMemory(dim, per_class, seed)
    raise ValueError(f"unknown memory {kind!r}; choose one of {', '.join(MEMORY_KINDS)}")
