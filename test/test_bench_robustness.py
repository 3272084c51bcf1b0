"""chhnn-bench robustness: the noise model, the viewpoint split, and a tiny end-to-end run
(3 sim objects, EfficientNet-Lite0 features, two learners) writing the table, JSON and PNG."""

import json

import numpy as np
import pytest

from chhnn_ros.bench import robustness


@pytest.fixture(autouse=True)
def private_caches(tmp_path, monkeypatch):
    from chhnn_ros.perception import frontends
    from chhnn_ros.sim import dataset

    monkeypatch.setattr(dataset, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(frontends, "CACHE_DIR", tmp_path / "cache" / "features")


def test_noise_is_gaussian_on_unit_intensities_and_seeded():
    x = np.full((4, 32, 32, 3), 128, np.uint8)
    for sigma in robustness.SIGMAS:
        noisy = robustness.add_noise(x, sigma, seed=1)
        d = (noisy.astype(float) - 128) / 255
        assert noisy.dtype == np.uint8 and abs(d.mean()) < 0.01 and abs(d.std() - sigma) < 0.1 * sigma
        assert np.array_equal(noisy, robustness.add_noise(x, sigma, seed=1))
        assert not np.array_equal(noisy, robustness.add_noise(x, sigma, seed=2))
    assert np.array_equal(robustness.add_noise(x, 0.0, 0), x)
    white = robustness.add_noise(np.full((2, 8, 8, 3), 255, np.uint8), 0.2, 0)
    assert white.max() == 255 and white.mean() < 255  # clipped, not wrapped
    with pytest.raises(ValueError):
        robustness.add_noise(x, -0.1, 0)


def test_conditions_are_clean_noisy_and_unseen_views():
    views = robustness.load_views(["duck", "mug"], 2, 3, seed=0, size=48)
    assert views["x_train"].shape == (4, 48, 48, 3) and views["x_unseen"].shape == views["x_test"].shape
    assert list(views["y_unseen"]) == list(views["y_test"]) == ["duck"] * 3 + ["mug"] * 3
    assert not np.array_equal(views["x_unseen"], views["x_test"])
    conds = robustness.conditions(views, (0.05, 0.2), seed=0)
    assert list(conds) == ["clean", "noise σ=0.05", "noise σ=0.2", "unseen viewpoint"]
    assert conds["clean"][0] is views["x_test"]
    err = [np.abs(conds[k][0].astype(float) - views["x_test"]).mean() for k in ("noise σ=0.05", "noise σ=0.2")]
    assert 0 < err[0] < err[1]


def test_end_to_end_table_json_png(tmp_path, capsys):
    out = tmp_path / "out"
    code = robustness.main(["--objects", "duck,red_ball,mug", "--train-per-class", "4", "--test-per-class", "4",
                            "--methods", "ncm,slda", "--seeds", "2", "--size", "64", "--teach-size", "2",
                            "--out", str(out)])
    assert code == 0
    table = capsys.readouterr().out
    assert "| ncm |" in table and "unseen viewpoint" in table and "noise σ=0.2" in table
    rep = json.loads((out / "robustness.json").read_text())
    assert rep["conditions"] == ["clean", "noise σ=0.05", "noise σ=0.1", "noise σ=0.2", "unseen viewpoint"]
    assert set(rep["methods"]) == {"ncm", "slda"} and rep["protocol"]["seeds"] == [0, 1]
    for m in rep["methods"].values():
        for c in rep["conditions"]:
            assert len(m[c]["per_seed"]) == 2 and all(0 <= a <= 100 for a in m[c]["per_seed"])
        assert m["drop_unseen_viewpoint"] == pytest.approx(m["clean"]["mean"] - m["unseen viewpoint"]["mean"])
    assert rep["methods"]["ncm"]["clean"]["mean"] >= 75  # three very different objects
    assert (out / "robustness.png").stat().st_size > 1000


def test_bad_arguments_exit_2(tmp_path):
    assert robustness.main(["--methods", "nope", "--out", str(tmp_path)]) == 2
    assert robustness.main(["--objects", "duck,unicorn", "--out", str(tmp_path)]) == 2
