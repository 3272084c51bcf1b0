"""Boxes and labels drawn on a frame (the debug and annotated images)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from chhnn_ros.perception.types import Detection

KNOWN_COLOUR = (0, 255, 0)
UNKNOWN_COLOUR = (255, 160, 0)


def draw_boxes(rgb: np.ndarray, dets: Sequence[Detection], labels: Sequence[str] | None = None,
               known: Sequence[bool] | None = None) -> np.ndarray:
    """A copy of ``rgb`` with each box and its text (``labels[i]``, else the detector's class and score);
    boxes with ``known[i]`` False are drawn in another colour."""
    out = np.array(rgb, dtype=np.uint8, copy=True)
    for i, d in enumerate(dets):
        colour = KNOWN_COLOUR if known is None or known[i] else UNKNOWN_COLOUR
        p1, p2 = (int(d.x1), int(d.y1)), (int(d.x2), int(d.y2))
        cv2.rectangle(out, p1, p2, colour, 2)
        text = labels[i] if labels is not None else f"{d.class_name} {d.score:.2f}"
        cv2.putText(out, text, (p1[0], max(12, p1[1] - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1)
    return out
