"""Detector interface shared by the YOLO, SSD and ground-truth detectors."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from chhnn_ros.perception.image_checks import as_rgb_uint8
from chhnn_ros.perception.types import Detection, Frame


class Detector(ABC):
    """``detect(frame)`` → boxes in pixel coordinates of the input image."""

    @abstractmethod
    def detect(self, frame: Frame | np.ndarray) -> list[Detection]: ...

    def close(self) -> None:  # noqa: B027 - detectors without resources need nothing
        pass

    def __enter__(self) -> Detector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def frame_image(frame: Frame | np.ndarray) -> np.ndarray:
    """The validated RGB uint8 image of a ``Frame`` or raw array."""
    return as_rgb_uint8(frame.image if isinstance(frame, Frame) else frame)


def class_filter(classes: Sequence[int | str] | None, names: dict[int, str]) -> set[int] | None:
    """Map class names or ids to a set of ids of ``names``; ``None`` keeps every class."""
    if classes is None:
        return None
    if isinstance(classes, (str, int)):
        classes = [classes]
    by_name = {name.lower(): idx for idx, name in names.items()}
    ids: set[int] = set()
    for cls in classes:
        if isinstance(cls, str) and cls.strip().isdigit():
            cls = int(cls)
        if isinstance(cls, (int, np.integer)) and not isinstance(cls, bool) and int(cls) in names:
            ids.add(int(cls))
        elif isinstance(cls, str) and cls.strip().lower() in by_name:
            ids.add(by_name[cls.strip().lower()])
        else:
            sample = ", ".join(list(names.values())[:8])
            raise ValueError(f"unknown class {cls!r} for this detector (known names: {sample}, …)")
    return ids


def check_threshold(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


def check_max_det(max_det: int) -> int:
    if int(max_det) < 1:
        raise ValueError(f"max_det must be >= 1, got {max_det}")
    return int(max_det)
