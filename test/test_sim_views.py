"""Object catalogue, per-object views, and the cached sim-objects dataset."""

import numpy as np
import pybullet as p
import pytest

from chhnn_ros.sim.dataset import sim_object_images
from chhnn_ros.sim.objects import OBJECT_NAMES, get_object, measure_z_offset
from chhnn_ros.sim.views import render_object_views


def test_catalogue_z_offsets_rest_on_ground():
    client = p.connect(p.DIRECT)
    try:
        for name in OBJECT_NAMES:
            if name == "mini_table":  # collision covers the top only (see objects.py)
                continue
            assert measure_z_offset(client, name) == pytest.approx(get_object(name).z_offset, abs=0.005), name
    finally:
        p.disconnect(client)
    with pytest.raises(ValueError, match="valid: duck"):
        get_object("unicorn")


def test_views_shape_determinism_and_split():
    a = render_object_views("mug", 3, seed=1, size=48)
    assert a.shape == (3, 48, 48, 3) and a.dtype == np.uint8
    assert np.array_equal(a, render_object_views("mug", 3, seed=1, size=48))
    assert not np.array_equal(a, render_object_views("mug", 3, seed=2, size=48))
    noisy = render_object_views("mug", 3, seed=1, size=48, noise=0.1)
    assert np.abs(noisy.astype(int) - a).mean() > 5
    assert render_object_views("duck", 1, size=32, background="none").shape == (1, 32, 32, 3)
    with pytest.raises(ValueError, match="train"):
        render_object_views("mug", 1, viewpoints="side")
    with pytest.raises(ValueError, match="soccer_ball"):
        render_object_views("ball", 1)


def test_views_distinct_per_object_nearest_mean():
    names = ["duck", "mug", "soccer_ball", "jenga", "r2d2", "block"]
    tr = {n: render_object_views(n, 12, seed=0, size=24, viewpoints="train").reshape(12, -1) / 255.0 for n in names}
    te = {n: render_object_views(n, 8, seed=1, size=24, viewpoints="test").reshape(8, -1) / 255.0 for n in names}
    means = np.stack([tr[n].mean(0) for n in names])
    correct = sum(int(np.argmin(((means - x) ** 2).sum(1)) == i) for i, n in enumerate(names) for x in te[n])
    acc = correct / (8 * len(names))
    print(f"nearest-mean accuracy train->test viewpoints: {acc:.2f}")
    assert acc > 2.0 / len(names), acc  # at least twice chance on unseen viewpoints, raw pixels


def test_dataset_cache_round_trip(tmp_path):
    kw = {"objects": ["duck", "lego"], "n_train": 3, "n_test": 2, "seed": 7, "size": 16, "cache_dir": tmp_path}
    d = sim_object_images(**kw)
    assert d["x_train"].shape == (6, 16, 16, 3) and d["x_test"].shape == (4, 16, 16, 3)
    assert list(d["y_train"]) == ["duck"] * 3 + ["lego"] * 3 and list(d["y_test"]) == ["duck"] * 2 + ["lego"] * 2
    files = list(tmp_path.glob("sim_objects_*.npz"))
    assert len(files) == 1 and not list(tmp_path.glob("*.tmp*"))
    again = sim_object_images(**kw)  # from the cache
    for k in d:
        assert np.array_equal(d[k], again[k])
    assert np.array_equal(d["x_train"], sim_object_images(**kw, cache=False)["x_train"])  # deterministic
    files[0].write_bytes(b"garbage")  # corrupt cache is re-rendered
    assert np.array_equal(sim_object_images(**kw)["x_test"], d["x_test"])
    with pytest.raises(ValueError, match="valid"):
        sim_object_images(objects=["duck", "nope"], cache_dir=tmp_path)
