"""Labelled object crops rendered by the simulator (backs the ``sim-objects`` benchmark stream), cached on disk."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from chhnn_ros.files import atomic_write
from chhnn_ros.sim.objects import DEFAULT_OBJECTS, check_objects
from chhnn_ros.sim.views import VIEWPOINTS, render_object_views

_VERSION = 1  # bump when rendering changes so stale caches are not reused
CACHE_DIR = Path(os.environ.get("CHHNN_CACHE", Path.home() / ".cache" / "chhnn_ros"))


def cache_path(objects: list[str], n_train: int, n_test: int, seed: int, size: int, train_viewpoints: str,
               test_viewpoints: str, cache_dir: Path | None = None) -> Path:
    key = json.dumps([_VERSION, objects, n_train, n_test, seed, size, train_viewpoints, test_viewpoints])
    return Path(cache_dir or CACHE_DIR) / f"sim_objects_{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"


def sim_object_images(objects: list[str] | None = None, n_train: int = 60, n_test: int = 30, seed: int = 0,
                      size: int = 64, train_viewpoints: str = "all", test_viewpoints: str = "all",
                      cache: bool = True, cache_dir: str | Path | None = None) -> dict[str, np.ndarray]:
    """``x_train (N, size, size, 3) uint8``, ``y_train (N,)`` object names, ``x_test``, ``y_test``.

    Train and test views come from independent random streams (different seeds); pass
    ``test_viewpoints="test"`` with ``train_viewpoints="train"`` for unseen-viewpoint evaluation.
    Deterministic; cached to ``~/.cache/chhnn_ros/sim_objects_<hash>.npz`` (``$CHHNN_CACHE`` overrides).
    """
    objects = check_objects(DEFAULT_OBJECTS if objects is None else objects)
    if n_train < 1 or n_test < 0:
        raise ValueError(f"need n_train >= 1 and n_test >= 0, got {n_train}, {n_test}")
    for v in (train_viewpoints, test_viewpoints):
        if v not in VIEWPOINTS:
            raise ValueError(f"unknown viewpoints {v!r}; valid: {', '.join(VIEWPOINTS)}")
    path = cache_path(objects, n_train, n_test, seed, size, train_viewpoints, test_viewpoints,
                      Path(cache_dir) if cache_dir else None)
    if cache and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test")}
        except (OSError, ValueError, KeyError):
            pass  # corrupt / partial cache: re-render below and overwrite it
    xs_tr, xs_te = [], []
    for obj in objects:
        xs_tr.append(render_object_views(obj, n_train, seed=2 * seed, size=size, viewpoints=train_viewpoints))
        xs_te.append(render_object_views(obj, n_test, seed=2 * seed + 1, size=size, viewpoints=test_viewpoints))
    data = {
        "x_train": np.concatenate(xs_tr),
        "y_train": np.repeat(np.asarray(objects, dtype=str), n_train),
        "x_test": np.concatenate(xs_te) if n_test else np.zeros((0, size, size, 3), np.uint8),
        "y_test": np.repeat(np.asarray(objects, dtype=str), n_test),
    }
    if cache:
        atomic_write(path, lambda f: np.savez_compressed(f, **data))  # concurrent runs never read half a file
    return data
