"""Pure helpers of the demos: the camera's frame source, an RGB-D style localisation of a detected box,
and the names a person uses for the catalogue objects.  No rclpy here.

Localisation uses only what a robot with an RGB-D camera has: the box from the
perception chain and a depth image from the same camera pose (no segmentation,
no body ids).  The depth pixels inside the box are back-projected to the world;
floor points are dropped; the rest gives the object's position and top height.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pybullet as p

from chhnn_ros.perception.sources import FrameSource
from chhnn_ros.perception.types import Frame

# What a person calls the catalogue objects: taught labels are free text, never the catalogue names.
SPOKEN: dict[str, str] = {
    "duck": "rubber duck", "teddy": "teddy bear", "soccer_ball": "football", "mug": "coffee mug",
    "lego": "lego brick", "jenga": "jenga block", "tray": "tray", "red_ball": "red ball", "block": "wood block",
    "r2d2": "robot toy", "domino": "domino", "mini_table": "toy table", "blue_blob": "blue blob",
}
FLOOR_Z = 0.01  # back-projected points below this height are floor
MAX_OBJECT_Z = 0.3  # and above this, robot links (the objects are hand-sized)


def spoken(name: str) -> str:
    return SPOKEN.get(name, name.replace("_", " "))


class LockedSceneSource(FrameSource):
    """The camera node's frame source for a scene the demo moves: renders under ``lock`` (never halfway
    through a motion) and stamps each frame with its wall-clock render time, so "a result for a frame
    rendered after time t" is a stamp comparison."""

    def __init__(self, scene, lock: threading.RLock) -> None:
        self.scene, self.lock = scene, lock

    def read(self) -> Frame:
        with self.lock:
            frame = self.scene.render()
            frame.stamp = time.time()
        return frame

    def close(self) -> None:
        self.scene.close()


@dataclass
class Located:
    xy: tuple[float, float]
    top_z: float
    n_points: int


def depth_view(scene) -> tuple[np.ndarray, np.ndarray]:
    """(depth buffer (H, W) in [0, 1], inverse of proj @ view) from the scene's current camera pose."""
    eye, target, up = scene.camera_pose()
    view = p.computeViewMatrix(eye, target, up)
    # near 0.1 m: better depth precision far away (x, y projection does not depend on near/far)
    proj = p.computeProjectionMatrixFOV(scene.fov, scene.width / scene.height, 0.1, 10.0)
    _, _, _, depth, _ = p.getCameraImage(scene.width, scene.height, view, proj, renderer=p.ER_TINY_RENDERER,
                                         flags=p.ER_NO_SEGMENTATION_MASK, physicsClientId=scene.client)
    depth = np.asarray(depth, dtype=np.float64).reshape(scene.height, scene.width)
    # PyBullet matrices are column-major lists
    m = np.asarray(proj, dtype=np.float64).reshape(4, 4).T @ np.asarray(view, dtype=np.float64).reshape(4, 4).T
    return depth, np.linalg.inv(m)


def unproject(us: np.ndarray, vs: np.ndarray, d: np.ndarray, inv: np.ndarray,
              size: tuple[int, int]) -> np.ndarray:
    """World points (N, 3) of pixel centres (us, vs) with depth-buffer values ``d``; ``size`` = (W, H)."""
    width, height = size
    x = (2.0 * us + 1.0) / width - 1.0
    y = 1.0 - (2.0 * vs + 1.0) / height
    z = 2.0 * d - 1.0
    ndc = np.stack([x, y, z, np.ones_like(x)])
    world = inv @ ndc
    return (world[:3] / world[3]).T


def locate(scene, box: Sequence[float], shrink: float = 0.2) -> Located | None:
    """Where the object in pixel ``box`` is: median floor position and top height of its depth points
    (the central part of the box, ``shrink`` trimmed on each side); None if no point is above the floor."""
    depth, inv = depth_view(scene)
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * shrink, (y2 - y1) * shrink
    u0, u1 = int(max(0, x1 + dx)), int(min(scene.width, np.ceil(x2 - dx)))
    v0, v1 = int(max(0, y1 + dy)), int(min(scene.height, np.ceil(y2 - dy)))
    if u1 <= u0 or v1 <= v0:
        return None
    vs, us = np.mgrid[v0:v1, u0:u1]
    pts = unproject(us.ravel().astype(float), vs.ravel().astype(float), depth[v0:v1, u0:u1].ravel(), inv,
                     (scene.width, scene.height))
    pts = pts[(pts[:, 2] > FLOOR_Z) & (pts[:, 2] < MAX_OBJECT_Z)]
    if len(pts) == 0:
        return None
    top = float(np.percentile(pts[:, 2], 95))
    # The camera sees the near side of an object; its upper part is centred better over the body.
    upper = pts[pts[:, 2] >= 0.75 * top]
    xy = np.median(upper[:, :2], axis=0)
    return Located((float(xy[0]), float(xy[1])), top, len(pts))
