"""The package's typed messages (msg/) ↔ the core's types, and the checks of what arrives.

A received message is checked before anything uses it: a box that is not
finite or is empty, a feature matrix whose size is not detections × dim, NaN
or inf features, a crop geometry the detector could not be set to, raise
``ValueError`` with what is wrong, so a node logs and counts it and carries
on.  ``*_to_dict`` give plain dicts (what the probe, the tests, the demos and
the web console read): ``stamp`` as ``{"sec", "nanosec"}``, boxes as corners
``[x1, y1, x2, y2]``.
"""

from __future__ import annotations

import array
import math
from typing import Any

import numpy as np
from std_msgs.msg import Header

from chhnn_ros.app.labelling import LabelledObject, json_score
from chhnn_ros.app.teaching import STATES, TeachStatus
from chhnn_ros.msg import BoundingBox2D, ClassList, DetectionArray, FeatureArray, LabelledObjectArray, ObjectHypothesis
from chhnn_ros.msg import Detection as DetectionMsg
from chhnn_ros.msg import LabelledObject as LabelledObjectMsg
from chhnn_ros.msg import TeachStatus as TeachStatusMsg
from chhnn_ros.params import params_for
from chhnn_ros.perception.types import Detection

NO_TRACK = DetectionMsg.NO_TRACK
_STATE_CODES = {"collecting": TeachStatusMsg.COLLECTING, "learned": TeachStatusMsg.LEARNED,
                "forgotten": TeachStatusMsg.FORGOTTEN, "error": TeachStatusMsg.ERROR}
_STATE_NAMES = {v: k for k, v in _STATE_CODES.items()}
assert set(_STATE_CODES) == set(STATES)


def header(stamp: Any, frame_id: str = "") -> Header:
    return Header(stamp=stamp, frame_id=frame_id)


def stamp_dict(h: Header) -> dict[str, int]:
    return {"sec": int(h.stamp.sec), "nanosec": int(h.stamp.nanosec)}


# ------------------------------------------------------------------------------------------- boxes
def box_to_msg(box: tuple[float, float, float, float]) -> BoundingBox2D:
    x1, y1, x2, y2 = (float(v) for v in box)
    return BoundingBox2D(center_x=(x1 + x2) / 2, center_y=(y1 + y2) / 2, size_x=x2 - x1, size_y=y2 - y1)


def box_from_msg(b: BoundingBox2D, where: str = "box") -> tuple[float, float, float, float]:
    values = (b.center_x, b.center_y, b.size_x, b.size_y)
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{where} is not finite: {values}")
    if not (b.size_x > 0 and b.size_y > 0):
        raise ValueError(f"{where} is empty: size {b.size_x} x {b.size_y}")
    hx, hy = b.size_x / 2, b.size_y / 2
    return (b.center_x - hx, b.center_y - hy, b.center_x + hx, b.center_y + hy)


# -------------------------------------------------------------------------------------- detections
def detection_to_msg(d: Detection) -> DetectionMsg:
    return DetectionMsg(bbox=box_to_msg(d.box), hypothesis=ObjectHypothesis(label=str(d.class_name),
                                                                            score=float(d.score)),
                        track_id=NO_TRACK if d.track_id is None else int(d.track_id))


def detection_from_msg(m: DetectionMsg, where: str) -> Detection:
    x1, y1, x2, y2 = box_from_msg(m.bbox, f"{where}.bbox")
    if not math.isfinite(m.hypothesis.score):
        raise ValueError(f"{where}.hypothesis.score is not finite")
    return Detection(x1, y1, x2, y2, score=float(m.hypothesis.score), class_name=m.hypothesis.label or "object",
                     track_id=None if m.track_id == NO_TRACK else int(m.track_id))


def detections_to_msg(hdr: Header, dets: list[Detection], image_size: tuple[int, int], crop_size: int = 0,
                      crop_pad: float = 0.0) -> DetectionArray:
    """``image_size``: (width, height); crop geometry 0 for ground truth (no crops meant)."""
    return DetectionArray(header=hdr, image_width=int(image_size[0]), image_height=int(image_size[1]),
                          crop_size=int(crop_size), crop_pad=float(crop_pad),
                          detections=[detection_to_msg(d) for d in dets])


def detections_from_msg(msg: DetectionArray, kind: str = "detections") -> list[Detection]:
    """The checked detections; for ``detections`` also the crop geometry, checked against the detector's own
    crop_size/crop_pad parameters, so a message cannot ask for a geometry the detector could not be set to."""
    if kind == "detections":
        for p in params_for("detector"):
            if p.name in ("crop_size", "crop_pad"):
                try:
                    p.check(getattr(msg, p.name))
                except ValueError as exc:
                    raise ValueError(f"{kind} message: {exc}") from None
    return [detection_from_msg(d, f"{kind}.detections[{i}]") for i, d in enumerate(msg.detections)]


def image_size(msg: DetectionArray | FeatureArray) -> tuple[int, int]:
    """(width, height) of the image a message's boxes are in; (0, 0) when not given."""
    return int(msg.image_width), int(msg.image_height)


# ---------------------------------------------------------------------------------------- features
def features_to_msg(hdr: Header, dets: list[Detection], vectors: np.ndarray, encoder: str,
                    size: tuple[int, int]) -> FeatureArray:
    X = np.ascontiguousarray(vectors, dtype=np.float32)
    if X.ndim != 2 or len(X) != len(dets):
        raise ValueError(f"{len(dets)} detections but features of shape {X.shape}")
    msg = FeatureArray(header=hdr, image_width=int(size[0]), image_height=int(size[1]),
                       detections=[detection_to_msg(d) for d in dets], encoder=encoder, dim=int(X.shape[1]))
    # array.array: rclpy takes its buffer in one copy (a numpy array is converted element by element)
    msg.data = array.array("f", X.tobytes())
    return msg


def features_from_msg(msg: FeatureArray) -> tuple[list[Detection], np.ndarray]:
    """The checked detections and their (n, dim) float32 features."""
    dets = [detection_from_msg(d, f"features.detections[{i}]") for i, d in enumerate(msg.detections)]
    if msg.dim < 1:
        raise ValueError(f"features message: dim must be >= 1, got {msg.dim}")
    data = np.frombuffer(msg.data, dtype=np.float32) if isinstance(msg.data, array.array) else \
        np.asarray(msg.data, dtype=np.float32)
    if data.size != len(dets) * msg.dim:
        raise ValueError(f"features message: {data.size} values for {len(dets)} detections x dim {msg.dim} = "
                         f"{len(dets) * msg.dim}")
    X = data.reshape(len(dets), msg.dim)
    if not np.isfinite(X).all():
        raise ValueError("features message contains a NaN or inf")
    return dets, X


# ----------------------------------------------------------------------------------------- objects
def object_to_msg(o: LabelledObject) -> LabelledObjectMsg:
    return LabelledObjectMsg(bbox=box_to_msg(o.box), label=o.label, score=float(o.score), known=bool(o.known),
                             known_score=float(o.known_score), nearest=ObjectHypothesis(
                                 label=o.nearest, score=float(o.score) if o.nearest else 0.0),
                             detection=ObjectHypothesis(label=o.detector_class, score=float(o.detector_score)),
                             track_id=NO_TRACK if o.track_id is None else int(o.track_id))


def objects_to_msg(hdr: Header, objects: list[LabelledObject], database_version: int) -> LabelledObjectArray:
    return LabelledObjectArray(header=hdr, database_version=int(database_version),
                               objects=[object_to_msg(o) for o in objects])


def teach_status_to_msg(s: TeachStatus, database_version: int, stamp: Any) -> TeachStatusMsg:
    return TeachStatusMsg(header=header(stamp), state=_STATE_CODES[s.state], label=s.label, message=s.message,
                          collected=int(s.collected), needed=int(s.needed), views=int(s.views),
                          database_version=int(database_version))


def classes_to_msg(names: list[str], teaches: list[int], database_version: int, stamp: Any) -> ClassList:
    return ClassList(header=header(stamp), names=[str(n) for n in names], teaches=[int(t) for t in teaches],
                     database_version=int(database_version))


# ------------------------------------------------------------------------------------------- dicts
def frame_key(d: dict[str, Any]) -> tuple[int, int]:
    """The exact stamp of a message dict: pairs the messages of one camera frame."""
    return d["stamp"]["sec"], d["stamp"]["nanosec"]


def frame_sec(d: dict[str, Any]) -> float:
    """The camera stamp of a message dict, in seconds."""
    return d["stamp"]["sec"] + d["stamp"]["nanosec"] * 1e-9



def detections_to_dict(msg: DetectionArray) -> dict[str, Any]:
    return {"stamp": stamp_dict(msg.header), "frame_id": msg.header.frame_id, "image_size": list(image_size(msg)),
            "crop_size": int(msg.crop_size), "crop_pad": float(msg.crop_pad),
            "detections": detections_from_msg(msg, "truth")}


def features_to_dict(msg: FeatureArray) -> dict[str, Any]:
    dets, X = features_from_msg(msg)
    return {"stamp": stamp_dict(msg.header), "frame_id": msg.header.frame_id, "image_size": list(image_size(msg)),
            "encoder": msg.encoder, "dim": int(msg.dim), "detections": dets, "vectors": X}


def objects_to_dict(msg: LabelledObjectArray) -> dict[str, Any]:
    return {"stamp": stamp_dict(msg.header), "frame_id": msg.header.frame_id,
            "database_version": int(msg.database_version), "objects": [
                {"box": [round(v, 2) for v in box_from_msg(o.bbox)], "label": o.label, "score": o.score,
                 "known": o.known, "known_score": json_score(o.known_score), "nearest": o.nearest.label,
                 "nearest_score": o.nearest.score, "track_id": None if o.track_id == NO_TRACK else o.track_id,
                 "detector_class": o.detection.label} for o in msg.objects]}


def teach_status_to_dict(msg: TeachStatusMsg) -> dict[str, Any]:
    return {"state": _STATE_NAMES.get(msg.state, "error"), "label": msg.label, "message": msg.message,
            "collected": int(msg.collected), "needed": int(msg.needed), "views": int(msg.views),
            "database_version": int(msg.database_version)}


def classes_to_dict(msg: ClassList) -> dict[str, Any]:
    return {"classes": list(msg.names), "teaches": [int(t) for t in msg.teaches],
            "database_version": int(msg.database_version)}


#: topic kind → (message type, to-dict conversion): what a probe records and how it reads it
KINDS: dict[str, tuple[type, Any]] = {
    "truth": (DetectionArray, detections_to_dict), "detections": (DetectionArray, detections_to_dict),
    "features": (FeatureArray, features_to_dict), "objects": (LabelledObjectArray, objects_to_dict),
    "teach_status": (TeachStatusMsg, teach_status_to_dict), "classes": (ClassList, classes_to_dict),
}
