"""Object detectors: ``make_detector("yolo" | "ssd" | "groundtruth", **kw)``."""

from __future__ import annotations

from typing import Any

from chhnn_ros.perception.detectors.base import Detector
from chhnn_ros.perception.detectors.groundtruth import GroundTruthDetector
from chhnn_ros.perception.detectors.ssd import SSDDetector

DETECTOR_KINDS = ("yolo", "ssd", "groundtruth")


def make_detector(kind: str, **kw: Any) -> Detector:
    """Build a detector. See ``YoloDetector``, ``SSDDetector``, ``GroundTruthDetector`` for the keywords."""
    if kind == "yolo":
        from chhnn_ros.perception.detectors.yolo import YoloDetector  # lazy: imports ultralytics/torch

        return YoloDetector(**kw)
    if kind == "ssd":
        return SSDDetector(**kw)
    if kind == "groundtruth":
        return GroundTruthDetector(**kw)
    raise ValueError(f"unknown detector kind {kind!r}; choose one of {', '.join(DETECTOR_KINDS)}")


__all__ = ["DETECTOR_KINDS", "Detector", "GroundTruthDetector", "SSDDetector", "make_detector"]
