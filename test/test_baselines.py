"""Behaviour of the baseline learners on real data (sklearn digits, 5 steps × 2 classes).

The stream is the robot's protocol: teaches of 20 samples of one class, the
classes of a step interleaved, every training sample used once.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import chhnn_ros.learning.baselines  # noqa: F401 - registers the baselines
from chhnn_ros.learning.base import Learner
from chhnn_ros.learning.registry import make_learner

torch.set_num_threads(1)
STEPS = [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
TEACH = 20


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return tuple(train_test_split(X, y, test_size=0.3, stratify=y, random_state=0))  # type: ignore[return-value]


def teach_step(learner: Learner, X: np.ndarray, y: np.ndarray, classes: list[int], task: int | None = None,
               seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    chunks = {c: np.array_split(rng.permutation(np.flatnonzero(y == c)), max(1, (y == c).sum() // TEACH))
              for c in classes}
    for r in range(max(len(v) for v in chunks.values())):
        for c in classes:
            if r < len(chunks[c]):
                learner.partial_fit(X[chunks[c][r]], c, task=task)


def accuracy(learner: Learner, X: np.ndarray, y: np.ndarray, classes: list[int], task: int | None = None) -> float:
    m = np.isin(y, classes)
    return float(np.mean(learner.predict(X[m], task=task) == y[m]))


def run(name: str, data: tuple, steps: list[list[int]] = STEPS, **kw: object) -> Learner:
    Xtr, _, ytr, _ = data
    learner = make_learner(name, dim=Xtr.shape[1], seed=0, **kw)
    for classes in steps:
        teach_step(learner, Xtr, ytr, classes)
    return learner


@pytest.mark.parametrize("name", ["ncm", "slda"])
def test_prototype_learners_reach_good_class_il_accuracy(name: str, data: tuple) -> None:
    _, Xte, _, yte = data
    learner = run(name, data)
    assert learner.classes_ == list(range(10))
    assert accuracy(learner, Xte, yte, list(range(10))) > 0.85


def test_ncm_means_and_slda_covariance_are_exact(data: tuple) -> None:
    Xtr, _, ytr, _ = data
    ncm, slda = run("ncm", data, STEPS[:2]), run("slda", data, STEPS[:2])
    classes = [0, 1, 2, 3]
    means = np.stack([Xtr[ytr == c].mean(0) for c in classes])
    np.testing.assert_allclose(ncm.means.numpy(), means, atol=1e-6)
    np.testing.assert_allclose(slda.means.numpy(), means, atol=1e-6)
    # Pooled within-class scatter computed in one go equals the streamed one.
    scatter = sum((Xtr[ytr == c] - means[i]).T.astype(np.float64) @ (Xtr[ytr == c] - means[i])
                  for i, c in enumerate(classes))
    np.testing.assert_allclose(slda.scatter.numpy(), scatter, rtol=1e-6, atol=1e-6)
    assert slda.n_seen == int(np.isin(ytr, classes).sum())


def test_finetune_forgets_while_replay_and_slda_do_not(data: tuple) -> None:
    _, Xte, _, yte = data
    first = STEPS[0]
    old = {name: accuracy(run(name, data), Xte, yte, first) for name in ("finetune", "replay", "slda")}
    assert old["finetune"] < 0.2, old  # catastrophic forgetting: step-0 classes are no longer recognised
    assert old["replay"] > 0.8, old
    assert old["slda"] > 0.9, old


def _drift(learner: Learner, before: dict[str, torch.Tensor]) -> float:
    return float(sum(((p.detach() - before[k]) ** 2).sum() for k, p in learner.net.named_parameters()
                     if k.startswith("fcs")) ** 0.5)


@pytest.mark.parametrize("name", ["ewc", "si"])
def test_regularisers_penalise_and_reduce_drift(name: str, data: tuple) -> None:
    Xtr, _, ytr, _ = data
    drift = {}
    for method in (name, "finetune"):
        learner = run(method, data, STEPS[:1])
        before = {k: p.detach().clone() for k, p in learner.net.named_parameters()}
        teach_step(learner, Xtr, ytr, STEPS[1])
        drift[method] = _drift(learner, before)
        if method == name:
            assert learner.penalty() > 0  # the boundary (new label 2) consolidated non-zero importance
            anchors = learner.buffers["anchor"]
            assert anchors["head.weight"].shape == learner.net.head.weight.shape
    assert drift[name] < 0.8 * drift["finetune"], drift


def test_lwf_distills_old_outputs(data: tuple) -> None:
    learner = run("lwf", data, STEPS[:2])
    assert learner.old is not None and learner.old.n_out == 3  # snapshot taken when label 3 arrived
    assert learner.last_distill > 0


def test_replay_keeps_a_fixed_class_balanced_budget(data: tuple) -> None:
    learner = run("replay", data, STEPS, budget=100)
    sizes = [len(s) for s in learner.memory.buffers]
    assert sum(sizes) <= 100 and max(sizes) <= 10 and min(sizes) == 10
    assert learner.memory_bytes_per_class() == pytest.approx(100 * 64 * 4 / 10)


def test_xdg_gates_and_task_il_accuracy(data: tuple) -> None:
    Xtr, Xte, ytr, yte = data
    learner = make_learner("xdg", dim=64, seed=0)
    for t, classes in enumerate(STEPS):
        teach_step(learner, Xtr, ytr, classes, task=t)
    g0, g1 = learner.gates(0), learner.gates(1)
    assert all(int(g.sum()) == round(0.2 * g.numel()) for g in g0)
    assert any(not torch.equal(a, b) for a, b in zip(g0, g1))
    proba = learner.predict_proba(Xte[:5], task=0)
    assert np.all(proba[:, 2:] == 0)  # multi-head: only the classes of task 0
    accs = [accuracy(learner, Xte, yte, classes, task=t) for t, classes in enumerate(STEPS)]
    assert np.mean(accs) > 0.8, accs


def test_latent_replay_stores_compressed_spikes_and_protects_old_classes(data: tuple) -> None:
    _, Xte, _, yte = data
    learner = run("latent-replay", data)
    cfg = learner.config
    H = cfg["hidden"][learner.layer]
    assert cfg["T_replay"] < cfg["T"]
    for buf in learner.memory.buffers:
        assert buf.dtype == torch.uint8 and buf.shape[1] == (cfg["T_replay"] * H + 7) // 8
    spikes = learner._unpack(learner.memory.buffers[0][:3])
    assert spikes.shape == (cfg["T_replay"], 3, H) and set(spikes.unique().tolist()) <= {0.0, 1.0}
    stored = np.mean([len(s) for s in learner.memory.buffers])
    assert learner.memory_bytes_per_class() < stored * 64 * 4  # below raw float32 features of the same samples
    baseline = run("finetune-snn", data)
    old_lr, old_ft = accuracy(learner, Xte, yte, STEPS[0]), accuracy(baseline, Xte, yte, STEPS[0])
    assert old_ft < 0.2 and old_lr > 0.6, (old_lr, old_ft)
    assert accuracy(learner, Xte, yte, list(range(10))) > 0.6


def test_joint_equals_one_offline_fit_on_everything(data: tuple) -> None:
    """The cumulative reference: after the stream it predicts exactly what one logistic
    regression fitted offline on all taught samples predicts, whatever the teach order."""
    from sklearn.linear_model import LogisticRegression

    Xtr, Xte, ytr, yte = data
    joint = run("joint", data)
    assert joint._model is None  # retrained lazily, on the first query after new data
    offline = LogisticRegression(max_iter=300).fit(Xtr, ytr)
    assert (joint.predict(Xte) == offline.predict(Xte)).mean() > 0.99
    assert accuracy(joint, Xte, yte, STEPS[0]) > 0.9  # the first step's classes are not forgotten
    joint.forget(0)
    assert 0 not in set(joint.predict(Xte)) and len(joint.X) == int((ytr != 0).sum())
