"""Crop encoders: ``make_encoder("efficientnet" | "efficientnet-onnx" | "clip", **kw)``."""

from __future__ import annotations

from typing import Any

from chhnn_ros.perception.encoders.base import Encoder, l2_normalize

ENCODER_KINDS = ("efficientnet", "efficientnet-onnx", "clip")


def make_encoder(kind: str, **kw: Any) -> Encoder:
    """Build an encoder; see ``EfficientNetEncoder``, ``EfficientNetOnnxEncoder``, ``ClipEncoder``."""
    if kind == "efficientnet":
        from chhnn_ros.perception.encoders.efficientnet import EfficientNetEncoder

        return EfficientNetEncoder(**kw)
    if kind == "efficientnet-onnx":
        from chhnn_ros.perception.encoders.efficientnet import EfficientNetOnnxEncoder

        return EfficientNetOnnxEncoder(**kw)
    if kind == "clip":
        from chhnn_ros.perception.encoders.clip import ClipEncoder

        return ClipEncoder(**kw)
    raise ValueError(f"unknown encoder kind {kind!r}; choose one of {', '.join(ENCODER_KINDS)}")


__all__ = ["ENCODER_KINDS", "Encoder", "l2_normalize", "make_encoder"]
