"""chhnn-bench perf: the pure parts (energy arithmetic, ratios, keys), the
SNN simulation variants on real networks, and the camera's cheap sources.
Nothing here is timed."""

from __future__ import annotations

import json
import math
import signal

import numpy as np
import pytest
import torch

from chhnn_ros.bench import perf, perf_encoders, perf_models
from chhnn_ros.bench.report import jsonable, machine_info
from chhnn_ros.learning.snn import SpikingMLP
from chhnn_ros.perception.encoders.base import Encoder


def test_energy_from_known_spike_counts():
    e = perf_models.energy_estimate(10, (4, 3), 2, T=5, spikes=[6.0, 2.0], extra_macs=100)
    assert e["ann_macs"] == 10 * 4 + 4 * 3 + 3 * 2
    assert e["sops"] == 6 * 3 + 2 * 2  # spikes x fan-out (next layer, then head)
    assert e["snn_pj"] == pytest.approx(40 * 4.6 + 22 * 0.9)
    assert e["ann_pj"] == pytest.approx(58 * 4.6)
    assert e["energy_ratio"] == pytest.approx((40 * 4.6 + 22 * 0.9) / (58 * 4.6))
    assert e["spiking_layers_ratio"] == pytest.approx(22 * 0.9 / (18 * 4.6))
    assert e["spike_rates"] == pytest.approx([6 / 20, 2 / 15])
    assert e["with_prior_ratio"] == pytest.approx((40 * 4.6 + 22 * 0.9 + 460) / (58 * 4.6))


def test_ratio_never_invents_a_number():
    assert perf_models.ratio(3.0, 1.5) == 2.0
    assert math.isnan(perf_models.ratio(1.0, 0.0))


def _net_and_input(kind="lif"):
    net = SpikingMLP(12, (16, 8), n_out=3, neuron=kind, T=6, seed=0).eval()
    x = torch.rand(5, 12) * 3
    masks = [(torch.rand(5, 16) < 0.5).float(), (torch.rand(5, 8) < 0.5).float()]
    return net, x, masks


def test_step_by_step_loop_equals_multistep_on_the_same_weights():
    net, x, masks = _net_and_input()
    with torch.no_grad():
        assert torch.equal(perf_models.stepwise_logits(net, x, masks), net(x, masks))
    assert all(node.step_mode == "m" for node in net.nodes)  # restored


def test_spike_counts_from_hooks_match_the_spike_tensors():
    net, x, masks = _net_and_input()
    counts = perf_models.count_spikes(net, x, masks)
    with torch.no_grad():
        spikes = net.hidden_spikes(x, masks)
    assert counts == pytest.approx([float(s.sum()) / len(x) for s in spikes])
    assert not net.nodes[0]._forward_hooks  # hooks removed


def test_psn_is_a_selectable_neuron_and_trains():
    net, x, masks = _net_and_input("psn")
    net.train()
    torch.nn.functional.cross_entropy(net(x, masks), torch.tensor([0, 1, 2, 0, 1])).backward()
    assert net.fcs[0].weight.grad.abs().sum() > 0 and net.nodes[0].weight.grad is not None


def _blobs(n_per=20, dim=16, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)) * 3
    X = np.concatenate([c + rng.normal(size=(n_per, dim)) for c in centres]).astype(np.float32)
    y = np.repeat(np.arange(classes), n_per)
    return X, y


def test_model_parts_give_every_key_and_valid_json(tmp_path):
    X, y = _blobs()
    learner = perf_models.train_incremental(X[::2], y[::2], teach=10, hidden=(16, 16), T=4, steps=3)
    X_te, y_te = X[1::2], y[1::2]
    acc = perf_models.accuracy(learner, X_te, y_te)
    assert perf_models.stepwise_accuracy(learner, X_te, y_te) == acc
    speed = perf_models.snn_speed(16, (16, 16), 3, T=4, batch=8, repeat=1)
    assert speed["max_abs_logit_diff"] == 0.0 and speed["speedup_multistep"] > 0
    steps = perf_models.time_step_reduction(learner, X[:20], X_te, y_te, steps=(4, 2), repeat=1)
    assert [r["T"] for r in steps] == [4, 2] and learner.net.T == 4
    assert all(node.v_threshold == 1.0 for node in learner.net.nodes)  # restored
    res = {"quick": True, "elapsed_s": 1.0, "machine": machine_info(), "models": {
        "snn_speed": speed, "energy": perf_models.snn_energy(learner, X_te), "time_steps": steps,
        "snn_accuracy": [{"lif_multistep": acc, "lif_stepwise": acc, "psn": acc - 0.5, "data": "blobs"}]}}
    summary = perf.headline(res)
    assert set(perf.GOALS) <= set(summary)
    assert summary["snn_parallel_variant"] == "multistep"  # PSN is 50 points worse: not eligible
    assert summary["snn_parallel_speedup"] == speed["speedup_multistep"]
    better = {**res, "models": {**res["models"], "snn_accuracy": [
        {"lif_multistep": 0.5, "lif_stepwise": 0.5, "psn": 0.52, "data": "blobs"}]}}
    expect = max(("multistep", "psn"), key=lambda k: speed[f"speedup_{k}"])
    assert perf.headline(better)["snn_parallel_variant"] == expect  # more accurate is not "outside 1 point"
    assert math.isnan(summary["overhead_ratio"]) and summary["energy_ratio"] > 0
    text = json.dumps(jsonable({**res, "summary": summary}))
    assert json.loads(text)["summary"]["overhead_ratio"] is None  # NaN is not valid JSON


class MeanColour(Encoder):
    """A tiny real encoder: per-channel means and stds of the crop."""

    dim, input_size = 6, 32

    def _embed(self, batch: np.ndarray) -> np.ndarray:
        x = batch.reshape(len(batch), -1, 3).astype(np.float32)
        return np.concatenate([x.mean(1), x.std(1)], axis=1) + 1.0


def test_teach_cost_on_sim_crops():
    pytest.importorskip("pybullet")
    frames = perf_encoders.sim_frames(3, seed=0, width=160, height=120)
    per = perf_encoders.frame_crops(frames)
    crops = [c for cs, _ in per for c in cs]
    labels = np.asarray([lab for _, ls in per for lab in ls], dtype=object)
    assert len(crops) == len(labels) > 0 and set(labels) <= set(perf_encoders.SCENE["objects"])
    enc = MeanColour()
    feats = enc.encode(crops)
    split = perf_encoders.teach_split(labels, 2)
    res, learner = perf_encoders.teach_cost(feats, crops, labels, split, {"mean": enc}, 1, hidden=(8, 8), steps=2)
    assert len(res["per_class"]) == len(set(labels)) == len(learner.classes_)
    assert all(r["views"] <= 2 for r in res["per_class"]) and res["ratio_mean"] > 0


def test_teach_split_and_ncm():
    labels = np.asarray(list("aabbbab"), dtype=object)
    assert perf_encoders.teach_split(labels, 2).tolist() == [True, True, True, True, False, False, False]
    F = np.eye(2, dtype=np.float32)[[0, 0, 1, 1]]
    y = np.asarray(["a", "a", "b", "b"], dtype=object)
    assert perf_encoders.ncm_accuracy(F, y, F, y) == 1.0


def test_camera_sources_process_and_cache():
    pytest.importorskip("rclpy")
    pytest.importorskip("pybullet")
    from chhnn_ros.app.factories import SIM_MODULE
    from chhnn_ros.perception.source_wrappers import CachedSource, ProcessSource
    from chhnn_ros.perception.sources import make_source

    kw = {"width": 96, "height": 64, "seed": 3, "n_objects": 2}
    ref = make_source("sim", **kw)
    expected = [ref.read().image for _ in range(3)]
    src = ProcessSource("sim", kw, SIM_MODULE)
    try:
        assert all(np.array_equal(src.read().image, e) for e in expected)  # the same frames
        src.scene.reset()
        ref.scene.reset()
        assert np.array_equal(src.read().image, ref.read().image)  # reset reached the child's scene
        src._proc.send_signal(signal.SIGINT)  # Ctrl-C reaches the whole process group
        src._proc.send_signal(signal.SIGTERM)
        assert src.read().image.shape == (64, 96, 3) and src._proc.poll() is None  # the parent decides
    finally:
        src.close()
    assert src._proc.poll() is not None
    cached = CachedSource(make_source("sim", **kw), 2)
    frames = [cached.read() for _ in range(4)]
    assert frames[2] is frames[0] and np.array_equal(frames[0].image, expected[0]) and cached.scene is None
    with pytest.raises(ValueError):
        ProcessSource("sim", {**kw, "width": 1}, SIM_MODULE)


def test_encoder_backend_choice():
    pytest.importorskip("rclpy")
    from chhnn_ros.app.factories import encoder_kind

    p = {"encoder": "efficientnet", "device": "cpu", "backend": "auto"}
    assert encoder_kind(p) == "efficientnet-onnx"  # onnxruntime is installed here
    assert encoder_kind({**p, "backend": "torch"}) == "efficientnet"
    assert encoder_kind({**p, "encoder": "clip"}) == "clip"
    assert encoder_kind({**p, "backend": "onnx", "device": "auto"}) == "efficientnet-onnx"


def test_direct_times_paced_at_the_camera_rate():
    """The direct baseline of overhead_ratio starts a frame every ``period`` s, as the camera does."""
    pytest.importorskip("pybullet")
    import time

    from chhnn_ros.app.knowledge import Knowledge
    from chhnn_ros.bench.perf_pipeline import direct_times

    frames = perf_encoders.sim_frames(3, seed=0, width=160, height=120)
    enc = MeanColour()
    per = perf_encoders.frame_crops(frames)
    knowledge = Knowledge("ncm", "", 0, "", False)
    crops = [c for cs, _ in per for c in cs]
    labels = np.asarray([lab for _, ls in per for lab in ls])
    for lab in set(labels):
        knowledge.teach(lab, enc.encode([c for c, y in zip(crops, labels) if y == lab]), "mean-colour")
    t0 = time.perf_counter()
    back_to_back = direct_times(frames, enc, knowledge, passes=1)
    t1 = time.perf_counter()
    paced = direct_times(frames, enc, knowledge, passes=2, period=0.1)
    t2 = time.perf_counter()
    assert len(back_to_back) == 3 and len(paced) == 6 and all(t > 0 for t in back_to_back + paced)
    assert t1 - t0 < 0.3 <= 0.6 <= t2 - t1  # paced: one frame every 0.1 s; the times exclude the waits
    assert max(paced) < 0.1
