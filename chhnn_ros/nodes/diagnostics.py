"""Rates and latencies of a node, published as diagnostic_msgs on /diagnostics.

Each node counts frames in and out and the latency from the camera stamp to
its own output; :func:`publish` turns a window of these into one
DiagnosticStatus (level WARN when nothing arrives, ERROR when the node
reports a fault such as an unusable memory file).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue


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


def make_status(name: str, window: dict[str, float], extra: dict[str, Any], fault: str = "") -> DiagnosticStatus:
    level, message = DiagnosticStatus.OK, "running"
    if fault:
        level, message = DiagnosticStatus.ERROR, fault
    elif window["input_hz"] == 0.0:
        level, message = DiagnosticStatus.WARN, "no input in the last period"
    values = {**{k: f"{v:.3g}" for k, v in window.items()}, **{k: str(v) for k, v in extra.items()}}
    return DiagnosticStatus(level=level, name=name, message=message, hardware_id="chhnn_ros",
                            values=[KeyValue(key=k, value=v) for k, v in values.items()])


def publish(node, publisher, stats: Stats, extra: dict[str, Any], fault: str = "") -> None:
    arr = DiagnosticArray()
    arr.header.stamp = node.get_clock().now().to_msg()
    # cumulative counts too: a monitor that misses a message still sees every rejected input
    extra = {**extra, "total_errors": stats.total_errors, "last_error": stats.last_error[:200]}
    arr.status = [make_status(node.get_fully_qualified_name(), stats.window(), extra, fault)]
    publisher.publish(arr)


def describe(exc: BaseException) -> str:
    """An exception's message, or its type when it has none (e.g. EOFError from a closed pipe)."""
    return str(exc) or type(exc).__name__


def skip_handler(node, stats: Stats, what: str = "frame") -> Callable[[BaseException], None]:
    """A perception worker's error handler: the bad input is counted in the diagnostics and
    logged (throttled, rclpy keeps throttle state per node logger), and the node carries on."""

    def on_error(exc: BaseException) -> None:
        why = describe(exc)
        stats.error(why)
        node.get_logger().error(f"{what} skipped: {why}", throttle_duration_sec=2.0)

    return on_error
