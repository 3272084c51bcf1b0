"""Stream loaders and front-ends on the real offline data sets."""

import numpy as np
import pytest

from chhnn_ros.bench.streams import FASHION_DIR, as_domain_incremental, load_stream
from chhnn_ros.perception import frontends


def test_split_mnist_shapes_steps_and_subsampling():
    s = load_stream("split-mnist", classes_per_step=2, train_per_class=30, test_per_class=10)
    assert s.steps == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    assert s.x_train.shape == (300, 28, 28) and s.x_train.dtype == np.uint8
    assert s.x_test.shape == (100, 28, 28)
    assert np.bincount(s.y_train).tolist() == [30] * 10
    assert np.bincount(s.y_test).tolist() == [10] * 10
    # Each sample's step is the step of its class.
    assert (s.t_train == s.y_train // 2).all() and (s.t_test == s.y_test // 2).all()
    assert s.x_train.max() > 200  # real digits, not blank or [0,1] floats
    assert "MNIST" in s.source and not s.domain


def test_one_class_per_step_and_uneven_last_step():
    assert load_stream("split-mnist", classes_per_step=1, train_per_class=5, test_per_class=5).steps == [
        [c] for c in range(10)]
    s = load_stream("split-mnist", classes_per_step=3, train_per_class=5, test_per_class=5)
    assert s.steps == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_streams_are_deterministic_and_data_seed_matters():
    a = load_stream("split-mnist", train_per_class=20, test_per_class=5, shuffle_classes=True, data_seed=3)
    b = load_stream("split-mnist", train_per_class=20, test_per_class=5, shuffle_classes=True, data_seed=3)
    c = load_stream("split-mnist", train_per_class=20, test_per_class=5, shuffle_classes=True, data_seed=4)
    assert a.steps == b.steps and np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert a.steps != c.steps
    assert sorted(sum(a.steps, [])) == list(range(10))


def test_train_and_test_come_from_different_images():
    s = load_stream("split-mnist", train_per_class=50, test_per_class=50)
    train = {x.tobytes() for x in s.x_train}
    assert sum(x.tobytes() in train for x in s.x_test) <= 2  # MNIST has a few exact duplicates at most


def test_permuted_mnist_is_domain_incremental():
    s = load_stream("permuted-mnist", train_per_class=4, test_per_class=3, n_permutations=3)
    assert s.domain and s.steps == [list(range(10))] * 3
    assert s.x_train.shape == (120, 28, 28) and np.bincount(s.t_train).tolist() == [40, 40, 40]
    x0, x1 = s.x_train[s.t_train == 0], s.x_train[s.t_train == 1]
    assert not np.array_equal(x0, x1)
    # Same digits, pixels only rearranged: the sorted pixel values of each image are equal.
    assert np.array_equal(np.sort(x0.reshape(40, -1), axis=1), np.sort(x1.reshape(40, -1), axis=1))
    assert np.array_equal(s.y_train[s.t_train == 0], s.y_train[s.t_train == 2])


def test_domain_relabelling_of_a_split_stream():
    s = as_domain_incremental(load_stream("split-mnist", train_per_class=5, test_per_class=5))
    assert s.domain and s.steps == [[0, 1]] * 5
    assert set(np.unique(s.y_train).tolist()) == {0, 1}


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_split_fashion():
    s = load_stream("split-fashion", train_per_class=10, test_per_class=10)
    assert s.x_train.shape == (100, 28, 28) and s.x_train.dtype == np.uint8
    assert len(s.steps) == 5 and np.bincount(s.y_test).tolist() == [10] * 10


def test_npz_stream_images_and_features(tmp_path):
    rng = np.random.default_rng(0)
    img = tmp_path / "imgs.npz"
    np.savez(img, x_train=rng.integers(0, 255, (12, 8, 8, 3), dtype=np.uint8), y_train=np.repeat(["a", "b", "c"], 4),
             x_test=rng.integers(0, 255, (6, 8, 8, 3), dtype=np.uint8), y_test=np.repeat(["a", "b", "c"], 2))
    s = load_stream(f"npz:{img}", classes_per_step=1, train_per_class=3, test_per_class=2)
    assert s.steps == [["a"], ["b"], ["c"]] and s.slug() == "npz-imgs"
    assert s.x_train.shape == (9, 8, 8, 3)
    assert frontends.pixels(s.x_train).shape == (9, 192)
    feats = tmp_path / "feats.npz"
    np.savez(feats, x_train=rng.normal(size=(8, 5)), y_train=[0, 1] * 4, x_test=rng.normal(size=(4, 5)),
             y_test=[0, 1] * 2)
    f = load_stream(f"npz:{feats}", classes_per_step=1)
    X = frontends.pixels(f.x_train)
    orig = np.load(feats)["x_train"][::2].astype(np.float32)  # class-0 rows, in any order after sub-sampling
    assert X.dtype == np.float32 and X.shape == (8, 5)
    assert np.allclose(np.sort(X[f.y_train == 0], axis=0), np.sort(orig, axis=0))


def test_bad_streams_raise_value_error(tmp_path):
    with pytest.raises(ValueError, match="unknown stream"):
        load_stream("cifar")
    with pytest.raises(ValueError, match="not found"):
        load_stream(f"npz:{tmp_path / 'missing.npz'}")
    bad = tmp_path / "bad.npz"
    np.savez(bad, x_train=np.zeros((4, 3)), y_train=[0, 0, 1, 1])
    with pytest.raises(ValueError, match="lacks arrays"):
        load_stream(f"npz:{bad}")
    notest = tmp_path / "notest.npz"
    np.savez(notest, x_train=np.zeros((4, 3)), y_train=[0, 0, 1, 1], x_test=np.zeros((2, 3)), y_test=[0, 0])
    with pytest.raises(ValueError, match="no test samples"):
        load_stream(f"npz:{notest}")
    with pytest.raises(ValueError, match="only 10 classes"):
        load_stream("split-mnist", classes_per_step=11, train_per_class=2, test_per_class=2)


def test_pixels_and_rgb_conversion():
    x = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    assert np.allclose(frontends.pixels(x), [[0.0, 1.0, 0.2, 0.4]])
    rgb = frontends.to_rgb_uint8(x)
    assert rgb.shape == (1, 2, 2, 3) and (rgb[..., 0] == rgb[..., 2]).all()
    assert frontends.to_rgb_uint8(np.full((1, 2, 2), 0.5)).max() == 128
    with pytest.raises(ValueError, match="images"):
        frontends.to_rgb_uint8(np.zeros((3, 5)))


class _MeanColourEncoder:
    """Stand-in for EfficientNet in the cache test: per-channel mean colour."""

    def __init__(self):
        self.calls = 0

    def encode(self, images):
        self.calls += 1
        return images.reshape(len(images), -1, 3).mean(axis=1).astype(np.float32)


def test_efficientnet_features_are_cached_atomically(tmp_path):
    x = np.random.default_rng(1).integers(0, 255, (10, 6, 6), dtype=np.uint8)
    enc = _MeanColourEncoder()
    f1 = frontends.efficientnet(x, "unit", encoder=enc, encoder_name="mean", cache_dir=tmp_path, batch=4)
    assert enc.calls == 3 and f1.shape == (10, 3)
    assert np.allclose(f1[:, 0], x.reshape(10, -1).mean(axis=1), atol=1e-4)
    f2 = frontends.efficientnet(x, "unit", encoder=enc, encoder_name="mean", cache_dir=tmp_path)
    assert enc.calls == 3 and np.array_equal(f1, f2)  # served from the cache
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 1 and files[0].startswith("unit-") and files[0].endswith(".npz")
    frontends.efficientnet(x[:5], "unit", encoder=enc, encoder_name="mean", cache_dir=tmp_path)
    assert enc.calls == 4  # different pixels → different key


def _real_encoder_available() -> bool:
    try:
        from chhnn_ros.perception.encoders import make_encoder  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _real_encoder_available(), reason="chhnn_ros.perception.encoders not available")
def test_efficientnet_frontend_on_real_digits(tmp_path, monkeypatch):
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(frontends, "CACHE_DIR", tmp_path)
    s = load_stream("split-mnist", train_per_class=2, test_per_class=1)
    f = frontends.apply_frontend("efficientnet", s.x_train[:6], "digits")
    assert f.shape == (6, 1280) and f.dtype == np.float32 and np.isfinite(f).all()
    assert len(list(tmp_path.glob("digits-*.npz"))) == 1
    assert np.linalg.norm(f[0] - f[2]) > 1e-3  # different digits, different features
    again = frontends.apply_frontend("efficientnet", s.x_train[:6], "digits")
    assert np.array_equal(f, again)  # served from the cache


def test_sim_objects_stream():
    pytest.importorskip("chhnn_ros.sim.dataset")  # renders 5 small views per object (cached by the simulator)
    s = load_stream("sim-objects", classes_per_step=2, train_per_class=3, test_per_class=2)
    assert s.default_frontend == "efficientnet"
    assert s.x_train.shape[1:] == (64, 64, 3) and s.x_train.dtype == np.uint8
    assert all(isinstance(c, str) for c in s.classes) and len(s.classes) >= 2
    assert len(s.x_train) == 3 * len(s.classes) and len(s.x_test) == 2 * len(s.classes)
    assert all(len(step) <= 2 for step in s.steps) and sorted(sum(s.steps, [])) == sorted(s.classes)
    assert s.x_train.std() > 5  # rendered views, not blank frames
