"""numpy ↔ sensor_msgs/Image by hand.

cv_bridge is not used: the only installable one here is the ROS 1 port that
breaks on numpy 2, and the conversion is a reshape (a view of the message's bytes where the layout allows).
Handles the encodings cameras actually publish, ``step`` row padding and
big-endian 16-bit data; anything else raises ``ValueError``.
"""

from __future__ import annotations

import sys

import numpy as np
from sensor_msgs.msg import CameraInfo, Image

from chhnn_ros.perception.image_checks import as_rgb_uint8

# encoding → (dtype, channels)
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "8UC3": (np.dtype(np.uint8), 3),
    "rgba8": (np.dtype(np.uint8), 4),
    "bgra8": (np.dtype(np.uint8), 4),
    "mono8": (np.dtype(np.uint8), 1),
    "8UC1": (np.dtype(np.uint8), 1),
    "mono16": (np.dtype(np.uint16), 1),
    "16UC1": (np.dtype(np.uint16), 1),
}


def image_to_array(msg: Image, copy: bool = True) -> np.ndarray:
    """The message's pixels as (H, W, C) or (H, W) in its own encoding.

    A copy, unless ``copy=False``: then a view of ``msg.data`` where the layout allows (no row
    padding, native byte order), which saves a full-frame copy per frame for readers that only
    cut crops from it (the message must then outlive the array; numpy keeps the buffer alive)."""
    if msg.encoding not in ENCODINGS:
        raise ValueError(f"unsupported image encoding {msg.encoding!r}; supported: {', '.join(ENCODINGS)}")
    dtype, channels = ENCODINGS[msg.encoding]
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    if h == 0 or w == 0:
        raise ValueError(f"image is empty ({w}x{h} {msg.encoding})")
    row = w * channels * dtype.itemsize
    if step < row:
        raise ValueError(f"step {step} is smaller than width*channels*bytes = {row} ({msg.encoding}, width {w})")
    data = msg.data
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.view(np.uint8)
    if buf.size != h * step:
        raise ValueError(f"image data has {buf.size} bytes, expected height*step = {h}*{step} = {h * step}")
    rows = buf.reshape(h, step)[:, :row]  # drop row padding
    dt = dtype.newbyteorder(">" if msg.is_bigendian else "<") if dtype.itemsize > 1 else dtype
    arr = np.ascontiguousarray(rows).view(dt).reshape(h, w, channels)
    arr = arr.astype(dtype.newbyteorder("="), copy=copy)  # native byte order
    return arr[:, :, 0] if channels == 1 else arr


def image_to_rgb8(msg: Image, copy: bool = True) -> np.ndarray:
    """Any supported encoding → RGB uint8 (H, W, 3), the core's image format (``copy``: as
    :func:`image_to_array`; other encodings are always converted into a new array)."""
    arr = image_to_array(msg, copy)
    enc = msg.encoding
    if enc in ("rgb8",):
        return arr
    if enc in ("bgr8", "8UC3"):  # OpenCV's default channel order
        return np.ascontiguousarray(arr[:, :, ::-1])
    if enc == "rgba8":
        return np.ascontiguousarray(arr[:, :, :3])
    if enc == "bgra8":
        return np.ascontiguousarray(arr[:, :, 2::-1])
    # grey, 8 or 16 bit (depth/IR images shown to an RGB encoder): the core's one conversion rule
    return as_rgb_uint8(arr)


def array_to_image(arr: np.ndarray, encoding: str = "rgb8", stamp=None, frame_id: str = "") -> Image:
    """(H, W[, C]) array → Image with ``step = width*channels*bytes`` (no padding)."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unsupported image encoding {encoding!r}; supported: {', '.join(ENCODINGS)}")
    dtype, channels = ENCODINGS[encoding]
    a = np.asarray(arr)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] != channels:
        raise ValueError(f"{encoding} needs shape (H, W, {channels}), got {np.asarray(arr).shape}")
    if a.dtype != dtype:
        raise ValueError(f"{encoding} needs dtype {dtype}, got {a.dtype}")
    msg = Image()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(a.shape[0]), int(a.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = int(sys.byteorder == "big" and dtype.itemsize > 1)
    msg.step = msg.width * channels * dtype.itemsize
    # array.array-compatible bytes assignment is the fast path in rclpy
    msg.data = np.ascontiguousarray(a).tobytes()
    return msg


def camera_info(img: Image) -> CameraInfo:
    """A pinhole model with a 60° horizontal field of view (sources carry no calibration)."""
    info = CameraInfo(header=img.header, width=img.width, height=img.height, distortion_model="plumb_bob")
    f = img.width / (2 * 0.5773502691896258)  # tan(30°)
    cx, cy = img.width / 2, img.height / 2
    info.d = [0.0] * 5
    info.k = [f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [f, 0.0, cx, 0.0, 0.0, f, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


def stamp_to_sec(stamp) -> float:
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def sec_to_stamp(t: float):
    from builtin_interfaces.msg import Time

    if not np.isfinite(t) or t < 0:
        raise ValueError(f"stamp must be a finite non-negative time, got {t!r}")
    sec = int(t)
    nanosec = int(round((t - sec) * 1e9))
    if nanosec >= 1_000_000_000:
        sec, nanosec = sec + 1, nanosec - 1_000_000_000
    return Time(sec=sec, nanosec=nanosec)


def stamp_from_dict(st: dict[str, int]):
    """builtin_interfaces/Time from a payload's ``{"sec": .., "nanosec": ..}``."""
    from builtin_interfaces.msg import Time

    return Time(sec=int(st["sec"]), nanosec=int(st["nanosec"]))


def stamp_key(stamp) -> tuple[int, int]:
    """Exact, hashable key used to pair messages of one frame."""
    return (int(stamp.sec), int(stamp.nanosec))
