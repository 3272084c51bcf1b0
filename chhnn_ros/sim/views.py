"""Many rendered views of one catalogue object, cropped around its true box (teaching / benchmark images).

Viewpoints are parameterised relative to the object (camera azimuth minus the
object's yaw, and elevation), so ``"train"`` and ``"test"`` ranges are disjoint
views of the object itself: the test range is the far side at other elevations.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pybullet as p
import pybullet_data

from chhnn_ros.sim.objects import SimObject, get_object, object_aabb, object_extent, spawn_object
from chhnn_ros.sim.scene import random_light

# (relative azimuth ranges, elevation ranges) in degrees; train and test are disjoint in both.
VIEWPOINTS: dict[str, tuple[list[tuple[float, float]], list[tuple[float, float]]]] = {
    "train": ([(-90.0, 90.0)], [(20.0, 50.0)]),
    "test": ([(90.0, 270.0)], [(8.0, 20.0), (50.0, 70.0)]),
    "all": ([(-180.0, 180.0)], [(8.0, 70.0)]),
}
BACKGROUNDS = ("floor", "none")


def _uniform_union(rng: np.random.Generator, ranges: list[tuple[float, float]]) -> float:
    """Uniform sample over a union of disjoint intervals."""
    widths = np.array([b - a for a, b in ranges])
    k = rng.choice(len(ranges), p=widths / widths.sum())
    return float(rng.uniform(*ranges[k]))


def letterbox_crop(img: np.ndarray, box: tuple[int, int, int, int], size: int, pad: float = 0.15,
                   fill: int = 0) -> np.ndarray:
    """Square crop around ``box`` (x1, y1, x2, y2 exclusive) grown by ``pad``; outside the image is ``fill``."""
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * (1 + 2 * pad)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    sx, sy = int(round(cx - side / 2)), int(round(cy - side / 2))
    s = max(1, int(round(side)))
    canvas = np.full((s, s, 3), fill, dtype=np.uint8)
    h, w = img.shape[:2]
    ix1, iy1, ix2, iy2 = max(0, sx), max(0, sy), min(w, sx + s), min(h, sy + s)
    if ix2 > ix1 and iy2 > iy1:
        canvas[iy1 - sy:iy2 - sy, ix1 - sx:ix2 - sx] = img[iy1:iy2, ix1:ix2]
    interp = cv2.INTER_AREA if s > size else cv2.INTER_LINEAR
    return cv2.resize(canvas, (size, size), interpolation=interp)


def render_object_views(name: str | SimObject, n: int, seed: int = 0, size: int = 224, noise: float = 0.0,
                        viewpoints: str = "all", background: str = "floor") -> np.ndarray:
    """``n`` views (n, size, size, 3) uint8 of object ``name`` under random yaw, viewpoint, distance and light.

    ``noise`` is the std of added Gaussian pixel noise as a fraction of 255. Deterministic for a seed.
    """
    obj = get_object(name)
    if viewpoints not in VIEWPOINTS:
        raise ValueError(f"unknown viewpoints {viewpoints!r}; valid: {', '.join(VIEWPOINTS)}")
    if background not in BACKGROUNDS:
        raise ValueError(f"unknown background {background!r}; valid: {', '.join(BACKGROUNDS)}")
    if n < 0 or not 8 <= size <= 1024:
        raise ValueError(f"need n >= 0 and 8 <= size <= 1024, got n={n}, size={size}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    az_ranges, el_ranges = VIEWPOINTS[viewpoints]
    # Different objects get different streams for the same seed (crc of the name, stable across runs).
    rng = np.random.default_rng([seed, sum((i + 1) * ord(c) for i, c in enumerate(obj.name))])
    res = int(np.clip(size * 1.25, 96, 320))  # render a bit larger than the crop: the object fills ~60-80%
    proj = p.computeProjectionMatrixFOV(40.0, 1.0, 0.01, 20.0)
    out = np.zeros((n, size, size, 3), dtype=np.uint8)
    client = p.connect(p.DIRECT)
    try:
        if background == "floor":
            p.loadURDF(f"{pybullet_data.getDataPath()}/plane.urdf", physicsClientId=client)
        body = spawn_object(client, name)
        radius = float(np.linalg.norm(object_extent(client, body))) / 2
        for i in range(n):
            yaw = rng.uniform(-math.pi, math.pi)
            p.resetBasePositionAndOrientation(body, [0, 0, obj.z_offset], p.getQuaternionFromEuler([0, 0, yaw]),
                                              physicsClientId=client)
            lo, hi = object_aabb(client, body)
            centre = (lo + hi) / 2
            az = yaw + math.radians(_uniform_union(rng, az_ranges))
            el = math.radians(_uniform_union(rng, el_ranges))
            dist = radius / math.tan(math.radians(20.0)) * rng.uniform(1.2, 1.8)
            eye = centre + dist * np.array([math.cos(az) * math.cos(el), math.sin(az) * math.cos(el), math.sin(el)])
            view = p.computeViewMatrix(eye.tolist(), centre.tolist(), [0, 0, 1])
            _, _, rgba, _, seg = p.getCameraImage(res, res, view, proj, renderer=p.ER_TINY_RENDERER,
                                                  physicsClientId=client, **random_light(rng))
            rgb = np.asarray(rgba, dtype=np.uint8).reshape(res, res, 4)[..., :3]
            ys, xs = np.nonzero(np.asarray(seg).reshape(res, res) == body)
            box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) if len(xs) else (0, 0, res, res)
            crop = letterbox_crop(rgb, box, size, pad=rng.uniform(0.08, 0.2), fill=int(rng.integers(0, 256)))
            if noise > 0:
                crop = np.clip(crop + rng.normal(0.0, noise * 255.0, crop.shape), 0, 255).astype(np.uint8)
            out[i] = crop
    finally:
        p.disconnect(client)
    return out
