"""The fuzz generator of chhnn-bench reliability, checked against the nodes' own validators
(teach parsing, image conversion, JSON payload decoding) without starting ROS."""

import json
import struct

import pytest

from chhnn_ros.app import payloads
from chhnn_ros.app.teaching import Teacher, TeachPolicy
from chhnn_ros.bench.reliability_fuzz import DIM, TOPICS, generate, summary

pytest.importorskip("sensor_msgs.msg")
from chhnn_ros.bench.reliability_fuzzrun import to_image  # noqa: E402
from chhnn_ros.ros.conversions import image_to_rgb8  # noqa: E402

MSGS = generate(seed=3, total=1000)
CATEGORIES = sorted({(m.topic, m.category) for m in MSGS})


def of(topic: str, category: str) -> list:
    return [m for m in MSGS if (m.topic, m.category) == (topic, category)]


def teacher(**kw) -> Teacher:
    return Teacher(TeachPolicy(samples=20, timeout=5.0), **kw)


def test_deterministic_and_covers_every_category():
    again = generate(seed=3, total=1000)
    assert [(m.topic, m.category, m.text, m.raw, m.image) for m in MSGS] == \
        [(m.topic, m.category, m.text, m.raw, m.image) for m in again]
    assert [m.text for m in generate(seed=4, total=1000)] != [m.text for m in MSGS]
    assert len(MSGS) >= 1000
    cats = summary(MSGS)
    assert set(cats) == set(TOPICS)
    assert {"random_control", "huge_string", "invalid_utf8", "invalid_json", "wrong_types", "reserved_label",
            "forget_unknown", "flood", "unknown_target"} <= set(cats["teach"])
    assert {"zero_size", "bad_encoding", "step_mismatch", "data_mismatch", "odd_size", "one_channel",
            "sixteen_bit"} <= set(cats["image_raw"])
    assert {"malformed_json", "invalid_payload", "stale_stamp"} <= set(cats["features"])
    assert any(m.raw and b"\xff" in m.raw or m.raw and b"\x80" in m.raw for m in MSGS)
    assert max(len(m.text or "") for m in MSGS) >= 100_000


def _received_text(m) -> str:
    """What rclpy hands the subscriber: raw CDR bytes decoded as UTF-8 with replacement."""
    if m.raw is None:
        return m.text
    (n,) = struct.unpack("<I", m.raw[4:8])
    return m.raw[8:8 + n - 1].decode("utf-8", errors="replace")


@pytest.mark.parametrize("topic, category", [c for c in CATEGORIES if c[0] == "teach"], ids="/".join)
def test_every_bad_teach_command_gets_an_error_and_nothing_starts(topic, category):
    for m in of(topic, category):
        t = teacher(reserved=("unknown",))
        status, cmd = t.command(_received_text(m), now=0.0)
        if m.expect == "reject":
            assert status.state == "error" and t.session is None, (m.category, _received_text(m)[:80])
            assert status.message.startswith(("bad teach command", "busy")), status.message
        else:  # forget of an unknown class / teach of an absent target: accepted, fails later
            assert status.state == "collecting" and cmd is not None, m.category


@pytest.mark.parametrize("topic, category", [c for c in CATEGORIES if c[0] == "image_raw"], ids="/".join)
def test_bad_images_raise_and_odd_valid_images_convert(topic, category):
    for m in of(topic, category):
        msg = to_image(m.image)
        if m.expect == "reject":
            with pytest.raises(ValueError):
                image_to_rgb8(msg)
        else:
            rgb = image_to_rgb8(msg)
            assert rgb.shape == (m.image["height"], m.image["width"], 3) and rgb.dtype.name == "uint8"


@pytest.mark.parametrize("topic, category", [c for c in CATEGORIES if c[0] in ("truth", "detections", "features")],
                         ids="/".join)
def test_bad_payloads_raise_value_error(topic, category):
    for m in of(topic, category):
        if m.expect == "reject":
            with pytest.raises(ValueError):
                payloads.decode(m.text, topic)
        else:
            p = payloads.decode(m.text, topic)
            assert p["dim"] == DIM and p["stamp"]["sec"] < 10**5  # stale, yet valid


def test_valid_commands_still_parse():
    assert teacher(reserved=("unknown",)).command("cup", 0.0)[0].state == "collecting"
    assert teacher().command(json.dumps({"label": "unknown2"}), 0.0)[0].state == "collecting"
    assert teacher().command("caf\u00e9 cup", 0.0)[0].state == "collecting"  # real UTF-8 is fine
