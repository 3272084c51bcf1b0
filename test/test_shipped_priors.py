"""The shipped priors load, record what they saw, and never saw an evaluation class."""

import pybullet_data
import pytest

from chhnn_ros.learning.chhnn import resolve_prior, shipped_priors
from chhnn_ros.learning.prior import load_prior
from chhnn_ros.sim.objects import CATALOGUE
from chhnn_ros.sim.prior_data import FIRST_BLOB, blob
from chhnn_ros.sim.views import render_object_views


def test_both_priors_ship_and_auto_picks_by_feature_size():
    names = {p.name for p in shipped_priors()}
    assert {"prior-pixels28.pt", "prior-efficientnet1280.pt"} <= names
    assert resolve_prior("auto", 784, (256, 256), 0)[1] == "shipped:prior-pixels28.pt"
    assert resolve_prior("auto", 1280, (256, 256), 0)[1] == "shipped:prior-efficientnet1280.pt"
    assert resolve_prior("auto", 512, (256, 256), 0)[1].startswith("random")


def test_priors_record_disjoint_training_data():
    for path in shipped_priors():
        seen = load_prior(path).trained_on
        assert seen["classes"] and seen["description"] and seen["mask_stats"]["active_fraction"] == pytest.approx(
            0.5, abs=0.05)
        if seen["feature"] == "pixels28":  # letters only: no digit and no garment can be among them
            assert all(c.isalpha() for c in seen["classes"])
        else:  # blobs outside the sim catalogue (which every sim stream, demo and scene draws from)
            used = {o.urdf for o in CATALOGUE.values()}
            urdfs = {f"random_urdfs/{int(c[4:]):03d}/{int(c[4:]):03d}.urdf" for c in seen["classes"]}
            assert urdfs and not urdfs & used


def test_blob_views_render_outside_the_catalogue():
    obj = blob(FIRST_BLOB)
    assert obj.name not in CATALOGUE and (pybullet_data.getDataPath() + "/" + obj.urdf)
    views = render_object_views(obj, 2, seed=0, size=64)
    assert views.shape == (2, 64, 64, 3) and views.std() > 5  # an object on a floor, not a blank image
    with pytest.raises(ValueError):
        blob(0)  # 000 is the catalogue's held-out blue_blob
