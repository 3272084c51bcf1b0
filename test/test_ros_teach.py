"""Teach commands and the teach state machine, without ROS."""

import numpy as np
import pytest

from chhnn_ros.app.teaching import MAX_LABEL_CHARS, Teacher, TeachPolicy, parse_command
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


def teacher(samples=5, timeout=5.0, **kw):
    return Teacher(TeachPolicy(samples=samples, timeout=timeout, **kw))


def test_teach_collects_central_object_then_emits_one_job():
    t = teacher(3)
    status, cmd = t.command("cup", now=0.0)
    assert status.state == "collecting" and cmd.label == "cup"
    jobs = []
    for k in range(3):
        status, job = t.frame(dets(), vecs(base=10 * k), SHAPE, now=0.1 * k)
        if job:
            jobs.append(job)
    assert len(jobs) == 1 and t.session is None
    label, X = jobs[0].label, jobs[0].features
    assert label == "cup" and X.shape == (3, 4)
    np.testing.assert_array_equal(X[:, 0], [1, 11, 21])  # row 1 = the big central object each frame


def test_teach_by_track_id_and_by_box():
    t = teacher(2)
    t.command('{"label": "small", "track_id": 1}', 0.0)
    t.frame(dets(), vecs(), SHAPE, 0.0)
    _, job = t.frame(dets(), vecs(), SHAPE, 0.1)
    np.testing.assert_array_equal(job.features[:, 0], [0, 0])
    t.command('{"label": "right", "box": [158, 8, 196, 41]}', 1.0)
    t.frame(dets(), vecs(), SHAPE, 1.0)
    _, job = t.frame(dets(), vecs(), SHAPE, 1.1)
    np.testing.assert_array_equal(job.features[:, 0], [2, 2])


def test_busy_and_bad_commands_change_nothing():
    t = teacher(5)
    bad, cmd = t.command('{"label": ', 0.0)
    assert bad.state == "error" and "bad teach command" in bad.message and cmd is None and t.session is None
    t.command("cup", 0.0)
    busy, cmd = t.command("plate", 0.1)
    assert busy.state == "error" and "busy teaching 'cup'" in busy.message and cmd is None
    assert t.session.command.label == "cup"


def test_timeout_when_nothing_in_view():
    t = teacher(5, timeout=1.0)
    t.command('{"label": "cup", "track_id": 99}', 0.0)
    status, job = t.frame(dets(), vecs(), SHAPE, 0.5)
    assert status is None and job is None
    status, job = t.frame(dets(), vecs(), SHAPE, 1.5)
    assert status.state == "error" and "nothing was learned" in status.message and job is None
    t.command("cup", 2.0)
    assert t.tick(2.5) is None
    assert t.tick(3.5).state == "error" and t.session is None


def test_forget_is_returned_not_queued():
    t = teacher(5, 1.0)
    status, cmd = t.command('{"forget": "cup"}', 0.0)
    assert cmd.kind == "forget" and t.session is None


def feature(direction, k=4):
    v = np.zeros((1, k), np.float32)
    v[0, direction] = 1.0
    return v


def test_teach_locks_onto_one_object_and_fails_when_it_changes():
    """Without track ids the teach follows the box; another object under it fails the teach."""
    t = teacher(4)
    box = Detection(50, 20, 150, 90)
    t.command("cup", 0.0)
    for k in range(2):
        status, job = t.frame([box], feature(0) + 0.01 * k, SHAPE, 0.1 * k)
    assert job is None and len(t.session.vectors) == 2
    moved = Detection(60, 25, 160, 95)  # the same place, but features of something else
    status, job = t.frame([moved], feature(1), SHAPE, 0.3)
    assert job is None and t.session is None and status.state == "error"
    assert "changed after 2 of 4 samples" in status.message and "nothing was learned" in status.message


def test_teach_follows_a_moving_box_and_ignores_other_objects():
    t = teacher(3)
    t.command('{"label": "cup", "box": [10, 10, 50, 50]}', 0.0)
    far = Detection(150, 50, 190, 90)  # another object, never overlapping the target
    for k in range(3):
        target = Detection(10 + 15 * k, 10, 50 + 15 * k, 50)  # moves right, overlapping its last box
        status, job = t.frame([far, target], np.vstack([feature(1), feature(0) + 0.1 * k * feature(2)]), SHAPE, 0.1 * k)
    assert job is not None and job.views == 3
    np.testing.assert_array_equal(job.features[:, 1], [0, 0, 0])  # never the far object's features


def test_teach_by_track_follows_the_track_while_it_moves():
    t = teacher(3)
    t.command('{"label": "cup", "track_id": 7}', 0.0)
    for k in range(3):
        dets = [Detection(100 - 30 * k, 10, 140 - 30 * k, 50, track_id=7), Detection(0, 60, 40, 99, track_id=8)]
        status, job = t.frame(dets, np.vstack([feature(0) + 0.05 * k * feature(2), feature(1)]), SHAPE, 0.1 * k)
    assert job is not None and (job.features[:, 1] == 0).all()


def test_lost_target_fails_the_teach():
    t = teacher(4, lost_timeout=1.0)
    t.command("cup", 0.0)
    t.frame([Detection(50, 20, 150, 90)], feature(0), SHAPE, 0.0)
    other = Detection(0, 0, 20, 20)  # frames keep coming, the target is gone
    assert t.frame([other], feature(1), SHAPE, 0.5) == (None, None)
    status, job = t.frame([other], feature(1), SHAPE, 1.2)
    assert status.state == "error" and "target lost after 1 of 4 samples" in status.message and job is None


def test_interval_spaces_samples_and_views_are_counted():
    t = teacher(3, interval=0.5)
    t.command("cup", 0.0)
    box = Detection(50, 20, 150, 90)
    got = [t.frame([box], feature(0), SHAPE, 0.1 * k) for k in range(12)]  # 10 Hz, one still view
    jobs = [j for _, j in got if j is not None]
    assert len(jobs) == 1 and jobs[0].views == 1  # 3 samples at 0.0, 0.5, 1.0 s, all of one still view
    assert [s for s, _ in got][10] is not None  # "collected 3 samples (1 distinct views)" at 1.0 s
