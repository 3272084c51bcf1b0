"""Front-ends: stream samples → float32 feature vectors for the learners.

* ``pixels``: flatten; uint8 images are scaled to [0, 1], float arrays
  (e.g. pre-computed feature vectors from an npz stream) pass through.
* ``efficientnet``: the robot's own encoder
  (:func:`chhnn_ros.perception.encoders.make_encoder`, ONNX first, PyTorch
  fallback) → (N, 1280) features.  Gray images are stacked to three
  channels.  Features are cached in ``~/.cache/chhnn_ros/features`` keyed by
  a hash of the pixels, so every method and seed (and later runs) reuse them.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from chhnn_ros.files import atomic_write

FRONTENDS = ("pixels", "efficientnet")
ENCODER_NAMES = ("efficientnet-onnx", "efficientnet")  # same network; ONNX Runtime is faster on CPU
CACHE_DIR = Path(os.environ.get("CHHNN_CACHE", Path.home() / ".cache" / "chhnn_ros")) / "features"


def pixels(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"pixels front-end needs (N, ...) samples, got shape {x.shape}")
    flat = x.reshape(len(x), -1)
    if flat.dtype == np.uint8:
        return flat.astype(np.float32) / np.float32(255.0)
    if flat.dtype.kind not in "fiu":
        raise ValueError(f"pixels front-end needs numeric samples, got dtype {flat.dtype}")
    return flat.astype(np.float32)


def to_rgb_uint8(x: np.ndarray) -> np.ndarray:
    """(N,H,W) / (N,H,W,1|3) uint8 or [0,1] float images → (N,H,W,3) uint8."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"efficientnet front-end needs (N,H,W) or (N,H,W,1|3) images, got shape {x.shape}")
    if x.dtype != np.uint8:
        if x.dtype.kind not in "fiu":
            raise ValueError(f"images must be numeric, got dtype {x.dtype}")
        scale = 255.0 if x.dtype.kind == "f" and float(np.nanmax(x)) <= 1.0 else 1.0
        x = np.clip(np.rint(x.astype(np.float64) * scale), 0, 255).astype(np.uint8)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return np.ascontiguousarray(x)


def _digest(images: np.ndarray, encoder_name: str) -> str:
    h = hashlib.sha1()
    h.update(f"{encoder_name}|{images.shape}|".encode())
    h.update(images.data)
    return h.hexdigest()[:16]


def _make_encoder() -> tuple[str, Any]:
    try:
        from chhnn_ros.perception.encoders import make_encoder  # lazy: loads onnxruntime / torch
    except ImportError as exc:
        raise ValueError(f"efficientnet front-end unavailable: {exc}") from exc

    errors = []
    for name in ENCODER_NAMES:
        try:
            return name, make_encoder(name)
        except Exception as exc:  # noqa: BLE001 - try the next backend, report all if none works
            errors.append(f"{name}: {exc}")
    raise ValueError("no EfficientNet encoder could be built: " + "; ".join(errors))


def _encode(encoder: Any, images: np.ndarray, batch: int, desc: str) -> np.ndarray:
    from tqdm import tqdm

    out = []
    for i in tqdm(range(0, len(images), batch), desc=desc, unit="batch", file=sys.stderr, leave=False):
        f = np.asarray(encoder.encode(images[i : i + batch]), dtype=np.float32)
        if f.ndim != 2 or len(f) != len(images[i : i + batch]):
            raise ValueError(f"encoder returned shape {f.shape} for a batch of {len(images[i:i + batch])} images")
        out.append(f)
    return np.concatenate(out)


def efficientnet(
    x: np.ndarray,
    stream_key: str,
    encoder: Any | None = None,
    encoder_name: str | None = None,
    cache_dir: Path | None = None,
    batch: int = 64,
) -> np.ndarray:
    """EfficientNet features of images ``x`` (cached).  ``encoder`` (an object
    with ``encode(images) -> (N, D)``) overrides the default encoder."""
    images = to_rgb_uint8(x)
    cache_dir = CACHE_DIR if cache_dir is None else Path(cache_dir)
    names = (encoder_name or type(encoder).__name__,) if encoder is not None else ENCODER_NAMES
    for name in names:
        path = cache_dir / f"{stream_key}-{_digest(images, name)}.npz"
        if path.is_file():
            try:
                with np.load(path) as z:
                    feats = z["features"]
                if len(feats) == len(images):
                    return feats.astype(np.float32, copy=False)
            except (OSError, ValueError, KeyError):
                pass  # corrupt cache entry: recompute and overwrite
    if encoder is None:
        name, encoder = _make_encoder()
    else:
        name = names[0]
    feats = _encode(encoder, images, batch, desc=f"{name} {stream_key}")
    atomic_write(cache_dir / f"{stream_key}-{_digest(images, name)}.npz", lambda f: np.savez(f, features=feats))
    return feats


def apply_frontend(name: str, x: np.ndarray, stream_key: str) -> np.ndarray:
    if name == "pixels":
        return pixels(x)
    if name == "efficientnet":
        return efficientnet(x, stream_key)
    raise ValueError(f"unknown front-end {name!r}; choose one of {', '.join(FRONTENDS)}")
