"""Image validation, crops and target selection."""

import math

import numpy as np
import pytest

from chhnn_ros.perception.crops import (
    FILL_VALUE,
    crop_detections,
    iou,
    kept_detections,
    letterbox,
    select_target,
)
from chhnn_ros.perception.image_checks import as_rgb_uint8
from chhnn_ros.perception.types import Detection


def test_rgb_uint8_passthrough_and_gray_alpha():
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    assert np.array_equal(as_rgb_uint8(rgb), rgb)
    gray = rgb[:, :, 0]
    for g in (gray, gray[:, :, None]):
        out = as_rgb_uint8(g)
        assert out.shape == (5, 7, 3) and np.array_equal(out[:, :, 2], gray)
    rgba = np.dstack([rgb, np.zeros((5, 7), np.uint8)])
    assert np.array_equal(as_rgb_uint8(rgba), rgb)


def test_rgb_uint8_depth_conversions():
    u16 = np.array([[0, 257, 65535]], dtype=np.uint16)
    assert as_rgb_uint8(u16)[0, :, 0].tolist() == [0, 1, 255]
    f = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    assert as_rgb_uint8(f)[0, :, 1].tolist() == [0, 128, 255]
    assert as_rgb_uint8(np.array([[3, 200]], dtype=np.int64))[0, :, 0].tolist() == [3, 200]


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((0, 4, 3), np.uint8), "empty"),
        (np.zeros((4, 4, 3, 1), np.uint8), "ndim"),
        (np.zeros((3, 8, 8), np.uint8), "channels"),
        (np.array([["a", "b"]]), "numeric"),
        (np.zeros((4, 4), bool), "numeric"),
        (np.full((4, 4), 2.0), r"\[0, 1\]"),
        (np.full((4, 4), np.nan), "NaN"),
        (np.full((4, 4), 300, np.int32), r"\[0, 255\]"),
        (None, "None"),
    ],
)
def test_rgb_uint8_rejects(bad, match):
    with pytest.raises(ValueError, match=match):
        as_rgb_uint8(bad)


def _img(h=100, w=200):
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :, 0] = np.arange(w, dtype=np.uint8)[None, :]  # red encodes x, to check which pixels were cut
    return img


def test_crop_padding_and_letterbox():
    img = _img()
    det = Detection(50, 20, 90, 60, 0.9, "thing")
    crops, kept = crop_detections(img, [det], size=32, pad=0.25, min_size=4)
    assert kept == [det] and crops[0].shape == (32, 32, 3) and crops[0].dtype == np.uint8
    # padded box: x 40..100, y 10..70 → square 60×60, no letterbox border; red spans 40..99
    red = crops[0][16, :, 0]
    assert abs(int(red[0]) - 40) <= 2 and abs(int(red[-1]) - 99) <= 2
    wide, _ = crop_detections(img, [Detection(0, 40, 200, 60)], size=40, pad=0.0)
    assert (wide[0][0] == FILL_VALUE).all() and (wide[0][-1] == FILL_VALUE).all()  # grey bars top/bottom
    assert not (wide[0][20] == FILL_VALUE).all()


def test_crop_clipping_and_rejections():
    img = _img()
    dets = [
        Detection(-50, -50, 30, 30),  # clipped to 0..33
        Detection(300, 300, 400, 400),  # fully outside
        Detection(10, 10, 10, 50),  # zero width
        Detection(math.nan, 0, 10, 10),  # NaN
        Detection(5, 5, 8, 8),  # tiny
        Detection(20, 30, 10, 40),  # inverted
        Detection(190, 90, 260, 160),  # partly outside, 10×10 left after clipping
    ]
    crops, kept = crop_detections(img, dets, size=16, pad=0.1, min_size=8)
    assert kept == [dets[0], dets[6]]
    assert all(c.shape == (16, 16, 3) for c in crops)
    assert crop_detections(img, [], size=16) == ([], [])
    with pytest.raises(ValueError):
        crop_detections(np.zeros((0, 0, 3), np.uint8), dets)


def test_letterbox_tall():
    out = letterbox(np.full((40, 10, 3), 7, np.uint8), 20)
    assert out.shape == (20, 20, 3) and (out[:, 0] == FILL_VALUE).all() and (out[:, 10] == 7).all()


def test_select_target_rules():
    shape = (100, 200, 3)
    corner_big = Detection(0, 0, 60, 60, track_id=1)
    centre = Detection(80, 30, 120, 70, track_id=2)
    tiny_centre = Detection(98, 48, 102, 52, track_id=3)
    nan_box = Detection(math.nan, 0, 1, 1)
    dets = [corner_big, centre, tiny_centre, nan_box]
    assert select_target(dets, shape) is centre  # 1600 × ~0.9 beats 3600 × ~0.3
    assert select_target(dets, shape, track_id=1) is corner_big
    assert select_target(dets, shape, track_id=99) is None
    assert select_target(dets, shape, box=(5, 5, 50, 50)) is corner_big
    assert select_target(dets, shape, box=(150, 80, 190, 99)) is None
    assert select_target([], shape) is None
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        select_target(dets, shape, box=(1, 2, 3))


def test_kept_detections_agree_with_crop_detections():
    """The detector's filter without crops and the crops themselves keep the same boxes."""
    img = np.zeros((60, 80, 3), np.uint8)
    dets = [Detection(10, 10, 30, 40), Detection(-50, -50, -10, -10), Detection(78, 5, 79, 6),
            Detection(70, 50, 95, 70), Detection(5, 5, 5, 20), Detection(0, 0, float("nan"), 3)]
    for pad, min_size in ((0.1, 8), (0.0, 1), (0.5, 4)):
        _, kept = crop_detections(img, dets, size=16, pad=pad, min_size=min_size)
        assert kept_detections(img.shape, dets, pad=pad, min_size=min_size) == kept
    assert len(kept) >= 2
    with pytest.raises(ValueError, match="pad"):
        kept_detections(img.shape, dets, pad=-1.0)
