"""JSON payloads: versioned, stamped, validated on receipt."""

import json

import numpy as np
import pytest
from builtin_interfaces.msg import Time

from chhnn_ros.app import payloads
from chhnn_ros.perception.types import Detection

STAMP = Time(sec=12, nanosec=345)


def features(**over):
    d = Detection(1, 2, 30, 40, 0.9, "cup", 7)
    vec = np.array([[0.1, -2.5, 3.0]], np.float32)
    fields = {"image_size": [64, 48], "encoder": "efficientnet", "dim": 3,
              "detections": [payloads.detection_to_dict(d)], "vectors": payloads.vectors_to_lists(vec)}
    fields.update(over)
    return payloads.encode("features", STAMP, "cam", **{k: v for k, v in fields.items() if v is not None})


def test_features_round_trip_exact_float32():
    p = payloads.decode(features(), "features")
    assert p["stamp"] == {"sec": 12, "nanosec": 345} and p["frame_id"] == "cam"
    assert p["version"] == payloads.SCHEMA_VERSION
    d = p["detections"][0]
    assert (d.box, d.track_id, d.class_name) == ((1, 2, 30, 40), 7, "cup")
    np.testing.assert_array_equal(np.asarray(p["vectors"], np.float32), np.array([[0.1, -2.5, 3.0]], np.float32))


@pytest.mark.parametrize(
    "text, match",
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (json.dumps({"schema": "objects", "version": 1}), "expected a 'features' payload"),
        (json.dumps({"schema": "features", "version": 99}), "version 99 is not supported"),
    ],
)
def test_envelope_errors(text, match):
    with pytest.raises(ValueError, match=match):
        payloads.decode(text, "features")


def test_nan_and_shape_errors():
    bad = json.loads(features())
    bad["vectors"][0][1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        payloads.decode(json.dumps(bad), "features")  # json writes NaN, Python reads it
    with pytest.raises(ValueError, match="list of 4 numbers"):
        payloads.decode(features(dim=4), "features")
    with pytest.raises(ValueError, match="2 vectors for 1 detections"):
        payloads.decode(features(vectors=[[0, 0, 0], [1, 1, 1]]), "features")
    with pytest.raises(ValueError, match="box"):
        payloads.decode(features(detections=[{"box": [5, 5, 1, 1]}]), "features")
    with pytest.raises(ValueError, match="stamp"):
        payloads.decode(json.dumps({"schema": "features", "version": 1}), "features")


def test_encode_refuses_nan_and_unknown_kind():
    with pytest.raises(ValueError):
        payloads.encode("features", STAMP, "cam", vectors=[[float("nan")]])
    with pytest.raises(ValueError, match="unknown payload kind"):
        payloads.encode("bogus")


def test_objects_classes_status():
    o = payloads.encode("objects", STAMP, "cam", objects=[{"box": [0, 0, 5, 5], "label": "cup", "score": 0.8}],
                        database_version=3)
    assert payloads.decode(o, "objects")["database_version"] == 3
    c = payloads.decode(payloads.encode("classes", classes=["cup"], database_version=2), "classes")
    assert c["classes"] == ["cup"]
    with pytest.raises(ValueError, match="state"):
        payloads.decode(payloads.encode("teach_status", state="sleeping"), "teach_status")


def test_features_base64_round_trip_and_errors():
    X = np.array([[0.1, -2.5, 3.0], [1e-30, 7.0, -0.0]], np.float32)
    dets = [{"box": [1, 2, 30, 40]}, {"box": [3, 4, 50, 60]}]
    text = features(detections=dets, vectors=None, vectors_b64=payloads.vectors_to_b64(X))
    assert '"vectors"' not in text  # the binary form only
    p = payloads.decode(text, "features")
    assert p["vectors"].dtype == np.float32 and p["vectors"].shape == (2, 3)
    np.testing.assert_array_equal(p["vectors"], X)
    empty = payloads.decode(features(detections=[], vectors=None, vectors_b64=payloads.vectors_to_b64(
        np.zeros((0, 3), np.float32))), "features")
    assert empty["vectors"].shape == (0, 3)
    for b64, match in ((payloads.vectors_to_b64(X[:1]), "holds 12 bytes, expected 2 detections x 3 x 4 = 24"),
                       ("not base64!", "not valid base64"),
                       (payloads.vectors_to_b64(np.array([[0, np.nan, 0], [0, 0, 0]], np.float32)), "NaN or inf")):
        with pytest.raises(ValueError, match=match):
            payloads.decode(features(detections=dets, vectors=None, vectors_b64=b64), "features")


@pytest.mark.parametrize("field,value,match", [
    ("crop_size", 0, "crop_size"), ("crop_size", 100_000, "crop_size"), ("crop_size", 2.5, "crop_size"),
    ("crop_size", True, "crop_size"), ("crop_pad", -0.1, "crop_pad"), ("crop_pad", "0.1", "crop_pad"),
    ("crop_pad", 1e9, "crop_pad"),
])
def test_detections_crop_geometry_is_checked(field, value, match):
    """A bogus crop geometry is refused before an encoder cuts (and allocates) crops with it."""
    ok = {"schema": "detections", "version": 1, "stamp": {"sec": 1, "nanosec": 0}, "frame_id": "c",
          "crop_size": 224, "crop_pad": 0.1, "detections": [{"box": [1, 1, 20, 20]}]}
    assert payloads.decode(json.dumps(ok), "detections")["crop_size"] == 224
    with pytest.raises(ValueError, match=match):
        payloads.decode(json.dumps({**ok, field: value}), "detections")
