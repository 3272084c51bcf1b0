"""numpy ↔ sensor_msgs/Image conversions (no cv_bridge)."""

import numpy as np
import pytest
from sensor_msgs.msg import Image

from chhnn_ros.ros.conversions import (
    ENCODINGS,
    array_to_image,
    image_to_array,
    image_to_rgb8,
    sec_to_stamp,
    stamp_to_sec,
)

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_round_trip_every_encoding(encoding):
    dtype, c = ENCODINGS[encoding]
    shape = (5, 7) if c == 1 else (5, 7, c)
    arr = RNG.integers(0, np.iinfo(dtype).max, shape, dtype=dtype)
    msg = array_to_image(arr, encoding, frame_id="cam")
    assert msg.step == 7 * c * dtype.itemsize and msg.header.frame_id == "cam"
    np.testing.assert_array_equal(image_to_array(msg), arr)


def test_color_orders_become_rgb():
    rgb = RNG.integers(0, 255, (4, 6, 3), dtype=np.uint8)
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    np.testing.assert_array_equal(image_to_rgb8(array_to_image(bgr, "bgr8")), rgb)
    rgba = np.concatenate([rgb, np.full((4, 6, 1), 9, np.uint8)], axis=2)
    np.testing.assert_array_equal(image_to_rgb8(array_to_image(rgba, "rgba8")), rgb)
    bgra = np.concatenate([bgr, np.full((4, 6, 1), 9, np.uint8)], axis=2)
    np.testing.assert_array_equal(image_to_rgb8(array_to_image(bgra, "bgra8")), rgb)
    mono = rgb[:, :, 0].copy()
    out = image_to_rgb8(array_to_image(mono, "mono8"))
    assert out.shape == (4, 6, 3) and (out[:, :, 2] == mono).all()
    m16 = np.full((4, 6), 0xABCD, np.uint16)
    assert (image_to_rgb8(array_to_image(m16, "mono16")) == 0xAB).all()


def test_step_padding_is_dropped():
    rgb = RNG.integers(0, 255, (3, 5, 3), dtype=np.uint8)
    padded = np.zeros((3, 20), np.uint8)  # 15 bytes of pixels + 5 padding per row
    padded[:, :15] = rgb.reshape(3, 15)
    padded[:, 15:] = 77
    msg = Image(height=3, width=5, encoding="rgb8", step=20, data=padded.tobytes())
    np.testing.assert_array_equal(image_to_rgb8(msg), rgb)


def test_copy_false_is_a_view_where_the_layout_allows():
    rgb = RNG.integers(0, 255, (4, 6, 3), dtype=np.uint8)
    msg = array_to_image(rgb, "rgb8")
    view, owned = image_to_rgb8(msg, copy=False), image_to_rgb8(msg)
    np.testing.assert_array_equal(view, rgb)
    np.testing.assert_array_equal(owned, rgb)
    assert np.shares_memory(view, np.frombuffer(msg.data, np.uint8))
    assert not np.shares_memory(owned, np.frombuffer(msg.data, np.uint8))
    padded = np.zeros((4, 20), np.uint8)  # row padding or a foreign order still give a correct new array
    padded[:, :18] = rgb.reshape(4, 18)
    np.testing.assert_array_equal(image_to_rgb8(Image(height=4, width=6, encoding="rgb8", step=20,
                                                      data=padded.tobytes()), copy=False), rgb)
    bgr = array_to_image(np.ascontiguousarray(rgb[:, :, ::-1]), "bgr8")
    np.testing.assert_array_equal(image_to_rgb8(bgr, copy=False), rgb)


def test_big_endian_16bit():
    vals = np.array([[1, 258], [4096, 65535]], dtype=np.uint16)
    msg = Image(height=2, width=2, encoding="16UC1", step=4, is_bigendian=1, data=vals.astype(">u2").tobytes())
    out = image_to_array(msg)
    np.testing.assert_array_equal(out, vals)
    assert out.dtype.byteorder in ("=", "<", "|")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"encoding": "yuv422"}, "unsupported image encoding"),
        ({"step": 10}, "step 10 is smaller"),
        ({"data": bytes(10)}, "expected height\\*step"),
    ],
)
def test_bad_images_raise_value_error(kwargs, match):
    base = {"height": 2, "width": 4, "encoding": "rgb8", "step": 12, "data": bytes(24)}
    msg = Image(**{**base, **kwargs})
    with pytest.raises(ValueError, match=match):
        image_to_rgb8(msg)


def test_array_checks():
    with pytest.raises(ValueError, match="needs shape"):
        array_to_image(np.zeros((2, 2, 4), np.uint8), "rgb8")
    with pytest.raises(ValueError, match="needs dtype"):
        array_to_image(np.zeros((2, 2, 3), np.float32), "rgb8")


def test_stamps():
    s = sec_to_stamp(1700000000.25)
    assert (s.sec, s.nanosec) == (1700000000, 250000000)
    assert stamp_to_sec(s) == pytest.approx(1700000000.25)
    with pytest.raises(ValueError):
        sec_to_stamp(float("nan"))
