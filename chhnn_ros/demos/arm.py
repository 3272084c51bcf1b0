"""``chhnn-demo arm``: a person teaches objects by name, then asks the arm to put one of them in the bin.

Per episode the objects are re-laid out in the workspace (new positions,
headings, light); the arm moves to a look pose above the workspace and
looks down with its wrist camera (eye in hand: the objects are 2-3 times
larger than from the fixed camera), takes the box the classifier labels
with the requested name (majority over a few frames),
localises it from the depth image (:func:`~.geometry.locate`), reaches above
it with inverse kinematics, descends, grasps and drops it into the bin.

The grasp is a "magnetic" one: a fixed constraint to whatever body is within
``GRASP_DIST`` of the gripper (PyBullet's usual pick-and-place shortcut; a
friction grasp needs tuned contacts that add nothing to a perception demo).
Success = the requested object ends inside the bin (PyBullet positions);
grasping another object, nothing, or dropping it elsewhere is a failure.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np
import pybullet as p
import pybullet_data

from chhnn_ros.demos.geometry import Located, locate, spoken

BIN_XY = (0.12, 0.5)  # beside the workspace ((0.35, 0.75) x (-0.3, 0.3)), within reach of both arms
BIN_SCALE = 0.6  # traybox.urdf is 0.5 m wide: 0.3 m here
GRASP_DIST = 0.06
APPROACH = 0.15  # metres above the object's top before descending
LOOK_POSE = (0.55, 0.0, 0.62)  # gripper above the workspace centre: the wrist camera sees all of it
DEFAULT_OBJECTS = ["duck", "mug", "lego", "soccer_ball"]


def spawn_bin(scene, xy: tuple[float, float] = BIN_XY) -> int:
    return p.loadURDF(f"{pybullet_data.getDataPath()}/tray/traybox.urdf", [xy[0], xy[1], 0.0],
                      globalScaling=BIN_SCALE, useFixedBase=True, physicsClientId=scene.client)


def in_bin(scene, body: int, bin_body: int) -> bool:
    """The body's centre lies inside the bin's footprint and below its rim (+ the object's own height)."""
    lo, hi = (np.asarray(v) for v in p.getAABB(bin_body, physicsClientId=scene.client))
    pos = np.asarray(p.getBasePositionAndOrientation(body, physicsClientId=scene.client)[0])
    return bool(np.all(pos[:2] > lo[:2]) and np.all(pos[:2] < hi[:2]) and pos[2] < hi[2] + 0.15)


def grasp_nearest(scene, candidates: list[int], max_dist: float = GRASP_DIST) -> int | None:
    """Attach the candidate body nearest to the gripper if it is within ``max_dist``; its id or None."""
    arm = scene.robot
    links = [arm.ee_link, *((9, 10) if arm.kind == "panda" else ())]
    best, best_d = None, max_dist
    for body in candidates:
        for link in links:
            for c in p.getClosestPoints(arm.body, body, max_dist, linkIndexA=link, physicsClientId=scene.client):
                if c[8] <= best_d:
                    best, best_d = body, c[8]
    if best is not None and arm.grasp(best, max_dist=max_dist):
        return best
    return None


def look(scene) -> None:
    """Wrist camera on, gripper to the look pose (physics runs meanwhile, so objects settle)."""
    scene.robot.camera = "wrist"
    scene.robot.move_to(LOOK_POSE, steps=240)


def pick_and_place(scene, target: Located, bin_body: int, candidates: list[int]) -> int | None:
    """Reach above ``target``, descend, grasp the nearest body, carry it over the bin and drop it.

    Returns the grasped body id (None: nothing within reach of the gripper)."""
    arm = scene.robot
    x, y = target.xy
    grip_z = target.top_z + 0.02
    arm.move_to([x, y, grip_z + APPROACH])
    arm.move_to([x, y, grip_z], steps=240)
    body = grasp_nearest(scene, candidates)
    if body is None:
        arm.move_to([x, y, grip_z + APPROACH])
        return None
    arm.move_to([x, y, grip_z + APPROACH + 0.1])
    bx, by = p.getBasePositionAndOrientation(bin_body, physicsClientId=scene.client)[0][:2]
    arm.move_to([bx, by, 0.4], steps=360)
    arm.move_to([bx, by, 0.25])
    arm.release()
    scene.step(240)  # let it fall and settle
    return body


@dataclass
class ArmEpisode:
    episode: int
    requested: str  # the taught name asked for
    requested_object: str  # catalogue name (scoring only)
    found: bool
    votes: dict
    estimated_xy: list | None
    true_xy: list
    localisation_error_m: float | None
    grasped: str | None
    in_bin: bool
    success: bool
    seconds: float


def choose_box(pairs: list[tuple[dict, dict]], label: str) -> tuple[list[float] | None, dict]:
    """The box labelled ``label`` most often (then with the best score) over several frames' ``objects``."""
    votes: Counter = Counter()
    scores: dict[tuple, float] = {}
    labels: Counter = Counter()
    for objects, _truth in pairs:
        for o in objects["objects"]:
            labels[o["label"]] += 1
            if o["label"] == label:
                key = tuple(round(v) for v in o["box"])
                votes[key] += 1
                scores[key] = max(scores.get(key, 0.0), float(o["score"]))
    if not votes:
        return None, dict(labels)
    key = max(votes, key=lambda k: (votes[k], scores[k]))
    return [float(v) for v in key], dict(labels)


def run_episode(graph, ep: int, want: str, bin_body: int, seed: int, frames: int = 3) -> ArmEpisode:
    scene = graph.scene
    t0 = time.monotonic()
    with graph.lock:
        scene.reset(seed)
        look(scene)
    t_still = time.time()
    pairs = graph.results_after(t_still, frames)
    label = spoken(want)
    box, labels = choose_box(pairs, label)
    want_body = scene.object_ids(want)[0]
    true_xy = list(p.getBasePositionAndOrientation(want_body, physicsClientId=scene.client)[0][:2])
    loc = grasped = None
    placed = success = False
    if box is not None:
        with graph.lock:
            loc = locate(scene, box)
            if loc is not None:
                body = pick_and_place(scene, loc, bin_body, scene.object_ids())
                if body is not None:
                    grasped, placed = scene.bodies[body], in_bin(scene, body, bin_body)
            success = in_bin(scene, want_body, bin_body)  # the requested object itself ends in the bin
    err = None if loc is None else float(np.hypot(loc.xy[0] - true_xy[0], loc.xy[1] - true_xy[1]))
    return ArmEpisode(ep, label, want, box is not None, labels, None if loc is None else list(loc.xy),
                      true_xy, err, grasped, placed, success, time.monotonic() - t0)


def teach_objects(graph, objects: list[str], seed: int) -> list[dict]:
    """The person shows each object (points at it: its track id) and names it; the layout changes while
    the classifier collects views."""
    scene = graph.scene
    statuses = []
    for k, name in enumerate(objects):
        def vary(i: int, k: int = k) -> None:
            scene.reset(seed + 1000 * (k + 1) + i)
            look(scene)

        with graph.lock:
            vary(0)
        body = scene.object_ids(name)[0]
        status = graph.teach(spoken(name), body, vary=vary)
        statuses.append({"object": name, "label": spoken(name), "state": status["state"],
                         "message": status["message"]})
        print(f"taught {spoken(name)!r}: {status['state']} ({status['message']})", flush=True)
    return statuses


def run(graph, objects: list[str], episodes: int, seed: int = 0) -> dict:
    """Teach ``objects``, then one fetch request per episode (cycling through the taught names)."""
    t0 = time.monotonic()
    with graph.lock:
        bin_body = spawn_bin(graph.scene)
    graph.wait_ready()
    statuses = teach_objects(graph, objects, seed)
    taught = [s["object"] for s in statuses if s["state"] == "learned"]
    if not taught:
        raise RuntimeError("nothing could be taught")
    order = list(np.random.default_rng(seed).permutation(taught))
    details = []
    print(f"{'ep':>3} {'requested':<14} {'grasped':<14} {'loc err m':>9} {'in bin':>6} {'success':>7}", flush=True)
    for ep in range(episodes):
        e = run_episode(graph, ep, order[ep % len(order)], bin_body, seed + 50_000 + ep)
        details.append(asdict(e))
        err = "-" if e.localisation_error_m is None else f"{e.localisation_error_m:.3f}"
        print(f"{ep:>3} {e.requested:<14} {e.grasped or '-':<14} {err:>9} {e.in_bin!s:>6} {e.success!s:>7}",
              flush=True)
    rate = sum(d["success"] for d in details) / len(details) if details else 0.0
    return {"task": "arm", "robot": graph.scene.robot.kind, "success_rate": rate, "episodes": len(details),
            "taught": statuses, "details": details, "seconds": time.monotonic() - t0}
