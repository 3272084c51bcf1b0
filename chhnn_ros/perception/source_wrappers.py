"""Frame-source wrappers for the camera: a source rendering in a child
process (so PyBullet's GIL-holding render does not stall the other nodes of
a one-process bringup) and a cache of pre-rendered frames.  No rclpy here.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path

from chhnn_ros.perception.sources import make_source


def _serve(fd: int) -> None:
    """Child process of :class:`ProcessSource`: open the source, answer read/call requests.

    Ctrl-C (or a launcher's SIGTERM to the process group) reaches this child too; it ignores both
    and ends when the parent says stop or goes away, so the camera can finish its last read and
    shut down in order instead of logging a failed read."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    conn = Connection(fd)
    module, kind, kw = conn.recv()
    try:
        if module:
            importlib.import_module(module)  # registers the source kind in this process
        src = make_source(kind, **kw)
    except Exception as exc:
        conn.send((False, str(exc)))
        return
    conn.send((True, getattr(src, "scene", None) is not None))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            break
        if msg[0] == "stop":
            break
        try:
            conn.send((True, src.read() if msg[0] == "read" else getattr(src.scene, msg[1])()))
        except Exception as exc:
            conn.send((False, str(exc)))
    src.close()


class ProcessSource:
    """A frame source in a child process, rendering on request.

    PyBullet keeps the GIL for the whole of a render (tens of milliseconds at
    640x480), which in a one-process bringup stalls the detector, encoder and
    classifier; in a child process the camera thread waits on a pipe without
    the GIL.  No frame is rendered ahead: that would render the next frame
    while the pipeline works on this one, competing with it for the CPU (a
    higher latency on a machine with few cores; docs/results/perf.md).  The child is a plain ``python -c`` (not
    multiprocessing's spawn, which re-imports the parent's main script).
    """

    def __init__(self, kind: str, kw: dict, module: str = "") -> None:
        """``module``: imported in the child first (the module that registers ``kind``)."""
        mine, theirs = socket.socketpair()
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        code = "import sys; from chhnn_ros.perception.source_wrappers import _serve; _serve(int(sys.argv[1]))"
        # -P: not the current directory first on sys.path (run from inside another checkout, the child
        # would import that checkout's chhnn_ros); PYTHONPATH names the package this process runs.
        self._proc = subprocess.Popen([sys.executable, "-P", "-c", code, str(theirs.fileno())],
                                      pass_fds=[theirs.fileno()], env=env)
        theirs.close()
        self._conn = Connection(mine.detach())
        self._conn.send((module, kind, kw))
        try:
            ok, value = self._conn.recv()
        except EOFError:
            raise RuntimeError(f"the {kind} source process exited at start (status {self._proc.wait(5)})") from None
        if not ok:
            self._proc.wait(5.0)
            raise ValueError(value)
        self.scene = self if value else None
        self._lock = threading.Lock()

    def _ask(self, *request: str):
        with self._lock:
            self._conn.send(request)
            ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(value)
        return value

    def read(self):
        return self._ask("read")

    def reset(self) -> None:
        self._ask("call", "reset")

    def close(self) -> None:
        with contextlib.suppress(OSError):  # the child may already be gone
            self._conn.send(("stop",))
        try:
            self._proc.wait(2.0)
        except subprocess.TimeoutExpired:  # stuck (it ignores SIGTERM, see _serve)
            self._proc.kill()
            self._proc.wait(2.0)
        self._conn.close()


class CachedSource:
    """``n`` frames rendered once, then published in a loop (cheap, repeatable)."""

    def __init__(self, src, n: int) -> None:
        self.frames = [f for f in (src.read() for _ in range(n)) if f is not None]
        src.close()
        if not self.frames:
            raise ValueError("the frame source gave no frame to cache")
        self.scene, self._i = None, 0

    def read(self):
        frame = self.frames[self._i % len(self.frames)]
        self._i += 1
        return frame

    def close(self) -> None:
        pass
