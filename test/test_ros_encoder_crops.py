"""The encoder's two crop sources give the detector's crops: cut from image_raw with the boxes
and geometry that travel in ``detections`` (default), or split from the detector's mosaic."""

import json

import numpy as np
import pytest

pytest.importorskip("rclpy")

from chhnn_ros.app import payloads  # noqa: E402
from chhnn_ros.app.stages import crops_from_image, split_mosaic  # noqa: E402
from chhnn_ros.perception.crops import crop_detections  # noqa: E402
from chhnn_ros.perception.types import Detection  # noqa: E402


def _through_json(dets, size, pad):
    text = json.dumps({"schema": "detections", "version": 1, "stamp": {"sec": 1, "nanosec": 0}, "frame_id": "c",
                       "crop_size": size, "crop_pad": pad, "detections": [payloads.detection_to_dict(d) for d in dets]})
    return payloads.decode(text, "detections")


def test_crops_from_image_equal_the_detectors_crops():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    dets = [Detection(10.123, 20.456, 60.789, 90.001), Detection(100.5, 3.25, 159.9, 50.75),
            Detection(0.0, 0.0, 12.0, 119.99), Detection(-5.0, 60.0, 40.0, 130.0)]
    crops, kept = crop_detections(img, dets, size=32, pad=0.1, min_size=8)
    payload = _through_json(kept, 32, 0.1)
    mine = crops_from_image(img, payload["detections"], payload["crop_size"], payload["crop_pad"])
    assert len(mine) == len(crops) == 4
    for a, b in zip(crops, mine):
        assert np.array_equal(a, b)
    mosaic = np.concatenate(crops, axis=0)
    for a, b in zip(crops, split_mosaic(mosaic, len(kept), 32)):
        assert np.array_equal(a, b)


def test_wrong_frame_or_mosaic_is_a_clear_error():
    img = np.zeros((50, 50, 3), np.uint8)
    far = [Detection(100.0, 100.0, 140.0, 140.0)]  # boxes of a bigger frame
    with pytest.raises(ValueError, match="outside"):
        crops_from_image(img, far, 32, 0.1)
    with pytest.raises(ValueError, match="expected 32x64"):
        split_mosaic(np.zeros((32, 32, 3), np.uint8), 2, 32)
