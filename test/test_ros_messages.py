"""The typed messages: the core's types round-trip exactly, and a bad message content is refused
with a clear error (boxes, scores, crop geometry, feature shapes, NaN) before anything uses it."""

import math

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from rclpy.serialization import deserialize_message, serialize_message

from chhnn_ros.app.labelling import LabelledObject
from chhnn_ros.app.teaching import TeachStatus
from chhnn_ros.msg import DetectionArray, FeatureArray, LabelledObjectArray
from chhnn_ros.perception.types import Detection
from chhnn_ros.ros import messages

STAMP = Time(sec=12, nanosec=345)
HDR = messages.header(STAMP, "cam")
DETS = [Detection(1.5, 2.0, 30.25, 40.0, 0.9, "cup", 7), Detection(50, 60, 70, 80, 0.5, "mug", None)]


def wire(msg):
    """The message as a subscriber gets it (serialised and back)."""
    return deserialize_message(serialize_message(msg), type(msg))


def test_detections_round_trip_with_crop_geometry():
    msg = wire(messages.detections_to_msg(HDR, DETS, (64, 48), 224, 0.1))
    back = messages.detections_from_msg(msg)
    assert [(d.box, d.class_name, d.track_id) for d in back] == [(d.box, d.class_name, d.track_id) for d in DETS]
    assert back[0].score == pytest.approx(0.9) and messages.image_size(msg) == (64, 48)
    d = messages.detections_to_dict(msg)
    assert d["stamp"] == {"sec": 12, "nanosec": 345} and d["frame_id"] == "cam" and d["crop_size"] == 224


def test_features_round_trip_exact_float32():
    X = np.array([[0.1, -2.5, 3.0], [1e-7, 7.0, -0.0]], np.float32)
    dets, Y = messages.features_from_msg(wire(messages.features_to_msg(HDR, DETS, X, "efficientnet", (64, 48))))
    np.testing.assert_array_equal(Y, X)
    assert Y.dtype == np.float32 and [d.box for d in dets] == [d.box for d in DETS]
    empty, Z = messages.features_from_msg(wire(messages.features_to_msg(HDR, [], np.zeros((0, 3)), "e", (1, 1))))
    assert empty == [] and Z.shape == (0, 3)  # the robot looking at bare floor


def test_objects_teach_status_and_classes_round_trip():
    objs = [LabelledObject((1, 2, 30, 40), "cup", 0.93, True, 2.5, "cup", 3, "cup", 0.8),
            LabelledObject((5, 5, 9, 9), "unknown", 0.41, False, -1.0, "mug", None, "object", 0.7)]
    o = messages.objects_to_dict(wire(messages.objects_to_msg(HDR, objs, 4)))
    assert o["database_version"] == 4 and o["stamp"]["nanosec"] == 345
    assert [(x["label"], x["known"], x["nearest"], x["track_id"]) for x in o["objects"]] == [
        ("cup", True, "cup", 3), ("unknown", False, "mug", None)]
    assert o["objects"][1]["known_score"] == -1.0 and o["objects"][0]["box"] == [1, 2, 30, 40]
    s = messages.teach_status_to_dict(wire(messages.teach_status_to_msg(
        TeachStatus("error", "cup", "target lost", 3, 20, 2), 7, STAMP)))
    assert s == {"state": "error", "label": "cup", "message": "target lost", "collected": 3, "needed": 20,
                 "views": 2, "database_version": 7}
    c = messages.classes_to_dict(wire(messages.classes_to_msg(["cup", "mug"], [2, 1], 9, STAMP)))
    assert c == {"classes": ["cup", "mug"], "teaches": [2, 1], "database_version": 9}


def _detections(**change):
    msg = messages.detections_to_msg(HDR, DETS, (64, 48), 224, 0.1)
    for key, value in change.items():
        if key.startswith("bbox_"):
            setattr(msg.detections[0].bbox, key[5:], value)
        elif key == "score":
            msg.detections[0].hypothesis.score = value
        else:
            setattr(msg, key, value)
    return msg


@pytest.mark.parametrize("change, match", [
    ({"bbox_center_x": math.nan}, "not finite"),
    ({"bbox_size_y": math.inf}, "not finite"),
    ({"bbox_size_x": 0.0}, "is empty"),
    ({"bbox_size_y": -3.0}, "is empty"),
    ({"score": math.nan}, "score is not finite"),
    ({"crop_size": 0}, "'crop_size' must be in 1..2048"),
    ({"crop_size": 100_000}, "'crop_size' must be in 1..2048"),
    ({"crop_pad": -0.5}, "'crop_pad' must be in 0..10"),
    ({"crop_pad": math.nan}, "'crop_pad' must be in 0..10"),
], ids=lambda v: str(v))
def test_bad_detections_are_refused(change, match):
    with pytest.raises(ValueError, match=match.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        messages.detections_from_msg(_detections(**change))


def _features(n_values=None, dim=3, extra_detection=False, nan=False):
    msg = messages.features_to_msg(HDR, DETS, np.ones((2, 3), np.float32), "efficientnet", (64, 48))
    data = np.asarray(msg.data, np.float32).copy()
    if nan:
        data[4] = np.nan
    if n_values is not None:
        data = data[:n_values]
    msg.data, msg.dim = data, dim
    if extra_detection:
        msg.detections = [*msg.detections, msg.detections[0]]
    return msg


@pytest.mark.parametrize("kw, match", [
    ({"n_values": 5}, "5 values for 2 detections x dim 3 = 6"),
    ({"extra_detection": True}, "6 values for 3 detections x dim 3 = 9"),
    ({"dim": 0}, "dim must be >= 1"),
    ({"dim": 2}, "6 values for 2 detections x dim 2 = 4"),
    ({"nan": True}, "NaN or inf"),
], ids=lambda v: str(v))
def test_bad_features_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        messages.features_from_msg(_features(**kw))


def test_every_kind_has_its_type_and_reader():
    assert {k: t for k, (t, _) in messages.KINDS.items()} == {
        "truth": DetectionArray, "detections": DetectionArray, "features": FeatureArray,
        "objects": LabelledObjectArray, "teach_status": type(messages.teach_status_to_msg(
            TeachStatus("learned", "a", ""), 0, STAMP)), "classes": type(messages.classes_to_msg([], [], 0, STAMP))}
