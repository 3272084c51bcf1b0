"""One conformance suite for every registered learner (CH-HNN and all baselines).

Runs on real data (sklearn's 8×8 digits, 64-d, scaled to [0, 1]) and checks
the contract of :class:`chhnn_ros.learning.base.Learner`: the class set
grows, probabilities are well formed, state dicts round-trip exactly (also
through ``torch.save``/``torch.load(weights_only=True)``), bad input raises
``ValueError`` and changes nothing, ``forget`` removes a class.  The open-set
part of the contract (``score_known`` / ``predict_open``) is in
test_openset.py.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from chhnn_ros.learning.base import Learner
from chhnn_ros.learning.registry import available, learner_from_state, make_learner

torch.set_num_threads(1)
NAMES = available()
DIM = 64
STR_DIGITS = {"cup": 3, "ball": 4, "mug": 8}


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def batch(data: tuple[np.ndarray, np.ndarray], label: int, n: int = 20, offset: int = 0) -> np.ndarray:
    X, y = data
    return X[y == label][offset : offset + n]


def kw(learner: Learner) -> dict[str, Any]:
    """Task-incremental learners get a task id (all classes of this suite are one task)."""
    return {"task": 0} if learner.needs_task else {}


def taught(name: str, data: tuple[np.ndarray, np.ndarray], labels: tuple[Any, ...] = (0, 1, 2),
           rounds: int = 1, seed: int = 0) -> Learner:
    learner = make_learner(name, dim=DIM, seed=seed)
    for r in range(rounds):
        for lab in labels:
            digit = lab if isinstance(lab, int) else STR_DIGITS[lab]
            learner.partial_fit(batch(data, digit, offset=20 * r), [lab] * 20, **kw(learner))
    return learner


def probe(data: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return data[0][::60]


def same(a: Any, b: Any) -> bool:
    """Exact structural equality of (nested) state dicts."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return isinstance(b, list | tuple) and len(a) == len(b) and all(same(x, z) for x, z in zip(a, b))
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("name", NAMES)
def test_interface(name: str, digits: tuple[np.ndarray, np.ndarray]) -> None:
    learner = make_learner(name, dim=DIM, seed=0)
    assert learner.name == name and learner.classes_ == []
    assert learner.config["dim"] == DIM
    X = probe(digits)
    for i, lab in enumerate((3, 7, 5)):
        learner.partial_fit(batch(digits, lab), [lab] * 20, **kw(learner))
        assert learner.classes_ == [3, 7, 5][: i + 1]
        proba = learner.predict_proba(X, **kw(learner))
        assert proba.shape == (len(X), i + 1)
        assert np.all(proba >= 0) and np.allclose(proba.sum(1), 1.0)
    assert set(learner.predict(X, **kw(learner))) <= {3, 7, 5}
    one = learner.predict_proba(X[0], **kw(learner))  # a single 1-D feature vector
    assert one.shape == (1, 3)
    learner.partial_fit(X[:1], 7, **kw(learner))  # one sample, scalar label
    assert learner.classes_ == [3, 7, 5]
    assert learner.n_parameters() >= 0 and learner.memory_bytes_per_class() >= 0


@pytest.mark.parametrize("name", NAMES)
def test_string_labels(name: str, digits: tuple[np.ndarray, np.ndarray]) -> None:
    learner = taught(name, digits, labels=("cup", "ball", "mug"))
    assert learner.classes_ == ["cup", "ball", "mug"]
    pred = learner.predict(probe(digits), **kw(learner))
    assert set(pred) <= {"cup", "ball", "mug"} and all(isinstance(p, str) for p in pred)


@pytest.mark.parametrize("name", NAMES)
def test_state_round_trip(name: str, digits: tuple[np.ndarray, np.ndarray]) -> None:
    learner = taught(name, digits, rounds=2)
    X = probe(digits)
    ref = learner.predict_proba(X, **kw(learner))
    state = learner.state_dict()
    fresh = learner_from_state(state)
    assert type(fresh) is type(learner) and fresh.classes_ == learner.classes_
    np.testing.assert_array_equal(fresh.predict_proba(X, **kw(learner)), ref)
    assert same(fresh.state_dict(), state)

    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    loaded = learner_from_state(torch.load(buf, weights_only=True))
    np.testing.assert_array_equal(loaded.predict_proba(X, **kw(learner)), ref)

    # The restored learner continues exactly like the original (same RNG stream, same statistics).
    for lr in (learner, loaded):
        lr.partial_fit(batch(digits, 1, offset=100), [1] * 20, **kw(lr))
    np.testing.assert_array_equal(loaded.predict_proba(X, **kw(learner)), learner.predict_proba(X, **kw(learner)))


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_result(name: str, digits: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = taught(name, digits, seed=3), taught(name, digits, seed=3)
    X = probe(digits)
    np.testing.assert_array_equal(a.predict_proba(X, **kw(a)), b.predict_proba(X, **kw(b)))


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_raises_and_changes_nothing(name: str, digits: tuple[np.ndarray, np.ndarray]) -> None:
    learner = taught(name, digits)
    X = probe(digits)
    ok = batch(digits, 0, n=5)
    nan = ok.copy()
    nan[0, 3] = np.nan
    inf = ok.copy()
    inf[1, 0] = np.inf
    before_state = learner.state_dict()
    before_proba = learner.predict_proba(X, **kw(learner))
    before_known = learner.score_known(X, **kw(learner))
    bad_calls = [
        lambda: learner.partial_fit(ok[:, :10], [0] * 5, **kw(learner)),  # wrong dimension
        lambda: learner.partial_fit(nan, [0] * 5, **kw(learner)),
        lambda: learner.partial_fit(inf, [0] * 5, **kw(learner)),
        lambda: learner.partial_fit(np.zeros((0, DIM), np.float32), [], **kw(learner)),  # empty batch
        lambda: learner.partial_fit(ok, [0, 1, 2], **kw(learner)),  # label count mismatch
        lambda: learner.partial_fit(ok, [None] * 5, **kw(learner)),
        lambda: learner.partial_fit(ok, [1.5] * 5, **kw(learner)),
        lambda: learner.partial_fit(ok, [9] * 4 + [None], **kw(learner)),  # a new label and a bad one
        lambda: learner.partial_fit([["a"] * DIM], [0], **kw(learner)),  # non-numeric features
        lambda: learner.predict_proba(X[:, :10], **kw(learner)),
        lambda: learner.predict_proba(np.full((2, DIM), np.nan, np.float32), **kw(learner)),
        lambda: learner.score_known(X[:, :10], **kw(learner)),
        lambda: learner.predict_open(np.full((2, DIM), np.inf, np.float32), **kw(learner)),
        lambda: learner.forget(42),  # unknown label
        lambda: learner.forget(None),
        lambda: learner.load_state_dict({"format": 1, "learner": "other"}),
    ]
    if learner.needs_task:
        bad_calls += [lambda: learner.partial_fit(ok, [0] * 5), lambda: learner.predict_proba(X),
                      lambda: learner.partial_fit(ok, [0] * 5, task=-1)]
    for i, call in enumerate(bad_calls):
        with pytest.raises(ValueError):
            call()
        assert same(learner.state_dict(), before_state), f"bad call #{i} changed the state"
    np.testing.assert_array_equal(learner.predict_proba(X, **kw(learner)), before_proba)
    np.testing.assert_array_equal(learner.score_known(X, **kw(learner)), before_known)


@pytest.mark.parametrize("name", NAMES)
def test_predict_before_teach_raises(name: str, digits: tuple[np.ndarray, np.ndarray]) -> None:
    learner = make_learner(name, dim=DIM, seed=0)
    with pytest.raises(ValueError):
        learner.predict_proba(probe(digits), **kw(learner))
    with pytest.raises(ValueError):
        learner.predict(probe(digits), **kw(learner))
    with pytest.raises(ValueError):
        learner.score_known(probe(digits), **kw(learner))
    with pytest.raises(ValueError):
        learner.predict_open(probe(digits), **kw(learner))
    with pytest.raises(ValueError):
        make_learner(name, dim=0)


@pytest.mark.parametrize("name", NAMES)
def test_forget_removes_class(name: str, digits: tuple[np.ndarray, np.ndarray]) -> None:
    learner = taught(name, digits, labels=(0, 1, 2), rounds=2)
    learner.forget(1)
    assert learner.classes_ == [0, 2]
    X1 = batch(digits, 1, n=40, offset=60)
    proba = learner.predict_proba(X1, **kw(learner))
    assert proba.shape == (40, 2) and np.allclose(proba.sum(1), 1.0)
    assert 1 not in set(learner.predict(X1, **kw(learner)))
    # The state of a learner with a forgotten class still round-trips, and the class can be taught again.
    fresh = learner_from_state(learner.state_dict())
    np.testing.assert_array_equal(fresh.predict_proba(X1, **kw(learner)), proba)
    learner.partial_fit(batch(digits, 1), [1] * 20, **kw(learner))
    assert learner.classes_ == [0, 2, 1]
    assert learner.predict_proba(X1, **kw(learner)).shape == (40, 3)


@pytest.mark.parametrize("name", NAMES)
def test_clone_is_independent(name: str, digits: tuple[np.ndarray, np.ndarray]) -> None:
    learner = taught(name, digits)
    X = probe(digits)
    before = learner.predict_proba(X, **kw(learner))
    copy = learner.clone()
    assert type(copy) is type(learner) and copy.classes_ == learner.classes_
    np.testing.assert_array_equal(copy.predict_proba(X, **kw(copy)), before)
    copy.partial_fit(batch(digits, 4), [4] * 20, **kw(copy))
    copy.forget(0)
    assert learner.classes_ == [0, 1, 2] and copy.classes_ == [1, 2, 4]
    np.testing.assert_array_equal(learner.predict_proba(X, **kw(learner)), before)
