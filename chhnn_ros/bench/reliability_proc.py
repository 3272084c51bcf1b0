"""Node processes for the reliability benchmark: start, kill -9, stop, RSS, log checks.

No rclpy here: each node is ``python -m chhnn_ros.nodes.<module> --ros-args
...`` with localhost-only DDS, the package's Fast DDS profile and its own
``ROS_DOMAIN_ID``, exactly as an operator (or a launch file) starts it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# rclpy log lines: "[ERROR] [...]" / "[FATAL]"; tracebacks of anything that escaped a handler
ERROR_RE = re.compile(r"^\[(ERROR|FATAL)\]|^Traceback \(most recent call last\)", re.M)


def set_ros_env(domain: int) -> None:
    """This process's DDS settings (before rclpy.init): isolated domain, localhost, large-data profile."""
    os.environ.update(ros_env(domain))


def ros_env(domain: int) -> dict[str, str]:
    env = {
        "ROS_DOMAIN_ID": str(domain),
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
        "FASTDDS_DEFAULT_PROFILES_FILE": str(ROOT / "config" / "fastdds_large_data.xml"),
        "YOLO_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    path = os.environ.get("PYTHONPATH", "")
    if str(ROOT) not in path.split(os.pathsep):
        env["PYTHONPATH"] = str(ROOT) + (os.pathsep + path if path else "")
    return env


class NodeProc:
    """One node process with its log file."""

    def __init__(self, module: str, log: Path, ros_args: list[str], domain: int) -> None:
        self.module, self.log_path = module, log
        self.log_offset = 0  # log text before this offset belongs to an earlier run (restarts append)
        log.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"chhnn_ros.nodes.{module}", "--ros-args", *ros_args],
            env={**os.environ, **ros_env(domain)}, stdout=log.open("a"), stderr=subprocess.STDOUT, cwd=ROOT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def errors(self) -> list[str]:
        """Log lines at ERROR/FATAL level and tracebacks."""
        lines = self.text().splitlines()
        return [ln for ln in lines if ERROR_RE.match(ln)]

    def wait_log(self, needle: str, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if needle in self.text():
                return True
            if not self.alive():
                return needle in self.text()
            time.sleep(0.1)
        return False

    def rss_mb(self) -> float:
        """Resident memory (VmRSS) in MB; NaN once the process is gone."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        return float("nan")

    def kill9(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (the node saves and exits 0); SIGKILL if it hangs (returns -9)."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            return -9


def pick_domain(seed: int) -> int:
    """A domain id in 170..199 (other test suites use 110-160 and 201-230)."""
    return 170 + (seed + os.getpid()) % 30
