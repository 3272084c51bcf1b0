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


def make_executor(n_nodes: int, threads: int | None = None, context: Any = None):
    """``CHHNN_EXECUTOR=events`` (default where rclpy has it, Kilted and later) or ``multi``.

    Every callback of these nodes only hands work to a worker thread (the camera reads in its own
    capture thread), so one thread dispatching suffices; rclpy's events executor dispatches in C++,
    which costs the one-process pipeline less than Python's executors (docs/results/perf.md).
    """
    kind = os.environ.get("CHHNN_EXECUTOR", "events")
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
    # default (one per core) starves subscriptions when four nodes share it.
    return MultiThreadedExecutor(num_threads=threads or max(4, 2 * n_nodes), context=context)


def spin(nodes: Sequence[Node], stop: threading.Event, threads: int | None = None) -> None:
    apply_torch_threads(nodes)
    executor = make_executor(len(nodes), threads)
    rclpy.logging.get_logger("chhnn_ros").info(f"executor: {type(executor).__name__}")
    for n in nodes:
        executor.add_node(n)
    try:
        # spin_once with a timeout so the stop flag set by a signal is seen promptly
        while not stop.is_set() and rclpy.ok():
            try:
                executor.spin_once(timeout_sec=0.1)
            except Exception as exc:  # a callback bug must not end a long-running process
                rclpy.logging.get_logger("chhnn_ros").error(f"callback failed: {type(exc).__name__}: {exc}")
    finally:
        executor.shutdown(timeout_sec=2.0)
        for n in reversed(nodes):
            n.destroy_node()
        rclpy.try_shutdown()


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
