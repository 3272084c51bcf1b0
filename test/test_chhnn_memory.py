"""CH-HNN's compact class memory, its shared frozen prior, clone and state references.

Real MNIST digits where accuracy matters; the memory's statistics are checked
against numpy on exact low-rank data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_chhnn import load_mnist_small

from chhnn_ros.learning.chhnn import CHHNN
from chhnn_ros.learning.class_memory import ExemplarMemory, GaussianMemory, rank_for_budget
from chhnn_ros.learning.prior import MaskPrior, save_prior
from chhnn_ros.learning.registry import learner_from_state

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def digits() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    return load_mnist_small()


def _memory_state_bytes(state: dict) -> int:
    """Every array and counter a memory state holds (counters as int64)."""
    total = 0
    for v in state.values():
        for t in v if isinstance(v, list) else [v]:
            total += t.numel() * t.element_size() if isinstance(t, torch.Tensor) else 8 if isinstance(t, int) else 0
    return total


def test_gaussian_memory_statistics_are_exact_on_low_rank_data():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((50, 3)))[0].T  # 3 orthonormal directions in 50-d
    X = (rng.standard_normal((90, 3)) * [3.0, 2.0, 1.0]) @ basis + rng.standard_normal(50)
    mem = GaussianMemory(50, budget=GaussianMemory.class_nbytes(50, 4))
    assert mem.rank == 4
    mem.add_class()
    for part in np.array_split(X, [20, 21, 60]):  # uneven teaches, one of a single sample
        mem.add(0, part)
    assert mem.n[0] == 90
    np.testing.assert_allclose(mem.mean[0], X.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mem.var[0], X.var(0), rtol=1e-4, atol=1e-5)
    U, s = mem.U[0].astype(np.float64), mem.s[0].astype(np.float64)
    scatter = (X - X.mean(0)).T @ (X - X.mean(0))
    np.testing.assert_allclose(U.T @ np.diag(s) @ U, scatter, atol=2e-2 * np.abs(scatter).max())
    fake, y = mem.sample([0], 4000, np.random.default_rng(1))
    assert fake.shape == (4000, 50) and set(y) == {0}
    np.testing.assert_allclose(np.cov(fake.T, bias=True), scatter / 90, atol=0.1 * np.abs(scatter / 90).max())


def test_compact_memory_bytes_are_what_it_stores_and_stay_bounded(digits):
    ln = CHHNN(784, seed=0, T=2, steps=3)
    assert ln.config["memory"] == "stats" and ln.memory.rank == rank_for_budget(784, 32768 - 4 * 257 - 8 * 64)
    for rnd in range(2):
        for c in range(4):
            ln.partial_fit(digits[c][0][20 * rnd: 20 * rnd + 20], c)
        state = ln.state_dict()
        calibration = sum(t.numel() * t.element_size() for t in state["calibration"].values())
        head = sum(t.numel() * t.element_size() for k, t in state["state"]["net"].items() if k.startswith("head."))
        assert head == 4 * 257 * 4  # four output rows of 256 weights + bias, float32
        stored = _memory_state_bytes(state["state"]["memory"]) + calibration + head
        assert ln.memory_bytes_per_class() == stored / 4
        assert ln.memory_bytes_per_class() <= 32 * 1024
    per_class = ln.memory.nbytes_per_class()
    ln.forget(2)
    ln.partial_fit(digits[2][0][40:60], 2)  # taught again after forget: same bounded size
    assert ln.memory.nbytes_per_class() == per_class and ln.memory_bytes_per_class() <= 32 * 1024
    assert len(ln.memory) == 4
    for c in (0, 1, 3):
        assert (ln.predict(digits[c][1]) == c).mean() > 0.6
    with pytest.raises(ValueError, match="budget"):
        CHHNN(784, memory_bytes=1000)


def test_exemplar_memory_stays_bounded_and_reports_stored_bytes():
    mem = ExemplarMemory(8, per_class=5)
    mem.add_class()
    for _ in range(4):
        mem.add(0, np.ones((3, 8), np.float32))
    assert mem.rows(0).shape == (5, 8) and mem.store.seen[0] == 12
    assert mem.nbytes_per_class() == 5 * 8 * 2 + 8 == _memory_state_bytes(mem.state())


def test_prior_is_shared_and_states_reference_it(digits):
    a, b = CHHNN(784, seed=0, T=2, steps=2), CHHNN(784, seed=1, T=2, steps=2)
    assert a.prior is b.prior and a.prior_source == "shipped:prior-pixels28.pt"
    assert not any(p.requires_grad for p in a.prior.parameters())
    a.partial_fit(digits[0][0][:20], 0).partial_fit(digits[1][0][:20], 1)
    ref = a.state_dict()["state"]["prior"]
    assert ref["source"] == "shipped:prior-pixels28.pt" and "embedded" not in ref and len(ref["digest"]) == 16
    c = a.clone()
    assert c.prior is a.prior and c.net is not a.net and c.memory is not a.memory
    before, threshold = a.predict_proba(digits[0][1]), a.threshold()
    c.partial_fit(digits[2][0][:20], 2)  # the clone learns; the original does not change
    assert a.classes_ == [0, 1] and c.classes_ == [0, 1, 2] and len(a.memory) == 2
    assert len(a.calibration_) == 2 and a.threshold() == threshold
    np.testing.assert_array_equal(a.predict_proba(digits[0][1]), before)
    loaded = learner_from_state(a.state_dict())
    assert loaded.prior is a.prior
    np.testing.assert_array_equal(loaded.predict_proba(digits[0][1]), before)


def test_random_prior_is_embedded_and_a_missing_or_changed_prior_fails_clearly(tmp_path, digits):
    rnd = CHHNN(784, seed=0, T=2, steps=2, hidden=(32, 32))
    assert rnd.prior_source == "random"
    rnd.partial_fit(digits[0][0][:10], 0)
    assert "embedded" in rnd.state_dict()["state"]["prior"]
    path = tmp_path / "p.pt"
    save_prior(MaskPrior(784, (32, 32), seed=3), path)
    ln = CHHNN(784, seed=0, T=2, steps=2, hidden=(32, 32), prior=str(path))
    ln.partial_fit(digits[0][0][:10], 0).partial_fit(digits[1][0][:10], 1)
    state = ln.state_dict()
    assert state["state"]["prior"]["source"] == f"file:{path.resolve()}" and "embedded" not in state["state"]["prior"]
    save_prior(MaskPrior(784, (32, 32), seed=4), path)  # other weights under the same name
    with pytest.raises(ValueError, match="digest"):
        learner_from_state(state)
    path.unlink()
    with pytest.raises(ValueError, match="not found"):
        learner_from_state(state)


def test_state_with_shared_prior_loads_in_a_fresh_process(tmp_path, digits):
    ln = CHHNN(784, seed=0, T=3, steps=4)
    for c in range(3):
        ln.partial_fit(digits[c][0][:20], c)
    torch.save(ln.state_dict(), tmp_path / "state.pt")
    X = np.concatenate([digits[c][1][:10] for c in range(3)]).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    code = (
        "import sys, numpy as np, torch\n"
        "from chhnn_ros.learning.registry import learner_from_state\n"
        "ln = learner_from_state(torch.load(sys.argv[1] + '/state.pt', weights_only=True))\n"
        "np.save(sys.argv[1] + '/p.npy', ln.predict_proba(np.load(sys.argv[1] + '/x.npy')))\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                       timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), ln.predict_proba(X))
    # The SNN's weights, the class memory and a little framing: the 6 MB prior is referenced, not embedded.
    assert (tmp_path / "state.pt").stat().st_size < 4 * ln.n_parameters() + 3 * 32 * 1024 + 64 * 1024


def test_older_state_with_exemplars_and_embedded_prior_still_loads(digits):
    ln = CHHNN(784, seed=0, T=2, steps=2, memory="exemplars", memory_per_class=30)
    ln.partial_fit(digits[0][0][:20], 0).partial_fit(digits[1][0][:20], 1)
    state = ln.state_dict()
    from chhnn_ros.learning.prior import prior_to_state

    state["state"]["prior"] = prior_to_state(ln.prior)  # how states embedded the prior before
    state["state"]["prior_source"] = "shipped:prior-pixels28.pt"
    state["config"] = {k: v for k, v in state["config"].items() if k not in ("memory", "memory_bytes")}
    old = learner_from_state(state)  # config without 'memory': the default statistics memory
    assert old.memory.kind == "stats" and old.memory.n == [20, 20] and old.prior is ln.prior
    np.testing.assert_array_equal(old.predict_proba(digits[0][1]), ln.predict_proba(digits[0][1]))


def test_class_log_density_matches_scipy_and_scores_only_the_asked_classes():
    from scipy.stats import multivariate_normal

    from chhnn_ros.learning.class_memory import MIN_REL_VAR, PRIOR_SAMPLES, VAR_FLOOR

    rng = np.random.default_rng(2)
    mem = GaussianMemory(30, budget=GaussianMemory.class_nbytes(30, 3))
    for c in range(3):
        mem.add_class()
        mem.add(c, rng.standard_normal((25, 30)) * rng.uniform(0.5, 2.0, 30) + 3 * c)
    mem.add_class()  # a class with no sample yet scores -inf
    X = rng.standard_normal((7, 30)) + 3
    ll = mem.loglik(X)
    assert ll.shape == (7, 4) and np.isneginf(ll[:, 3]).all()
    for c in range(3):
        U, lam, n = mem.U[c].astype(np.float64), mem.s[c] / mem.n[c], mem.n[c]
        assert len(lam) == 3 < (n - 1) // 2  # 25 samples support every stored direction
        floor = max(VAR_FLOOR * mem.var[c].mean(), MIN_REL_VAR * (mem.mean[c] ** 2 + mem.var[c]).mean())
        resid = np.clip(mem.var[c] - lam @ U**2, 0, None) * n / (n - 1 - 3)
        D = (n * resid + PRIOR_SAMPLES * resid.mean()) / (n + PRIOR_SAMPLES) + floor
        ref = multivariate_normal(mem.mean[c], (U.T * lam) @ U + np.diag(D)).logpdf(X) + 15 * np.log(2 * np.pi)
        np.testing.assert_allclose(ll[:, c], ref, rtol=1e-6)
    np.testing.assert_allclose(mem.loglik(X, [2, 0]), ll[:, [2, 0]])
    held = mem.held_out_loglik(X[:4])
    assert held.shape == (4,) and np.isfinite(held).all()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add_class", "add", "remove", "copy", "load"]),
                          st.integers(0, 5), st.integers(1, 6)), min_size=1, max_size=12))
def test_all_class_log_density_follows_every_change_of_the_memory(ops):
    """Scoring all classes reuses their stacked factors until the memory changes: after any sequence
    of teaches, new and removed classes, copies and state loads it equals scoring them afresh."""
    rng = np.random.default_rng(0)
    mem = GaussianMemory(10, 4096)
    X = rng.standard_normal((5, 10))
    for op, c, m in ops:
        mem.loglik(X)  # fills the cache before every change
        if op == "add_class" or not len(mem):
            mem.add_class()
        elif op == "add":
            mem.add(c % len(mem), rng.standard_normal((m, 10)) + c)
        elif op == "remove":
            mem.remove_class(c % len(mem))
        elif op == "copy":
            mem = mem.copy()
        else:
            fresh = GaussianMemory(10, 4096)
            fresh.load(mem.state())
            mem.loglik(X)
            mem = fresh
    fresh_order = list(range(len(mem)))[::-1]  # a class list other than "all" is never cached
    np.testing.assert_allclose(mem.loglik(X)[:, fresh_order], mem.loglik(X, fresh_order), rtol=1e-12)


def test_held_out_scores_leave_out_a_block_of_consecutive_views():
    from chhnn_ros.learning.class_memory import held_out_blocks

    assert [list(b) for b in held_out_blocks(10)] == [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9]]
    assert [list(b) for b in held_out_blocks(3)] == [[0], [1], [2]]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 12))
    mem = GaussianMemory(12, 32768)
    ref = GaussianMemory(12, 32768)
    ref.add_class()
    ref.add(0, X[2:])  # the first block is rows 0-1: their model never saw them or each other
    typical = -0.5 * (ref._density(0)[4] + 12)  # no held-out score lies above a typical sample's
    np.testing.assert_allclose(mem.held_out_loglik(X)[:2], np.minimum(ref.loglik(X[:2])[:, 0], typical), rtol=1e-9)


def test_one_teach_held_out_scores_predict_how_fresh_views_score():
    """One teach of 20 digits a class: the held-out scores that calibrate a new class come from models
    of 15 of them, fresh digits are scored by the model of all 20.  They must score alike, or the
    threshold (a low quantile of the held-out scores) accepts nearly everything: with a density that
    trusted 20 samples of 784 pixels as far as 15-direction statistics go, 1.6 % of fresh digits fell
    below the held-out scores' 10 % quantile and their median lay 1.6 interquartile ranges above."""
    from chhnn_ros.bench.openset import load_openset
    from chhnn_ros.bench.protocol import build

    data = load_openset("split-mnist", 20, 100)
    budget = build("chhnn", 784, 0, "class-il").memory.budget
    y = np.asarray(data.stream.y_train, dtype=object)
    below, shift = [], []
    for c in data.known_classes:
        mem = GaussianMemory(784, budget)
        mem.add_class()
        mem.add(0, data.X_train[y == c])
        held, fresh = mem.held_out_loglik(data.X_train[y == c]), mem.loglik(data.X_test[data.y_test == c])[:, 0]
        below.append(np.mean(fresh < np.quantile(held, 0.1)))
        q1, q3 = np.quantile(fresh, [0.25, 0.75])
        shift.append((np.median(fresh) - np.median(held)) / (q3 - q1))
    assert np.mean(below) >= 0.05, below  # nominal 0.10
    assert np.mean(shift) < 1.0, shift
