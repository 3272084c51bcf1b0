"""Streaming class statistics (chhnn_ros/learning/class_stats.py) against batch formulas on real data."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits

from chhnn_ros.learning.class_stats import ClassStats

EPS = 0.05


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def batch_stats(X: np.ndarray, y: np.ndarray, classes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    X = X.astype(np.float64)
    means = np.stack([X[y == c].mean(0) for c in classes])
    S = sum((X[y == c] - m).T @ (X[y == c] - m) for c, m in zip(classes, means))
    return means, S


def taught(X: np.ndarray, y: np.ndarray, classes: list[int], normalize: bool = False, chunk: int = 20) -> ClassStats:
    stats = ClassStats(X.shape[1], normalize=normalize)
    for i, c in enumerate(classes):
        rows = np.flatnonzero(y == c)
        for k in range(0, len(rows), chunk):
            stats.update(X[rows[k : k + chunk]], np.full(len(rows[k : k + chunk]), i))
    return stats


def test_means_scatter_and_distances_match_batch_formulas(digits) -> None:
    X, y = digits
    classes = [0, 3, 5]
    stats = taught(X, y, classes)
    means, S = batch_stats(X, y, classes)
    np.testing.assert_allclose(stats.means.numpy(), means, atol=1e-9)
    np.testing.assert_allclose(stats.scatter.numpy(), S, atol=1e-8)
    n = int(np.isin(y, classes).sum())
    A = (1 - EPS) * S / n + EPS * np.eye(X.shape[1])
    P = np.linalg.inv(A)
    Z = X[::50].astype(np.float64)
    d2 = np.stack([np.einsum("ij,jk,ik->i", Z - m, P, Z - m) for m in means], 1)
    np.testing.assert_allclose(stats.mahalanobis(X[::50], EPS).numpy(), d2, rtol=1e-8)
    # Relative Mahalanobis: background Gaussian = all samples of the classes (total covariance).
    Xc = X[np.isin(y, classes)].astype(np.float64)
    mu0 = Xc.mean(0)
    P0 = np.linalg.inv((1 - EPS) * np.cov(Xc.T, bias=True) + EPS * np.eye(X.shape[1]))
    d0 = np.einsum("ij,jk,ik->i", Z - mu0, P0, Z - mu0)
    np.testing.assert_allclose(stats.relative_mahalanobis(X[::50], EPS).numpy(), d2 - d0[:, None], rtol=1e-6,
                               atol=1e-8)
    cos = (Z / np.linalg.norm(Z, axis=1, keepdims=True)) @ (means / np.linalg.norm(means, axis=1, keepdims=True)).T
    np.testing.assert_allclose(stats.cosine(X[::50]).numpy(), cos, atol=1e-12)


def test_leave_one_out_scores_equal_refitting_without_the_sample(digits) -> None:
    X, y = digits
    classes = [1, 7]
    stats = taught(X, y, classes)
    rows = np.flatnonzero(y == 7)[[0, 5, 40]]
    loo_d = stats.loo_mahalanobis(X[rows], np.ones(3, np.int64), EPS).numpy()
    loo_c = stats.loo_cosine(X[rows], np.ones(3, np.int64)).numpy()
    for k, r in enumerate(rows):
        keep = np.ones(len(y), bool)
        keep[r] = False
        ref = taught(X[keep], y[keep], classes)
        # The shared count N is kept in the closed form: equal up to one sample in ~360.
        np.testing.assert_allclose(loo_d[k], ref.mahalanobis(X[r], EPS)[0, 1].item(), rtol=5e-3)
        np.testing.assert_allclose(loo_c[k], ref.cosine(X[r])[0, 1].item(), rtol=1e-9)


def test_normalised_statistics_live_on_the_unit_sphere(digits) -> None:
    X, y = digits
    stats = taught(X, y, [2, 4], normalize=True)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    means, S = batch_stats(Xn, y, [2, 4])
    np.testing.assert_allclose(stats.means.numpy(), means, atol=1e-6)
    np.testing.assert_allclose(stats.scatter.numpy(), S, atol=1e-5)


def test_remove_state_round_trip_and_bytes(digits) -> None:
    X, y = digits
    stats = taught(X, y, [0, 1, 2])
    stats.remove(1)
    assert stats.counts == [int((y == 0).sum()), int((y == 2).sum())]
    buf = io.BytesIO()
    torch.save(stats.state(), buf)
    buf.seek(0)
    again = ClassStats(X.shape[1])
    again.load(torch.load(buf, weights_only=True), 2)
    np.testing.assert_array_equal(again.mahalanobis(X[:9], EPS).numpy(), stats.mahalanobis(X[:9], EPS).numpy())
    assert stats.nbytes_per_class() == 64 * 8 + 64 * 64 * 8 / 2
    assert ClassStats(64, scatter=False).nbytes_per_class() == 64 * 8
    with pytest.raises(ValueError):
        again.load(stats.state(), 3)  # class count mismatch
    with pytest.raises(ValueError):
        ClassStats(64, scatter=False).covariance()
    with pytest.raises(ValueError):
        stats.mahalanobis(X[:2], 0.0)  # shrinkage must be > 0


@settings(max_examples=15, deadline=None)
@given(order=st.permutations(list(range(60))), chunk=st.integers(1, 25))
def test_statistics_do_not_depend_on_teach_order_or_batching(order: list[int], chunk: int) -> None:
    X, y = load_digits(return_X_y=True)
    rows = np.concatenate([np.flatnonzero(y == c)[:20] for c in (0, 6, 9)])
    X, labels = (X[rows] / 16.0).astype(np.float32), np.repeat([0, 1, 2], 20)
    ref = ClassStats(64)
    ref.update(X, labels)
    stats = ClassStats(64)
    perm = np.asarray(order)
    for k in range(0, 60, chunk):
        part = perm[k : k + chunk]
        stats.update(X[part], labels[part])  # mixed-class batches, classes in any order
    np.testing.assert_allclose(stats.means.numpy(), ref.means.numpy(), atol=1e-12)
    np.testing.assert_allclose(stats.scatter.numpy(), ref.scatter.numpy(), atol=1e-9)
