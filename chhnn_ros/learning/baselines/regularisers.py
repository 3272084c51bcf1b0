"""Parameter-regularisation baselines: online EWC and Synaptic Intelligence.

Both anchor the weights important for earlier "tasks" with a quadratic
penalty.  The robot's stream has no task boundaries, so a task is the run
of teaches between two new labels: the arrival of a new label consolidates
the statistics gathered since the previous one (the head's new row gets zero
importance).  With interleaved classes this makes the first teach of each
class a boundary, which is as close to "one task per class" as a stream of
single-class teaches allows.

The penalty is applied as a proximal step after each SGD step (see
:meth:`MLPLearner._proximal`), so any strength is numerically stable; the
SI path integral then uses the gradient of the task loss alone, as Zenke
et al. recommend.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from chhnn_ros.learning.baselines.mlp import MLPLearner
from chhnn_ros.learning.checks import check_positive
from chhnn_ros.learning.registry import register


@register
class EWC(MLPLearner):
    """Online EWC (Schwarz et al. 2018): F ← γF + F_task, penalty λ/2 · Σ F (θ − θ*)².

    F_task is a Monte-Carlo estimate of the Fisher information: squared
    per-sample gradients (via ``torch.func``) of the log-likelihood of a label
    *sampled from the model's own prediction*, measured after each teach's
    update and averaged over the teaches of the task.  (The "empirical"
    Fisher with the true label vanishes once the model is confident, which
    it is on the single class it was just taught.)
    """

    name = "ewc"

    def __init__(self, dim: int, seed: int = 0, ewc_lambda: float = 1e6, gamma: float = 1.0, **kw: Any) -> None:
        super().__init__(dim, seed, **kw)
        check_positive(ewc_lambda=ewc_lambda, gamma=gamma)
        self.config.update(ewc_lambda=float(ewc_lambda), gamma=float(gamma))
        self.task_teaches = 0

    def _on_boundary(self) -> None:
        params = self.named_params()
        if "fisher" not in self.buffers:
            self.buffers["fisher"] = {k: torch.zeros_like(p.detach()) for k, p in params.items()}
            self.buffers["task_fisher"] = {k: torch.zeros_like(p.detach()) for k, p in params.items()}
        if self.task_teaches == 0:
            return
        gamma = self.config["gamma"]
        for k, p in params.items():
            self.buffers["fisher"][k] = gamma * self.buffers["fisher"][k] + self.buffers["task_fisher"][k] / \
                self.task_teaches
            self.buffers["task_fisher"][k] = torch.zeros_like(p.detach())
        self.buffers["anchor"] = {k: p.detach().clone() for k, p in params.items()}
        self.task_teaches = 0

    def _quadratic(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]] | None:
        if "anchor" not in self.buffers:
            return None
        lam = 0.5 * self.config["ewc_lambda"]
        return {k: lam * f for k, f in self.buffers["fisher"].items()}, self.buffers["anchor"]

    def _after_fit(self, X: np.ndarray, idx: np.ndarray, task: int | None) -> None:
        params = {k: p.detach() for k, p in self.named_params().items()}

        def nll(p: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(functional_call(self.net, p, (x[None],)), y[None])

        x = torch.from_numpy(X)
        gen = torch.Generator().manual_seed(int(np.random.default_rng([self.seed, self.n_updates, 2]).integers(2**31)))
        with torch.no_grad():
            y = torch.multinomial(F.softmax(self.net(x), dim=1), 1, generator=gen)[:, 0]
        grads = vmap(grad(nll), in_dims=(None, 0, 0))(params, x, y)
        for k, g in grads.items():
            self.buffers["task_fisher"][k] += (g**2).mean(0)
        self.task_teaches += 1

    def _extra_state(self) -> dict[str, Any]:
        return {"task_teaches": self.task_teaches}

    def _parse_extra(self, state: dict[str, Any], n_classes: int) -> dict[str, Any]:
        return {"task_teaches": int(state["task_teaches"])}


@register
class SI(MLPLearner):
    """Synaptic Intelligence (Zenke et al. 2017).

    During training ω += −g·Δθ after every optimiser step (g the gradient of
    the loss that produced the step); at a boundary Ω += ω / (Δθ² + ξ) with
    Δθ the change since the previous boundary, then ω ← 0 and θ* ← θ.
    Penalty c · Σ Ω (θ − θ*)².
    """

    name = "si"

    def __init__(self, dim: int, seed: int = 0, si_c: float = 1000.0, xi: float = 0.1, **kw: Any) -> None:
        super().__init__(dim, seed, **kw)
        check_positive(si_c=si_c, xi=xi)
        self.config.update(si_c=float(si_c), xi=float(xi))
        self._prev: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def _on_boundary(self) -> None:
        params = {k: p.detach() for k, p in self.named_params().items()}
        if "anchor" not in self.buffers:
            self.buffers["omega"] = {k: torch.zeros_like(p) for k, p in params.items()}
            self.buffers["importance"] = {k: torch.zeros_like(p) for k, p in params.items()}
        else:
            xi = self.config["xi"]
            for k, p in params.items():
                delta = p - self.buffers["anchor"][k]
                # ReLU: a parameter whose path integral is negative (it moved against its loss) earns no importance.
                self.buffers["importance"][k] += (self.buffers["omega"][k] / (delta**2 + xi)).clamp_min(0)
                self.buffers["omega"][k].zero_()
        self.buffers["anchor"] = {k: p.clone() for k, p in params.items()}

    def _quadratic(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]] | None:
        if "anchor" not in self.buffers:
            return None
        c = self.config["si_c"]
        return {k: c * om for k, om in self.buffers["importance"].items()}, self.buffers["anchor"]

    def _before_step(self) -> None:
        self._prev = {k: (p.detach().clone(), p.grad.detach().clone()) for k, p in self.named_params().items()
                      if p.grad is not None}

    def _after_step(self) -> None:
        for k, p in self.named_params().items():
            if k in self._prev:
                old, g = self._prev[k]
                self.buffers["omega"][k] -= g * (p.detach() - old)
        self._prev = {}
