"""A node started by a launcher stops when the launcher dies.

``ros2 launch`` forwards SIGINT to its nodes, but on SIGTERM (``kill``, a
service manager's stop) it exits at once and leaves them running (upstream
ros2/launch#666): a second launch then finds the old nodes on its topics,
and the old classifier still holds the memory file.  Linux can deliver a
signal to a process when its parent exits (``PR_SET_PDEATHSIG``); a node
whose launcher asked for it gets SIGTERM then and shuts down as on any
stop signal (the learned classes are saved).

Only on request (the environment variable :data:`STOP_WITH_PARENT_ENV`,
set by the package's launch files and the graph runner): a node started by
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

    True if armed.  A parent that dies between reading it and the request is caught (the process
    was reparented meanwhile) and the signal sent at once.  A parent already gone when this runs
    cannot be told from a launcher that is PID 1 (``ros2 launch`` as a container's entry point),
    whose nodes must keep running, so it is not guessed at."""
    if os.environ.get(STOP_WITH_PARENT_ENV) != "1" or not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)
    return True
