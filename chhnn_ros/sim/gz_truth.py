"""Gazebo ``boundingbox_camera`` boxes → the ``truth`` detections the groundtruth detector reads.

ros_gz_bridge turns the sensor's ``gz.msgs.AnnotatedAxisAligned2DBox_V`` into a
``vision_msgs/Detection2DArray`` (centre, size, ``class_id`` = the model's
``Label``); :mod:`chhnn_ros.nodes.gz_truth_node` republishes them as ``truth``,
so ``detector: groundtruth`` works on a Gazebo camera as on the built-in sim.
The label doubles as the track id (one label per object in worlds/tabletop.sdf),
so a teach command can name an object: ``{"label": "red cube", "track_id": 1}``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from chhnn_ros.perception.types import Detection


def truth_detections(boxes: Iterable[tuple[float, float, float, float, str]]) -> list[Detection]:
    """(centre x, centre y, width, height, class id) in pixels → corner boxes; empty or non-finite boxes dropped."""
    out = []
    for cx, cy, w, h, cid in boxes:
        if not all(math.isfinite(v) for v in (cx, cy, w, h)) or w <= 0 or h <= 0:
            continue
        cid = str(cid).strip()
        out.append(Detection(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, score=1.0,
                             class_name=f"label_{cid}" if cid else "object",
                             track_id=int(cid) if cid.isdigit() else None))
    return out
