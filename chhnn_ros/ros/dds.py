"""The DDS environment of the package's processes, and ROS domain ids for isolated runs.

Fast DDS's default best-effort transport drops images over ~512 KB; the
package's profile (``config/fastdds_large_data.xml``, read from the installed
share directory) gives a large shared-memory segment and localhost UDP.
Benchmarks and tests run their graphs on a domain id of their own, taken here
and only here: a lock file per id keeps parallel runs (two test sessions, a
benchmark beside the tests) apart.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

from chhnn_ros.app.share import config_file

PROFILE = "fastdds_large_data.xml"
# Ids whose Fast DDS ports (7400 + 250 * id + offsets) stay below Linux's ephemeral port range;
# users' graphs normally run on 0.
DOMAIN_RANGE = range(30, 102)
_held: dict[int, int] = {}  # domain id → file descriptor of its lock, kept open while this process runs


def dds_env(domain: int | None = None) -> dict[str, str]:
    """Variables for a process of the graph: the large-data profile, localhost discovery, ``domain``."""
    env = {"FASTDDS_DEFAULT_PROFILES_FILE": str(config_file(PROFILE)), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    if domain is not None:
        env["ROS_DOMAIN_ID"] = str(domain)
    return env


def configure_process(keep_user_settings: bool = True) -> dict[str, str]:
    """Set this process's DDS variables before rclpy creates a participant; returns what it set.
    Settings the user exported are kept unless ``keep_user_settings`` is False."""
    chosen = {k: v for k, v in dds_env().items() if not (keep_user_settings and k in os.environ)}
    os.environ.update(chosen)
    return chosen


def allocate_domain() -> int:
    """A ROS domain id no other run on this machine holds; held until this process ends."""
    lock_dir = Path(tempfile.gettempdir()) / "chhnn_ros-domains"
    lock_dir.mkdir(exist_ok=True)
    ids = list(DOMAIN_RANGE)
    start = os.getpid() % len(ids)
    for domain in ids[start:] + ids[:start]:
        if domain in _held:
            continue
        fd = os.open(lock_dir / f"{domain}.lock", os.O_CREAT | os.O_RDWR, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        _held[domain] = fd
        return domain
    raise RuntimeError(f"every ROS domain id in {DOMAIN_RANGE.start}..{DOMAIN_RANGE.stop - 1} is in use on this "
                       "machine")


def release_domain(domain: int) -> None:
    fd = _held.pop(domain, None)
    if fd is not None:
        os.close(fd)  # closing the descriptor releases the lock
