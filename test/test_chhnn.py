"""CH-HNN learner: online class-incremental learning on real MNIST digits,
metaplasticity, masks, neurons and the prior-training command."""

from __future__ import annotations

import gzip
import os
import pickle

import numpy as np
import pytest
import torch

from chhnn_ros.learning.chhnn import CHHNN
from chhnn_ros.learning.metaplastic import MetaplasticAdam, meta_factor
from chhnn_ros.learning.prior import MaskPrior, load_prior
from chhnn_ros.learning.snn import SpikingMLP


def load_mnist_small() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Digits 0-5 of real MNIST: {digit: (60 train, 100 test)} float32 in [0, 1]."""
    import mnist

    path = os.path.join(os.path.dirname(mnist.__file__), "data", "mnist.pkl.gz")
    with gzip.open(path) as f:
        (xtr, ytr), _, (xte, yte) = pickle.load(f, encoding="latin1")
    return {c: (xtr[ytr == c][:60], xte[yte == c][:100]) for c in range(6)}


@pytest.fixture(scope="module")
def mnist_small() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    return load_mnist_small()


def _acc(learner: CHHNN, x: np.ndarray, c: int) -> float:
    return float((learner.predict(x) == c).mean())


def test_learns_new_classes_online_and_keeps_old(mnist_small):
    torch.set_num_threads(1)
    ln = CHHNN(784, seed=0, T=6, steps=15)
    for c in (0, 1, 2, 3):  # earlier classes, one teach of 20 views at a time
        for k in range(0, 60, 20):
            ln.partial_fit(mnist_small[c][0][k : k + 20], c)
    before = {c: _acc(ln, mnist_small[c][1], c) for c in (0, 1, 2, 3)}
    for c in (4, 5):  # two new classes, taught online
        for k in range(0, 60, 20):
            ln.partial_fit(mnist_small[c][0][k : k + 20], c)
    after = {c: _acc(ln, mnist_small[c][1], c) for c in range(6)}
    assert ln.classes_ == [0, 1, 2, 3, 4, 5]
    assert after[4] > 0.6 and after[5] > 0.6, after  # chance is 1/6
    old_before = np.mean([before[c] for c in (0, 1, 2, 3)])
    old_after = np.mean([after[c] for c in (0, 1, 2, 3)])
    assert old_before > 0.8, before
    assert old_after > old_before - 0.15, (before, after)


def test_single_sample_prediction_matches_batch(mnist_small):
    ln = CHHNN(784, seed=1, T=4, steps=3)
    ln.partial_fit(mnist_small[0][0][:10], "zero").partial_fit(mnist_small[1][0][:10], "one")
    x = mnist_small[0][1][:8]
    batch = ln.predict_proba(x)
    single = np.vstack([ln.predict_proba(x[i]) for i in range(len(x))])
    np.testing.assert_allclose(batch, single, atol=1e-5)


def test_first_class_is_usable_at_once_and_grows_exactly(mnist_small):
    ln = CHHNN(784, seed=0, T=4, steps=3)
    ln.partial_fit(mnist_small[3][0][:5], "three")
    assert ln.predict(mnist_small[3][1][:3]).tolist() == ["three"] * 3
    assert ln.net.n_out == 1
    ln.partial_fit(mnist_small[4][0][:5], "four")
    assert ln.net.n_out == 2 and ln.predict_proba(mnist_small[4][1][:2]).shape == (2, 2)


def test_meta_factor_damps_only_shrinking_updates():
    w = torch.tensor([0.5, -0.5, 0.5, -0.5])
    update = torch.tensor([1.0, -1.0, -1.0, 1.0])  # subtracted: first two shrink |w|, last two grow it
    f = meta_factor(w, update, m=2.0)
    expected = float(np.exp(-1.0))
    assert f.tolist() == pytest.approx([expected, expected, 1.0, 1.0])


def test_metaplasticity_reduces_weight_drift():
    """Same gradients, same start: with m > 0 consolidated weights move less."""
    torch.manual_seed(0)
    drift = {}
    for m in (0.0, 15.0):
        w = torch.nn.Parameter(torch.linspace(-0.3, 0.3, 101))
        w0 = w.detach().clone()
        opt = MetaplasticAdam([{"params": [w], "meta": m}], lr=0.01, betas=(0.9, 0.0))
        for _ in range(20):
            w.grad = torch.sign(w.detach()) * 0.5  # a push toward zero on every weight
            opt.step()
        drift[m] = float((w.detach() - w0).abs().mean())
        if m:
            assert opt.last_scaled_fraction > 0.9
    assert drift[15.0] < 0.5 * drift[0.0]


def test_metaplasticity_ablation_changes_training(mnist_small):
    states = {}
    for meta in (0.0, 15.0):
        ln = CHHNN(784, seed=0, T=4, steps=5, meta=meta)
        ln.partial_fit(mnist_small[0][0][:20], 0).partial_fit(mnist_small[1][0][:20], 1)
        states[meta] = ln.net.fcs[0].weight.detach().clone()
    assert not torch.allclose(states[0.0], states[15.0])


@pytest.mark.parametrize("kind", ["if", "lif", "eif"])
def test_every_neuron_trains_its_first_layer(kind):
    """The published code never trained fc1 under EIF (no surrogate)."""
    net = SpikingMLP(16, (32, 32), n_out=3, neuron=kind, T=4, seed=0)
    x = torch.rand(8, 16) * 3
    torch.nn.functional.cross_entropy(net(x), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])).backward()
    assert net.fcs[0].weight.grad.abs().sum() > 0


def test_masked_units_never_spike():
    net = SpikingMLP(16, (32, 32), n_out=2, T=8, seed=0)
    x = torch.rand(4, 16) * 5
    masks = [torch.zeros(4, 32), torch.ones(4, 32)]
    masks[0][:, :16] = 1
    spikes = net.hidden_spikes(x, masks)
    assert spikes[0][:, :, 16:].sum() == 0
    assert spikes[0][:, :, :16].sum() > 0


def test_prior_masks_are_half_on_and_sample_specific():
    prior = MaskPrior(20, (32, 16), seed=0)
    m = prior.masks(torch.randn(50, 20))
    assert [t.shape for t in m] == [(50, 32), (50, 16)]
    frac = float(torch.cat(m, 1).mean())
    assert 0.3 < frac < 0.7
    assert not torch.equal(m[0][0], m[0][1])


@pytest.mark.parametrize("gate", [1, 3, 5, 9])
def test_prior_masks_are_the_argmax_rule_and_follow_weight_changes(gate):
    """A unit is on iff the argmax of its K head values is among the first ``gate`` (the published
    rule), also after the head weights change (the reordered copy must not go stale)."""
    prior = MaskPrior(20, (32, 16), k=10, seed=0)
    x = torch.randn(40, 20)

    def reference() -> list[torch.Tensor]:
        z = prior.trunk(x)
        return [(head(z).view(40, h, 10).argmax(-1) < gate).float() for head, h in zip(prior.heads, (32, 16))]

    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(prior.masks(x, gate), reference()))
        for head in prior.heads:
            head.weight.mul_(-1.0)
            head.bias.add_(0.3)
        assert all(torch.equal(a, b) for a, b in zip(prior.masks(x, gate), reference()))


def test_prior_command_trains_and_saves(tmp_path):
    from chhnn_ros.cli.prior import main

    out = tmp_path / "prior.pt"
    assert main(["train", "--data", "glyphs", "--per-class", "6", "--epochs", "1",
                 "--hidden", "32,32", "--out", str(out), "--quiet"]) == 0
    prior = load_prior(out)
    assert prior.config["layer_sizes"] == [32, 32] and prior.config["dim"] == 784
    assert prior.trained_on["data"] == "glyphs28" and "0" not in prior.trained_on["classes"]
    ln = CHHNN(784, hidden=(32, 32), prior=str(out), T=2, steps=1)
    assert ln.prior_source.startswith("file:")
    assert main(["info", str(out)]) == 0


def test_bad_prior_files_give_clear_errors(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read prior"):
        CHHNN(784, prior=str(bad))
    with pytest.raises(FileNotFoundError):
        CHHNN(784, prior=str(tmp_path / "missing.pt"))
    with pytest.raises(ValueError, match="dim"):
        CHHNN(10, prior=str(_tiny_prior(tmp_path)))


def _tiny_prior(tmp_path):
    from chhnn_ros.learning.prior import save_prior

    path = tmp_path / "p784.pt"
    save_prior(MaskPrior(784, (256, 256)), path)
    return path


def test_teach_stops_early_once_the_batch_is_learned(mnist_small):
    """A class already learned gets min_steps updates; min_steps = steps restores the fixed count.
    A teach that brings a new class trains for new_min_steps..new_steps."""
    torch.set_num_threads(1)
    ln = CHHNN(784, seed=0, T=4, steps=20, min_steps=2, new_steps=12, new_min_steps=5)
    ln.partial_fit(mnist_small[0][0][:20], 0).partial_fit(mnist_small[1][0][:20], 1)
    assert 5 <= ln.last_steps <= 12
    for k in range(5):  # 0 vs 1 is easy: re-teaching a learned class stops at min_steps
        ln.partial_fit(mnist_small[1][0][20 + 8 * k: 40 + 8 * k], 1)
    assert ln.last_steps == 2
    fixed = CHHNN(784, seed=0, T=4, steps=6, min_steps=6, new_steps=6, new_min_steps=6)
    fixed.partial_fit(mnist_small[0][0][:20], 0).partial_fit(mnist_small[1][0][:20], 1)
    assert fixed.last_steps == 6
    with pytest.raises(ValueError, match="min_steps"):
        CHHNN(784, min_steps=-1)
    with pytest.raises(ValueError, match="stop_margin"):
        CHHNN(784, stop_margin=1.0)
    # A margin asks for more than being right: the same re-teach runs more steps.
    sure = CHHNN(784, seed=0, T=4, steps=20, min_steps=2, stop_margin=0.9, new_steps=20, new_min_steps=2)
    sure.partial_fit(mnist_small[0][0][:20], 0).partial_fit(mnist_small[1][0][:20], 1)
    sure.partial_fit(mnist_small[1][0][20:40], 1)
    assert sure.last_steps > 2


def test_mask_density_grading_and_layers():
    """mask_gate sets the active fraction, mask_floor grades the masks, mask_layers picks the gated layers."""
    ln = CHHNN(784, seed=0, T=2, steps=1, mask_gate=5)
    x = torch.rand(200, 784)
    dense = CHHNN(784, seed=0, T=2, steps=1, mask_gate=8)._masks(x)
    assert [float(m.mean()) for m in ln._masks(x)] == pytest.approx([0.5, 0.5], abs=0.1)
    assert [float(m.mean()) for m in dense] == pytest.approx([0.8, 0.8], abs=0.1)
    graded = CHHNN(784, seed=0, T=2, steps=1, mask_gate=5, mask_floor=0.25)._masks(x)
    assert set(torch.unique(graded[0]).tolist()) == {0.25, 1.0}
    assert torch.equal(graded[0] == 1.0, ln._masks(x)[0] == 1.0)
    second = CHHNN(784, seed=0, T=2, steps=1, mask_gate=5, mask_layers=[1])._masks(x)
    assert second[0] is None and torch.equal(second[1], ln._masks(x)[1])
    for bad in ({"mask_gate": 10}, {"mask_floor": 1.0}, {"mask_layers": [2]}, {"meta_layers": "fc"}):
        with pytest.raises(ValueError):
            CHHNN(784, **bad)


def test_meta_layers_choose_the_guarded_weights():
    ln = CHHNN(64, seed=0, T=2, steps=1, prior="none", meta_layers="head")
    guarded = ln._optimizer().param_groups[0]["params"]
    assert len(guarded) == 1 and guarded[0] is ln.net.head.weight
    hidden = CHHNN(64, seed=0, T=2, steps=1, prior="none", meta_layers="hidden")._optimizer().param_groups[0]["params"]
    assert len(hidden) == 2


def test_consolidation_builds_the_known_ness_factors_the_next_frames_use(mnist_small):
    torch.set_num_threads(1)
    ln = CHHNN(784, seed=0, T=2, new_min_steps=1, new_steps=2, consolidate_steps=2)
    for c in (0, 1, 2):
        ln.partial_fit(mnist_small[c][0][:20], c)
    assert ln.memory._stacked is None  # a teach changes the class statistics: nothing cached
    assert ln.consolidate() == 2
    assert ln.memory._stacked is not None
    x = mnist_small[0][1][:5]
    np.testing.assert_allclose(ln.memory.loglik(x)[:, ::-1], ln.memory.loglik(x, [2, 1, 0]), rtol=1e-12)


def _weights_equal(a: CHHNN, b: CHHNN) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.net.state_dict().values(), b.net.state_dict().values()))


@pytest.mark.parametrize("memory", ["stats", "exemplars"])
def test_next_teach_drawn_at_rest_learns_exactly_what_a_teach_without_it_learns(mnist_small, memory):
    """Consolidation draws the old classes' rows (and masks) of the next teach of a new class; the teach
    takes them, and learns bit for bit what a copy without them (a loaded state) learns."""
    torch.set_num_threads(1)
    ln = CHHNN(784, seed=0, T=2, new_min_steps=2, new_steps=6, consolidate_steps=2, memory=memory)
    for c in (0, 1, 2):
        ln.partial_fit(mnist_small[c][0][:20], c)
        ln.consolidate()
    assert ln._plan is not None and len(ln._plan.draws) == 2
    fresh = CHHNN(784, seed=0, T=2, new_min_steps=2, new_steps=6, consolidate_steps=2, memory=memory)
    fresh.load_state_dict(ln.state_dict())
    assert fresh._plan is None
    planned = ln.clone()
    assert planned._plan is ln._plan  # shared, never written
    for learner in (planned, fresh):
        learner.partial_fit(mnist_small[3][0][:20], 3)
    assert planned.last_steps == fresh.last_steps and _weights_equal(planned, fresh)
    # The teach really takes the plan: the same plan with other rows learns something else.
    poisoned = ln.clone()
    plan = poisoned._plan
    poisoned._plan = type(plan)(plan.key, tuple(type(d)(d.x[::-1].copy(), d.y[::-1].copy(), d.masks)
                                                 for d in plan.draws), plan.rng)
    poisoned.partial_fit(mnist_small[3][0][:20], 3)
    assert not _weights_equal(poisoned, fresh)
    # A plan is for one new class on the memory it was drawn from: after any change it is not used.
    changed, changed_fresh = ln.clone(), CHHNN(784, seed=0, T=2, new_min_steps=2, new_steps=6, memory=memory)
    changed_fresh.load_state_dict(ln.state_dict())
    for learner in (changed, changed_fresh):
        learner.memory.add(0, mnist_small[0][0][20:25])
        learner.partial_fit(mnist_small[3][0][:20], 3)
    assert _weights_equal(changed, changed_fresh)
    retaught = ln.clone()
    retaught.partial_fit(mnist_small[1][0][20:40], 1)
    assert ln._plan.key != retaught._old_stream([1], 3)[0]


def test_consolidation_replays_known_classes_without_changing_them(mnist_small):
    torch.set_num_threads(1)
    ln = CHHNN(784, seed=0, T=4, new_min_steps=2, new_steps=5, consolidate_steps=0)
    ln.partial_fit(mnist_small[0][0][:20], 0)
    assert ln.consolidate(5) == 0  # one class: nothing to balance
    for c in (1, 2, 3):
        ln.partial_fit(mnist_small[c][0][:20], c)
    assert ln.consolidate() == 0  # consolidate_steps 0: off
    with pytest.raises(ValueError, match="steps"):
        ln.consolidate(-1)
    x_test = np.concatenate([mnist_small[c][1] for c in range(4)])
    y_test = np.repeat(np.arange(4), 100)
    before = float((ln.predict(x_test) == y_test).mean())
    other = ln.clone()
    head = ln.net.head.weight.detach().clone()
    threshold, memory_n = ln.threshold(), list(ln.memory.n)
    assert ln.consolidate(30) == 30
    after = float((ln.predict(x_test) == y_test).mean())
    assert not torch.equal(head, ln.net.head.weight)  # it trained ...
    # ... on the known classes only: the class list, the class memory and the open-set threshold stay
    assert ln.classes_ == [0, 1, 2, 3] and ln.memory.n == memory_n and ln.threshold() == threshold
    # teaches stopped after 2-5 steps leave the classes unbalanced; replay rebalances them (measured:
    # 0.82 -> 0.91, 0.86 -> 0.93, 0.80 -> 0.92 for seeds 0-2)
    assert after >= before + 0.03, (before, after)
    assert other.consolidate(30) == 30  # deterministic: the same state consolidates the same way
    np.testing.assert_array_equal(other.predict_proba(x_test), ln.predict_proba(x_test))
    restored = CHHNN(784, seed=0, T=4, new_min_steps=2, new_steps=5, consolidate_steps=0)
    restored.load_state_dict(ln.state_dict())
    assert restored.n_consolidations == ln.n_consolidations == 1


def test_prototype_vote_multiplies_the_snn_probabilities(mnist_small):
    """predict_proba is the SNN's softmax times the softmax of the class-mean vote, renormalised; the
    vote alone ranks the test digits by their class memory's means; weight 0 leaves the SNN alone."""
    torch.set_num_threads(1)
    snn, fused = (CHHNN(784, seed=0, T=4, new_steps=5, prototype_weight=w) for w in (0.0, 1.0))
    for ln in (snn, fused):
        ln.partial_fit(mnist_small[0][0][:20], 0)
        assert ln._prototype_logits(mnist_small[0][1]) is None  # one class: nothing to vote on
        for c in (1, 2, 3):
            ln.partial_fit(mnist_small[c][0][:20], c)
    x_test = np.concatenate([mnist_small[c][1] for c in range(4)])
    y_test = np.repeat(np.arange(4), 100)
    p_snn, p_fused = snn.predict_proba(x_test), fused.predict_proba(x_test)
    vote = torch.log_softmax(fused._prototype_logits(x_test), 1).double().numpy()
    gap = np.log(p_fused) - np.log(p_snn) - vote  # a per-row constant: the renormalisation
    np.testing.assert_allclose(gap - gap[:, :1], 0.0, atol=1e-4)
    assert float((vote.argmax(1) == y_test).mean()) > 0.7  # the means alone classify the digits
    assert not np.allclose(p_fused, p_snn)
    with pytest.raises(ValueError, match="prototype_weight"):
        CHHNN(784, prototype_weight=-1.0)
