"""Cut detections out of a frame as fixed-size square crops, and pick the box a user means.

Crops are letterboxed (aspect kept, borders filled with constant grey 114, the ultralytics
letterbox value) rather than stretched, so an object's shape is the same whatever its box
aspect; the encoders then see ``size``×``size`` RGB uint8 without further resizing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from chhnn_ros.perception.image_checks import as_rgb_uint8
from chhnn_ros.perception.types import Detection

FILL_VALUE = 114


def _valid_box(det: Detection) -> bool:
    box = det.box
    return all(math.isfinite(float(v)) for v in box) and det.x2 > det.x1 and det.y2 > det.y1


def letterbox(image: np.ndarray, size: int, fill: int = FILL_VALUE) -> np.ndarray:
    """Resize ``image`` to fit ``size``×``size`` keeping its aspect, centred on a ``fill`` background."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interp)
    out = np.full((size, size, 3), fill, dtype=np.uint8)
    top, left = (size - nh) // 2, (size - nw) // 2
    out[top : top + nh, left : left + nw] = resized
    return out


def crop_window(det: Detection, width: int, height: int, pad: float = 0.1,
                min_size: int = 8) -> tuple[int, int, int, int] | None:
    """The padded, clipped pixel window (x1, y1, x2, y2) of ``det`` in a width×height frame, or
    ``None`` when the box is non-finite, empty, fully outside or smaller than ``min_size`` after
    clipping.  The one rule :func:`crop_detections` and :func:`kept_detections` share."""
    if not _valid_box(det):
        return None
    bw, bh = det.x2 - det.x1, det.y2 - det.y1
    # Rounded to 1e-6 px before floor/ceil: a box that travelled as centre and size comes back with
    # corners a few ulps off, which must not move a crop's edge by a pixel.
    x1 = max(0, math.floor(round(det.x1 - pad * bw, 6)))
    y1 = max(0, math.floor(round(det.y1 - pad * bh, 6)))
    x2 = min(width, math.ceil(round(det.x2 + pad * bw, 6)))
    y2 = min(height, math.ceil(round(det.y2 + pad * bh, 6)))
    if x2 - x1 < max(1, min_size) or y2 - y1 < max(1, min_size):
        return None  # too small after clipping, or fully outside the frame
    return x1, y1, x2, y2


def _check_pad(pad: float) -> None:
    if not (math.isfinite(pad) and pad >= 0):
        raise ValueError(f"pad must be a finite fraction >= 0, got {pad}")


def kept_detections(image_shape: Sequence[int], detections: Sequence[Detection], pad: float = 0.1,
                    min_size: int = 8) -> list[Detection]:
    """The detections :func:`crop_detections` would keep, without cutting any crop."""
    _check_pad(pad)
    height, width = int(image_shape[0]), int(image_shape[1])
    return [d for d in detections if crop_window(d, width, height, pad, min_size) is not None]


def crop_detections(
    image: np.ndarray,
    detections: Sequence[Detection],
    size: int = 224,
    pad: float = 0.1,
    min_size: int = 8,
    fill: int = FILL_VALUE,
) -> tuple[list[np.ndarray], list[Detection]]:
    """Square crops of the (padded, clipped) boxes and the detections they belong to.

    Each box grows by ``pad`` × its width (height) on the left and right (top and bottom) sides,
    is clipped to the frame, and is skipped when non-finite, empty, fully outside the frame or
    narrower/shorter than ``min_size`` pixels after clipping. The returned detections are the
    input objects (unpadded), in input order, one per crop.
    """
    if size < 1:
        raise ValueError(f"crop size must be >= 1, got {size}")
    _check_pad(pad)
    rgb = as_rgb_uint8(image)
    height, width = rgb.shape[:2]
    crops: list[np.ndarray] = []
    kept: list[Detection] = []
    for det in detections:
        win = crop_window(det, width, height, pad, min_size)
        if win is None:
            continue
        x1, y1, x2, y2 = win
        crops.append(letterbox(rgb[y1:y2, x1:x2], size, fill))
        kept.append(det)
    return crops, kept


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes; 0 for degenerate boxes."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if not (iw > 0 and ih > 0):
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def centrality(det: Detection, image_shape: Sequence[int]) -> float:
    """1 at the image centre, falling linearly to 0 at a corner (distance / half diagonal)."""
    h, w = float(image_shape[0]), float(image_shape[1])
    cx, cy = (det.x1 + det.x2) / 2, (det.y1 + det.y2) / 2
    dist = math.hypot(cx - w / 2, cy - h / 2) / max(math.hypot(w / 2, h / 2), 1e-9)
    return max(0.0, 1.0 - dist)


def select_target(
    detections: Sequence[Detection],
    image_shape: Sequence[int],
    box: Sequence[float] | None = None,
    track_id: int | None = None,
) -> Detection | None:
    """The detection the user is showing/pointing at, or ``None``.

    Priority: the detection with ``track_id`` (if given); else the best IoU (> 0) with ``box``
    (if given); else the largest, most central box (score = area × centrality). Invalid boxes
    are ignored.
    """
    valid = [d for d in detections if _valid_box(d)]
    if track_id is not None:
        return next((d for d in valid if d.track_id == track_id), None)
    if box is not None:
        if len(box) != 4 or not all(math.isfinite(float(v)) for v in box):
            raise ValueError(f"box must be 4 finite numbers (x1, y1, x2, y2), got {box!r}")
        best = max(valid, key=lambda d: iou(d.box, box), default=None)
        return best if best is not None and iou(best.box, box) > 0 else None
    return max(valid, key=lambda d: d.area * centrality(d, image_shape), default=None)
