"""OpenCLIP image-tower encoder (``open_clip.create_model_and_transforms``).

No CLIP weights ship with any offline package: a pretrained tag is fetched by open_clip from the
Hugging Face hub (or its cache) when possible, or a local checkpoint is given with
``checkpoint=``. When neither works, construction fails at once with a message naming both ways
out (``HF_HUB_OFFLINE=1`` makes the hub lookup fail immediately instead of after retries).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
import torch

from chhnn_ros.perception.encoders.base import Encoder
from chhnn_ros.perception.weights import WeightsUnavailableError, resolve_device

LOG = logging.getLogger(__name__)
_INTERP = {"bicubic": cv2.INTER_CUBIC, "bilinear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}


class ClipEncoder(Encoder):
    """L2-normalised ``model.encode_image`` embeddings (512-d for ViT-B-32)."""

    def __init__(
        self,
        model: str = "ViT-B-32",
        pretrained: str | None = "openai",
        checkpoint: str | os.PathLike[str] | None = None,
        device: str = "auto",
        batch_size: int = 32,
    ) -> None:
        import open_clip

        if model not in open_clip.list_models():
            raise ValueError(f"unknown open_clip model {model!r}; e.g. {', '.join(open_clip.list_models()[:6])}, …")
        self.device = resolve_device(device)
        if checkpoint is not None:
            path = Path(checkpoint).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"CLIP checkpoint not found: {path}")
            source = str(path)
        elif pretrained:
            tags = open_clip.list_pretrained_tags_by_model(model)
            if pretrained not in tags:
                known = ", ".join(tags) or "none"
                raise ValueError(f"unknown pretrained tag {pretrained!r} for {model}; known: {known}")
            source = pretrained
        else:
            LOG.warning("CLIP %s with random weights (pretrained=None, no checkpoint): features are meaningless", model)
            source = None
        try:
            net, _, _ = open_clip.create_model_and_transforms(model, pretrained=source, device=self.device)
        except RuntimeError as exc:
            if checkpoint is not None:
                raise ValueError(f"cannot load CLIP checkpoint {source} into {model}: {_first_line(exc)}") from exc
            raise WeightsUnavailableError(
                f"CLIP weights {model}/{pretrained} cannot be obtained (offline?): pass checkpoint=/path/to/weights.pt "
                f"or use the offline encoder 'efficientnet' (cause: {_short(exc)})"
            ) from exc
        except Exception as exc:  # pickle / safetensors / zip errors from a corrupt checkpoint file
            raise ValueError(f"cannot load CLIP weights {source!r}: {type(exc).__name__}: {_first_line(exc)}") from exc
        self.model = net.eval()
        cfg = open_clip.get_model_preprocess_cfg(net)
        size = cfg.get("size", 224)
        self.input_size = int(size[0] if isinstance(size, (tuple, list)) else size)
        self._mean = np.asarray(cfg.get("mean", (0.48145466, 0.4578275, 0.40821073)), dtype=np.float32)
        self._std = np.asarray(cfg.get("std", (0.26862954, 0.26130258, 0.27577711)), dtype=np.float32)
        self._interp = _INTERP.get(str(cfg.get("interpolation", "bicubic")), cv2.INTER_CUBIC)
        self.dim = int(net.visual.output_dim)
        self.batch_size = max(1, int(batch_size))

    def _resize(self, rgb: np.ndarray) -> np.ndarray:
        # open_clip's eval transform: resize the shortest side + centre crop, bicubic.
        h, w = rgb.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        return cv2.resize(rgb[top : top + side, left : left + side], (self.input_size,) * 2, interpolation=self._interp)

    def _embed(self, batch: np.ndarray) -> np.ndarray:
        x = (batch.astype(np.float32) / 255.0 - self._mean) / self._std
        with torch.inference_mode():
            t = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).to(self.device)
            return self.model.encode_image(t).float().cpu().numpy()


def _short(exc: BaseException, limit: int = 100) -> str:
    text = _first_line(exc)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
