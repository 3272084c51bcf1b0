"""A node whose launcher asked for it stops when the launcher dies (PR_SET_PDEATHSIG); without the
request it outlives its parent, as a process started from a shell script must."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chhnn_ros.ros.parent import STOP_WITH_PARENT_ENV

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")

# The child arms the request, reports its pid, then waits; SIGTERM ends it with status -15.
CHILD = ("import os, sys, time; from chhnn_ros.ros.parent import stop_with_parent; "
         "armed = stop_with_parent(); print(os.getpid(), armed, flush=True); time.sleep(60)")
# The launcher starts the child, reads its line, passes it on and exits at once.
LAUNCHER = ("import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', sys.argv[1]], "
            "stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True); "
            "print(p.stdout.readline().strip(), flush=True)")


def child_after_launcher_exits(request: bool) -> tuple[int, bool]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop(STOP_WITH_PARENT_ENV, None)
    if request:
        env[STOP_WITH_PARENT_ENV] = "1"
    out = subprocess.run([sys.executable, "-c", LAUNCHER, CHILD], env=env, capture_output=True, text=True,
                         timeout=60)
    pid, armed = out.stdout.split()
    return int(pid), armed == "True"


def alive_after(pid: int, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not Path(f"/proc/{pid}").exists() or " Z " in Path(f"/proc/{pid}/stat").read_text():
            return False
        time.sleep(0.1)
    return True


def test_a_requesting_child_stops_with_its_launcher():
    pid, armed = child_after_launcher_exits(request=True)
    assert armed
    assert not alive_after(pid, 10.0)


def test_without_the_request_a_child_outlives_its_parent():
    pid, armed = child_after_launcher_exits(request=False)
    try:
        assert not armed
        assert alive_after(pid, 2.0)
    finally:
        os.kill(pid, signal.SIGKILL)
