"""Teach commands and the teach state machine, without ROS."""

import numpy as np
import pytest

from chhnn_ros.nodes.teach import MAX_LABEL_CHARS, Teacher, learn, parse_command
from chhnn_ros.perception.types import Detection

SHAPE = (100, 200)  # (height, width)


def dets():
    # a small object at the left, a big one in the centre, a mid one at the right
    return [Detection(0, 0, 20, 20, track_id=1), Detection(70, 30, 130, 80, track_id=2),
            Detection(160, 10, 195, 40, track_id=3)]


def vecs(n=3, base=0.0):
    return np.arange(n, dtype=np.float32)[:, None] * np.ones((1, 4), np.float32) + base


@pytest.mark.parametrize(
    "text, kind, label, samples, box, track",
    [
        ("cup", "teach", "cup", 20, None, None),
        ("  red mug  ", "teach", "red mug", 20, None, None),
        ('{"label": "cup", "samples": 30, "box": [1, 2, 30, 40]}', "teach", "cup", 30, (1, 2, 30, 40), None),
        ('{"label": "cup", "track_id": 7}', "teach", "cup", 20, None, 7),
        ('{"forget": "cup"}', "forget", "cup", 0, None, None),
    ],
)
def test_parse_valid(text, kind, label, samples, box, track):
    cmd = parse_command(text, 20)
    assert (cmd.kind, cmd.label, cmd.samples, cmd.box, cmd.track_id) == (kind, label, samples, box, track)


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * (MAX_LABEL_CHARS + 1), "limit is 64"),
        ("bad\x00label", "control characters"),
        ('{"label": 5}', "must be a string"),
        ('{"label": ""}', "empty"),
        ('{"label": "cup"', "does not parse"),
        ('{"label": "cup", "samples": 3.5}', "samples must be"),
        ('{"labl": "cup"}', "unknown teach keys"),
        ('{"samples": 3}', "needs a \"label\""),
        ('{"label": "cup", "samples": 0}', "samples must be"),
        ('{"label": "cup", "samples": true}', "samples must be"),
        ('{"label": "cup", "box": [1, 2, 3]}', "box must be"),
        ('{"label": "cup", "box": [5, 5, 1, 1]}', "box must be"),
        ('{"label": "cup", "track_id": "7"}', "track_id must be"),
        ('{"label": "cup", "track_id": 1, "box": [0, 0, 1, 1]}', "either box or track_id"),
        ('{"forget": "cup", "label": "x"}', "no other keys"),
        (None, "must be text"),
    ],
)
def test_parse_rejects(text, match):
    with pytest.raises(ValueError, match=match):
        parse_command(text, 20)


def test_teach_collects_central_object_then_emits_one_job():
    t = Teacher(default_samples=3, timeout=5.0)
    status, cmd = t.command("cup", now=0.0)
    assert status.state == "collecting" and cmd.label == "cup"
    jobs = []
    for k in range(3):
        status, job = t.frame(dets(), vecs(base=10 * k), SHAPE, now=0.1 * k)
        if job:
            jobs.append(job)
    assert len(jobs) == 1 and t.session is None
    label, X = jobs[0]
    assert label == "cup" and X.shape == (3, 4)
    np.testing.assert_array_equal(X[:, 0], [1, 11, 21])  # row 1 = the big central object each frame


def test_teach_by_track_id_and_by_box():
    t = Teacher(2, 5.0)
    t.command('{"label": "small", "track_id": 1}', 0.0)
    t.frame(dets(), vecs(), SHAPE, 0.0)
    _, job = t.frame(dets(), vecs(), SHAPE, 0.1)
    np.testing.assert_array_equal(job[1][:, 0], [0, 0])
    t.command('{"label": "right", "box": [158, 8, 196, 41]}', 1.0)
    t.frame(dets(), vecs(), SHAPE, 1.0)
    _, job = t.frame(dets(), vecs(), SHAPE, 1.1)
    np.testing.assert_array_equal(job[1][:, 0], [2, 2])


def test_busy_and_bad_commands_change_nothing():
    t = Teacher(5, 5.0)
    bad, cmd = t.command('{"label": ', 0.0)
    assert bad.state == "error" and "bad teach command" in bad.message and cmd is None and t.session is None
    t.command("cup", 0.0)
    busy, cmd = t.command("plate", 0.1)
    assert busy.state == "error" and "busy teaching 'cup'" in busy.message and cmd is None
    assert t.session.command.label == "cup"


def test_timeout_when_nothing_in_view():
    t = Teacher(5, timeout=1.0)
    t.command('{"label": "cup", "track_id": 99}', 0.0)
    status, job = t.frame(dets(), vecs(), SHAPE, 0.5)
    assert status is None and job is None
    status, job = t.frame(dets(), vecs(), SHAPE, 1.5)
    assert status.state == "error" and "nothing was learned" in status.message and job is None
    t.command("cup", 2.0)
    assert t.tick(2.5) is None
    assert t.tick(3.5).state == "error" and t.session is None


def test_forget_is_returned_not_queued():
    t = Teacher(5, 1.0)
    status, cmd = t.command('{"forget": "cup"}', 0.0)
    assert cmd.kind == "forget" and t.session is None


def test_learn_calls_partial_fit_once():
    calls = []

    class Spy:
        def partial_fit(self, X, y):
            calls.append((X.shape, list(y)))

    learn(Spy(), "cup", np.zeros((4, 3), np.float32))
    assert calls == [((4, 3), ["cup"] * 4)]
