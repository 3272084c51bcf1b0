"""Model-side measurements of ``chhnn-bench perf``: the CH-HNN spiking network.

* parallel vs step-by-step simulation of the same network (same weights),
  and the parallel spiking neuron (PSN) as an alternative neuron;
* energy estimate from measured spike counts (45 nm figures, Horowitz 2014);
* time-step reduction with threshold adjustment (Replay4NCL's idea);
* INT8 (dynamic quantisation) of the SNN.

Pure core: no rclpy.  Every figure is a ratio of two timings taken in the
same run, so it holds on a noisy machine.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from spikingjelly.activation_based import functional
from torch import nn

from chhnn_ros.learning.registry import learner_from_state, make_learner
from chhnn_ros.learning.snn import SpikingMLP

E_AC_PJ = 0.9  # 32-bit float accumulate, 45 nm (Horowitz 2014)
E_MAC_PJ = 4.6  # 32-bit float multiply-accumulate, 45 nm
THRESHOLDS = (1.0, 0.8, 0.65, 0.5, 0.4, 0.3, 0.2)


def median_time(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def ratio(num: float, den: float) -> float:
    """num / den, NaN when the denominator is not positive (never a fake number)."""
    return float(num) / float(den) if den > 0 else float("nan")


# ----------------------------------------------------------------- simulation
def stepwise_logits(net: SpikingMLP, x: torch.Tensor, masks: Sequence[torch.Tensor] | None) -> torch.Tensor:
    """The step-by-step loop (as the published CH-HNN code runs it): single-step
    neurons, the whole network evaluated once per time step."""
    functional.reset_net(net)
    functional.set_step_mode(net, "s")
    try:
        outs = []
        for _ in range(net.T):
            cur = x
            for i in range(len(net.fcs)):
                cur = net.nodes[i](net._drive(i, cur, masks))
            outs.append(cur)
        return net.head(torch.stack(outs).mean(0))  # the readout on the mean spike rate, as forward()
    finally:
        functional.set_step_mode(net, "m")
        functional.reset_net(net)


def snn_speed(dim: int, hidden: Sequence[int], n_out: int, T: int, batch: int, repeat: int,
              seed: int = 0) -> dict[str, float]:
    """Forward+backward time of one training step: step-by-step loop, multi-step, PSN."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, dim, generator=gen)
    y = torch.randint(0, n_out, (batch,), generator=gen)
    masks = [(torch.rand(batch, h, generator=gen) < 0.5).float() for h in hidden]
    lif = SpikingMLP(dim, hidden, n_out, neuron="lif", T=T, seed=seed).train()
    psn = SpikingMLP(dim, hidden, n_out, neuron="psn", T=T, seed=seed).train()
    psn.load_state_dict(lif.state_dict(), strict=False)  # same fc/norm/head weights

    def step(logits: Callable[[], torch.Tensor], net: nn.Module) -> None:
        net.zero_grad(set_to_none=True)
        F.cross_entropy(logits(), y).backward()

    t_step = median_time(lambda: step(lambda: stepwise_logits(lif, x, masks), lif), repeat)
    t_multi = median_time(lambda: step(lambda: lif(x, masks), lif), repeat)
    t_psn = median_time(lambda: step(lambda: psn(x, masks), psn), repeat)
    with torch.no_grad():
        lif.eval()
        diff = float((stepwise_logits(lif, x, masks) - lif(x, masks)).abs().max())
        t_step_inf = median_time(lambda: stepwise_logits(lif, x, masks), repeat)
        t_multi_inf = median_time(lambda: lif(x, masks), repeat)
    return {"stepwise_ms": 1e3 * t_step, "multistep_ms": 1e3 * t_multi, "psn_ms": 1e3 * t_psn,
            "speedup_multistep": ratio(t_step, t_multi), "speedup_psn": ratio(t_step, t_psn),
            "inference_speedup_multistep": ratio(t_step_inf, t_multi_inf), "max_abs_logit_diff": diff,
            "batch": batch, "dim": dim, "T": T}


# ------------------------------------------------------------------- learners
def train_incremental(X: np.ndarray, y: np.ndarray, teach: int = 20, **kw: Any):
    """CH-HNN taught one class at a time in chunks of ``teach`` samples (single pass), each teach
    followed by its consolidation (:func:`chhnn_ros.bench.protocol.teach`)."""
    from chhnn_ros.bench.protocol import teach as teach_once

    learner = make_learner("chhnn", dim=int(X.shape[1]), seed=0, **kw)
    for c in dict.fromkeys(y.tolist()):
        idx = np.flatnonzero(y == c)
        for i in range(0, len(idx), teach):
            teach_once(learner, X[idx[i:i + teach]], c)
    return learner


def accuracy(learner, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(learner.predict(X) == y.astype(object)))


def stepwise_accuracy(learner, X: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of the same trained weights run by the step-by-step loop (then combined with the class
    means' vote as the learner's own prediction is)."""
    with torch.no_grad():
        learner.net.eval()
        X = np.ascontiguousarray(X, dtype=np.float32)
        x = torch.from_numpy(X)
        pred = learner.probabilities(stepwise_logits(learner.net, x, learner._masks(x)), X).argmax(1).numpy()
    return float(np.mean(np.asarray(learner.classes_, dtype=object)[pred] == y.astype(object)))


# --------------------------------------------------------------------- energy
def count_spikes(net: SpikingMLP, x: torch.Tensor, masks: Sequence[torch.Tensor] | None) -> list[float]:
    """Mean spikes per sample of every hidden layer (summed over T and units), via forward hooks."""
    counts = [0.0] * len(net.nodes)

    def hook(i: int):
        def fn(_module, _inp, out) -> None:
            counts[i] += float(out.detach().sum())
        return fn

    handles = [node.register_forward_hook(hook(i)) for i, node in enumerate(net.nodes)]
    try:
        with torch.no_grad():
            net(x, masks)
    finally:
        for h in handles:
            h.remove()
    return [c / len(x) for c in counts]


def energy_estimate(dim: int, hidden: Sequence[int], n_out: int, T: int, spikes: Sequence[float],
                    extra_macs: int = 0) -> dict[str, Any]:
    """SNN inference energy (pJ per sample) vs the same-size ANN.

    SNN: the first layer gets the real-valued feature (direct encoding): its
    ``dim × H1`` MACs, computed once since the input is constant over T;
    every later layer (and the head) is driven by spikes: one accumulate per
    spike per fan-out synapse.  ANN: every layer is MACs.  ``extra_macs``
    (the mask prior of CH-HNN) is reported on top, not in the ratio.
    """
    sizes = [dim, *hidden, n_out]
    ann_macs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    fan_out = [*hidden[1:], n_out]
    sops = sum(s * f for s, f in zip(spikes, fan_out))
    e_snn = dim * hidden[0] * E_MAC_PJ + sops * E_AC_PJ
    e_ann = ann_macs * E_MAC_PJ
    spiking_part = (ann_macs - dim * hidden[0]) * E_MAC_PJ
    return {
        "snn_pj": e_snn, "ann_pj": e_ann, "energy_ratio": ratio(e_snn, e_ann),
        "spiking_layers_ratio": ratio(sops * E_AC_PJ, spiking_part), "sops": sops, "ann_macs": ann_macs,
        "spike_rates": [ratio(s, T * h) for s, h in zip(spikes, hidden)],
        "prior_pj": extra_macs * E_MAC_PJ, "with_prior_ratio": ratio(e_snn + extra_macs * E_MAC_PJ, e_ann),
    }


def prior_macs(learner) -> int:
    prior = getattr(learner, "prior", None)
    if prior is None:
        return 0
    return sum(m.in_features * m.out_features for m in prior.modules() if isinstance(m, nn.Linear))


def snn_energy(learner, X: np.ndarray) -> dict[str, Any]:
    net = learner.net
    x = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    spikes = count_spikes(net.eval(), x, learner._masks(x))
    return energy_estimate(learner.dim, net.hidden, net.n_out, net.T, spikes, prior_macs(learner))


# ------------------------------------------------------------- time-step cut
def set_threshold(net: SpikingMLP, v: float) -> None:
    for node in net.nodes:
        node.v_threshold = float(v)


def last_rate(learner, X: np.ndarray) -> float:
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        return float(learner.net.readout_rates(x, learner._masks(x)).mean())


def time_step_reduction(learner, X_calib: np.ndarray, X_test: np.ndarray, y_test: np.ndarray,
                        steps: Sequence[int] = (10, 6, 4, 2), repeat: int = 5) -> list[dict[str, Any]]:
    """Accuracy and latency of a T-step-trained network run at fewer steps.

    Threshold adjustment (Replay4NCL: fewer steps, lower threshold): per T',
    the threshold whose last-layer spike rate on unlabelled calibration
    samples is closest to the rate at the trained T.
    """
    net = learner.net.eval()
    T0, v0 = net.T, float(net.nodes[0].v_threshold)
    ref = last_rate(learner, X_calib)
    one = X_test[:1]
    rows = []
    try:
        for T in steps:
            net.T = int(T)
            set_threshold(net, v0)
            acc_plain = accuracy(learner, X_test, y_test)

            def rate_gap(v: float) -> float:
                set_threshold(net, v * v0)
                return abs(last_rate(learner, X_calib) - ref)

            best = min(THRESHOLDS, key=rate_gap)
            set_threshold(net, best * v0)
            rows.append({"T": int(T), "threshold": best * v0, "acc_no_adjust": acc_plain,
                         "acc": accuracy(learner, X_test, y_test),
                         "batch_ms": 1e3 * median_time(lambda: learner.predict_proba(X_test), repeat),
                         "one_ms": 1e3 * median_time(lambda: learner.predict_proba(one), 4 * repeat)})
    finally:
        net.T = T0
        set_threshold(net, v0)
    return rows


# ----------------------------------------------------------------------- INT8
def snn_int8(learner, X_test: np.ndarray, y_test: np.ndarray, repeat: int = 5) -> dict[str, float]:
    """Dynamic INT8 quantisation of the SNN's Linear layers (weights int8, activations quantised per call)."""
    from torch.ao.quantization import quantize_dynamic

    q = learner_from_state(learner.state_dict())
    q.net = quantize_dynamic(q.net.eval(), {nn.Linear}, dtype=torch.qint8)
    t_fp = median_time(lambda: learner.predict_proba(X_test), repeat)
    t_q = median_time(lambda: q.predict_proba(X_test), repeat)
    one = X_test[:1]
    return {"acc_fp32": accuracy(learner, X_test, y_test), "acc_int8": accuracy(q, X_test, y_test),
            "fp32_ms": 1e3 * t_fp, "int8_ms": 1e3 * t_q, "speedup": ratio(t_fp, t_q),
            "one_speedup": ratio(median_time(lambda: learner.predict_proba(one), 4 * repeat),
                                 median_time(lambda: q.predict_proba(one), 4 * repeat))}
