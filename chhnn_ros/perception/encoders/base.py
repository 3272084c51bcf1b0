"""Encoder interface: image crops → L2-normalised float32 feature vectors, batched."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import cv2
import numpy as np

from chhnn_ros.perception.image_checks import as_rgb_uint8


class Encoder(ABC):
    """``encode(crops)`` → (n, dim) float32 rows of unit L2 norm.

    Crops of any size are accepted (resized to ``input_size`` squares; ``crop_detections`` already
    gives that size). A single HxWx3 image counts as one crop; an (n, H, W, 3) array as n crops.
    """

    dim: int
    input_size: int
    batch_size: int = 32

    @abstractmethod
    def _embed(self, batch: np.ndarray) -> np.ndarray:
        """(n, S, S, 3) uint8 RGB → (n, dim) float features (not yet normalised)."""

    def close(self) -> None:  # noqa: B027 - encoders without resources need nothing
        pass

    def __enter__(self) -> Encoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def prepare(self, crops: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """Validate and resize crops into one (n, S, S, 3) uint8 batch."""
        if isinstance(crops, np.ndarray) and crops.ndim in (2, 3):
            crops = [crops]
        size = self.input_size
        out = np.empty((len(crops), size, size, 3), dtype=np.uint8)
        for i, crop in enumerate(crops):
            rgb = as_rgb_uint8(crop)
            out[i] = rgb if rgb.shape[:2] == (size, size) else self._resize(rgb)
        return out

    def _resize(self, rgb: np.ndarray) -> np.ndarray:
        """Fit a non-square-sized crop to the input size (plain resize; crops are normally letterboxed)."""
        size = self.input_size
        interp = cv2.INTER_AREA if max(rgb.shape[:2]) > size else cv2.INTER_LINEAR
        return cv2.resize(rgb, (size, size), interpolation=interp)

    def encode(self, crops: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        batch = self.prepare(crops)
        if len(batch) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        feats = np.concatenate(
            [np.asarray(self._embed(batch[i : i + self.batch_size]), dtype=np.float32)
             for i in range(0, len(batch), self.batch_size)]
        )  # fmt: skip
        return l2_normalize(feats)


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), eps)).astype(np.float32)
