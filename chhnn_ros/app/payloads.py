"""Versioned JSON payloads carried in std_msgs/String (the wire format between the nodes).

Why JSON in a String: vision_msgs has no wheel here and custom interfaces
need a rosidl build a user may not have; JSON is readable with ``ros2 topic
echo`` and from any language.  Every payload carries ``schema`` (its kind),
``version``, and the ``stamp``/``frame_id`` of the camera frame it came from.
:func:`decode` validates a received payload and raises ``ValueError`` with a
message that says what is wrong, so a node can log it and carry on.

Kinds: ``detections`` and ``truth`` (boxes of one frame; detections also carry
the crop geometry ``crop_size``/``crop_pad``, and the i-th detection's crop is
the i-th square of the ``crops`` mosaic image with the same stamp, when published),
``features`` (boxes + one vector each), ``objects`` (labelled boxes),
``classes``, ``teach_status``.

Feature vectors travel either as ``vectors`` (JSON lists: readable, easy to
publish from any language) or as ``vectors_b64`` (base64 of the row-major
little-endian float32 array, what the encoder node sends: JSON lists of six
1280-d vectors cost ~5 ms to write and read per frame, base64 ~0.1 ms).
:func:`decode` turns either into an ``(n, dim)`` float32 array.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from chhnn_ros.params import params_for
from chhnn_ros.perception.types import Detection

SCHEMA_VERSION = 1
KINDS = ("detections", "truth", "features", "objects", "classes", "teach_status")
TEACH_STATES = ("collecting", "learned", "forgotten", "error")


def stamp_sec(payload: dict[str, Any]) -> float:
    """The camera stamp of a decoded payload, in seconds."""
    return payload["stamp"]["sec"] + payload["stamp"]["nanosec"] * 1e-9


def stamp_key(payload: dict[str, Any]) -> tuple[int, int]:
    """The exact, hashable stamp of a decoded payload (pairs messages of one frame)."""
    return payload["stamp"]["sec"], payload["stamp"]["nanosec"]


def _stamp_dict(stamp: Any) -> dict[str, int]:
    return {"sec": int(stamp.sec), "nanosec": int(stamp.nanosec)}


def encode(kind: str, stamp: Any = None, frame_id: str = "", **fields: Any) -> str:
    """JSON text of a ``kind`` payload; ``stamp`` is a builtin_interfaces/Time."""
    if kind not in KINDS:
        raise ValueError(f"unknown payload kind {kind!r}")
    payload: dict[str, Any] = {"schema": kind, "version": SCHEMA_VERSION}
    if stamp is not None:
        payload["stamp"] = _stamp_dict(stamp)
        payload["frame_id"] = frame_id
    payload.update(fields)
    return json.dumps(payload, allow_nan=False, separators=(",", ":"))


def detection_to_dict(d: Detection) -> dict[str, Any]:
    return {
        "box": [round(float(v), 2) for v in d.box],
        "score": round(float(d.score), 4),
        "class_name": str(d.class_name),
        "track_id": None if d.track_id is None else int(d.track_id),
    }


def detection_from_dict(d: Any, where: str) -> Detection:
    if not isinstance(d, dict):
        raise ValueError(f"{where}: expected an object, got {type(d).__name__}")
    box = check_box(d.get("box"), f"{where}.box")
    score = d.get("score", 1.0)
    if not _is_number(score):
        raise ValueError(f"{where}.score must be a finite number, got {score!r}")
    track = d.get("track_id")
    if track is not None and (not isinstance(track, int) or isinstance(track, bool)):
        raise ValueError(f"{where}.track_id must be an integer or null, got {track!r}")
    return Detection(*box, score=float(score), class_name=str(d.get("class_name", "object")), track_id=track)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def check_box(box: Any, where: str = "box") -> list[float]:
    if not isinstance(box, list | tuple) or len(box) != 4 or not all(_is_number(v) for v in box):
        raise ValueError(f"{where} must be [x1, y1, x2, y2] finite numbers, got {box!r}")
    x1, y1, x2, y2 = (float(v) for v in box)
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"{where} is empty or inverted: {box!r}")
    return [x1, y1, x2, y2]


def _require(payload: dict, key: str, types: type | tuple, kind: str) -> Any:
    if key not in payload:
        raise ValueError(f"{kind} payload lacks {key!r}")
    v = payload[key]
    if not isinstance(v, types) or (isinstance(v, bool) and types is int):
        raise ValueError(f"{kind} payload: {key!r} has type {type(v).__name__}")
    return v


def decode(text: str, kind: str) -> dict[str, Any]:
    """Parse and validate a ``kind`` payload; returns the dict with
    ``detections`` turned into :class:`Detection` objects where present."""
    try:
        payload = json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        raise ValueError(f"{kind} message is not valid JSON: {exc}") from None
    except RecursionError:
        raise ValueError(f"{kind} message nests JSON too deeply") from None
    if not isinstance(payload, dict):
        raise ValueError(f"{kind} message must be a JSON object, got {type(payload).__name__}")
    if payload.get("schema") != kind:
        raise ValueError(f"expected a {kind!r} payload, got schema {payload.get('schema')!r}")
    if payload.get("version") != SCHEMA_VERSION:
        raise ValueError(f"{kind} payload version {payload.get('version')!r} is not supported "
                         f"(this node reads version {SCHEMA_VERSION}); update the publisher or this package")
    if kind in ("detections", "truth", "features", "objects"):
        stamp = _require(payload, "stamp", dict, kind)
        for k, top in (("sec", 2**31 - 1), ("nanosec", 999_999_999)):  # builtin_interfaces/Time ranges
            v = stamp.get(k)
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= top:
                raise ValueError(f"{kind} payload: stamp.{k} must be an integer in 0..{top}, got {v!r}")
        _require(payload, "frame_id", str, kind)
    if kind in ("detections", "truth", "features"):
        dets = _require(payload, "detections", list, kind)
        payload["detections"] = [detection_from_dict(d, f"{kind}.detections[{i}]") for i, d in enumerate(dets)]
        size = payload.get("image_size")
        if size is not None and (not isinstance(size, list) or len(size) != 2 or not all(
                isinstance(v, int) and v > 0 for v in size)):
            raise ValueError(f"{kind} payload: image_size must be [width, height] positive integers")
    if kind == "detections":
        _check_crop_geometry(payload)
    if kind == "features":
        _check_vectors(payload)
    if kind == "objects":
        objs = _require(payload, "objects", list, kind)
        for i, o in enumerate(objs):
            if not isinstance(o, dict) or not isinstance(o.get("label"), str):
                raise ValueError(f"objects[{i}] must be an object with a string 'label'")
            check_box(o.get("box"), f"objects[{i}].box")
    if kind == "classes":
        classes = _require(payload, "classes", list, kind)
        if not all(isinstance(c, str | int) for c in classes):
            raise ValueError("classes payload: every class must be a string or integer")
        _require(payload, "database_version", int, kind)
    if kind == "teach_status" and payload.get("state") not in TEACH_STATES:
        raise ValueError(f"teach_status state must be one of {TEACH_STATES}, got {payload.get('state')!r}")
    return payload


def _check_crop_geometry(payload: dict[str, Any]) -> None:
    """Optional ``crop_size`` (int px) and ``crop_pad`` (fraction) of a detections payload: the
    detector's own parameter checks (type and range), so a payload cannot ask for a geometry the
    detector could not be set to."""
    for param in params_for("detector"):
        if param.name in ("crop_size", "crop_pad") and payload.get(param.name) is not None:
            try:
                param.check(payload[param.name])
            except ValueError as exc:
                raise ValueError(f"detections payload: {exc}") from None


def _check_vectors(payload: dict[str, Any]) -> None:
    """Validate ``vectors`` or ``vectors_b64`` and replace them by one (n, dim) float32 ``vectors`` array."""
    dim = _require(payload, "dim", int, "features")
    if dim < 1:
        raise ValueError(f"features payload: dim must be >= 1, got {dim}")
    n = len(payload["detections"])
    if "vectors_b64" in payload:
        text = _require(payload, "vectors_b64", str, "features")
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("features payload: vectors_b64 is not valid base64") from None
        if len(raw) != 4 * n * dim:
            raise ValueError(f"features payload: vectors_b64 holds {len(raw)} bytes, expected "
                             f"{n} detections x {dim} x 4 = {4 * n * dim}")
        X = np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(n, dim)
        if not np.isfinite(X).all():
            raise ValueError("features payload: vectors_b64 contains a NaN or inf")
        payload.pop("vectors_b64")
        payload["vectors"] = X
        return
    vectors = _require(payload, "vectors", list, "features")
    if len(vectors) != n:
        raise ValueError(f"features payload: {len(vectors)} vectors for {n} detections")
    for i, v in enumerate(vectors):
        if not isinstance(v, list) or len(v) != dim:
            raise ValueError(f"features payload: vector {i} must be a list of {dim} numbers")
        if not all(_is_number(x) for x in v):
            raise ValueError(f"features payload: vector {i} contains a NaN, inf or non-number")
    payload["vectors"] = np.asarray(vectors, dtype=np.float32).reshape(n, dim)


def vectors_to_b64(vectors: np.ndarray) -> str:
    """(n, dim) float vectors → the ``vectors_b64`` text (little-endian float32, row-major)."""
    return base64.b64encode(np.ascontiguousarray(vectors, dtype="<f4").tobytes()).decode("ascii")


def vectors_to_lists(vectors: Sequence[Sequence[float]]) -> list[list[float]]:
    """float32 rows → JSON lists that read back to the identical float32 values."""
    if len(vectors) == 0:  # a frame without detections (reshape(0, -1) is ambiguous and raises)
        return []
    return np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1).tolist()
