"""Rates and latencies of a node, published as diagnostic_msgs on /diagnostics.

Each node counts frames in and out and the latency from the camera stamp to
its own output; :func:`publish` turns a window of these into one
DiagnosticStatus (level WARN when nothing arrives, ERROR when the node
reports a fault such as an unusable memory file).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from chhnn_ros.app.stats import Stats, describe


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


def skip_handler(node, stats: Stats, what: str = "frame") -> Callable[[BaseException], None]:
    """A perception worker's error handler: the bad input is counted in the diagnostics and
    logged (throttled, rclpy keeps throttle state per node logger), and the node carries on."""

    def on_error(exc: BaseException) -> None:
        why = describe(exc)
        stats.error(why)
        node.get_logger().error(f"{what} skipped: {why}", throttle_duration_sec=2.0)

    return on_error
