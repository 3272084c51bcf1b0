"""The fuzz generator of chhnn-bench reliability, checked against the nodes' own validators
(teach parsing, image conversion, JSON payload decoding) without starting ROS."""

import json
import struct

import pytest

from chhnn_ros.bench.reliability_fuzz import DIM, TOPICS, generate, summary
from chhnn_ros.nodes import messages
from chhnn_ros.nodes.teach import Teacher

pytest.importorskip("sensor_msgs.msg")
from chhnn_ros.bench.reliability_fuzzrun import to_image  # noqa: E402
from chhnn_ros.nodes.conversions import image_to_rgb8  # noqa: E402

MSGS = generate(seed=3, total=1000)


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


def test_every_bad_teach_command_gets_an_error_and_nothing_starts():
    for m in (m for m in MSGS if m.topic == "teach"):
        teacher = Teacher(20, 5.0, reserved=("unknown",))
        status, cmd = teacher.command(_received_text(m), now=0.0)
        if m.expect == "reject":
            assert status.state == "error" and teacher.session is None, (m.category, _received_text(m)[:80])
            assert status.message.startswith(("bad teach command", "busy")), status.message
        else:  # forget of an unknown class / teach of an absent target: accepted, fails later
            assert status.state == "collecting" and cmd is not None, m.category


def test_bad_images_raise_and_odd_valid_images_convert():
    for m in (m for m in MSGS if m.topic == "image_raw"):
        msg = to_image(m.image)
        if m.expect == "reject":
            with pytest.raises(ValueError):
                image_to_rgb8(msg)
        else:
            rgb = image_to_rgb8(msg)
            assert rgb.shape == (m.image["height"], m.image["width"], 3) and rgb.dtype.name == "uint8"


@pytest.mark.parametrize("topic", ["truth", "detections", "features"])
def test_bad_payloads_raise_value_error(topic):
    for m in (m for m in MSGS if m.topic == topic):
        if m.expect == "reject":
            with pytest.raises(ValueError):
                messages.decode(m.text, topic)
        else:
            p = messages.decode(m.text, topic)
            assert p["dim"] == DIM and p["stamp"]["sec"] < 10**5  # stale, yet valid


def test_valid_commands_still_parse():
    t = Teacher(20, 5.0, reserved=("unknown",))
    assert t.command("cup", 0.0)[0].state == "collecting"
    assert Teacher(20, 5.0).command(json.dumps({"label": "unknown2"}), 0.0)[0].state == "collecting"
    assert Teacher(20, 5.0).command("caf\u00e9 cup", 0.0)[0].state == "collecting"  # real UTF-8 is fine
