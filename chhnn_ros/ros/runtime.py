"""Run rclpy nodes with clean start-up errors and SIGINT/SIGTERM shutdown.

rclpy's own signal handler can leave a MultiThreadedExecutor publishing on an
invalid context at exit, and a process started in the background by a
non-interactive shell begins with SIGINT ignored; so rclpy's handler is
disabled and ours is installed for both signals.  A params file with an
unknown node or parameter name, or a node constructor that raises (bad
parameter, unusable memory file, missing weights), ends the process with
status 1 and one FATAL log line instead of a traceback.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

import rclpy
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from chhnn_ros.params import check_params_file
from chhnn_ros.ros.parent import stop_with_parent


def init(args: Sequence[str] | None) -> None:
    rclpy.init(args=list(sys.argv if args is None else args), signal_handler_options=SignalHandlerOptions.NO)


def install_stop_handlers(stop: threading.Event) -> None:
    def handler(signum, _frame) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)  # re-installed: it may start ignored
    signal.signal(signal.SIGTERM, handler)


def apply_torch_threads(nodes: Sequence[Node]) -> None:
    """Set PyTorch's intra-op thread count from a node's ``torch_threads`` parameter (process-wide)."""
    for n in nodes:
        if n.has_parameter("torch_threads") and n.get_parameter("torch_threads").value > 0:
            import torch

            torch.set_num_threads(int(n.get_parameter("torch_threads").value))


def make_executor(n_nodes: int, threads: int | None = None, context: Any = None, kind: str | None = None):
    """``events`` (rclpy's events executor, Kilted and later) or ``multi`` (multi-threaded); by default
    ``CHHNN_EXECUTOR`` or events.

    Every callback of the perception nodes only hands work to a worker thread (the camera reads in its
    own capture thread), so one thread dispatching suffices; rclpy's events executor dispatches in C++,
    which costs the one-process pipeline less than Python's executors (docs/results/perf.md).
    """
    kind = kind or os.environ.get("CHHNN_EXECUTOR", "events")
    if kind not in ("events", "multi"):
        raise ValueError(f"CHHNN_EXECUTOR must be 'events' or 'multi', got {kind!r}")
    if kind == "events":
        try:
            from rclpy.experimental import EventsExecutor
        except ImportError:  # rclpy before Kilted
            kind = "multi"
        else:
            return EventsExecutor(context=context)
    # Callbacks mostly hand work to worker threads, so threads wait more than they compute; the
    # default (one per core) starves subscriptions when several nodes share it.
    return MultiThreadedExecutor(num_threads=threads or max(4, 2 * n_nodes), context=context)


class Spinner:
    """Spins nodes, each on the executor kind it asks for (a node's ``executor_kind``: a node whose
    service callbacks await the end of a long job needs ``multi``, which runs coroutines; the events
    executor does not), one thread per executor, until :meth:`stop`."""

    def __init__(self, nodes: Sequence[Node], context: Any = None) -> None:
        apply_torch_threads(nodes)
        groups: dict[str, list[Node]] = {}
        for n in nodes:
            groups.setdefault(getattr(n, "executor_kind", None) or os.environ.get("CHHNN_EXECUTOR", "events"),
                              []).append(n)
        self.nodes, self.context = list(nodes), context
        self.executors = []
        for kind, members in groups.items():
            ex = make_executor(len(members), context=context, kind=kind)
            for n in members:
                ex.add_node(n)
            self.executors.append(ex)
        names = ", ".join(f"{type(e).__name__} ({', '.join(n.get_name() for n in g)})"
                          for e, g in zip(self.executors, groups.values()))
        rclpy.logging.get_logger("chhnn_ros").info(f"executor: {names}")
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._spin, args=(ex,), name=f"spin-{i}", daemon=True)
                         for i, ex in enumerate(self.executors)]
        for t in self._threads:
            t.start()

    def _ok(self) -> bool:
        return self.context.ok() if self.context is not None else rclpy.ok()

    def _spin(self, executor: Any) -> None:
        # spin_once with a timeout so a stop is seen promptly
        while not self._stop.is_set() and self._ok():
            try:
                executor.spin_once(timeout_sec=0.1)
            except Exception as exc:  # a callback bug must not end a long-running process
                rclpy.logging.get_logger("chhnn_ros").error(f"callback failed: {type(exc).__name__}: {exc}")

    def stop(self) -> None:
        """Stop spinning, then destroy the nodes (newest first) and shut the context down."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5.0)  # spin_once returns within 0.1 s unless a callback blocks it
        for ex in self.executors:
            ex.shutdown(timeout_sec=2.0)
        for n in reversed(self.nodes):
            n.destroy_node()
        rclpy.try_shutdown(context=self.context)


# A shutdown that takes longer than this is stuck (a running teach finishes and saves well within it):
# the process then prints every thread's stack to stderr and exits with status 1, inside the 30 s the
# graph runner gives a node before killing it without a trace.  ros2 launch escalates sooner by
# default (SIGTERM after 5 s, SIGKILL 5 s later); its sigterm_timeout/sigkill_timeout arguments give
# a node the time for this report.
SHUTDOWN_BUDGET_S = 20.0


def spin(nodes: Sequence[Node], stop: threading.Event) -> None:
    """Spin ``nodes`` until ``stop`` is set (a signal), then shut down in order."""
    spinner = Spinner(nodes)
    try:
        while not stop.wait(0.1) and rclpy.ok():
            pass
    finally:
        # faulthandler dumps from C, so it works even when the stuck thread holds the GIL.
        faulthandler.dump_traceback_later(SHUTDOWN_BUDGET_S, exit=True)
        try:
            spinner.stop()
        finally:
            faulthandler.cancel_dump_traceback_later()


def params_files(args: Sequence[str]) -> list[str]:
    """The ``--params-file`` paths among ROS arguments."""
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--params-file"]


def fatal(message: str) -> int:
    """One FATAL line saying why the process cannot start; exit status 1."""
    rclpy.logging.get_logger("chhnn_ros").fatal(f"cannot start: {message}")
    return 1


def start_nodes(factories: Sequence[Callable[[], Node]]) -> list[Node]:
    """Create the nodes; on failure destroy those already made and re-raise (rclpy's context shutdown
    then finds nothing half-made to clean up)."""
    nodes: list[Node] = []
    try:
        for make in factories:
            nodes.append(make())
    except BaseException:
        for n in reversed(nodes):
            n.destroy_node()
        raise
    return nodes


def main_for(factories: Sequence[Callable[[], Node]], args: Sequence[str] | None = None) -> int:
    """Create the nodes, spin until SIGINT/SIGTERM, shut down; exit status."""
    argv = list(sys.argv if args is None else args)
    stop = threading.Event()
    install_stop_handlers(stop)
    stop_with_parent()  # after the handlers: a launcher that died meanwhile stops us cleanly
    try:
        init(argv)
    except RuntimeError as exc:  # rcl's RCLError: e.g. a malformed --ros-args rule
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2
    try:
        for path in params_files(argv):
            check_params_file(path)
        nodes = start_nodes(factories)
    except Exception as exc:  # any start-up failure: say why in one line, no traceback
        status = fatal(str(exc) or type(exc).__name__)
        rclpy.try_shutdown()
        return status
    spin(nodes, stop)
    return 0
