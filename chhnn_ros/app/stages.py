"""The perception steps the detector and encoder nodes run on a frame, without ROS.

:class:`DetectStage` keeps the detections that give a usable crop (the crop
geometry travels with them, so the encoder cuts the same crops);
:func:`crops_from_image` / :func:`split_mosaic` are the encoder's two ways to
get those crops; :class:`EncodeStage` turns crops into checked feature rows.
The nodes and ``chhnn-bench perf``'s direct path call exactly these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from chhnn_ros.perception.crops import crop_detections, kept_detections
from chhnn_ros.perception.detectors import Detector
from chhnn_ros.perception.encoders import Encoder
from chhnn_ros.perception.types import Detection, Frame


@dataclass(frozen=True)
class CropGeometry:
    """Square crops of ``size`` px around each box grown by ``pad`` × its size; boxes smaller than
    ``min_size`` px after clipping are dropped (the detector's crop_size, crop_pad, min_size)."""

    size: int
    pad: float
    min_size: int

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> CropGeometry:
        return cls(int(p["crop_size"]), float(p["crop_pad"]), int(p["min_size"]))


class DetectStage:
    def __init__(self, detector: Detector, geometry: CropGeometry) -> None:
        self.detector, self.geometry = detector, geometry

    def detect(self, frame: Frame) -> list[Detection]:
        """The frame's detections that give a usable crop, in the detector's order."""
        g = self.geometry
        return kept_detections(frame.image.shape, self.detector.detect(frame), pad=g.pad, min_size=g.min_size)

    def mosaic(self, rgb: np.ndarray, kept: list[Detection]) -> np.ndarray | None:
        """The crops of ``kept`` stacked vertically (the ``crops`` topic's image), or None if none."""
        g = self.geometry
        crops, _ = crop_detections(rgb, kept, size=g.size, pad=g.pad, min_size=0)
        return np.ascontiguousarray(np.concatenate(crops, axis=0)) if crops else None


def split_mosaic(mosaic: np.ndarray, n: int, size: int) -> list[np.ndarray]:
    """The detector's vertical stack of n size×size crops → list of crops."""
    if mosaic.shape != (n * size, size, 3):
        raise ValueError(f"crops image is {mosaic.shape[1]}x{mosaic.shape[0]}, expected {size}x{n * size} "
                         f"for {n} crops of {size} px")
    return [mosaic[i * size:(i + 1) * size] for i in range(n)]


def crops_from_image(rgb: np.ndarray, dets: list[Detection], size: int, pad: float) -> list[np.ndarray]:
    """The crops of the detector's kept boxes, cut from the frame as the detector would cut them."""
    crops, kept = crop_detections(rgb, dets, size=size, pad=pad, min_size=0)  # already filtered upstream
    if len(kept) != len(dets):
        raise ValueError(f"{len(dets) - len(kept)} of {len(dets)} boxes lie outside the "
                         f"{rgb.shape[1]}x{rgb.shape[0]} image_raw frame: is image_raw the detector's image?")
    return crops


class EncodeStage:
    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder

    @property
    def dim(self) -> int:
        return int(self.encoder.dim)

    def encode(self, crops: list[np.ndarray]) -> np.ndarray:
        """(len(crops), dim) finite float32 features; (0, dim) for no crop."""
        if not crops:
            return np.zeros((0, self.dim), np.float32)
        vectors = np.asarray(self.encoder.encode(crops), dtype=np.float32)
        if vectors.shape != (len(crops), self.dim):
            raise ValueError(f"encoder returned shape {vectors.shape} for {len(crops)} crops of dim {self.dim}")
        if not np.isfinite(vectors).all():
            raise ValueError("encoder produced NaN/inf features")
        return vectors
