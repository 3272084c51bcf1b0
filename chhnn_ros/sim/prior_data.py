"""Prior training data for 1280-d EfficientNet-Lite0 features: rendered views of
pybullet_data's random blobs (``random_urdfs/001..``), objects that no
evaluation stream, sim scene or demo uses (the catalogue's ``blue_blob`` is
``000`` and is skipped), so the shipped prior never saw an evaluation class.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FIRST_BLOB = 1  # random_urdfs/000 is the catalogue's held-out "blue_blob"


def blob(i: int):  # -> SimObject (lazy import keeps pybullet out of the learner import path)
    from chhnn_ros.sim.objects import SimObject

    if i < FIRST_BLOB or i > 999:
        raise ValueError(f"blob index must be in {FIRST_BLOB}..999, got {i}")
    # scale/z_offset as for blue_blob: the blobs share one mesh scale; a few mm
    # of floor intersection do not matter for views.
    return SimObject(f"blob{i:03d}", f"random_urdfs/{i:03d}/{i:03d}.urdf", 1.3, 0.023)


def random_object_features(per_class: int = 40, seed: int = 0, n_classes: int = 40,
                           size: int = 224) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(features (N, 1280), labels, description) from ``n_classes`` blobs × ``per_class`` views."""
    from tqdm import tqdm

    from chhnn_ros.perception.frontends import efficientnet
    from chhnn_ros.sim.views import render_object_views

    objs = [blob(FIRST_BLOB + i) for i in range(n_classes)]
    images, labels = [], []
    for k, obj in enumerate(tqdm(objs, desc="render blobs", unit="class")):
        images.append(render_object_views(obj, per_class, seed=seed, size=size, viewpoints="all"))
        labels.append(np.full(per_class, k, dtype=np.int64))
    x = np.concatenate(images)
    feats = efficientnet(x, stream_key=f"prior-blobs-{n_classes}x{per_class}-s{seed}")
    info = {
        "data": f"sim-random:{n_classes}x{per_class}",
        "feature": "efficientnet-lite0-1280",
        "classes": [o.name for o in objs],
        "description": (f"PyBullet renders of pybullet_data random_urdfs/{FIRST_BLOB:03d}.."
                        f"{FIRST_BLOB + n_classes - 1:03d} (not in the sim catalogue, demos or any bench stream), "
                        "EfficientNet-Lite0 ImageNet features"),
    }
    return feats, np.concatenate(labels), info
