"""A node started by a launcher stops when the launcher dies.

``ros2 launch`` forwards SIGINT to its nodes, but on SIGTERM (``kill``, a
service manager's stop) it exits at once and leaves them running (upstream
ros2/launch#666): a second launch then finds the old nodes on its topics,
and the old classifier still holds the memory file.  Linux can deliver a
signal to a process when its parent exits (``PR_SET_PDEATHSIG``); a node
whose launcher asked for it gets SIGTERM then and shuts down as on any
stop signal (the learned classes are saved).

Only on request (the environment variable :data:`STOP_WITH_PARENT_ENV`,
set by ``perception.launch.py`` and the graph runner): a node started by
hand from a shell script that exits must keep running.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

#: Set to ``1`` in a node's environment by whatever starts it and owns its lifetime.
STOP_WITH_PARENT_ENV = "CHHNN_STOP_WITH_PARENT"
_PR_SET_PDEATHSIG = 1


def stop_with_parent() -> bool:
    """Ask the kernel for SIGTERM when the parent process exits, if the environment requests it.

    True if armed.  A parent that died before the request (the process was already reparented) gets
    the signal sent at once, so no window is left open."""
    if os.environ.get(STOP_WITH_PARENT_ENV) != "1" or not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent or parent == 1:
        os.kill(os.getpid(), signal.SIGTERM)
    return True
