"""Deterministic fuzz messages for the perception graph's inputs (no ROS here).

:func:`generate` returns, for a seed, the same list of :class:`FuzzMsg`
covering every category of bad input a node can meet: on ``teach`` random/huge strings,
invalid UTF-8 (raw CDR bytes), invalid JSON, wrong types, reserved and
unknown labels, forgets of unknown labels, floods; on ``image_raw`` zero
sizes, wrong encodings, step/data mismatches, odd sizes, 1-channel and 16-bit
images; on the typed topics between the nodes (``truth``, ``detections``,
``features``) non-finite or empty boxes, NaN/inf scores and features, bad
crop geometry, feature matrices that do not match their detections, and
valid frames with stale stamps or no detection.

``expect`` says what a correct node does: ``reject`` (an error status or a
counted error, nothing changes), ``accept`` (a valid if odd input that must
be processed) or, for teach, ``later_error`` (accepted, then fails: forget of
an unknown class, teach of an object that is not in view).
"""

from __future__ import annotations

import json
import random
import string
import struct
from dataclasses import dataclass, field
from typing import Any

TOPICS = ("teach", "image_raw", "truth", "detections", "features")
DIM = 16  # default feature dimension of the fuzzed features


@dataclass
class FuzzMsg:
    topic: str
    category: str
    expect: str  # reject | accept | later_error
    text: str | None = None  # std_msgs/String data
    raw: bytes | None = None  # a serialised std_msgs/String (CDR), for invalid UTF-8
    image: dict[str, Any] | None = None  # sensor_msgs/Image fields
    fields: dict[str, Any] | None = None  # DetectionArray / FeatureArray fields (truth, detections, features)
    truth_box: list[float] | None = None  # publish a matching truth message first (accepted images)
    stamp: dict[str, int] | None = None  # fixed stamp; None: the runner stamps it now
    flood: bool = False  # sent back to back, without waiting for the answer
    meta: dict[str, Any] = field(default_factory=dict)


def cdr_string(data: bytes) -> bytes:
    """A std_msgs/String serialised as little-endian CDR with arbitrary (e.g. invalid UTF-8) bytes."""
    return b"\x00\x01\x00\x00" + struct.pack("<I", len(data) + 1) + data + b"\x00"


def _rand_text(rng: random.Random, n: int, alphabet: str) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


_CONTROL = "".join(chr(c) for c in range(0, 32)) + "\x7f\u200b\u2028\ufeff"
_JSONISH = '{}[]":,0123456789.-eE' + "truefalsn "


def teach_msgs(rng: random.Random, n: int, reserved: str = "unknown") -> list[FuzzMsg]:
    out: list[FuzzMsg] = []
    makers = [
        ("random_control", lambda: FuzzMsg("teach", "random_control", "reject", text=(
            _rand_text(rng, rng.randint(1, 20), string.ascii_letters) + rng.choice(_CONTROL[1:])
            + _rand_text(rng, rng.randint(1, 5), string.ascii_letters)))),
        ("huge_string", lambda: FuzzMsg("teach", "huge_string", "reject", text=_rand_text(
            rng, 1, string.ascii_letters) * rng.choice([65, 1000, 100_000, 1_000_000]))),
        ("invalid_utf8", lambda: FuzzMsg("teach", "invalid_utf8", "reject", raw=cdr_string(
            _rand_text(rng, rng.randint(1, 8), string.ascii_letters).encode() + bytes(
                rng.choice([0x80, 0xFF, 0xFE]) for _ in range(rng.randint(1, 4)))))),
        ("invalid_json", lambda: FuzzMsg("teach", "invalid_json", "reject", text="{" + _rand_text(
            rng, rng.randint(0, 40), _JSONISH))),
        ("wrong_types", lambda: FuzzMsg("teach", "wrong_types", "reject", text=json.dumps(rng.choice([
            {"label": rng.choice([5, 1.5, None, True, [], {}, ["cup"]])},
            {"label": "cup", "samples": rng.choice([0, -3, 3.5, "5", True, None, 10**9])},
            {"label": "cup", "box": rng.choice([[1, 2, 3], [5, 5, 1, 1], "0 0 1 1", [0, 0, "a", 1], {}])},
            {"label": "cup", "track_id": rng.choice(["7", 1.5, True, [1]])},
            {"label": "cup", "track_id": 1, "box": [0, 0, 10, 10]},
            {"forget": rng.choice([5, None, [], ""])},
            {"forget": "cup", "label": "cup"},
            {rng.choice(["labl", "Label", "name", ""]): "cup"},
            rng.choice([[], [1, 2], ["cup"]]),
        ])))),
        ("json_nan", lambda: FuzzMsg("teach", "json_nan", "reject", text='{"label": "cup", "box": [0, 0, '
                                     + rng.choice(["NaN", "Infinity", "-Infinity", "1e999"]) + ", 10]}")),
        ("empty", lambda: FuzzMsg("teach", "empty", "reject", text=rng.choice(["", " ", "\t\n", "{}"]))),
        ("reserved_label", lambda: FuzzMsg("teach", "reserved_label", "reject", text=rng.choice(
            [reserved, f" {reserved} ", json.dumps({"label": reserved})]))),
        ("replacement_char", lambda: FuzzMsg("teach", "replacement_char", "reject", text="cup\ufffd")),
        ("forget_unknown", lambda: FuzzMsg("teach", "forget_unknown", "later_error", text=json.dumps(
            {"forget": "never_taught_" + _rand_text(rng, 6, string.ascii_lowercase)}))),
    ]
    for i in range(n):
        name, make = makers[i % len(makers)]
        out.append(make())
    # a flood: bad commands back to back (each still deserves an error reply)
    flood = [FuzzMsg("teach", "flood", "reject", text="{" + _rand_text(rng, 8, _JSONISH), flood=True)
             for _ in range(max(10, n // 10))]
    # an unknown target (no such track in view): accepted, then a timeout error
    ghost = FuzzMsg("teach", "unknown_target", "later_error", text=json.dumps(
        {"label": "ghost_" + _rand_text(rng, 4, string.ascii_lowercase), "track_id": 987654}))
    return out + flood + [ghost]


def _img(h: int, w: int, enc: str, step: int, nbytes: int, bigendian: int = 0, fill: int = 0) -> dict[str, Any]:
    return {"height": h, "width": w, "encoding": enc, "step": step, "data": bytes([fill]) * nbytes,
            "is_bigendian": bigendian}


_CH = {"rgb8": 3, "bgr8": 3, "mono8": 1, "mono16": 2, "16UC1": 2, "rgba8": 4, "bgra8": 4, "8UC1": 1, "8UC3": 3}


def image_msgs(rng: random.Random, n: int) -> list[FuzzMsg]:
    def valid(cat: str, enc: str, h: int, w: int, big: int = 0) -> FuzzMsg:
        step = w * _CH[enc]
        box = [0.0, 0.0, float(max(1, w)), float(max(1, h))]
        return FuzzMsg("image_raw", cat, "accept", image=_img(h, w, enc, step, h * step, big, rng.randint(0, 255)),
                       truth_box=box)

    def bad(cat: str, **kw: Any) -> FuzzMsg:
        return FuzzMsg("image_raw", cat, "reject", image=_img(**kw))

    def rand_enc() -> str:
        return rng.choice(["", "yuv422", "RGB8", "rgb16", "32FC1", "bayer_rggb8", "jpeg", "rgb8 ", "\u00e9",
                           _rand_text(rng, rng.randint(1, 300), string.printable)])

    makers = [
        lambda: bad("zero_size", h=0, w=rng.choice([0, 640]), enc="rgb8", step=0, nbytes=0),
        lambda: bad("zero_size", h=rng.choice([0, 5]), w=0, enc="mono8", step=0, nbytes=0),
        lambda: bad("bad_encoding", h=4, w=4, enc=rand_enc(), step=12, nbytes=48),
        lambda: bad("step_mismatch", h=8, w=8, enc="rgb8", step=rng.choice([0, 8, 23]), nbytes=8 * 24),
        lambda: bad("data_mismatch", h=8, w=8, enc="rgb8", step=24, nbytes=rng.choice([0, 1, 191, 193, 8 * 24 * 2])),
        lambda: bad("huge_dims", h=rng.choice([2**31 - 1, 100_000]), w=rng.choice([2**31 - 1, 100_000]),
                    enc="rgb8", step=rng.choice([3, 300_000]), nbytes=64),
        lambda: valid("odd_size", rng.choice(["rgb8", "bgr8"]), rng.randint(1, 9), rng.randint(1, 9)),
        lambda: valid("odd_size", "rgb8", 1, rng.randint(100, 2000)),
        lambda: valid("one_channel", rng.choice(["mono8", "8UC1"]), rng.randint(16, 64), rng.randint(16, 64)),
        lambda: valid("sixteen_bit", rng.choice(["mono16", "16UC1"]), rng.randint(16, 64), rng.randint(16, 64),
                      rng.randint(0, 1)),
        lambda: valid("four_channel", rng.choice(["rgba8", "bgra8"]), rng.randint(8, 32), rng.randint(8, 32)),
    ]
    return [makers[i % len(makers)]() for i in range(n)]


def _stamp(rng: random.Random) -> dict[str, int]:
    return {"sec": rng.randint(1, 10**6), "nanosec": rng.randint(0, 999_999_999)}


def _det(rng: random.Random) -> dict[str, Any]:
    """A detection's fields: box as centre and size (the message's BoundingBox2D), hypothesis, track id."""
    w, h = rng.uniform(1, 100), rng.uniform(1, 100)
    return {"bbox": [rng.uniform(w / 2, 300), rng.uniform(h / 2, 200), w, h], "label": "o", "score": 1.0,
            "track_id": rng.randint(0, 9)}


def message_msgs(rng: random.Random, topic: str, n: int, dim: int = DIM) -> list[FuzzMsg]:
    """Bad messages for ``truth`` / ``detections`` (DetectionArray) and ``features`` (FeatureArray), as the
    fields the runner puts into the typed message (the types themselves are enforced by ROS: what can be
    wrong is their content): non-finite or empty boxes, non-finite scores, a crop geometry the detector
    could not be set to, a feature matrix whose size is not detections × dim, NaN/inf features, dim 0.
    ``features`` also get valid frames with stale stamps (processed, flagged) and frames with no
    detection (valid: processed), with ``dim``-d rows: the dimension the receiving classifier has learned."""

    def base(dets: list | None = None) -> dict[str, Any]:
        d = dets if dets is not None else [_det(rng) for _ in range(rng.randint(1, 3))]
        f = {"stamp": _stamp(rng), "frame_id": "fuzz", "image_width": 640, "image_height": 480, "detections": d}
        if topic == "features":
            f.update(encoder="fuzz", dim=dim, data=[rng.uniform(-1, 1) for _ in range(dim * len(d))])
        if topic == "detections":
            f.update(crop_size=224, crop_pad=0.1)
        return f

    def mutate() -> tuple[str, dict[str, Any]]:
        f = base()
        det = f["detections"][0]
        choice = rng.randrange(6 if topic == "features" else 4)
        if choice == 0:
            det["bbox"][rng.randrange(4)] = rng.choice([float("nan"), float("inf"), float("-inf")])
            return "non_finite_box", f
        if choice == 1:
            det["bbox"][rng.choice([2, 3])] = rng.choice([0.0, -1.0, -1e9])
            return "empty_box", f
        if choice == 2:
            det["score"] = rng.choice([float("nan"), float("inf"), float("-inf")])
            return "non_finite_score", f
        if choice == 3 and topic == "detections":
            if rng.random() < 0.5:
                f["crop_size"] = rng.choice([0, 4096, 2**31])
            else:
                f["crop_pad"] = rng.choice([-0.1, 11.0, float("nan"), float("inf")])
            return "bad_crop_geometry", f
        if choice == 3:  # truth: a box of nothing
            det["bbox"][2:] = [0.0, 0.0]
            return "empty_box", f
        if choice == 4:
            f["data"][rng.randrange(len(f["data"]))] = rng.choice([float("nan"), float("inf"), float("-inf")])
            return "non_finite_features", f
        kind = rng.randrange(3)
        if kind == 0:
            f["data"] = f["data"][: rng.randrange(len(f["data"]))]  # fewer values than detections x dim
        elif kind == 1:
            f["detections"] = f["detections"] + [_det(rng)]  # a detection without its row
        else:
            f["dim"] = 0
        return "shape_mismatch", f

    out = []
    for _ in range(n):
        cat, fields = mutate()
        out.append(FuzzMsg(topic, cat, "reject", fields=fields))
    if topic == "features":  # valid frames with stale stamps (1970, or minutes old): processed, flagged
        for i in range(max(2, n // 20)):
            f = base()
            f["stamp"], f["frame_id"] = {"sec": rng.choice([0, 1, 1000 + i]), "nanosec": 0}, "fuzz_stale"
            out.append(FuzzMsg(topic, "stale_stamp", "accept", fields=f, stamp=f["stamp"]))
        f = base([])
        f["stamp"], f["frame_id"] = {"sec": 1, "nanosec": 0}, "fuzz_stale"  # counted with the processed odd inputs
        out.append(FuzzMsg(topic, "no_detection", "accept", fields=f, stamp=f["stamp"]))
    return out


def generate(seed: int = 0, total: int = 1000, reserved_label: str = "unknown", dim: int = DIM) -> list[FuzzMsg]:
    """≥ ``total`` messages over all topics (teach 35 %, image 25 %, truth/detections/features ~13 % each),
    in a seeded order per topic family."""
    rng = random.Random(seed)
    n_teach, n_img = int(total * 0.35), int(total * 0.25)
    n_typed = max(1, (total - n_teach - n_img) // 3 + 1)
    msgs = teach_msgs(rng, n_teach, reserved_label) + image_msgs(rng, n_img)
    for topic in ("truth", "detections", "features"):
        msgs += message_msgs(rng, topic, n_typed, dim)
    return msgs


def summary(msgs: list[FuzzMsg]) -> dict[str, dict[str, int]]:
    """Counts per topic and category."""
    out: dict[str, dict[str, int]] = {}
    for m in msgs:
        out.setdefault(m.topic, {}).setdefault(m.category, 0)
        out[m.topic][m.category] += 1
    return out
