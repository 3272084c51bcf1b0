"""The fused CPU multi-step IF/LIF equals spikingjelly's own neurons (spikes, state, gradients)."""

import pytest
import torch
from spikingjelly.activation_based import functional, neuron, surrogate

from chhnn_ros.learning.fused_neuron import FusedIFNode, FusedLIFNode
from chhnn_ros.learning.snn import make_neuron

COMMON = {"v_threshold": 1.0, "surrogate_function": surrogate.ATan(), "detach_reset": True, "step_mode": "m"}
PAIRS = {
    "lif": (lambda: neuron.LIFNode(tau=2.0, **COMMON), lambda: FusedLIFNode(tau=2.0, **COMMON)),
    "if": (lambda: neuron.IFNode(**COMMON), lambda: FusedIFNode(**COMMON)),
}


def _run(node, x: torch.Tensor, g: torch.Tensor):
    """Two consecutive multi-step calls (the second continues from the first's state)."""
    functional.reset_net(node)
    x = x.clone().requires_grad_()
    s1 = node(x)
    s2 = node(2.0 * x)
    loss = (s1 * g).sum() + (s2 * g.flip(0)).sum() + (node.v * g[0]).sum()
    loss.backward()
    return s1, s2, node.v.detach(), x.grad


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_fused_matches_spikingjelly(kind):
    gen = torch.Generator().manual_seed(3)
    x = 1.5 * torch.randn(10, 8, 32, generator=gen)
    g = torch.randn(10, 8, 32, generator=gen)
    ref, fused = (make() for make in PAIRS[kind])
    for a, b in zip(_run(ref, x, g), _run(fused, x, g)):
        assert torch.allclose(a, b, atol=1e-5), (a - b).abs().max()
    assert _run(fused, x, g)[0].sum() > 0  # the comparison saw spikes


def test_fused_path_is_taken_and_falls_back():
    node = FusedLIFNode(tau=2.0, **COMMON)
    x = torch.randn(4, 2, 3)
    out = node(x.requires_grad_())
    assert out.grad_fn is not None and "Fused" in type(out.grad_fn).__name__
    other = FusedLIFNode(tau=2.0, **{**COMMON, "surrogate_function": surrogate.Sigmoid()})
    out = other(torch.randn(4, 2, 3, requires_grad=True))
    assert "Fused" not in type(out.grad_fn).__name__  # spikingjelly's path for other surrogates


def test_make_neuron_uses_fused_for_if_and_lif():
    assert isinstance(make_neuron("lif"), FusedLIFNode)
    assert isinstance(make_neuron("if"), FusedIFNode)
