"""Deterministic fuzz messages for the perception graph's inputs (no ROS here).

:func:`generate` returns, for a seed, the same list of :class:`FuzzMsg`
covering every category of bad input a node can meet: on ``teach`` random/huge strings,
invalid UTF-8 (raw CDR bytes), invalid JSON, wrong types, reserved and
unknown labels, forgets of unknown labels, floods; on ``image_raw`` zero
sizes, wrong encodings, step/data mismatches, odd sizes, 1-channel and 16-bit
images; on the internal JSON topics (``truth``, ``detections``,
``features``) malformed JSON, NaN/inf, wrong dimensions and stale stamps.

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
    x, y = rng.uniform(0, 300), rng.uniform(0, 200)
    return {"box": [x, y, x + rng.uniform(1, 100), y + rng.uniform(1, 100)], "score": 1.0, "class_name": "o",
            "track_id": rng.randint(0, 9)}


def json_msgs(rng: random.Random, topic: str, n: int, dim: int = DIM) -> list[FuzzMsg]:
    """Bad payloads for ``truth`` / ``detections`` / ``features`` (the latter also stale but valid ones,
    with ``dim``-d vectors: the dimension the receiving classifier has learned)."""
    kind = topic

    def base(dets: list | None = None) -> dict[str, Any]:
        d = dets if dets is not None else [_det(rng) for _ in range(rng.randint(1, 3))]
        p = {"schema": kind, "version": 1, "stamp": _stamp(rng), "frame_id": "fuzz", "image_size": [640, 480],
             "detections": d}
        if kind == "features":
            p.update(encoder="fuzz", dim=dim, vectors=[[rng.uniform(-1, 1) for _ in range(dim)] for _ in d])
        if kind == "detections":
            p["crop_size"] = 224
        return p

    def mutate() -> tuple[str, str]:
        p = base()
        choice = rng.randrange(14)
        if choice == 0:
            return "malformed_json", json.dumps(p)[: rng.randint(0, 40)]
        if choice == 1:
            return "malformed_json", rng.choice(["", "null", "[]", "42", '"x"', "{", "\x00", "[" * 100_000,
                                                 '{"a":' * 50_000])
        if choice == 2:
            p["schema"] = rng.choice(["objects", "", None, 3])
        elif choice == 3:
            p["version"] = rng.choice([0, 2, "1", None])
        elif choice == 4:
            del p[rng.choice(["stamp", "frame_id", "detections"])]
        elif choice == 5:
            p["stamp"] = rng.choice([{"sec": -1, "nanosec": 0}, {"sec": 1.5, "nanosec": 0}, {}, "now", None,
                                     {"sec": 2**40, "nanosec": 0}, {"sec": 1, "nanosec": 10**10},
                                     {"sec": True, "nanosec": 0}])
        elif choice == 6:
            p["detections"][0]["box"] = rng.choice([[1, 2, 3], [5, 5, 1, 1], [0, 0, float("nan"), 1],
                                                    [0, 0, float("inf"), 1], "box", None])
        elif choice == 7:
            p["detections"][0]["track_id"] = rng.choice(["1", 1.5, True])
        elif choice == 8:
            p["image_size"] = rng.choice([[0, 480], [640], "640x480", [-1, -1]])
        elif choice == 9:
            p["detections"] = rng.choice([{"box": [0, 0, 1, 1]}, "none", [1, 2]])
        elif kind != "features":
            p["detections"][0]["score"] = rng.choice([float("nan"), float("inf"), "high", None])
        elif choice == 10:
            p["vectors"][0][rng.randrange(dim)] = rng.choice([float("nan"), float("inf"), float("-inf")])
        elif choice == 11:
            p["vectors"][0] = p["vectors"][0][: rng.randint(0, dim - 1)]  # wrong dimension
        elif choice == 12:
            p["vectors"] = p["vectors"][:-1]  # count mismatch
        else:
            p["dim"] = rng.choice([0, -4, str(dim), float(dim), dim + 1])
        return "invalid_payload", json.dumps(p)  # json.dumps writes NaN/Infinity: the receiver must refuse

    out = []
    for _ in range(n):
        cat, text = mutate()
        out.append(FuzzMsg(topic, cat, "reject", text=text))
    if kind == "features":  # valid payloads with stale stamps (1970, or minutes old): processed, flagged
        for i in range(max(2, n // 20)):
            p = base()
            p["stamp"], p["frame_id"] = {"sec": rng.choice([0, 1, 1000 + i]), "nanosec": 0}, "fuzz_stale"
            out.append(FuzzMsg(topic, "stale_stamp", "accept", text=json.dumps(p), stamp=p["stamp"]))
    return out


def generate(seed: int = 0, total: int = 1000, reserved_label: str = "unknown", dim: int = DIM) -> list[FuzzMsg]:
    """≥ ``total`` messages over all topics (teach 35 %, image 25 %, each JSON topic ~13 %), in a
    seeded interleaved order per topic family."""
    rng = random.Random(seed)
    n_teach, n_img = int(total * 0.35), int(total * 0.25)
    n_json = max(1, (total - n_teach - n_img) // 3 + 1)
    msgs = teach_msgs(rng, n_teach, reserved_label) + image_msgs(rng, n_img)
    for topic in ("truth", "detections", "features"):
        msgs += json_msgs(rng, topic, n_json, dim)
    return msgs


def summary(msgs: list[FuzzMsg]) -> dict[str, dict[str, int]]:
    """Counts per topic and category."""
    out: dict[str, dict[str, int]] = {}
    for m in msgs:
        out.setdefault(m.topic, {}).setdefault(m.category, 0)
        out[m.topic][m.category] += 1
    return out
