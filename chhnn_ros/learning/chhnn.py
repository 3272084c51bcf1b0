"""CH-HNN as an online learner: frozen ANN prior → masks → metaplastic SNN.

One ``partial_fit`` call is one teach: a handful of feature vectors of one
(or a few) classes.  The update runs up to ``steps`` SGD-momentum steps (it
stops once a whole batch is classified correctly by ``stop_margin``, after ``min_steps``) on
class-balanced batches of the new samples plus replayed exemplars of the other classes
(:class:`ClassMemory`), with per-sample masks from the frozen prior and
metaplastic damping of every update that would shrink a consolidated weight.
A new class's output row is imprinted from the mean hidden spike rate of its
samples, so it is usable at once and never competes before it exists.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from chhnn_ros.learning.base import Learner
from chhnn_ros.learning.class_memory import ClassMemory
from chhnn_ros.learning.metaplastic import MetaplasticAdam
from chhnn_ros.learning.prior import MaskPrior, digest, load_prior, prior_from_state, prior_to_state
from chhnn_ros.learning.registry import register
from chhnn_ros.learning.snn import SpikingMLP

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def shipped_priors() -> list[Path]:
    return sorted(DATA_DIR.glob("prior-*.pt"))


def resolve_prior(spec: str, dim: int, hidden: Sequence[int], seed: int) -> tuple[MaskPrior | None, str]:
    """``auto`` | ``random`` | ``none`` | path → (prior, description)."""
    if spec == "none":
        return None, "none (no masks: ablation)"
    if spec == "auto":
        for path in shipped_priors():
            prior = load_prior(path)
            if prior.config["dim"] == dim and tuple(prior.config["layer_sizes"]) == tuple(hidden):
                return prior, f"shipped:{path.name}"
        spec = "random"
    if spec == "random":
        # No trained prior for this feature space: a fixed random MLP still maps
        # similar features to similar masks (it is continuous), but without the
        # learned class structure. Recorded in the state so results say so.
        return MaskPrior(dim, hidden, seed=seed).eval(), "random (untrained)"
    prior = load_prior(spec)
    if prior.config["dim"] != dim or tuple(prior.config["layer_sizes"]) != tuple(hidden):
        raise ValueError(
            f"prior {spec} maps {prior.config['dim']}-d features to layers {prior.config['layer_sizes']}, "
            f"but the learner has dim {dim} and hidden {tuple(hidden)}"
        )
    return prior, f"file:{spec}"


def _learned(logits: torch.Tensor, y: torch.Tensor, margin: float) -> bool:
    """Every sample's true class wins by at least ``margin`` in probability."""
    with torch.no_grad():
        p = F.softmax(logits, dim=1)
        true = p.gather(1, y[:, None]).squeeze(1)
        other = p.scatter(1, y[:, None], -1.0).max(1).values
        return bool(((true - other) > margin).all())


@register
class CHHNN(Learner):
    name = "chhnn"

    def __init__(
        self,
        dim: int,
        seed: int = 0,
        hidden: Sequence[int] = (256, 256),
        neuron: str = "lif",
        T: int = 10,
        prior: str = "auto",
        meta: float = 5.0,
        meta_fn: str = "exp",
        lr: float = 0.05,
        optimizer: str = "sgd",
        steps: int = 20,
        batch: int = 64,
        memory_per_class: int = 400,  # float16: the bytes of the replay baseline's 200 float32 a class
        noise: float = 0.05,
        min_steps: int = 2,
        stop_margin: float = 0.0,
    ) -> None:
        super().__init__(dim, seed)
        hidden = [int(h) for h in hidden]
        if int(min_steps) < 0:
            raise ValueError("min_steps must be >= 0")
        if not 0.0 <= stop_margin < 1.0:
            raise ValueError("stop_margin must be in [0, 1)")
        for key, val in (("steps", steps), ("batch", batch), ("T", T)):
            if int(val) < 1:
                raise ValueError(f"{key} must be >= 1")
        if optimizer not in ("sgd", "adam"):
            raise ValueError("optimizer must be 'sgd' or 'adam'")
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError("lr must be a positive number")
        self.config.update(hidden=hidden, neuron=neuron, T=int(T), prior=str(prior), meta=float(meta),
                           meta_fn=meta_fn, lr=float(lr), optimizer=optimizer, steps=int(steps), batch=int(batch),
                           memory_per_class=int(memory_per_class), noise=float(noise),
                           min_steps=int(min_steps), stop_margin=float(stop_margin))
        self.net = SpikingMLP(dim, hidden, 0, neuron=neuron, T=T, seed=seed)
        self.prior, self.prior_source = resolve_prior(str(prior), dim, hidden, seed)
        self.memory = ClassMemory(dim, memory_per_class, seed)
        self.n_updates = 0
        self.last_meta_fraction = 0.0
        self.last_steps = 0  # training steps the last teach ran (diagnostics)
        # Masks of each class's stored exemplars (bool, not saved): the prior is frozen and its
        # heads are wide (~4 ms per 64 rows), so they are computed once per memory change.
        self._mem_masks: dict[int, list[torch.Tensor]] = {}
        # The first torch.optim.Optimizer of a process imports torch._dynamo (~2 s measured on a
        # 2-core CPU): pay it when the learner is made, not in the middle of the first teach.
        self._optimizer()

    # ---------------------------------------------------------------- helpers
    def _masks(self, x: torch.Tensor) -> list[torch.Tensor] | None:
        return None if self.prior is None else self.prior.masks(x)

    def _logits(self, X: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(X)
        return self.net(x, self._masks(x))

    def _imprint(self, X: np.ndarray) -> torch.Tensor:
        """Initial output row: mean hidden rate of the new samples, scaled like existing rows."""
        with torch.no_grad():
            x = torch.from_numpy(X)
            rate = self.net.readout_rates(x, self._masks(x)).mean(0)
            norm = self.net.head.weight.norm(dim=1).mean() if self.net.n_out else torch.tensor(1.0)
            return (rate / (rate.norm() + 1e-6) * norm).unsqueeze(0)

    def _optimizer(self) -> MetaplasticAdam:
        cfg = self.config
        meta_params = [fc.weight for fc in self.net.fcs] + [self.net.head.weight]
        ids = {id(p) for p in meta_params}
        rest = [p for p in self.net.parameters() if id(p) not in ids]
        # Biases and norms are exempt from metaplasticity, as in the method.
        return MetaplasticAdam(
            [{"params": meta_params, "meta": cfg["meta"]}, {"params": rest, "meta": 0.0}],
            lr=cfg["lr"], meta_fn=cfg["meta_fn"], betas=(0.9, 0.999 if cfg["optimizer"] == "adam" else 0.0),
        )

    @torch.no_grad()
    def _pool_masks(self, x_new: torch.Tensor, others: list[int]) -> list[torch.Tensor] | None:
        """Masks of the replay pool [new samples, stored exemplars of ``others``] (bool)."""
        if self.prior is None:
            return None
        parts = [[m.bool() for m in self._masks(x_new)]]
        for c in others:
            if c not in self._mem_masks:
                mem_x, _ = self.memory.all([c])
                self._mem_masks[c] = [m.bool() for m in self._masks(torch.from_numpy(mem_x))]
            parts.append(self._mem_masks[c])
        return [torch.cat(layer) for layer in zip(*parts)]

    # ------------------------------------------------------------------ hooks
    def _fit(self, X: np.ndarray, idx: np.ndarray, task: int | None) -> None:
        cfg = self.config
        for c in range(self.net.n_out, len(self.classes_)):
            self.memory.add_class()
            self.net.add_outputs(1, self._imprint(X[idx == c]))
        for c in np.unique(idx):
            self.memory.add(int(c), X[idx == c])
            self._mem_masks.pop(int(c), None)
        if len(self.classes_) < 2:
            return  # one class: nothing to discriminate yet (imprinting suffices)

        rng = np.random.default_rng([self.seed, self.n_updates])
        gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
        current = sorted(int(c) for c in np.unique(idx))
        others = [c for c in range(len(self.classes_)) if c not in current]
        # Class-balanced batches: the same number of samples of every class in
        # a step (all old classes while they fit, a random subset beyond).
        per_class = max(4, cfg["batch"] // len(self.classes_))
        max_other = max(1, cfg["batch"] // per_class - len(current))
        mem_x, mem_y = self.memory.all(others)
        pool_x = torch.from_numpy(np.concatenate([X, mem_x]))
        pool_y = torch.from_numpy(np.concatenate([idx, mem_y]))
        by_class = {c: np.flatnonzero(pool_y.numpy() == c) for c in current + others}
        picks = []
        for _ in range(cfg["steps"]):
            old = list(rng.choice(others, size=min(len(others), max_other), replace=False)) if others else []
            picks.append(np.concatenate([rng.choice(by_class[c], size=per_class) for c in current + old]))
        pool_m = self._pool_masks(torch.from_numpy(X), others)
        opt = self._optimizer()
        scale = float(X.std()) + 1e-6
        self.net.train()
        done = 0
        for step, pick_np in enumerate(picks):
            pick = torch.from_numpy(pick_np)
            xb = pool_x[pick] + cfg["noise"] * scale * torch.randn((len(pick), self.dim), generator=gen)
            masks = None if pool_m is None else [m[pick].float() for m in pool_m]
            logits = self.net(xb, masks)
            # Stop once a whole (noisy, class-balanced) batch is classified correctly (by
            # stop_margin in probability), after min_steps: a class that is already learned gets
            # few updates, which is faster and less disruptive to the other classes; a margin
            # buys robustness to shifted inputs for more steps (both measured in the README).
            if step >= cfg["min_steps"] and _learned(logits, pool_y[pick], cfg["stop_margin"]):
                break
            loss = F.cross_entropy(logits, pool_y[pick])
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
        self.net.eval()
        self.last_steps = done
        self.last_meta_fraction = opt.last_scaled_fraction
        self.n_updates += 1

    @torch.no_grad()
    def _proba(self, X: np.ndarray, task: int | None) -> np.ndarray:
        self.net.eval()
        return F.softmax(self._logits(X), dim=1).double().numpy()

    def _forget(self, index: int) -> None:
        self.net.remove_output(index)
        self.memory.remove_class(index)
        self._mem_masks.clear()  # class indices shift

    def _get_state(self) -> dict[str, Any]:
        return {
            "net": {k: v.clone() for k, v in self.net.state_dict().items()},
            "n_out": self.net.n_out,
            "prior": None if self.prior is None else prior_to_state(self.prior, getattr(self.prior, "trained_on", {})),
            "prior_source": self.prior_source,
            "memory": self.memory.state(),
            "n_updates": self.n_updates,
        }

    def _set_state(self, state: dict[str, Any], classes: Sequence[Any]) -> None:
        net = SpikingMLP(self.dim, self.config["hidden"], int(state["n_out"]), neuron=self.config["neuron"],
                         T=self.config["T"], seed=self.seed)
        try:
            net.load_state_dict(state["net"])
        except RuntimeError as exc:
            raise ValueError(f"CH-HNN weights do not match the configuration: {exc}") from None
        if int(state["n_out"]) != len(classes):
            raise ValueError("CH-HNN state has an output row count different from its class list")
        prior = None if state["prior"] is None else prior_from_state(state["prior"])
        memory = ClassMemory(self.dim, self.config["memory_per_class"], self.seed)
        memory.load(state["memory"])
        self.net, self.prior, self.memory = net.eval(), prior, memory
        self._mem_masks.clear()
        self.prior_source = state.get("prior_source", "unknown")
        self.n_updates = int(state.get("n_updates", 0))

    # -------------------------------------------------------------- reporting
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def memory_bytes_per_class(self) -> float:
        return self.memory.nbytes_per_class()

    def describe(self) -> dict[str, Any]:
        return {"prior": self.prior_source, "prior_digest": None if self.prior is None else digest(self.prior),
                "classes": len(self.classes_), "updates": self.n_updates}


@register
class CHHNNNoMeta(CHHNN):
    """Ablation: metaplasticity off (m = 0)."""

    name = "chhnn-nometa"
    fixed_params: dict[str, Any] = {"meta": 0.0}

    def __init__(self, dim: int, seed: int = 0, **kw: Any) -> None:
        super().__init__(dim, seed, **{**kw, **self.fixed_params})


@register
class CHHNNNoPrior(CHHNN):
    """Ablation: no modulation masks (the SNN sees every unit for every input)."""

    name = "chhnn-nomask"
    fixed_params: dict[str, Any] = {"prior": "none"}

    def __init__(self, dim: int, seed: int = 0, **kw: Any) -> None:
        super().__init__(dim, seed, **{**kw, **self.fixed_params})
