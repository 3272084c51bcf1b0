"""Plain data types that flow source → detector → crop → encoder → learner."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class Detection:
    """An axis-aligned box in pixel coordinates of the source frame."""

    x1: float
    y1: float
    x2: float
    y2: float
    score: float = 1.0
    class_name: str = "object"
    track_id: int | None = None

    @property
    def area(self) -> float:
        return max(0.0, self.x2 - self.x1) * max(0.0, self.y2 - self.y1)

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Frame:
    """One RGB frame (H, W, 3) uint8 with its capture time.

    ``truth`` holds ground-truth detections when the source knows them
    (the simulator), with ``class_name`` set to the object's identity.
    """

    image: np.ndarray
    stamp: float
    frame_id: str = "camera"
    truth: list[Detection] = field(default_factory=list)
