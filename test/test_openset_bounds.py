"""``chhnn-bench openset-bounds``: the oracle-threshold rejection on a hand-made case, and the command end
to end on a small npz stream (its learner row is the learner ``chhnn-bench openset`` measures)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from chhnn_ros.bench import cli
from chhnn_ros.bench.openset_bounds import SCORES, reject_at_known_rate, reject_within_budget


def test_reject_within_budget_takes_the_best_threshold_the_budget_allows() -> None:
    known = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    correct = np.array([1, 1, 0, 1, 0, 0, 0, 0], bool)
    score = np.array([5.0, 4.0, 1.0, 2.0, 3.0, 1.5, 0.5, 0.0])
    # Rejecting the wrong known (1.0) costs nothing: the threshold moves up to the next known (2.0)
    # and rejects the unknowns 0.0, 0.5 and 1.5.
    assert reject_within_budget(score, known, correct, 0.0) == (0.75, 0.0)
    # One right known (2.0) may go: rejecting below 4.0 costs 1/4 and rejects all four unknowns.
    assert reject_within_budget(score, known, correct, 0.25) == (1.0, 0.25)
    assert reject_within_budget(score, known, correct, 0.2) == (0.75, 0.0)
    assert reject_at_known_rate(score, known, 0.0) == 0.5  # threshold at the lowest known score, 1.0


def test_openset_bounds_writes_every_score(tmp_path: Path) -> None:
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    test = np.zeros(len(y), bool)
    test[rng.permutation(len(y))[:500]] = True
    path = tmp_path / "digits.npz"
    np.savez(path, x_train=(X[~test] / 16).astype(np.float32), y_train=y[~test],
             x_test=(X[test] / 16).astype(np.float32), y_test=y[test])
    sizes = ["--train-per-class", "40", "--test-per-class", "30"]
    out = tmp_path / "out"
    assert cli.main(["openset-bounds", "--stream", f"npz:{path}", "--method", "ncm", *sizes, "--out", str(out)]) == 0
    rep = json.loads((out / "npz-digits-openset-bounds.json").read_text())
    assert rep["method"] == "ncm" and rep["protocol"]["budget_points"] == 3.0
    assert set(rep["scores"]) == set(SCORES)
    for m in rep["scores"].values():
        for key in ("auroc", "reject_at_budget", "known_loss_at_budget", "reject_at_2pct"):
            assert 0.0 <= m[key] <= 1.0
        assert m["known_loss_at_budget"] <= 0.03 + 1e-9
    assert rep["scores"]["knn-cos"]["auroc"] > 0.8  # digits 5-9 against every training sample of 0-4
    assert cli.main(["openset", "--stream", f"npz:{path}", "--methods", "ncm", "--quick", *sizes,
                     "--out", str(out), "--no-progress", "--no-plots"]) == 0
    same = json.loads((out / "npz-digits-openset.json").read_text())["methods"]["ncm"]
    assert rep["scores"]["learner"]["auroc"] == pytest.approx(same["auroc"])
    table = (out / "npz-digits-openset-bounds.md").read_text()
    assert "| gauss-full |" in table and "| mlp-knn-cos |" in table
    assert cli.main(["openset-bounds", "--stream", f"npz:{path}", "--method", "ncm,slda", "--out", str(out)]) == 2
    assert cli.main(["openset-bounds", "--stream", f"npz:{path}", "--budget", "-1", "--out", str(out)]) == 2
