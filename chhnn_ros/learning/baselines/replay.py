"""Rehearsal-style baselines: experience replay and Learning without Forgetting."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from chhnn_ros.learning.baselines.mlp import GrowableMLP, MLPLearner, clone_state
from chhnn_ros.learning.checks import check_counts, check_positive
from chhnn_ros.learning.registry import register
from chhnn_ros.learning.reservoir import ClassReservoirs


@register
class Replay(MLPLearner):
    """Experience replay with a fixed total budget of raw float32 features.

    The buffer is class-balanced: each of the C known classes may keep
    ``budget // C`` samples, filled by reservoir sampling within the class
    (every sample of the class has the same chance to be stored); when a new
    class arrives the other classes are trimmed to the smaller quota.  Each
    optimiser step trains on the current teach plus ``replay_batch`` samples
    drawn uniformly from the buffer.
    """

    name = "replay"

    def __init__(self, dim: int, seed: int = 0, budget: int = 2000, replay_batch: int = 32, **kw: Any) -> None:
        super().__init__(dim, seed, **kw)
        check_counts(budget=budget, replay_batch=replay_batch)
        self.config.update(budget=int(budget), replay_batch=int(replay_batch))
        self.memory = ClassReservoirs((dim,))  # per class (m, dim) float32

    def _quota(self) -> int:
        return max(1, self.config["budget"] // max(1, len(self.memory)))

    def _minibatch(self, X: np.ndarray, idx: np.ndarray, pick: np.ndarray,
                   rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        xb, yb = torch.from_numpy(X[pick]), torch.from_numpy(idx[pick])
        replayed = self.memory.sample(self.config["replay_batch"], rng)
        if replayed is None:
            return xb, yb
        xr, cls = replayed
        return torch.cat([xb, xr]), torch.cat([yb, torch.from_numpy(cls)])

    def _after_fit(self, X: np.ndarray, idx: np.ndarray, task: int | None) -> None:
        self.memory.grow(len(self.classes_))
        quota = self._quota()
        self.memory.trim(quota)
        self.memory.offer(idx, torch.from_numpy(X), quota, np.random.default_rng([self.seed, self.n_updates, 1]))

    def _forget_extra(self, index: int) -> None:
        self.memory.remove(index)

    def _extra_state(self) -> dict[str, Any]:
        return self.memory.state()

    def _parse_extra(self, state: dict[str, Any], n_classes: int) -> dict[str, Any]:
        return {"memory": self.memory.load(state, n_classes, "replay")}

    def _extra_bytes(self) -> int:
        return self.memory.nbytes()


@register
class LwF(MLPLearner):
    """Learning without Forgetting (Li & Hoiem 2017), single-head class-IL variant.

    At each new label the network is snapshotted; afterwards every step adds
    ``alpha · T² · KL(softmax(old/T) ‖ softmax(new_old_cols/T))`` on the
    current batch, over the classes the snapshot knew (T = 2).
    """

    name = "lwf"

    def __init__(self, dim: int, seed: int = 0, alpha: float = 1.0, temperature: float = 2.0, **kw: Any) -> None:
        super().__init__(dim, seed, **kw)
        check_positive(alpha=alpha, temperature=temperature)
        self.config.update(alpha=float(alpha), temperature=float(temperature))
        self.old: GrowableMLP | None = None
        self.last_distill = 0.0

    def _on_boundary(self) -> None:
        if self.net.n_out == 0:
            return
        old = GrowableMLP(self.dim, self.config["hidden"], self.net.n_out, self.seed)
        old.load_state_dict(clone_state(self.net))
        self.old = old.eval().requires_grad_(False)

    def _loss(self, logits: torch.Tensor, y: torch.Tensor, x: torch.Tensor, task: int | None) -> torch.Tensor:
        loss = F.cross_entropy(logits, y)
        if self.old is None or self.old.n_out == 0:
            return loss
        T = self.config["temperature"]
        with torch.no_grad():
            target = F.softmax(self.old(x) / T, dim=1)
        kd = F.kl_div(F.log_softmax(logits[:, : self.old.n_out] / T, dim=1), target, reduction="batchmean") * T * T
        self.last_distill = float(kd.detach())
        return loss + self.config["alpha"] * kd

    def _forget_extra(self, index: int) -> None:
        if self.old is not None and index < self.old.n_out:
            self.old.remove_output(index)

    def _extra_state(self) -> dict[str, Any]:
        return {"old": None if self.old is None else clone_state(self.old)}

    def _parse_extra(self, state: dict[str, Any], n_classes: int) -> dict[str, Any]:
        if state["old"] is None:
            return {"old": None}
        n_old = int(state["old"]["head.weight"].shape[0])
        if n_old > n_classes:
            raise ValueError(f"lwf snapshot has {n_old} outputs for {n_classes} classes")
        old = GrowableMLP(self.dim, self.config["hidden"], n_old, self.seed)
        old.load_state_dict(state["old"])
        return {"old": old.eval().requires_grad_(False)}

    def _extra_bytes(self) -> int:
        return 0 if self.old is None else sum(p.numel() * p.element_size() for p in self.old.parameters())
