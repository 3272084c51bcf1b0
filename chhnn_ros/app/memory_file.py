"""Atomic persistence of what the robot has learned (the memory file).

Save: :func:`chhnn_ros.files.atomic_write` (temporary file, fsync, rename,
directory fsync), so a crash or power cut leaves either the old or the new
file, never a torn one.  Load: ``torch.load`` with
``weights_only=True`` (no code execution from a file on disk); numpy arrays
are stored as tagged tensors for that reason.  A file that cannot be used is
reported with :class:`MemoryFileError`; :func:`quarantine` moves it aside as
``<name>.corrupt-<timestamp>`` (never overwriting anything) when the user
allowed starting empty.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from chhnn_ros import files
from chhnn_ros.files import atomic_write_bytes

MEMORY_FORMAT = "chhnn_ros-memory"
MEMORY_VERSION = 1
_ND = "__ndarray__"


class MemoryFileError(ValueError):
    """The memory file exists but is corrupt or incompatible."""


def _to_safe(obj: Any) -> Any:
    """numpy → tagged tensors, so ``weights_only`` loading accepts the file."""
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            return [_to_safe(v) for v in obj.tolist()]
        return {_ND: torch.from_numpy(np.ascontiguousarray(obj))}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: _to_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_to_safe(v) for v in obj)
    return obj


def _from_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {_ND}:
            return obj[_ND].numpy()
        return {k: _from_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_from_safe(v) for v in obj)
    return obj


def expand(path: str) -> Path:
    return Path(os.path.expandvars(os.path.expanduser(path)))


def save(path: str | Path, learner_state: dict[str, Any], database_version: int, extra: dict | None = None) -> Path:
    """Atomically write the memory file; returns its path."""
    path = expand(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": MEMORY_FORMAT,
        "version": MEMORY_VERSION,
        "database_version": int(database_version),
        "saved_at": time.time(),
        "learner_state": _to_safe(learner_state),
        "extra": _to_safe(extra or {}),
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    return atomic_write_bytes(path, buf.getvalue(), mode=0o600)  # learned classes are the user's own data


def load(path: str | Path) -> dict[str, Any] | None:
    """The saved payload, ``None`` if no file, :class:`MemoryFileError` if unusable."""
    path = expand(str(path))
    if not path.exists():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise MemoryFileError(f"memory file {path} cannot be read: truncated, corrupt or not a torch file "
                              f"({type(exc).__name__}: {str(exc)[:120]})") from None
    if not isinstance(payload, dict) or payload.get("format") != MEMORY_FORMAT:
        raise MemoryFileError(f"{path} is not a chhnn_ros memory file")
    if payload.get("version") != MEMORY_VERSION:
        raise MemoryFileError(f"{path} has memory format version {payload.get('version')!r}; "
                              f"this package reads version {MEMORY_VERSION}")
    if not isinstance(payload.get("learner_state"), dict) or not isinstance(payload.get("database_version"), int):
        raise MemoryFileError(f"{path} lacks a learner state or database version")
    payload["learner_state"] = _from_safe(payload["learner_state"])
    payload["extra"] = _from_safe(payload.get("extra", {}))
    return payload


def remove_temp_files(path: str | Path) -> list[Path]:
    """Delete the temporary files of saves a crash (kill -9, power cut) interrupted; never the memory itself."""
    return files.remove_temp_files(expand(str(path)))


def quarantine(path: str | Path) -> Path:
    """Rename a bad memory file to ``<name>.corrupt-<UTC time>`` (unique, never overwriting)."""
    path = expand(str(path))
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    try:  # link + unlink refuses to overwrite, where rename() would silently replace a racing file
        os.link(path, target)
        path.unlink()
    except OSError:  # filesystems without hard links
        os.rename(path, target)
    return target
