"""Validate and normalise images to the core's single format: RGB uint8 (H, W, 3), C-contiguous.

Conversion rules (anything else raises ``ValueError`` with the reason):

* shape ``(H, W)`` or ``(H, W, 1)`` grey → the channel is repeated three times;
* shape ``(H, W, 4)`` → the alpha channel is dropped (no compositing);
* shape ``(H, W, 3)`` → assumed RGB already (the core never sees BGR; sources convert);
* ``uint8`` → unchanged; ``uint16`` → full 16-bit range scaled to 8 bits (``round(v / 257)``);
* other integer dtypes → accepted only when every value is already in [0, 255];
* floating point → must be finite and in [0, 1] (scaled by 255 and rounded);
* ``bool``, complex, object or string arrays, 0-size arrays, ndim not 2/3 → rejected.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def as_rgb_uint8(image: Any) -> np.ndarray:
    """Return ``image`` as a C-contiguous RGB uint8 (H, W, 3) array, or raise ``ValueError``."""
    if image is None:
        raise ValueError("image is None")
    try:
        arr = np.asarray(image)
    except Exception as exc:  # e.g. ragged nested lists
        raise ValueError(f"cannot convert {type(image).__name__} to an image array: {exc}") from exc
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"image dtype {arr.dtype} is not a numeric pixel type (use uint8, uint16 or float in [0, 1])")
    if arr.size == 0:
        raise ValueError(f"image is empty (shape {arr.shape})")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    elif arr.ndim != 3:
        raise ValueError(f"image must be HxW or HxWxC, got ndim={arr.ndim} (shape {arr.shape})")
    channels = arr.shape[2]
    if channels == 4:
        arr = arr[:, :, :3]
    elif channels not in (1, 3):
        hint = " (channels-first? transpose to HxWxC)" if arr.shape[0] in (1, 3, 4) else ""
        raise ValueError(f"image must have 1, 3 or 4 channels, got shape {arr.shape}{hint}")
    arr = _to_uint8(arr)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr)


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.uint16:
        return np.round(arr.astype(np.float32) / 257.0).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise ValueError(f"{arr.dtype} image values must be in [0, 255], got [{lo}, {hi}]")
        return arr.astype(np.uint8)
    if not np.isfinite(arr).all():
        raise ValueError("float image contains NaN or inf")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"float images must be in [0, 1], got [{lo:.4g}, {hi:.4g}] (divide 0-255 data by 255)")
    return np.round(arr * 255.0).astype(np.uint8)
