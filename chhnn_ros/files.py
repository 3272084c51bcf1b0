"""Atomic file writes: the one way this package replaces a file on disk.

A file is written to a temporary file in the same directory, flushed and
fsynced, then renamed over the target (``os.replace`` is atomic on POSIX), and
the directory is fsynced, so a crash or power cut leaves the old or the new
file, never a torn one, and a concurrent reader never sees half a file.  The
temporary name is ``.<name>.<random>.tmp``; :func:`remove_temp_files` deletes
those an interrupted write left behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object], mode: int = 0o644) -> Path:
    """Replace ``path`` by what ``write(file)`` writes; ``mode`` is the new file's permission
    (``mkstemp`` creates 0600, which would make shared data files unreadable to other users)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: str | Path, data: bytes, mode: int = 0o644) -> Path:
    return atomic_write(path, lambda f: f.write(data), mode)


def remove_temp_files(path: str | Path) -> list[Path]:
    """Delete the temporary files of writes of ``path`` that a crash interrupted before the rename;
    they are never the file itself.  Call only when no write of ``path`` is running."""
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f".{path.name}.*.tmp") if path.parent.is_dir() else []:
        try:
            tmp.unlink()
            removed.append(tmp)
        except OSError:
            pass
    return removed


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # platforms without directory file descriptors
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
