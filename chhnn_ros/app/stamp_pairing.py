"""Pair two message streams of the same camera frames by their exact stamp.

The encoder needs a frame's detections and its pixels (``image_raw`` or the
``crops`` mosaic); they travel on separate topics and arrive in any order.
Each side keeps its newest unpaired items (bounded), so a message whose
partner never comes is dropped, never piles up.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

A = TypeVar("A")
B = TypeVar("B")


class StampPairer(Generic[A, B]):
    def __init__(self, pending: int = 20) -> None:
        if pending < 1:
            raise ValueError("pending must be >= 1")
        self.pending = pending
        self._a: OrderedDict[Hashable, A] = OrderedDict()
        self._b: OrderedDict[Hashable, B] = OrderedDict()
        self._lock = threading.Lock()
        self.dropped = 0  # unpaired items pushed out by newer ones

    def add_a(self, key: Hashable, item: A) -> tuple[A, B] | None:
        return self._add(key, item, self._a, self._b, a_side=True)

    def add_b(self, key: Hashable, item: B) -> tuple[A, B] | None:
        return self._add(key, item, self._b, self._a, a_side=False)

    def discard_b(self, key: Hashable) -> None:
        with self._lock:
            self._b.pop(key, None)

    def _add(self, key, item, mine: OrderedDict, theirs: OrderedDict, a_side: bool):
        with self._lock:
            if key in theirs:
                other = theirs.pop(key)
                return (item, other) if a_side else (other, item)
            mine[key] = item
            while len(mine) > self.pending:
                mine.popitem(last=False)
                self.dropped += 1
        return None
