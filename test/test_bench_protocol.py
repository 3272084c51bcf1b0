"""The run loop: teach schedule, evaluation per scenario, skipping."""

from typing import Any

import numpy as np
import pytest

from chhnn_ros.bench import metrics
from chhnn_ros.bench.protocol import evaluate, run_benchmark, run_seed, teach_batches
from chhnn_ros.bench.streams import load_stream
from chhnn_ros.learning import registry
from chhnn_ros.learning.base import Learner, softmax
from chhnn_ros.perception.frontends import pixels


class MeanLearner(Learner):
    """Nearest class mean with running means: a real (if simple) online learner."""

    name = "test-mean"

    def __init__(self, dim: int, seed: int = 0) -> None:
        super().__init__(dim, seed)
        self.sums = np.zeros((0, dim))
        self.counts = np.zeros(0)
        self.calls: list[tuple[int, int | None]] = []  # (batch size, task) of every partial_fit

    def _fit(self, X, idx, task):
        self.calls.append((len(X), task))
        grow = len(self.classes_) - len(self.counts)
        self.sums = np.vstack([self.sums, np.zeros((grow, self.dim))])
        self.counts = np.concatenate([self.counts, np.zeros(grow)])
        np.add.at(self.sums, idx, X)
        np.add.at(self.counts, idx, 1)

    def _scores(self, X):
        means = self.sums / self.counts[:, None]
        return -((X[:, None, :] - means[None]) ** 2).sum(-1)

    def _proba(self, X, task):
        return softmax(self._scores(X))

    def _forget(self, index):
        self.sums = np.delete(self.sums, index, 0)
        self.counts = np.delete(self.counts, index)

    def _get_state(self) -> dict[str, Any]:
        return {"sums": self.sums, "counts": self.counts}

    def _set_state(self, state, classes):
        self.sums, self.counts = state["sums"], state["counts"]

    def memory_bytes_per_class(self) -> float:
        return float(self.dim * 8 + 8)


class RecencyLearner(MeanLearner):
    """Class means plus a huge bonus for the newest class: forgets everything in
    class-IL, yet is accurate when the argmax is restricted to one task's classes."""

    name = "test-recency"

    def _proba(self, X, task):
        p = 0.4 * softmax(self._scores(X))  # keeps the order of the other classes (no underflow to 0)
        p[:, -1] += 0.6
        return p


class TaskLearner(MeanLearner):
    name = "test-task"
    needs_task = True


class BrokenLearner(MeanLearner):
    name = "test-broken"

    def _fit(self, X, idx, task):
        if len(self.classes_) > 2:
            raise RuntimeError("diverged")
        super()._fit(X, idx, task)


@pytest.fixture
def learners(monkeypatch):
    for cls in (MeanLearner, RecencyLearner, TaskLearner, BrokenLearner):
        monkeypatch.setitem(registry._REGISTRY, cls.name, cls)


@pytest.fixture(scope="module")
def mnist():
    s = load_stream("split-mnist", classes_per_step=2, train_per_class=45, test_per_class=40)
    return s, pixels(s.x_train), pixels(s.x_test)


def test_teach_batches_are_single_class_round_robin_and_use_every_sample_once():
    y = np.array([0] * 45 + [1] * 20 + [7] * 3)
    idx = np.arange(len(y))
    batches = teach_batches(y, idx, [0, 1, 7], 20, np.random.default_rng(0))
    labels = [int(y[b[0]]) for b in batches]
    assert labels == [0, 1, 7, 0, 0]
    assert [len(b) for b in batches] == [20, 20, 3, 20, 5]
    assert all(len(set(y[b])) == 1 for b in batches)
    assert sorted(np.concatenate(batches).tolist()) == idx.tolist()
    with pytest.raises(ValueError):
        teach_batches(y, idx, [0], 0, np.random.default_rng(0))


def test_class_il_run(learners, mnist):
    stream, Xtr, Xte = mnist
    run = run_seed("test-mean", 0, stream, Xtr, Xte, "class-il", teach_size=20)
    A = run.acc
    assert np.isnan(A[np.triu_indices(5, 1)]).all() and not np.isnan(A[np.tril_indices(5)]).any()
    assert A[0, 0] > 95  # 0 vs 1 with class means
    assert 60 < metrics.final_acc(A) < 95
    # 5 steps × 2 classes × ceil(45 / 20) = 30 teaches, each of one class and ≤ 20 samples.
    assert len(run.update_ms) == 30 and all(t >= 0 for t in run.update_ms)
    assert run.bytes_per_class == 784 * 8 + 8


def test_task_il_restricts_columns_to_the_task(learners, mnist):
    stream, Xtr, Xte = mnist
    cil = run_seed("test-recency", 0, stream, Xtr, Xte, "class-il", teach_size=20).acc
    til = run_seed("test-recency", 0, stream, Xtr, Xte, "task-il", teach_size=20).acc
    # Class-IL: always predicts the newest class → old steps 0 %, current step = its newest class only (50 %).
    assert np.allclose(cil[-1, :-1], 0.0) and cil[-1, -1] == 50.0
    # Task-IL: the same model is accurate once the argmax is limited to each step's pair of digits.
    # (the last step still holds the newest class, which wins its pair as in class-IL).
    assert til[-1, :-1].min() > 85 and til[-1, -1] == 50.0
    assert metrics.final_acc(til) > metrics.final_acc(cil) + 50
    assert np.isnan(til[0, 1:]).all()


def test_needs_task_learner_gets_step_ids_and_is_skipped_in_class_il(learners, mnist, monkeypatch):
    stream, Xtr, Xte = mnist
    seen: list[TaskLearner] = []
    orig = registry.make_learner

    def spy(name, **kw):
        learner = orig(name, **kw)
        seen.append(learner)
        return learner

    monkeypatch.setattr("chhnn_ros.bench.protocol.make_learner", spy)
    run = run_seed("test-task", 0, stream, Xtr, Xte, "task-il", teach_size=20)
    tasks = [t for _, t in seen[-1].calls]
    assert tasks == [k for k in range(5) for _ in range(6)]
    assert run.acc[-1].min() > 85
    runs, skipped = run_benchmark(["test-task", "test-mean"], [0], stream, Xtr, Xte, "class-il", 20, progress=False)
    assert "test-task" in skipped and "task ids" in skipped["test-task"]
    assert list(runs) == ["test-mean"]


def test_failing_method_is_skipped_not_crashed(learners, mnist):
    stream, Xtr, Xte = mnist
    runs, skipped = run_benchmark(["test-broken", "test-mean"], [0, 1], stream, Xtr, Xte, "class-il", 20,
                                  progress=False)
    assert "diverged" in skipped["test-broken"] and "step 1" in skipped["test-broken"]
    assert [r.seed for r in runs["test-mean"]] == [0, 1]
    assert "test-broken" not in runs


def test_domain_il_evaluates_the_full_matrix(learners):
    s = load_stream("permuted-mnist", train_per_class=30, test_per_class=20, n_permutations=3)
    Xtr, Xte = pixels(s.x_train), pixels(s.x_test)
    run = run_seed("test-mean", 0, s, Xtr, Xte, "domain-il", teach_size=10)
    assert not np.isnan(run.acc).any()
    assert run.acc[0, 0] > 60 and run.acc[0, 1] < 40  # an unseen permutation looks like noise
    assert len(run.update_ms) == 3 * 10 * 3


def test_evaluate_maps_unknown_labels_to_wrong(learners, mnist):
    stream, Xtr, Xte = mnist
    learner = registry.make_learner("test-mean", dim=784)
    learner.partial_fit(Xtr[stream.y_train == 0], 0)
    row = evaluate(learner, stream, Xte, "class-il", trained=0)
    assert row[0] == 50.0  # only digit 0 known: all zeros right, all ones wrong
    assert np.isnan(row[1:]).all()
