"""What a robot meets after one teach: its taught object is named, every other object is unknown,
with the nearest class and the known-ness in the label (through the classifier's own core: the
memory of Knowledge, the learner's calibrated decision, the Labeller)."""

import numpy as np
import pytest

from chhnn_ros.app.knowledge import Knowledge
from chhnn_ros.app.labelling import Labeller
from chhnn_ros.perception.types import Detection

pytest.importorskip("pybullet")


@pytest.fixture(scope="module")
def views():
    """EfficientNet-Lite0 features of rendered views of three sim objects (the robot's own encoder)."""
    from chhnn_ros.perception.frontends import efficientnet
    from chhnn_ros.sim.dataset import sim_object_images

    data = sim_object_images(["duck", "mug", "teddy"], n_train=20, n_test=20, seed=3, size=128)
    return {"train": efficientnet(data["x_train"], "open-world-train"), "y_train": data["y_train"],
            "test": efficientnet(data["x_test"], "open-world-test"), "y_test": data["y_test"]}


@pytest.mark.parametrize("learner", ["chhnn", "ncm", "slda"])
def test_one_taught_class_others_are_unknown(learner, views, tmp_path):
    k = Knowledge(learner, "", 0, str(tmp_path / "memory.pt"), False, views["train"].shape[1])
    duck = views["y_train"] == "duck"
    k.teach("duck", views["train"][duck], "efficientnet")
    labeller = Labeller("unknown")
    X, y = views["test"], views["y_test"]
    objects = labeller.label([Detection(0, 0, 10, 10)] * len(X), k.predict(X))
    labels = np.array([o.label for o in objects])
    # 20 views of one teach calibrate the threshold: most fresh views of the taught object pass it
    assert np.mean(labels[y == "duck"] == "duck") >= 0.8, labels[y == "duck"]
    assert np.mean(labels[y != "duck"] == "unknown") >= 0.9, labels[y != "duck"]
    assert {o.nearest for o in objects} == {"duck"}  # unknown, nearest: duck
    known = np.array([o.known_score for o in objects])
    assert known[y == "duck"].mean() > known[y != "duck"].mean()
    # the calibration survives the memory file
    again = Knowledge(learner, "", 0, str(tmp_path / "memory.pt"), False)
    np.testing.assert_allclose(again.predict(X).known_scores, k.predict(X).known_scores, rtol=1e-5, atol=1e-6)
