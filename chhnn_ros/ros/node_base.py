"""What every chhnn_ros node shares: parameters from params.py, /diagnostics,
the skip-and-count handler for bad input, and a shutdown that undoes exactly
what was built.

A node whose constructor fails half-way (bad parameter, unusable memory file)
is still destroyed by rclpy's context shutdown; ``destroy_node`` therefore
runs only the clean-ups registered so far with :meth:`on_close` (newest
first), instead of touching attributes the constructor never set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rclpy.node import Node

from chhnn_ros.app.stats import Stats
from chhnn_ros.ros import diagnostics, parameters


class ChhnnNode(Node):
    input_name = "frame"  # what a bad input is called in the log ("frame skipped: ...")

    def __init__(self, name: str, kind: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self._closers: list[Callable[[], object]] = []
        self.stats = Stats()
        self.fault = ""  # a persistent problem /diagnostics reports as ERROR
        self.p = parameters.declare(self, kind or name, self._apply_param)
        self.on_error = diagnostics.skip_handler(self, self.stats, self.input_name)
        self._pub_diag = self.create_publisher(diagnostics.DiagnosticArray, "/diagnostics", 10)
        self._diag_timer = self.create_timer(self.p["diagnostics_period"], self._diagnostics)

    # ------------------------------------------------------------ parameters
    def _apply_param(self, name: str, value: Any) -> None:
        if name == "diagnostics_period":
            self._diag_timer.timer_period_ns = int(value * 1e9)
            self._diag_timer.reset()
        self.apply_param(name, value)

    def apply_param(self, name: str, value: Any) -> None:
        """Put a live parameter change into effect (``self.p`` already holds the new value)."""

    # ----------------------------------------------------------- diagnostics
    def diagnostic_values(self) -> dict[str, Any]:
        """Node-specific key/values of the /diagnostics status."""
        return {}

    def _diagnostics(self) -> None:
        diagnostics.publish(self, self._pub_diag, self.stats, self.diagnostic_values(), self.fault)

    # -------------------------------------------------------------- lifetime
    def on_close(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` when the node is destroyed (after the clean-ups registered later)."""
        self._closers.append(fn)

    def destroy_node(self) -> None:
        for fn in reversed(getattr(self, "_closers", [])):
            try:
                fn()
            except Exception as exc:  # one failed clean-up must not skip the others
                self.get_logger().warning(f"shutdown: {type(exc).__name__}: {exc}")
        self._closers = []
        super().destroy_node()
