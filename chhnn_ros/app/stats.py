"""Rates, latencies and error counts of a pipeline stage (what /diagnostics reports).

Each stage counts frames in and out and the latency from the camera stamp to
its own output; a report takes the window since the previous report.
"""

from __future__ import annotations

import threading
import time


class Stats:
    """Thread-safe counters over the window since the last report."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self._inputs = self._outputs = self._errors = 0
        self._latencies: list[float] = []
        self.total_inputs = self.total_outputs = self.total_errors = 0
        self.last_error = ""

    def input(self) -> None:
        with self._lock:
            self._inputs += 1
            self.total_inputs += 1

    def output(self, latency_s: float | None = None) -> None:
        with self._lock:
            self._outputs += 1
            self.total_outputs += 1
            if latency_s is not None:
                self._latencies.append(latency_s)

    def error(self, message: str) -> None:
        with self._lock:
            self._errors += 1
            self.total_errors += 1
            self.last_error = message

    def window(self) -> dict[str, float]:
        """Rates (Hz) and latency (ms) since the previous call; resets the window."""
        with self._lock:
            now = time.monotonic()
            dt = max(now - self._t0, 1e-6)
            lat = sorted(self._latencies)
            out = {
                "input_hz": self._inputs / dt,
                "output_hz": self._outputs / dt,
                "errors": float(self._errors),
                "latency_ms_mean": 1e3 * sum(lat) / len(lat) if lat else float("nan"),
                "latency_ms_max": 1e3 * lat[-1] if lat else float("nan"),
            }
            self._t0, self._inputs, self._outputs, self._errors, self._latencies = now, 0, 0, 0, []
            return out


def describe(exc: BaseException) -> str:
    """An exception's message, or its type when it has none (e.g. EOFError from a closed pipe)."""
    return str(exc) or type(exc).__name__
