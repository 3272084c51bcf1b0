"""The mPFC-CA1 ANN prior: feature → one binary modulation mask per SNN layer.

Architecture and loss follow the published CH-HNN code (see
shared/reference/chhnn-method.md): an MLP trunk, one head per SNN hidden
layer producing (H, K) logits, a sharp softmax over the K values, and a unit
is ON when its argmax falls among the first ``gate`` values.  Training makes
mask distances between two samples match 1 − |cos| of their class means, so
similar classes share units and dissimilar ones use different units.  The
prior is trained offline on data disjoint from every evaluation stream, then
frozen; masks are per sample, so inference needs no task id.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from chhnn_ros.files import atomic_write_bytes

PRIOR_FORMAT = 1


class MaskPrior(nn.Module):
    def __init__(
        self,
        dim: int,
        layer_sizes: Sequence[int] = (256, 256),
        width: int = 256,
        k: int = 10,
        gate: int = 5,
        temperature: float = 50.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not 0 < gate < k:
            raise ValueError(f"gate must be in 1..{k - 1}")
        self.config = {"dim": int(dim), "layer_sizes": [int(h) for h in layer_sizes], "width": int(width),
                       "k": int(k), "gate": int(gate), "temperature": float(temperature), "seed": int(seed)}
        with torch.random.fork_rng():  # seeded init without touching the global RNG
            torch.manual_seed(seed)
            self.trunk = nn.Sequential(nn.Linear(dim, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU())
            self.heads = nn.ModuleList(nn.Linear(width, h * k) for h in layer_sizes)
        self.k, self.gate, self.temperature = k, gate, temperature
        self.layer_sizes = tuple(int(h) for h in layer_sizes)
        self._value_major_cache: tuple[tuple, list[tuple[torch.Tensor, torch.Tensor]]] | None = None

    def probs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Per head (B, H, K) softmax probabilities."""
        z = self.trunk(x)
        return [
            F.softmax(self.temperature * head(z).view(x.shape[0], h, self.k), dim=-1)
            for head, h in zip(self.heads, self.layer_sizes)
        ]

    @torch.no_grad()
    def masks(self, x: torch.Tensor, gate: int | None = None) -> list[torch.Tensor]:
        """Binary (B, H_l) float masks, one per SNN hidden layer.

        A unit is ON when its argmax falls among the first ``gate`` of the K values (the
        prior's own ``gate`` by default): the balance loss spreads the argmax evenly, so the
        active fraction is about gate / K and a larger gate gives denser masks.
        """
        gate = self.gate if gate is None else int(gate)
        # softmax is monotonic: the argmax of the raw head outputs is the same.  The argmax is among
        # the first ``gate`` values iff their maximum reaches the others' (argmax takes the first of
        # ties): two max reductions, three times faster than an argmax over K.  With the head rows
        # in value-major order each reduction runs over contiguous (B, H) slabs.
        z = self.trunk(x)
        if not 0 < gate < self.k:
            raise ValueError(f"gate must be in 1..{self.k - 1}, got {gate}")
        out = []
        for (weight, bias), h in zip(self._value_major_heads(), self.layer_sizes):
            v = F.linear(z, weight, bias).view(x.shape[0], self.k, h)
            out.append((v[:, :gate].amax(1) >= v[:, gate:].amax(1)).float())
        return out

    def _value_major_heads(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each head's weight and bias with rows reordered from (H, K) to (K, H), so that its output
        views as (B, K, H); cached until a weight changes (a frozen prior computes it once)."""
        key = tuple((id(p), p._version) for head in self.heads for p in (head.weight, head.bias))
        cached = self._value_major_cache
        if cached is None or cached[0] != key:
            heads = []
            for head, h in zip(self.heads, self.layer_sizes):
                w = head.weight.detach().view(h, self.k, -1).transpose(0, 1).reshape(self.k * h, -1)
                heads.append((w.contiguous(), head.bias.detach().view(h, self.k).t().reshape(-1).contiguous()))
            cached = (key, heads)
            self._value_major_cache = cached
        return cached[1]


# ---------------------------------------------------------------- training
def class_similarity_target(X: np.ndarray, y: np.ndarray, pca_dims: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """S*[a, b] = 1 − |cos(μ_a, μ_b)| between class means after PCA; returns (S*, class index per sample)."""
    classes, yi = np.unique(y, return_inverse=True)
    Xc = X - X.mean(0)
    n_comp = min(pca_dims, Xc.shape[1], Xc.shape[0])
    # PCA by SVD on a subsample: only the class means' directions matter here.
    sub = Xc[np.random.default_rng(0).permutation(len(Xc))[:5000]]
    _, _, vt = np.linalg.svd(sub, full_matrices=False)
    Z = Xc @ vt[:n_comp].T
    mu = np.stack([Z[yi == c].mean(0) for c in range(len(classes))])
    mu /= np.linalg.norm(mu, axis=1, keepdims=True) + 1e-12
    return (1.0 - np.abs(mu @ mu.T)).astype(np.float32), yi


def prior_loss(probs: list[torch.Tensor], target: torch.Tensor, balance: float = 0.05) -> torch.Tensor:
    """|D − S*|⁴ similarity loss (worst head) + usage balance over the K values."""
    sims = []
    bal = 0.0
    for p in probs:  # p: (B, H, K)
        k = p.shape[-1]
        q = F.normalize(p.permute(2, 0, 1), dim=-1)  # (K, B, H)
        d = 1.0 - q @ q.transpose(1, 2)  # (K, B, B)
        sims.append(((d - target.unsqueeze(0)).abs() ** 4).mean())
        bal = bal + (p.mean(dim=(0, 1)) - 1.0 / k).abs().mean()
    return torch.stack(sims).max() + balance * bal / len(probs)


def train_prior(
    X: np.ndarray,
    y: np.ndarray,
    layer_sizes: Sequence[int] = (256, 256),
    epochs: int = 30,
    batch: int = 200,
    lr: float = 1e-3,
    noise: float = 0.1,
    seed: int = 0,
    progress: bool = False,
    **prior_kw: Any,
) -> MaskPrior:
    """Train a prior as in the published recipe (Adam, β1 = 0, Gaussian input noise w.p. 0.5)."""
    X = np.asarray(X, dtype=np.float32)
    S, yi = class_similarity_target(X, np.asarray(y))
    prior = MaskPrior(X.shape[1], layer_sizes, seed=seed, **prior_kw)
    opt = torch.optim.Adam(prior.parameters(), lr=lr, betas=(0.0, 0.999))
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, epochs // 2), gamma=0.1)
    Xt, yt, St = torch.from_numpy(X), torch.from_numpy(yi), torch.from_numpy(S)
    gen = torch.Generator().manual_seed(seed)
    scale = float(Xt.std())
    rng = range(epochs)
    if progress:
        from tqdm import tqdm

        rng = tqdm(rng, desc="prior", unit="epoch")
    for _ in rng:
        for idx in torch.randperm(len(Xt), generator=gen).split(batch):
            xb = Xt[idx]
            if torch.rand((), generator=gen) < 0.5:
                xb = xb + noise * scale * torch.randn(xb.shape, generator=gen)
            tgt = St[yt[idx]][:, yt[idx]]
            loss = prior_loss(prior.probs(xb), tgt)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    prior.eval()
    return prior


def mask_stats(prior: MaskPrior, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Active fraction and mean Jaccard overlap of masks within vs across classes."""
    with torch.no_grad():
        m = torch.cat(prior.masks(torch.as_tensor(X, dtype=torch.float32)), dim=1).numpy().astype(bool)
    classes = np.unique(y)
    proto = np.stack([m[y == c].mean(0) > 0.5 for c in classes])
    inter = proto.astype(int) @ proto.T.astype(int)
    size = proto.sum(1)
    jac = inter / np.maximum(size[:, None] + size[None, :] - inter, 1)
    off = ~np.eye(len(classes), dtype=bool)
    agree = np.mean([(m[y == c] == proto[i]).mean() for i, c in enumerate(classes)])
    return {
        "active_fraction": float(m.mean()),
        "jaccard_across_classes": float(jac[off].mean()) if off.any() else float("nan"),
        "within_class_agreement": float(agree),
    }


# --------------------------------------------------------------- save/load
def prior_to_state(prior: MaskPrior, trained_on: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"format": PRIOR_FORMAT, "kind": "chhnn-prior", "config": dict(prior.config),
            "state_dict": {k: v.clone() for k, v in prior.state_dict().items()},
            "trained_on": dict(trained_on or {})}


def prior_from_state(state: Any) -> MaskPrior:
    if not isinstance(state, dict) or state.get("kind") != "chhnn-prior":
        raise ValueError("not a CH-HNN prior (missing kind 'chhnn-prior')")
    if state.get("format") != PRIOR_FORMAT:
        raise ValueError(f"unsupported prior format {state.get('format')!r}")
    cfg = dict(state["config"])
    prior = MaskPrior(**cfg)
    try:
        prior.load_state_dict(state["state_dict"])
    except (RuntimeError, KeyError) as exc:
        raise ValueError(f"prior weights do not match its config: {exc}") from None
    prior.trained_on = dict(state.get("trained_on", {}))  # type: ignore[attr-defined]
    prior.eval()
    return prior


def save_prior(prior: MaskPrior, path: str | Path, trained_on: dict[str, Any] | None = None) -> None:
    """Atomic write (:func:`chhnn_ros.files.atomic_write`): readers never see half a prior."""
    buf = io.BytesIO()
    torch.save(prior_to_state(prior, trained_on), buf)
    atomic_write_bytes(path, buf.getvalue())


class PriorNotFound(FileNotFoundError, ValueError):
    """A prior file that is not there: a missing file and a bad configuration value at once."""


def load_prior(path: str | Path) -> MaskPrior:
    path = Path(path)
    if not path.is_file():
        raise PriorNotFound(f"prior file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated/corrupt files
        raise ValueError(f"cannot read prior {path}: the file is truncated, corrupt or not a torch file "
                         f"({type(exc).__name__}: {str(exc)[:200]})") from None
    try:
        return prior_from_state(state)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def state_digest(state_dict: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for k, v in sorted(state_dict.items()):
        h.update(k.encode())
        h.update(torch.as_tensor(v).detach().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def digest(prior: MaskPrior) -> str:
    """Content hash of the weights (cached on priors from the shared cache, which are frozen)."""
    cached = getattr(prior, "digest_", None)
    return cached if cached is not None else state_digest(prior.state_dict())


# ------------------------------------------------------------ shared priors
# A prior is frozen after training, so one instance per content serves every learner of the
# process: a teach, a clone or a state load never rebuilds or copies its megabytes of weights.
_SHARED: dict[Any, MaskPrior] = {}


def _freeze(prior: MaskPrior) -> MaskPrior:
    prior.eval().requires_grad_(False)
    prior.digest_ = state_digest(prior.state_dict())  # type: ignore[attr-defined]
    return _SHARED.setdefault(prior.digest_, prior)  # type: ignore[attr-defined]


def shared_prior(path: str | Path) -> MaskPrior:
    """The process-wide instance of the prior in ``path`` (loaded once per file version)."""
    path = Path(path)
    try:
        st = path.resolve().stat()
    except OSError:
        raise PriorNotFound(f"prior file not found: {path}") from None
    key = ("file", str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _SHARED:
        _SHARED[key] = _freeze(load_prior(path))
    return _SHARED[key]


def shared_random_prior(dim: int, layer_sizes: Sequence[int], seed: int) -> MaskPrior:
    """The process-wide untrained prior for (dim, layers, seed)."""
    key = ("random", int(dim), tuple(int(h) for h in layer_sizes), int(seed))
    if key not in _SHARED:
        _SHARED[key] = _freeze(MaskPrior(dim, layer_sizes, seed=seed))
    return _SHARED[key]


def shared_prior_from_state(state: Any) -> MaskPrior:
    """The process-wide instance of an embedded prior (keyed by its content)."""
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        hit = _SHARED.get(state_digest(state["state_dict"]))
        if hit is not None:
            return hit
    return _freeze(prior_from_state(state))
