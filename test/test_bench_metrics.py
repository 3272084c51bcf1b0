"""Metric definitions on hand-made accuracy matrices."""

import math

import numpy as np
import pytest

from chhnn_ros.bench import metrics

NAN = float("nan")
PERFECT = np.array([[100, NAN, NAN], [100, 100, NAN], [100, 100, 100]], dtype=float)
# Catastrophic forgetting: each step is learned perfectly and the previous ones are lost.
CATASTROPHIC = np.array([[100, NAN, NAN], [0, 100, NAN], [0, 0, 100]], dtype=float)


def test_perfect_learner():
    assert metrics.final_acc(PERFECT) == 100.0
    assert metrics.avg_inc_acc(PERFECT) == 100.0
    assert metrics.forgetting(PERFECT) == 0.0
    assert metrics.bwt(PERFECT) == 0.0
    assert metrics.max_min_gap(PERFECT) == 0.0


def test_catastrophic_learner():
    assert metrics.final_acc(CATASTROPHIC) == pytest.approx(100 / 3)
    # rows: 100, mean(0,100)=50, mean(0,0,100)=33.3
    assert metrics.avg_inc_acc(CATASTROPHIC) == pytest.approx((100 + 50 + 100 / 3) / 3)
    assert metrics.forgetting(CATASTROPHIC) == 100.0
    assert metrics.bwt(CATASTROPHIC) == -100.0
    assert metrics.max_min_gap(CATASTROPHIC) == 100.0


def test_forgetting_uses_best_past_accuracy_not_first():
    # Step 0 improves to 90 after step 1 (positive backward transfer) then drops to 60.
    A = np.array([[70, NAN, NAN], [90, 80, NAN], [60, 80, 50]], dtype=float)
    assert metrics.forgetting(A) == pytest.approx(((90 - 60) + (80 - 80)) / 2)
    assert metrics.bwt(A) == pytest.approx(((60 - 70) + (80 - 80)) / 2)
    assert metrics.final_acc(A) == pytest.approx(190 / 3)
    assert metrics.max_min_gap(A) == 30.0


def test_full_domain_il_matrix_ignores_upper_triangle_for_averages():
    A = np.array([[80, 20], [70, 90]], dtype=float)
    assert metrics.avg_inc_acc(A) == pytest.approx((80 + 80) / 2)
    assert metrics.forgetting(A) == 10.0
    assert metrics.seen_accuracy_curve(A).tolist() == [80.0, 80.0]


def test_single_step_forgetting_is_undefined():
    A = np.array([[75.0]])
    assert metrics.final_acc(A) == 75.0
    assert math.isnan(metrics.forgetting(A))
    assert math.isnan(metrics.bwt(A))


def test_bad_matrix_raises():
    with pytest.raises(ValueError, match="square"):
        metrics.final_acc(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="square"):
        metrics.final_acc(np.zeros((0, 0)))


def test_aggregate_and_mean_matrix():
    s1 = metrics.seed_metrics(PERFECT, [1.0, 3.0], 400.0, 10)
    s2 = metrics.seed_metrics(CATASTROPHIC, [2.0], 400.0, 10)
    assert s1["update_ms"] == 2.0
    agg = metrics.aggregate([s1, s2])
    assert agg["final_acc"] == pytest.approx((100 + 100 / 3) / 2)
    assert agg["final_acc_std"] == pytest.approx(np.std([100, 100 / 3]))
    assert agg["forgetting"] == 50.0 and agg["forgetting_std"] == 50.0
    assert agg["n_params"] == 10 and agg["bytes_per_class"] == 400.0
    M = metrics.mean_matrix([PERFECT, CATASTROPHIC])
    assert M[2, 0] == 50.0 and M[1, 1] == 100.0
    assert np.isnan(M[0, 2])
    with pytest.raises(ValueError):
        metrics.aggregate([])
