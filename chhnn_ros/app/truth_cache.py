"""The sim's ground-truth boxes by stamp, for the groundtruth detector.

Truth and image travel on separate topics; the detector asks for the truth of
an image's stamp and waits a little for it to arrive.  Only the newest
``size`` frames are kept: at the camera's highest rate that is more than the
detector ever waits for.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from chhnn_ros.perception.types import Detection

DEFAULT_SIZE = 64  # frames: > 1 s of truth at 60 Hz, the longest the detector waits


class TruthCache:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[float, list[Detection]] = OrderedDict()
        self._cv = threading.Condition()

    def add(self, stamp: float, detections: list[Detection]) -> None:
        with self._cv:
            self._items[stamp] = detections
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            self._cv.notify_all()

    def _find(self, stamp: float, tolerance: float) -> list[Detection] | None:
        best = min(self._items, key=lambda k: abs(k - stamp), default=None)
        return self._items[best] if best is not None and abs(best - stamp) <= tolerance else None

    def get(self, stamp: float, tolerance: float, wait: float) -> list[Detection] | None:
        """The truth within ``tolerance`` s of ``stamp``, waiting up to ``wait`` s for it; or None."""
        with self._cv:
            self._cv.wait_for(lambda: self._find(stamp, tolerance) is not None, timeout=wait)
            return self._find(stamp, tolerance)
