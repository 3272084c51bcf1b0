"""A one-slot worker: the newest item replaces a waiting one, never queued.

Perception callbacks only store the latest frame; a thread processes it.  A
slow detector or encoder therefore works on the newest frame and stale frames
are dropped (counted), as in MIT-SPARK semantic_inference's image_worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class LatestWorker:
    def __init__(self, fn: Callable[[Any], None], on_error: Callable[[BaseException], None], name: str) -> None:
        self._fn, self._on_error = fn, on_error
        self._cond = threading.Condition()
        self._item: Any = None
        self._has_item = False
        self._stop = False
        self.dropped = 0
        self.processed = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, item: Any) -> None:
        with self._cond:
            if self._has_item:
                self.dropped += 1
            self._item, self._has_item = item, True
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._has_item and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                item, self._item, self._has_item = self._item, None, False
            try:
                self._fn(item)
            except Exception as exc:  # a bad frame must never kill the worker
                self._on_error(exc)
            self.processed += 1

    def stop(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout)
