"""The camera's capture loop: read a frame source at a rate, in its own thread.

A camera read or a sim render blocks for tens of milliseconds; in an executor
callback it would hold up every node of a one-process graph, so the camera
reads here and only hands finished frames on.  Missed ticks are skipped (as a
timer does) rather than bunched; the rate can change while it runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from chhnn_ros.perception.types import Frame

STAMP_SKEW_S = 3600.0


def frame_stamp(frame_time: float, now: float) -> float:
    """The frame's own capture time when it is on the node's clock (camera, sim); a video's position in
    seconds is not, so such frames are stamped on arrival."""
    return frame_time if abs(frame_time - now) < STAMP_SKEW_S else now


class CaptureLoop:
    def __init__(self, read: Callable[[], Frame | None], emit: Callable[[Frame], None], rate: float,
                 on_error: Callable[[BaseException], None], on_end: Callable[[], None]) -> None:
        self.read, self.emit, self.on_error, self.on_end = read, emit, on_error, on_end
        self.rate = rate
        self.ended = False
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        next_t = time.monotonic()
        while not self._halt.is_set():
            try:
                frame = self.read()
                if frame is None:
                    if not self.ended:
                        self.ended = True
                        self.on_end()
                else:
                    self.emit(frame)
            except Exception as exc:
                if self._halt.is_set():
                    return
                self.on_error(exc)
            next_t += 1.0 / self.rate
            if next_t < time.monotonic():  # behind (slow source): skip missed ticks
                next_t = time.monotonic()
            self._halt.wait(next_t - time.monotonic())

    def stop(self, timeout: float = 10.0) -> None:
        self._halt.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
