"""Shared growable MLP and online training loop for the ANN baselines.

Every ANN baseline (finetune, EWC, SI, XdG, replay, LwF) is the same
``dim → 256 → 256 → classes`` ReLU network trained by a few optimiser steps
per ``partial_fit`` call; they differ only in the hooks below (extra loss
terms, a quadratic anchor applied as a proximal step, what the minibatch
contains, what happens at a boundary).

Conventions shared by all of them:

* the output layer has exactly ``len(classes_)`` rows; a new class gets a zero
  weight row and the mean bias of the existing rows, so it starts at the
  "average" logit and never pre-exists untrained;
* a *boundary* (the start of a new "task") is the arrival of a new label:
  the stream has no task boundaries, and one teach is one class;
* inputs are divided by one scale fixed at the first teach (the RMS of its
  feature values), so the same learning rate suits [0, 1] pixels and
  unnormalised CNN/CLIP embeddings; a scale that kept adapting would move
  every learned weight's meaning;
* plain SGD with momentum by default: a freshly built Adam takes sign-like
  first steps, which on a one-class batch move every head weight of the
  class alike (all ReLU inputs are positive) and learn no discrimination;
* the optimiser is rebuilt at every call (no moment estimates cross a teach,
  which keeps the state small and the step size independent of history), and
  the call's randomness comes from ``(seed, n_updates)``, so a learner
  restored from its state dict continues exactly as the original would;
* per-parameter buffers (Fisher, importances, anchors) live in
  ``self.buffers[kind][param_name]`` and are resized with the head.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from chhnn_ros.learning.base import Learner
from chhnn_ros.learning.checks import check_counts, check_hidden, check_optimizer, check_positive

HEAD_PARAMS = ("head.weight", "head.bias")
GRAD_CLIP = 5.0  # max global gradient norm of one step


def uninitialised_linear(n_in: int, n_out: int) -> nn.Linear:
    """A Linear layer left for the caller to initialise (no draw from torch's global RNG)."""
    with warnings.catch_warnings():  # torch warns that initialising a 0-row head is a no-op
        warnings.simplefilter("ignore", UserWarning)
        return nn.utils.skip_init(nn.Linear, n_in, n_out)


class GrowableMLP(nn.Module):
    """ReLU MLP whose output layer grows and shrinks by one row per class.

    ``gates`` (one (H_l,) or (B, H_l) 0/1 tensor per hidden layer) multiply
    the hidden activations: context-dependent gating (XdG) uses them.
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (256, 256), n_out: int = 0, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(int(seed))
        sizes = (int(dim), *(int(h) for h in hidden))
        self.fcs = nn.ModuleList(uninitialised_linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        with torch.no_grad():
            for fc in self.fcs:
                nn.init.kaiming_uniform_(fc.weight, nonlinearity="relu", generator=gen)
                fc.bias.zero_()
        self.head = uninitialised_linear(sizes[-1], 0)
        self.add_outputs(n_out)

    @property
    def n_out(self) -> int:
        return self.head.out_features

    def add_outputs(self, n: int) -> None:
        if n <= 0:
            return
        old = self.head
        new = uninitialised_linear(old.in_features, old.out_features + n)
        with torch.no_grad():
            new.weight.zero_()
            new.bias.fill_(float(old.bias.mean()) if old.out_features else 0.0)
            new.weight[: old.out_features] = old.weight
            new.bias[: old.out_features] = old.bias
        self.head = new

    def remove_output(self, i: int) -> None:
        keep = [j for j in range(self.n_out) if j != i]
        new = uninitialised_linear(self.head.in_features, len(keep))
        with torch.no_grad():
            new.weight.copy_(self.head.weight[keep])
            new.bias.copy_(self.head.bias[keep])
        self.head = new

    def features(self, x: torch.Tensor, gates: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        h = x
        for i, fc in enumerate(self.fcs):
            h = F.relu(fc(h))
            if gates is not None:
                h = h * gates[i]
        return h

    def forward(self, x: torch.Tensor, gates: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        return self.head(self.features(x, gates))


def make_optimizer(kind: str, params: Any, lr: float) -> torch.optim.Optimizer:
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr)
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', got {kind!r}")


def resize_rows(t: torch.Tensor, n_rows: int) -> torch.Tensor:
    """Zero-pad (or keep) the leading dimension of a head buffer to ``n_rows``."""
    if t.shape[0] >= n_rows:
        return t
    pad = torch.zeros((n_rows - t.shape[0], *t.shape[1:]), dtype=t.dtype)
    return torch.cat([t, pad])


def drop_row(t: torch.Tensor, i: int) -> torch.Tensor:
    if i >= t.shape[0]:
        return t
    return torch.cat([t[:i], t[i + 1 :]])


def clone_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class MLPLearner(Learner):
    """Base of the ANN baselines: the growable MLP plus an online training loop."""

    name = "mlp-base"

    def __init__(
        self,
        dim: int,
        seed: int = 0,
        hidden: Sequence[int] = (256, 256),
        lr: float = 0.03,
        optimizer: str = "sgd",
        steps: int = 5,
        batch: int = 32,
    ) -> None:
        super().__init__(dim, seed)
        hidden = check_hidden(hidden)
        check_positive(lr=lr)
        check_counts(steps=steps, batch=batch)
        check_optimizer(optimizer)
        self.config.update(hidden=hidden, lr=float(lr), optimizer=optimizer, steps=int(steps), batch=int(batch))
        self.net = GrowableMLP(dim, hidden, 0, self.seed)
        self.n_updates = 0
        self.skipped_steps = 0
        self.input_scale = 0.0  # 0: not fixed yet (set by the first teach)
        self.buffers: dict[str, dict[str, torch.Tensor]] = {}

    # ------------------------------------------------------------- subclass hooks
    def _on_boundary(self) -> None:
        """A new label arrived (called before the head grows)."""

    def _gates(self, task: int | None, n: int) -> list[torch.Tensor] | None:
        return None

    def _minibatch(self, X: np.ndarray, idx: np.ndarray, pick: np.ndarray,
                   rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(X[pick]), torch.from_numpy(idx[pick])

    def _loss(self, logits: torch.Tensor, y: torch.Tensor, x: torch.Tensor, task: int | None) -> torch.Tensor:
        return F.cross_entropy(logits, y)

    def _quadratic(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]] | None:
        """Quadratic anchor ``Σ c (θ − θ*)²`` as (coefficients c, anchors θ*) per parameter, or None."""
        return None

    def _before_step(self) -> None: ...

    def _after_step(self) -> None: ...

    def _after_fit(self, X: np.ndarray, idx: np.ndarray, task: int | None) -> None: ...

    def _forget_extra(self, index: int) -> None: ...

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _parse_extra(self, state: dict[str, Any], n_classes: int) -> dict[str, Any]:
        """Validate the subclass's part of a state; return attributes to set (nothing is set on error)."""
        return {}

    # ------------------------------------------------------------------ helpers
    @torch.no_grad()
    def _proximal(self, lr: float) -> None:
        """Apply the quadratic anchor as an implicit (proximal) step: θ ← (θ + 2ηc·θ*) / (1 + 2ηc).

        An explicit gradient step on c(θ − θ*)² diverges once 2ηc > 1, and the
        useful EWC/SI strengths are far beyond that for plain SGD; the proximal
        step is the exact minimiser of the penalty plus the proximity term, so
        it is stable for any strength.
        """
        quad = self._quadratic()
        if quad is None:
            return
        coef, anchor = quad
        for k, p in self.named_params().items():
            w = 2 * lr * coef[k]
            p.copy_((p + w * anchor[k]) / (1 + w))

    def penalty(self) -> float:
        """Current value of the quadratic anchor Σ c (θ − θ*)² (0 without one)."""
        quad = self._quadratic()
        if quad is None:
            return 0.0
        coef, anchor = quad
        with torch.no_grad():
            return float(sum((coef[k] * (p - anchor[k]) ** 2).sum() for k, p in self.named_params().items()))

    def _grow(self, n: int) -> None:
        self.net.add_outputs(n)
        for bufs in self.buffers.values():
            for key in HEAD_PARAMS:
                if key in bufs:
                    bufs[key] = resize_rows(bufs[key], self.net.n_out)

    def named_params(self) -> dict[str, torch.nn.Parameter]:
        return dict(self.net.named_parameters())

    # -------------------------------------------------------------------- hooks
    def _fit(self, X: np.ndarray, idx: np.ndarray, task: int | None) -> None:
        cfg = self.config
        if self.input_scale == 0.0:
            rms = float(np.sqrt(np.mean(X.astype(np.float64) ** 2)))
            self.input_scale = rms if rms > 1e-12 else 1.0
        X = X / np.float32(self.input_scale)
        n_new = len(self.classes_) - self.net.n_out
        if n_new > 0:
            self._on_boundary()
            self._grow(n_new)
        rng = np.random.default_rng([self.seed, self.n_updates])
        opt = make_optimizer(cfg["optimizer"], self.net.parameters(), cfg["lr"])
        self.net.train()
        for _ in range(cfg["steps"]):
            pick = rng.permutation(len(X))[: cfg["batch"]]
            xb, yb = self._minibatch(X, idx, pick, rng)
            loss = self._loss(self.net(xb, self._gates(task, len(xb))), yb, xb, task)
            if not torch.isfinite(loss):
                # A diverging update must not poison the weights of a long-running node: skip the step.
                self.skipped_steps += 1
                continue
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(self.net.parameters(), GRAD_CLIP)
            self._before_step()
            opt.step()
            self._proximal(cfg["lr"])
            self._after_step()
        self.net.eval()
        self._after_fit(X, idx, task)
        self.n_updates += 1

    @torch.no_grad()
    def _logits(self, X: np.ndarray, task: int | None) -> torch.Tensor:
        self.net.eval()
        return self.net(torch.from_numpy(X / np.float32(self.input_scale or 1.0)), self._gates(task, len(X)))

    def _proba(self, X: np.ndarray, task: int | None) -> np.ndarray:
        return F.softmax(self._logits(X, task).double(), dim=1).numpy()

    def _forget(self, index: int) -> None:
        self.net.remove_output(index)
        for bufs in self.buffers.values():
            for key in HEAD_PARAMS:
                if key in bufs:
                    bufs[key] = drop_row(bufs[key], index)
        self._forget_extra(index)

    def _get_state(self) -> dict[str, Any]:
        return {
            "net": clone_state(self.net),
            "n_out": self.net.n_out,
            "n_updates": self.n_updates,
            "input_scale": self.input_scale,
            "buffers": {k: {n: t.clone() for n, t in b.items()} for k, b in self.buffers.items()},
            "extra": self._extra_state(),
        }

    def _set_state(self, state: dict[str, Any], classes: Sequence[Any]) -> None:
        try:
            n_out = int(state["n_out"])
            net = GrowableMLP(self.dim, self.config["hidden"], n_out, self.seed)
            net.load_state_dict(state["net"])
            shapes = {k: p.shape for k, p in net.named_parameters()}
            buffers = {str(k): {str(n): torch.as_tensor(t).clone() for n, t in b.items()}
                       for k, b in state["buffers"].items()}
            for kind, bufs in buffers.items():
                for pname, t in bufs.items():
                    if pname not in shapes or t.shape != shapes[pname]:
                        raise ValueError(f"buffer {kind}/{pname} has shape {tuple(t.shape)}, parameter has "
                                         f"{tuple(shapes.get(pname, ()))}")
            extra = self._parse_extra(state["extra"], len(classes))
            n_updates = int(state["n_updates"])
            input_scale = float(state["input_scale"])
        except (KeyError, TypeError, RuntimeError) as exc:
            raise ValueError(f"{self.name} state does not match the configuration: {exc}") from None
        if n_out != len(classes):
            raise ValueError(f"{self.name} state has {n_out} output rows but {len(classes)} classes")
        self.net, self.buffers, self.n_updates, self.input_scale = net.eval(), buffers, n_updates, input_scale
        for key, val in extra.items():
            setattr(self, key, val)

    # ---------------------------------------------------------------- reporting
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def _extra_bytes(self) -> int:
        """Bytes kept besides the network itself (buffers, exemplars, snapshots)."""
        return sum(t.numel() * t.element_size() for b in self.buffers.values() for t in b.values())

    def memory_bytes_per_class(self) -> float:
        """Extra stored bytes (beyond the network) amortised over the known classes."""
        return self._extra_bytes() / max(1, len(self.classes_))
