"""Turn a frame's detections and the learner's prediction into labelled objects.

The learner decides whether an object is one of its classes (its own
calibrated open-set decision); an object it does not know is labelled
``unknown_label`` and still carries the nearest class and its score, so an
operator sees "unknown, nearest: cup".  ``min_confidence`` is an explicit
extra filter on top: a known object whose class probability is lower is
labelled unknown too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from chhnn_ros.app.knowledge import Prediction
from chhnn_ros.perception.types import Detection


@dataclass(frozen=True)
class LabelledObject:
    box: tuple[float, float, float, float]
    label: str  # the decision: a class, or the unknown label
    score: float  # probability of the nearest class
    known: bool
    # The learner's known-ness: higher = more likely a taught class; 0 its threshold, ~1 a typical taught view.
    known_score: float
    nearest: str  # the nearest class ('' before any teach)
    track_id: int | None
    detector_class: str
    detector_score: float = 1.0


def json_score(value: float, digits: int = 4) -> float | None:
    """A known-ness for JSON: rounded, or None while it is +inf (the learner has too few calibration
    scores to reject anything yet); JSON has no infinity."""
    return round(float(value), digits) if math.isfinite(value) else None


class Labeller:
    def __init__(self, unknown_label: str, min_confidence: float = 0.0) -> None:
        self.unknown_label = unknown_label
        self.min_confidence = min_confidence

    def label(self, dets: list[Detection], pred: Prediction) -> list[LabelledObject]:
        if len(dets) != len(pred.nearest):
            raise ValueError(f"{len(dets)} detections but {len(pred.nearest)} predictions")
        out = []
        for i, d in enumerate(dets):
            nearest = pred.nearest[i]
            score = float(pred.scores[i])
            known = nearest is not None and bool(pred.known[i]) and score >= self.min_confidence
            out.append(LabelledObject(
                box=tuple(float(v) for v in d.box), label=str(nearest) if known else self.unknown_label,
                score=score, known=known, known_score=float(pred.known_scores[i]),
                nearest="" if nearest is None else str(nearest), track_id=d.track_id,
                detector_class=d.class_name, detector_score=float(d.score)))
        return out
