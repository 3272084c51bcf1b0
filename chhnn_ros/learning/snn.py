"""The DG-CA3 spiking network: fc → LayerNorm → ×mask → spiking neuron, per layer.

Neurons, surrogate gradients and multi-step simulation come from
spikingjelly.  Where this differs from the published code, and why:

* LayerNorm instead of batch-statistics BatchNorm, so one sample can be
  classified on its own, and the mask is applied *after* the norm so a
  gated unit receives zero input and stays silent;
* the output layer grows one row per new class, so untrained rows of future
  classes never compete in the argmax.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from spikingjelly.activation_based import functional, neuron, surrogate
from torch import nn

from chhnn_ros.learning.fused_neuron import FusedIFNode, FusedLIFNode

NEURONS = ("if", "lif", "eif", "psn")


def make_neuron(kind: str, v_threshold: float = 1.0, T: int = 10) -> nn.Module:
    """A multi-step spiking neuron with an arctan surrogate gradient.

    EIF gets a surrogate too: without one, nothing below an EIF layer trains.
    ``psn`` is the parallel spiking neuron (Fang et al. 2023): no sequential
    state, all T membrane potentials in one
    learnable T×T matmul, so training is parallel over time (its learnable
    threshold starts at 1, so ``v_threshold`` does not apply).
    """
    if kind == "psn":
        return neuron.PSN(T=T, surrogate_function=surrogate.ATan())
    common = {
        "v_threshold": v_threshold,
        "surrogate_function": surrogate.ATan(),
        "detach_reset": True,
        "step_mode": "m",
    }
    if kind == "if":
        return FusedIFNode(**common)
    if kind == "lif":
        return FusedLIFNode(tau=2.0, **common)
    if kind == "eif":
        return neuron.EIFNode(tau=2.0, delta_T=0.2, theta_rh=0.8 * v_threshold, v_reset=0.0, **common)
    raise ValueError(f"unknown neuron {kind!r}; choose one of {', '.join(NEURONS)}")


def _linear(n_in: int, n_out: int) -> nn.Linear:
    """nn.Linear that may have zero outputs (a learner with no class yet)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Initializing zero-element tensors")
        return nn.Linear(n_in, n_out)


class SpikingMLP(nn.Module):
    """Spiking MLP with optional per-sample binary masks on every hidden layer.

    The input feature is injected as a constant current for ``T`` steps
    (direct encoding: deterministic, so a single image always gets the same
    answer); the readout is the time-averaged output current.
    """

    def __init__(
        self,
        dim: int,
        hidden: Sequence[int] = (256, 256),
        n_out: int = 0,
        neuron: str = "lif",
        T: int = 10,
        seed: int = 0,
        v_threshold: float = 1.0,
    ) -> None:
        super().__init__()
        if T < 1:
            raise ValueError("T must be >= 1")
        gen = torch.Generator().manual_seed(seed)
        self.T = int(T)
        self.hidden = tuple(int(h) for h in hidden)
        self.neuron_kind = neuron
        self.seed = int(seed)
        sizes = (dim, *self.hidden)
        self.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.norms = nn.ModuleList(nn.LayerNorm(h) for h in self.hidden)
        self.nodes = nn.ModuleList(make_neuron(neuron, v_threshold, self.T) for _ in self.hidden)
        self.head = _linear(self.hidden[-1], 0)
        with torch.no_grad():
            for fc in self.fcs:
                bound = (6.0 / (fc.in_features + fc.out_features)) ** 0.5
                fc.weight.copy_(torch.empty_like(fc.weight).uniform_(-bound, bound, generator=gen))
                fc.bias.zero_()
        self.add_outputs(n_out)

    @property
    def n_out(self) -> int:
        return self.head.out_features

    # ------------------------------------------------------------- structure
    def add_outputs(self, n: int, init: torch.Tensor | None = None) -> None:
        """Append ``n`` output rows; ``init`` (n, H) seeds their weights."""
        if n <= 0:
            return
        old = self.head
        new = _linear(old.in_features, old.out_features + n)
        with torch.no_grad():
            new.weight.zero_()
            new.bias.zero_()
            new.weight[: old.out_features] = old.weight
            new.bias[: old.out_features] = old.bias
            if init is not None:
                new.weight[old.out_features :] = init
            else:  # Xavier-uniform rows, so gradients reach the hidden layers
                # Seeded by (seed, row index): a reloaded learner grows the
                # same rows as the original would have.
                gen = torch.Generator().manual_seed(self.seed * 100_003 + old.out_features)
                bound = (6.0 / (old.in_features + n)) ** 0.5
                rows = torch.empty(n, old.in_features).uniform_(-bound, bound, generator=gen)
                new.weight[old.out_features :] = rows
            if old.out_features:
                new.bias[old.out_features :] = old.bias.mean()
        self.head = new

    def remove_output(self, i: int) -> None:
        keep = [j for j in range(self.n_out) if j != i]
        new = _linear(self.head.in_features, len(keep))
        with torch.no_grad():
            new.weight.copy_(self.head.weight[keep])
            new.bias.copy_(self.head.bias[keep])
        self.head = new

    # --------------------------------------------------------------- forward
    def _drive(self, i: int, current: torch.Tensor, masks: Sequence[torch.Tensor] | None) -> torch.Tensor:
        """Input current of hidden layer i: fc → LayerNorm → ×mask (works on (T,B,·) or (B,·))."""
        h = self.norms[i](self.fcs[i](current))
        if masks is not None and masks[i] is not None:  # None: this layer is not gated
            h = h * masks[i]
        return h

    def _layer(self, i: int, current: torch.Tensor, masks: Sequence[torch.Tensor] | None) -> torch.Tensor:
        """current (T,B,in) → spikes (T,B,H_i)."""
        return self.nodes[i](self._drive(i, current, masks))

    def hidden_spikes(self, x: torch.Tensor, masks: Sequence[torch.Tensor] | None = None) -> list[torch.Tensor]:
        """Output spikes (T,B,H_l) of every hidden layer."""
        functional.reset_net(self)
        # Direct encoding: the first layer's drive is the same at every step,
        # so compute it once and repeat it over T (T× fewer input MACs).
        drive = self._drive(0, x, masks)
        current = self.nodes[0](drive.unsqueeze(0).expand(self.T, *drive.shape))
        out = [current]
        for i in range(1, len(self.fcs)):
            current = self._layer(i, current, masks)
            out.append(current)
        return out

    def forward(self, x: torch.Tensor, masks: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        # The readout is linear, so the mean over time of its output is its output on the mean
        # spike rate: one (B, H) product instead of T, which matters with hundreds of classes.
        return self.head(self.hidden_spikes(x, masks)[-1].mean(0))

    def forward_from(
        self, layer: int, spikes: torch.Tensor, masks: Sequence[torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Continue from hidden layer ``layer``'s output spikes (T',B,H): latent replay."""
        functional.reset_net(self)
        current = spikes
        for i in range(layer + 1, len(self.fcs)):
            current = self._layer(i, current, masks)
        return self.head(current.mean(0))

    def readout_rates(self, x: torch.Tensor, masks: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """Time-averaged spike rate of the last hidden layer (B,H)."""
        return self.hidden_spikes(x, masks)[-1].mean(0)
