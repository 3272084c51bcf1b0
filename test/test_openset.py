"""Open set: every learner's known-ness score and self-calibrated rejection, on real data (sklearn digits),
and ``chhnn-bench openset`` end to end on a small npz stream."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits
from test_learner_conformance import DIM, NAMES, batch, kw, probe, taught

from chhnn_ros.app import memory_file
from chhnn_ros.bench import cli
from chhnn_ros.bench.openset import METRICS, open_metrics
from chhnn_ros.learning.base import CALIBRATION_SIZE, KNOWN_QUANTILE, MAX_MISS_RATE, conformal_quantile
from chhnn_ros.learning.registry import learner_from_state, make_learner

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


@pytest.mark.parametrize("name", NAMES)
def test_scores_shapes_and_consistency(name: str, digits) -> None:
    learner = taught(name, digits, rounds=2)
    X = probe(digits)
    det = learner.predict_open_detail(X, **kw(learner))
    assert det.proba.shape == (len(X), 3) and det.known.shape == (len(X),) and np.isfinite(det.known).all()
    np.testing.assert_allclose(det.proba, learner.predict_proba(X, **kw(learner)))
    assert list(det.nearest) == list(learner.predict(X, **kw(learner)))
    np.testing.assert_array_equal(det.nearest_proba, det.proba.max(1))
    np.testing.assert_array_equal(learner.score_known(X, **kw(learner)), det.known)
    labels = learner.predict_open(X, **kw(learner))
    assert labels.shape == (len(X),) and set(labels) <= {0, 1, 2, None}
    assert all((lab is None) == (k < 0) for lab, k in zip(labels, det.known))
    # Calibration: one score list per class, bounded, and the threshold is their pooled quantile.
    assert len(learner.calibration_) == 3 and all(0 < len(s) <= CALIBRATION_SIZE for s in learner.calibration_)
    pooled = np.concatenate(learner.calibration_)
    want = conformal_quantile(pooled, KNOWN_QUANTILE, MAX_MISS_RATE)
    assert learner.threshold() == pytest.approx(want, rel=1e-5, abs=1e-5)
    # The score's unit is the median calibration score's margin over the threshold.
    _, raw = learner._checked_scores(X, kw(learner).get("task"))
    best = det.proba.argmax(1)
    assert learner.known_scale() == pytest.approx(float(np.median(pooled)) - learner.threshold(), rel=1e-6)
    np.testing.assert_allclose(det.known, (raw[np.arange(len(X)), best] - learner.threshold()) / learner.known_scale(),
                               rtol=1e-9, atol=1e-12)
    # Most held-out samples of the taught classes pass their own learner's threshold, and a typical
    # one scores on the order of 1 on every learner.
    held_out = np.concatenate([batch(digits, c, n=30, offset=60) for c in (0, 1, 2)])
    scores = learner.score_known(held_out, **kw(learner))
    assert np.mean(scores >= 0) >= 0.6 and 0.1 < np.median(scores) < 10


@pytest.mark.parametrize("name", NAMES)
def test_one_taught_class_rejects_other_digits(name: str, digits) -> None:
    X, y = digits
    own, other = [], []
    # Three draws of the taught zeros (the data set is ordered by writer): with 40 calibration scores the
    # threshold is their smallest, so one draw measures one outlier as much as the learner.
    for draw in range(3):
        zeros = np.random.default_rng(draw).permutation(np.flatnonzero(y == 0))
        learner = make_learner(name, dim=DIM, seed=0)
        learner.partial_fit(X[zeros[:40]], [0] * 40, **kw(learner))
        own.append(np.mean(learner.predict_open(X[zeros[40:]], **kw(learner)) == 0))
        other.append(np.mean(learner.predict_open(X[np.isin(y, [1, 4, 7])], **kw(learner)) == None))  # noqa: E711
    assert np.mean(own) >= 0.9, own  # calibrated to accept ~98 % of samples like the taught ones
    assert np.mean(other) >= 0.9, other


@pytest.mark.parametrize("name", NAMES)
def test_scores_and_threshold_survive_save_and_load(name: str, digits, tmp_path: Path) -> None:
    learner = taught(name, digits, rounds=2)
    X = probe(digits)
    ref = learner.score_known(X, **kw(learner))
    fresh = learner_from_state(learner.state_dict())
    assert fresh.threshold() == learner.threshold()
    np.testing.assert_array_equal(fresh.score_known(X, **kw(learner)), ref)
    # The node's memory file: numpy → tagged tensors, torch.save, torch.load(weights_only=True).
    memory_file.save(tmp_path / "memory.pt", learner.state_dict(), 1)
    loaded = learner_from_state(memory_file.load(tmp_path / "memory.pt")["learner_state"])
    np.testing.assert_array_equal(loaded.score_known(X, **kw(learner)), ref)
    assert list(loaded.predict_open(X, **kw(learner))) == list(learner.predict_open(X, **kw(learner)))


def test_scores_survive_a_fresh_process(digits, tmp_path: Path) -> None:
    learner = taught("slda", digits, rounds=2)
    memory_file.save(tmp_path / "memory.pt", learner.state_dict(), 1)
    np.save(tmp_path / "X.npy", probe(digits))
    code = ("import sys, numpy as np; from chhnn_ros.app import memory_file; "
            "from chhnn_ros.learning.registry import learner_from_state; "
            f"l = learner_from_state(memory_file.load({str(tmp_path / 'memory.pt')!r})['learner_state']); "
            f"np.save({str(tmp_path / 'k.npy')!r}, l.score_known(np.load({str(tmp_path / 'X.npy')!r})))")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)
    here = learner.score_known(probe(digits))
    # the same scores up to the summation order of a BLAS with another thread count; the same decisions
    np.testing.assert_allclose(np.load(tmp_path / "k.npy"), here, rtol=1e-12, atol=0)
    assert ((np.load(tmp_path / "k.npy") >= 0) == (here >= 0)).all()


@pytest.mark.parametrize("name", ["ncm", "slda", "replay", "chhnn"])
def test_forget_updates_calibration(name: str, digits) -> None:
    learner = taught(name, digits, labels=(0, 1, 2), rounds=2)
    kept = [learner.calibration_[0], learner.calibration_[2]]
    learner.forget(1)
    assert len(learner.calibration_) == 2
    assert all(np.array_equal(a, b) for a, b in zip(learner.calibration_, kept))
    assert learner.threshold() == pytest.approx(conformal_quantile(np.concatenate(kept), KNOWN_QUANTILE, MAX_MISS_RATE),
                                               rel=1e-5, abs=1e-5)
    assert set(learner.predict_open(batch(digits, 1, n=30, offset=60), **kw(learner))) <= {0, 2, None}
    # Teaching it again calibrates it again.
    learner.partial_fit(batch(digits, 1), [1] * 20, **kw(learner))
    assert len(learner.calibration_) == 3 and len(learner.calibration_[2]) > 0


@pytest.mark.parametrize("name", ["chhnn", "replay"])
def test_views_named_wrong_calibrate_only_learners_calibrated_in_sample(name: str, digits) -> None:
    """A re-teach of class 0 with views the learner names 1 (a person teaching the wrong object): a learner
    with held-out calibration (CH-HNN) adds no score for them, so they cannot lower its threshold; a
    learner calibrated in-sample keeps them (its only check on an optimistic calibration)."""
    learner = taught(name, digits, labels=(0, 1), rounds=1)
    ones = batch(digits, 1, n=20, offset=40)
    assert (learner.predict(ones, **kw(learner)) == 1).all()
    before = [s.copy() for s in learner.calibration_]
    learner.partial_fit(ones, [0] * 20, **kw(learner))
    added = len(learner.calibration_[0]) - len(before[0])
    assert added == (0 if learner.held_out_calibration else 20)
    assert np.array_equal(learner.calibration_[1], before[1])
    # Views of class 0 it names right still calibrate.
    learner.partial_fit(batch(digits, 0, n=20, offset=40), [0] * 20, **kw(learner))
    assert len(learner.calibration_[0]) > len(before[0]) + added


@pytest.mark.parametrize("name", ["ncm", "chhnn"])
def test_bad_input_and_bad_state_raise_and_change_nothing(name: str, digits) -> None:
    learner = taught(name, digits)
    X = probe(digits)
    ref, thr = learner.score_known(X), learner.threshold()
    state = learner.state_dict()
    for call in (lambda: learner.score_known(X[:, :10]), lambda: learner.predict_open(np.full((2, DIM), np.nan)),
                 lambda: learner.predict_open_detail([["a"] * DIM])):
        with pytest.raises(ValueError):
            call()
    packed = state["calibration"]
    fewer = {"scores": packed["scores"][: int(packed["counts"][0])], "counts": packed["counts"][:1]}
    miscounted = {"scores": packed["scores"], "counts": packed["counts"] + 1}
    for bad_calibration in (fewer, miscounted, [torch.tensor([float("nan")])] * 3, {"scores": packed["scores"]}):
        with pytest.raises(ValueError, match="calibration"):
            learner.load_state_dict(dict(state, calibration=bad_calibration))
    assert learner.threshold() == thr
    np.testing.assert_array_equal(learner.score_known(X), ref)
    with pytest.raises(ValueError, match="teach"):
        make_learner(name, dim=DIM).score_known(X)


@pytest.mark.parametrize("name", ["chhnn", "slda"])
def test_calibration_of_a_state_with_one_tensor_per_class_still_loads(name: str, digits) -> None:
    """States saved before the scores were packed into two tensors load to the same threshold."""
    learner = taught(name, digits)
    state = learner.state_dict()
    per_class = [torch.from_numpy(s.copy()) for s in learner.calibration_]
    assert sum(len(s) for s in per_class) == len(state["calibration"]["scores"]) > 0
    old = learner_from_state(dict(state, calibration=per_class))
    assert old.threshold() == learner.threshold()
    np.testing.assert_array_equal(old.score_known(probe(digits)), learner.score_known(probe(digits)))


def test_state_without_calibration_accepts_everything(digits) -> None:
    """A memory file written before open-set scores existed still loads; nothing is rejected until a teach."""
    learner = taught("replay", digits)
    state = learner.state_dict()
    del state["calibration"], state["input_means"]
    old = learner_from_state(state)
    assert old.threshold() == -np.inf and all(lab is not None for lab in old.predict_open(probe(digits)))
    np.testing.assert_array_equal(old.predict_proba(probe(digits)), learner.predict_proba(probe(digits)))


@settings(max_examples=8, deadline=None)
@given(order=st.permutations([0, 3, 6, 9]))
def test_statistical_scores_do_not_depend_on_teach_order(order: list[int]) -> None:
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    probe_x = X[::40]
    ref: dict[str, np.ndarray] = {}
    for name in ("ncm", "slda"):
        learners = []
        for classes in ([0, 3, 6, 9], order):
            learner = make_learner(name, dim=DIM)
            for c in classes:  # one teach per class
                learner.partial_fit(X[y == c][:30], [c] * 30)
            learners.append(learner)
        a, b = learners
        cols = [b.classes_.index(c) for c in a.classes_]
        # Raw known-ness (score × scale + threshold) and probabilities are exact functions of the class statistics.
        raw = [ln.score_known(probe_x) * ln.known_scale() + ln.threshold() for ln in (a, b)]
        np.testing.assert_allclose(*raw, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(a.predict_proba(probe_x), b.predict_proba(probe_x)[:, cols], atol=1e-9)
        ref[name] = a.score_known(probe_x)
    # NCM's leave-one-out calibration of a class depends only on that class: the whole score is invariant.
    b = make_learner("ncm", dim=DIM)
    for c in order:
        b.partial_fit(X[y == c][:30], [c] * 30)
    np.testing.assert_allclose(b.score_known(probe_x), ref["ncm"], rtol=1e-9, atol=1e-12)


def test_open_metrics_definitions() -> None:
    known = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    correct = np.array([1, 1, 1, 0, 0, 0, 0, 0], bool)
    accepted = np.array([1, 1, 0, 1, 1, 0, 0, 0], bool)
    score = np.array([3.0, 2.0, -1.0, 1.0, 0.5, -2.0, -3.0, -4.0])
    m = open_metrics(known, correct, accepted, score)
    assert m["known_acc_closed"] == 0.75 and m["known_acc_open"] == 0.5 and m["unknown_reject"] == 0.75
    assert m["open_acc"] == (2 + 3) / 8
    assert m["auroc"] == pytest.approx(15 / 16)  # one unknown (0.5) outranks one known (−1)
    assert m["fpr95"] == 0.25  # all four knowns need the threshold at −1: one unknown above it
    with pytest.raises(ValueError):
        open_metrics(np.ones(4, bool), correct[:4], accepted[:4], score[:4])


def test_openset_quick_writes_every_key(tmp_path: Path, capsys) -> None:
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    test = np.zeros(len(y), bool)
    test[rng.permutation(len(y))[:500]] = True
    path = tmp_path / "digits.npz"
    np.savez(path, x_train=(X[~test] / 16).astype(np.float32), y_train=y[~test], x_test=(X[test] / 16).astype(
        np.float32), y_test=y[test])
    out = tmp_path / "out"
    rc = cli.main(["openset", "--stream", f"npz:{path}", "--methods", "ncm,slda,replay", "--quick", "--seeds", "2",
                   "--train-per-class", "40", "--test-per-class", "30", "--out", str(out), "--no-progress"])
    assert rc == 0
    rep = json.loads((out / "npz-digits-openset.json").read_text())
    assert rep["protocol"]["known_classes"] == [0, 1, 2, 3, 4] and rep["protocol"]["unknown_classes"] == [5, 6, 7, 8, 9]
    assert rep["protocol"]["n_train"] == 200 and rep["protocol"]["n_unknown"] == 150
    assert rep["protocol"]["seeds"] == [0, 1]
    assert set(rep["methods"]) == {"ncm", "slda", "replay"} and rep["skipped"] == {}
    for m in rep["methods"].values():
        for key in METRICS:
            assert 0.0 <= m[key] <= 1.0 and f"{key}_std" in m
        assert len(m["seeds"]) == 2 and set(METRICS) <= set(m["seeds"][0])
        assert m["known_acc_open"] <= m["known_acc_closed"]
    assert rep["methods"]["ncm"]["auroc"] > 0.8  # digits 5-9 against class means of 0-4
    assert (out / "npz-digits-openset.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (out / "npz-digits-openset.md").read_text()
    assert table.startswith("| method | AUROC | FPR95 | open acc |") and "| ncm |" in table
    assert "| slda |" in capsys.readouterr().out
    assert cli.main(["openset", "--stream", "permuted-mnist", "--methods", "ncm", "--out", str(out)]) == 2
    assert cli.main(["openset", "--stream", "split-mnist", "--methods", "nope", "--out", str(out)]) == 2


def test_sim_unknowns_are_objects_no_prior_or_stream_uses() -> None:
    pytest.importorskip("pybullet")
    from chhnn_ros.bench.streams import OPEN_SET_BLOBS, open_set_unknowns
    from chhnn_ros.sim.objects import DEFAULT_OBJECTS, HELD_OUT_OBJECTS

    x, y, source = open_set_unknowns("sim-objects", n_test=2)
    names = list(dict.fromkeys(y.tolist()))
    assert names == HELD_OUT_OBJECTS + [f"blob{i:03d}" for i in OPEN_SET_BLOBS]
    assert x.shape == (2 * len(names), 64, 64, 3) and x.dtype == np.uint8 and x.std() > 10
    assert not set(names) & set(DEFAULT_OBJECTS)
    prior = torch.load(ROOT / "chhnn_ros/data/prior-efficientnet1280.pt", weights_only=True, map_location="cpu")
    assert not set(names) & set(prior["trained_on"]["classes"])
    assert "domino" in source and open_set_unknowns("split-mnist", 2) is None


def test_conformal_threshold_needs_enough_scores_and_accepts_a_repeated_view() -> None:
    assert conformal_quantile(np.arange(40.0), 0.05) == 1.0  # k = ⌊0.05 · 41⌋ = 2
    assert conformal_quantile(np.arange(18.0), 0.05) == -np.inf  # 18 scores cannot reject at 5 %
    assert KNOWN_QUANTILE == 0.02 and MAX_MISS_RATE == 0.05
    assert conformal_quantile(np.arange(18.0), KNOWN_QUANTILE, MAX_MISS_RATE) == -np.inf
    assert conformal_quantile(np.arange(19.0), KNOWN_QUANTILE, MAX_MISS_RATE) == 0.0  # the smallest: 1/20 rejected
    assert conformal_quantile(np.arange(48.0), KNOWN_QUANTILE, MAX_MISS_RATE) == 0.0
    assert conformal_quantile(np.arange(99.0), KNOWN_QUANTILE, MAX_MISS_RATE) == 1.0  # k = ⌊0.02 · 100⌋ = 2
    rng = np.random.default_rng(0)
    for name in ("ncm", "slda", "chhnn"):
        learner = make_learner(name, dim=64, seed=0)
        view = rng.random((1, 64)).astype(np.float32)
        learner.partial_fit(np.repeat(view, 5, 0), ["duck"] * 5)
        assert learner.threshold() == -np.inf, name  # five samples: nothing rejected yet
        learner.partial_fit(np.repeat(view, 20, 0), ["duck"] * 20)
        assert np.isfinite(learner.threshold()) and learner.predict_open(view)[0] == "duck", name


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=300))
@settings(max_examples=200, deadline=None)
def test_conformal_threshold_rejects_at_most_its_rate(scores: list[float]) -> None:
    a = np.asarray(scores)
    t = conformal_quantile(a, KNOWN_QUANTILE, MAX_MISS_RATE)
    if len(a) < 19:
        assert t == -np.inf
    else:
        assert t in a
        # Below the threshold: at most max(q, 1/(n+1)) of the scores (ties sit at the threshold).
        assert np.mean(a < t) <= max(KNOWN_QUANTILE, 1 / (len(a) + 1)) + 1e-12
