"""``chhnn-demo quadruped``: a quadruped patrols a row of objects and reports what it saw where.

Layout per episode: two instances of each class in a row along +x (one
shuffled pass of the classes, then another), fresh headings and light.  A
person first walks the robot to one instance of every class but the last and
names it (teach over the topic while the robot shifts around the object).
Then the robot walks the row, stopping in front of each object: it takes the
most central box of ``objects`` (majority label over a few frames) and
localises it from depth.  When it meets the first instance of the last class,
the person teaches it there (a class taught mid-run); its second instance
comes later in the row.  Recognition accuracy counts every stop whose object
was of a class already taught.  The robot is teleported along its path in a
standing pose (camera motion, not locomotion control: see robots.py).
"""

from __future__ import annotations

import math
import time
from collections import Counter

import numpy as np
import pybullet as p

from chhnn_ros.demos.geometry import locate, spoken
from chhnn_ros.perception.crops import iou

ROW_Y = 1.0  # objects stand at y = ROW_Y; the robot walks along a parallel line and turns to face them
X0, SPACING = 0.6, 0.6
VIEW_DIST = 0.6  # camera to object (horizontal) at a stop: one object fills the middle of the view
DEFAULT_CLASSES = ["duck", "mug", "soccer_ball", "lego"]


def scene_objects(classes: list[str]) -> list[str]:
    """Two instances of every class (the camera node's ``sim_objects``)."""
    return list(classes) + list(classes)


def lay_out_row(scene, classes: list[str], rng: np.random.Generator) -> list[int]:
    """Place the bodies in a row: a shuffled pass of the classes, then another; body ids in row order."""
    first = {c: scene.object_ids(c)[0] for c in classes}
    second = {c: scene.object_ids(c)[1] for c in classes}
    row = [first[c] for c in rng.permutation(classes)] + [second[c] for c in rng.permutation(classes)]
    for i, body in enumerate(row):
        z = p.getBasePositionAndOrientation(body, physicsClientId=scene.client)[0][2]
        yaw = rng.uniform(-math.pi, math.pi)
        p.resetBasePositionAndOrientation(body, [X0 + SPACING * i, ROW_Y, z], p.getQuaternionFromEuler([0, 0, yaw]),
                                          physicsClientId=scene.client)
    return row


def camera_ahead(robot) -> float:
    """Horizontal distance from the robot's base to its head camera."""
    eye = robot.camera_pose()[0]
    x, y, _ = robot.pose()
    return math.hypot(eye[0] - x, eye[1] - y)


def stop_pose(robot, slot: int) -> tuple[float, float, float]:
    """Where the robot stops to look at row slot ``slot``: facing it, camera ``VIEW_DIST`` away."""
    return X0 + SPACING * slot, ROW_Y - VIEW_DIST - camera_ahead(robot), math.pi / 2


def teaching_pose(robot, slot: int, rng: np.random.Generator) -> tuple[float, float, float]:
    """A robot pose looking at row slot ``slot`` from a random distance and bearing."""
    ox, oy = X0 + SPACING * slot, ROW_Y
    d, b = rng.uniform(0.45, 0.8) + camera_ahead(robot), rng.uniform(-0.6, 0.6)
    x, y = ox + d * math.sin(b), oy - d * math.cos(b)
    return x, y, math.atan2(oy - y, ox - x)


def observe(graph, pairs: list[tuple[dict, dict]], slot: int, taught: set[str]) -> dict:
    """What the robot saw at a stop: the most central object's majority label and its position (from
    ``objects`` and depth), and, for scoring, the true object under that box."""
    scene = graph.scene
    width = scene.width
    central = []
    for objects, _ in pairs:
        cands = [o for o in objects["objects"] if o["box"][2] - o["box"][0] >= 8]
        if cands:
            central.append(min(cands, key=lambda o: abs((o["box"][0] + o["box"][2]) / 2 - width / 2)))
    if not central:
        return {"slot": slot, "label": None, "true_class": None, "scored": False, "correct": False}
    label, _ = Counter(o["label"] for o in central).most_common(1)[0]
    box = central[-1]["box"]
    score = float(np.mean([o["score"] for o in central if o["label"] == label]))
    # What an operator reads beside "unknown": the nearest class and how far below the threshold it is.
    nearest, _ = Counter(o.get("nearest", "") for o in central).most_common(1)[0]
    known_scores = [o["known_score"] for o in central if o.get("known_score") is not None]
    truth = pairs[-1][1]["detections"]
    match = max(truth, key=lambda t: iou(t.box, box), default=None)
    true_class = match.class_name if match is not None and iou(match.box, box) >= 0.5 else None
    with graph.lock:
        loc = locate(scene, box)
        pose = scene.robot.pose()
    err = None
    if loc is not None and match is not None and true_class is not None:
        true_xy = p.getBasePositionAndOrientation(match.track_id, physicsClientId=scene.client)[0][:2]
        err = float(np.hypot(loc.xy[0] - true_xy[0], loc.xy[1] - true_xy[1]))
    scored = true_class is not None and true_class in taught
    return {"slot": slot, "robot_pose": [round(v, 3) for v in pose], "label": label, "score": round(score, 3),
            "nearest": nearest, "known_score": round(float(np.median(known_scores)), 2) if known_scores else None,
            "estimated_xy": None if loc is None else [round(v, 3) for v in loc.xy], "true_class": true_class,
            "true_label": None if true_class is None else spoken(true_class), "position_error_m": err,
            "scored": scored, "correct": scored and label == spoken(true_class)}


def teach_at(graph, slot: int, body: int, name: str, rng: np.random.Generator) -> dict:
    robot = graph.scene.robot

    def vary(_i: int) -> None:
        robot.set_pose(*teaching_pose(robot, slot, rng))

    with graph.lock:
        vary(0)
    status = graph.teach(spoken(name), body, vary=vary)
    print(f"  taught {spoken(name)!r} at slot {slot}: {status['state']} ({status['message']})", flush=True)
    return {"object": name, "label": spoken(name), "slot": slot, "state": status["state"]}


def run_episode(graph, classes: list[str], ep: int, seed: int, frames: int = 3) -> dict:
    scene, rng = graph.scene, np.random.default_rng(seed)
    graph.forget_all()
    with graph.lock:
        scene.reset(seed)  # light; then our own layout
        row = lay_out_row(scene, classes, rng)
        scene.step(60)
    names = [scene.bodies[b] for b in row]
    pre, mid = classes[:-1], classes[-1]
    taught: set[str] = set()
    teaches = []
    for c in pre:  # the guided tour: first instance of each class
        slot = names.index(c)
        teaches.append(teach_at(graph, slot, row[slot], c, rng))
        if teaches[-1]["state"] == "learned":
            taught.add(c)
    seen = []
    with graph.lock:
        x, y, _ = stop_pose(scene.robot, 0)
        scene.robot.set_pose(x - SPACING, y, 0.0)
    for slot, body in enumerate(row):
        with graph.lock:
            scene.robot.walk_to(*stop_pose(scene.robot, slot))
        obs = observe(graph, graph.results_after(time.time(), frames), slot, set(taught))
        seen.append(obs)
        print(f"  slot {slot}: saw {obs['label']!r} at {obs.get('estimated_xy')} (truth {obs['true_label']!r}"
              f"{'' if obs['scored'] else ', not taught yet'})", flush=True)
        if names[slot] == mid and mid not in taught:  # the person names the new object mid-run
            teaches.append(teach_at(graph, slot, body, mid, rng))
            if teaches[-1]["state"] == "learned":
                taught.add(mid)
            with graph.lock:
                scene.robot.set_pose(*stop_pose(scene.robot, slot))
    scored = [o for o in seen if o["scored"]]
    mid_scored = [o for o in scored if o["true_class"] == mid]
    errs = [o["position_error_m"] for o in seen if o.get("position_error_m") is not None]
    return {"episode": ep, "row": [spoken(n) for n in names], "mid_run_class": spoken(mid), "teaches": teaches,
            "observations": seen, "n_scored": len(scored),
            "recognition_acc": sum(o["correct"] for o in scored) / len(scored) if scored else 0.0,
            "mid_run_acc": sum(o["correct"] for o in mid_scored) / len(mid_scored) if mid_scored else None,
            "median_position_error_m": float(np.median(errs)) if errs else None}


def run(graph, classes: list[str], episodes: int, seed: int = 0) -> dict:
    t0 = time.monotonic()
    graph.wait_ready()
    details = []
    for ep in range(episodes):
        print(f"episode {ep}", flush=True)
        details.append(run_episode(graph, classes, ep, seed + 1000 * ep))
    scored = [o for d in details for o in d["observations"] if o["scored"]]
    mid = [o for d in details for o in d["observations"] if o["scored"] and o["true_label"] == d["mid_run_class"]]
    errs = [o["position_error_m"] for d in details for o in d["observations"] if o.get("position_error_m") is not None]
    return {"task": "quadruped", "robot": graph.scene.robot.kind,
            "recognition_acc": sum(o["correct"] for o in scored) / len(scored) if scored else 0.0,
            "mid_run_class_acc": sum(o["correct"] for o in mid) / len(mid) if mid else None,
            "n_observations": len(scored), "median_position_error_m": float(np.median(errs)) if errs else None,
            "episodes": len(details), "details": details, "seconds": time.monotonic() - t0}
