"""EfficientNet-Lite0 (ImageNet) feature encoders: eager PyTorch and ONNX Runtime.

Preprocessing follows the TF-Lite reference of these weights: RGB in [0, 1], mean 0.5, std 0.5
(i.e. [-1, 1]). Verified: on ``skimage.data.chelsea()`` this gives "Egyptian cat" (285) at 0.78
versus 0.78 with ImageNet mean/std, but 0.91 vs 0.83 on the espresso of ``coffee()``; TF "SAME"
padding likewise beats symmetric padding (0.78 vs 0.67), see ``efficientnet_lite.SamePad``.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from chhnn_ros.perception.encoders.base import Encoder
from chhnn_ros.perception.encoders.efficientnet_lite import FEATURE_DIM, INPUT_SIZE, load_efficientnet_lite0
from chhnn_ros.perception.weights import resolve_device

MEAN, STD = 0.5, 0.5


def to_input(batch: np.ndarray) -> np.ndarray:
    """(n, S, S, 3) uint8 RGB → (n, 3, S, S) float32 network input."""
    x = batch.astype(np.float32) * (1.0 / 255.0)
    return np.ascontiguousarray(((x - MEAN) / STD).transpose(0, 3, 1, 2))


class EfficientNetEncoder(Encoder):
    """1280-d global-average-pooled EfficientNet-Lite0 features, eager PyTorch."""

    def __init__(
        self, weights: str | os.PathLike[str] | None = None, device: str = "auto", batch_size: int = 32
    ) -> None:
        self.device = resolve_device(device)
        self.model = load_efficientnet_lite0(weights).to(self.device)
        self.dim, self.input_size, self.batch_size = FEATURE_DIM, INPUT_SIZE, max(1, int(batch_size))

    def _run(self, batch: np.ndarray, logits: bool) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(to_input(batch)).to(self.device)
            y = self.model(x) if logits else self.model.features(x)
            return y.float().cpu().numpy()

    def _embed(self, batch: np.ndarray) -> np.ndarray:
        return self._run(batch, logits=False)

    def classify(self, crops: list[np.ndarray] | np.ndarray) -> np.ndarray:
        """ImageNet logits (n, 1000) — used to check that weights and preprocessing are right."""
        batch = self.prepare(crops)
        if len(batch) == 0:
            return np.zeros((0, 1000), dtype=np.float32)
        return np.concatenate(
            [self._run(batch[i : i + self.batch_size], True) for i in range(0, len(batch), self.batch_size)]
        )


class EfficientNetOnnxEncoder(Encoder):
    """The same network exported to ONNX (once, cached) and run with ONNX Runtime."""

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        onnx_path: str | os.PathLike[str] | None = None,
        device: str = "auto",
        batch_size: int = 32,
        threads: int = 0,
    ) -> None:
        import onnxruntime as ort

        from chhnn_ros.perception.encoders.onnx_export import ensure_onnx

        self.path = ensure_onnx(weights, onnx_path)
        device = resolve_device(device)
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        options = ort.SessionOptions()
        if threads > 0:
            options.intra_op_num_threads = int(threads)
        self.session = ort.InferenceSession(str(self.path), sess_options=options, providers=providers)
        self.dim, self.input_size, self.batch_size = FEATURE_DIM, INPUT_SIZE, max(1, int(batch_size))

    def _run(self, batch: np.ndarray, output: str) -> np.ndarray:
        return self.session.run([output], {"image": to_input(batch)})[0]

    def _embed(self, batch: np.ndarray) -> np.ndarray:
        return self._run(batch, "features")

    def classify(self, crops: list[np.ndarray] | np.ndarray) -> np.ndarray:
        batch = self.prepare(crops)
        if len(batch) == 0:
            return np.zeros((0, 1000), dtype=np.float32)
        return np.concatenate(
            [self._run(batch[i : i + self.batch_size], "logits") for i in range(0, len(batch), self.batch_size)]
        )
