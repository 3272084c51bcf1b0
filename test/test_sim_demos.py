"""chhnn-demo: the pure pieces (depth localisation, grasp and bin, layouts, box vote) against PyBullet
ground truth, then both demos end to end with the real ROS 2 nodes (one episode, few teach samples)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pybullet as p
import pytest

from chhnn_ros.demos import arm, quadruped
from chhnn_ros.demos.geometry import locate, spoken
from chhnn_ros.sim.scene import SimScene

ROOT = Path(__file__).resolve().parents[1]


def aabb(scene, body):
    lo, hi = (np.asarray(v) for v in p.getAABB(body, physicsClientId=scene.client))
    return lo, hi


def test_locate_from_a_box_and_depth_finds_the_object():
    with SimScene(robot="panda", objects=["duck", "mug", "lego", "soccer_ball"], seed=3) as sc:
        for view in ("fixed", "wrist"):  # the front camera, then the eye-in-hand look pose of the arm demo
            if view == "wrist":
                arm.look(sc)
            frame = sc.render()
            assert len(frame.truth) == 4
            for d in frame.truth:
                loc = locate(sc, d.box)
                lo, hi = aabb(sc, d.track_id)
                centre = (lo + hi) / 2
                assert np.hypot(*(np.asarray(loc.xy) - centre[:2])) < 0.07, (view, d.class_name)
                assert abs(loc.top_z - hi[2]) < 0.03, (view, d.class_name)
        sc.robot.camera = "fixed"
        assert locate(sc, (0, 0, 4, 4)) is None  # a corner of bare floor: nothing above it


def test_pick_and_place_the_located_object_into_the_bin_and_wrong_object_fails():
    with SimScene(robot="panda", objects=["duck", "mug", "lego"], seed=1) as sc:
        bin_body = arm.spawn_bin(sc)
        boxes = {d.class_name: d for d in sc.render().truth}
        duck, mug = sc.object_ids("duck")[0], sc.object_ids("mug")[0]
        assert not arm.in_bin(sc, duck, bin_body)
        # asked for the duck but localised the mug (a recognition error): the mug ends in the bin, a failure
        grasped = arm.pick_and_place(sc, locate(sc, boxes["mug"].box), bin_body, sc.object_ids())
        assert grasped == mug and arm.in_bin(sc, mug, bin_body) and not arm.in_bin(sc, duck, bin_body)
        sc.reset(1)
        boxes = {d.class_name: d for d in sc.render().truth}
        assert arm.pick_and_place(sc, locate(sc, boxes["duck"].box), bin_body, sc.object_ids()) == duck
        assert arm.in_bin(sc, duck, bin_body)
        # nothing within reach of the gripper (high above the objects): no grasp
        sc.reset(1)
        sc.robot.move_to([0.55, 0.0, 0.35])
        assert arm.grasp_nearest(sc, sc.object_ids()) is None and sc.robot.held is None


def test_choose_box_votes_over_frames_and_ignores_other_labels():
    def frame(*objs):
        return {"objects": [{"box": list(b), "label": lab, "score": s} for b, lab, s in objs]}, {}

    pairs = [frame(((0, 0, 10, 10), "duck", 0.9), ((20, 0, 30, 10), "mug", 0.8)),
             frame(((0, 0, 10, 10), "mug", 0.6), ((20, 0, 30, 10), "mug", 0.7)),
             frame(((0, 0, 10, 10), "duck", 0.5), ((20, 0, 30, 10), "mug", 0.9))]
    box, labels = arm.choose_box(pairs, "mug")
    assert box == [20, 0, 30, 10] and labels == {"duck": 2, "mug": 4}
    assert arm.choose_box(pairs, "teddy bear")[0] is None


def test_quadruped_row_and_teaching_views():
    classes = ["duck", "mug"]
    with SimScene(robot="a1", objects=quadruped.scene_objects(classes), seed=0) as sc:
        rng = np.random.default_rng(0)
        row = quadruped.lay_out_row(sc, classes, rng)
        names = [sc.bodies[b] for b in row]
        assert sorted(names[:2]) == sorted(names[2:]) == classes  # two passes over the classes
        xs = [p.getBasePositionAndOrientation(b, physicsClientId=sc.client)[0][0] for b in row]
        assert np.allclose(np.diff(xs), quadruped.SPACING)
        for slot, body in enumerate(row):
            for _ in range(3):
                sc.robot.set_pose(*quadruped.teaching_pose(sc.robot, slot, rng))
                assert body in {d.track_id for d in sc.render().truth}  # the object is in view while teaching
            sc.robot.set_pose(*quadruped.stop_pose(sc.robot, slot))
            truth = sc.render().truth
            central = min(truth, key=lambda d: abs((d.x1 + d.x2) / 2 - sc.width / 2))
            assert central.track_id == body  # at its stop the robot faces this object
            loc = locate(sc, central.box)
            true_xy = p.getBasePositionAndOrientation(body, physicsClientId=sc.client)[0][:2]
            assert np.hypot(loc.xy[0] - true_xy[0], loc.xy[1] - true_xy[1]) < 0.1


def test_frames_without_detections_still_give_features():
    from chhnn_ros.app import payloads

    assert payloads.vectors_to_lists(np.zeros((0, 1280), np.float32)) == []  # the robot looking at bare floor


def _demo(task, tmp_path, domain, *extra):
    from chhnn_ros.graph import child_env

    env = child_env(domain)
    env.pop("FASTDDS_DEFAULT_PROFILES_FILE", None)
    out = tmp_path / f"{task}.json"
    cmd = [sys.executable, "-m", "chhnn_ros.cli.demo", task, "--episodes", "1", "--objects", "duck,mug",
           "--teach-samples", "4", "--learner", "ncm", "--json", str(out), "--namespace", f"t_{task}", *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=tmp_path), out


def test_demos_end_to_end_through_the_ros_nodes(tmp_path):
    pytest.importorskip("rclpy")
    from chhnn_ros.ros.dds import allocate_domain

    procs = {t: _demo(t, tmp_path, allocate_domain()) for t in ("arm", "quadruped")}
    try:
        logs = {t: pr.communicate(timeout=240)[0] for t, (pr, _) in procs.items()}
    finally:
        for pr, _ in procs.values():
            if pr.poll() is None:
                pr.kill()
                pr.wait()
    for t, (pr, _) in procs.items():
        assert pr.returncode == 0 and "Traceback" not in logs[t], logs[t][-3000:]
    a = json.loads(procs["arm"][1].read_text())
    assert a["episodes"] == 1 and len(a["details"]) == 1
    assert [s["state"] for s in a["taught"]] == ["learned", "learned"]
    assert [s["label"] for s in a["taught"]] == [spoken("duck"), spoken("mug")]
    e = a["details"][0]
    assert e["requested"] == spoken(e["requested_object"])
    assert a["success_rate"] == float(e["success"]) == 1.0, logs["arm"][-2000:]
    assert e["grasped"] == e["requested_object"] and e["in_bin"] and e["localisation_error_m"] < 0.07
    q = json.loads(procs["quadruped"][1].read_text())
    (d,) = q["details"]
    assert d["mid_run_class"] == spoken("mug") and [t["state"] for t in d["teaches"]] == ["learned", "learned"]
    obs = d["observations"]
    assert len(obs) == 4 and all(o["true_class"] in ("duck", "mug") for o in obs)
    first_mug = next(i for i, o in enumerate(obs) if o["true_class"] == "mug")
    assert not obs[first_mug]["scored"]  # seen before it was taught: not counted
    assert all(o["scored"] for i, o in enumerate(obs) if i != first_mug)
    assert q["recognition_acc"] >= 2 / 3 and q["mid_run_class_acc"] == 1.0, logs["quadruped"][-2000:]
    assert q["median_position_error_m"] < 0.1
