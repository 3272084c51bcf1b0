"""Ground-truth "detector": passes through the simulator's boxes (``Frame.truth``).

Lets the learner and the benchmarks be evaluated without detector errors mixed in.
"""

from __future__ import annotations

import numpy as np

from chhnn_ros.perception.detectors.base import Detector
from chhnn_ros.perception.types import Detection, Frame


class GroundTruthDetector(Detector):
    def __init__(self, min_area: float = 0.0) -> None:
        if not min_area >= 0:
            raise ValueError(f"min_area must be >= 0, got {min_area}")
        self.min_area = float(min_area)

    def detect(self, frame: Frame | np.ndarray) -> list[Detection]:
        if not isinstance(frame, Frame):
            raise ValueError("the groundtruth detector needs a Frame with truth boxes (e.g. from the 'sim' source)")
        return [d for d in frame.truth if d.area >= self.min_area and d.area > 0]
