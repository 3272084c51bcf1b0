"""A PyBullet scene: floor, a robot with a camera, catalogue objects in view; renders ``Frame``s with true boxes.

Each scene owns its own DIRECT client (several scenes can coexist) and renders
with TinyRenderer (CPU, deterministic, no display). Ground-truth boxes come
from the segmentation mask, so they cover exactly the visible pixels of each
object (occlusion and image borders included).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import numpy as np
import pybullet as p
import pybullet_data

from chhnn_ros.perception.types import Detection, Frame
from chhnn_ros.sim.objects import DEFAULT_OBJECTS, check_objects, get_object, spawn_object
from chhnn_ros.sim.robots import ArmRobot, CameraPose, Robot, check_robot, make_robot

PHYSICS_DT = 1.0 / 240.0
_MIN_SEPARATION = 0.2  # metres between object centres so boxes rarely merge
MOTIONS = ("none", "turn")
TURN_PERIOD_S = 12.0  # motion "turn": every object turns once around its vertical axis in this much sim time


def random_light(rng: np.random.Generator) -> dict[str, object]:
    """TinyRenderer lighting kwargs for getCameraImage: sun direction above the horizon, varied ambient/diffuse."""
    az, el = rng.uniform(0, 2 * math.pi), rng.uniform(math.radians(25), math.radians(80))
    return {
        "lightDirection": [math.cos(az) * math.cos(el), math.sin(az) * math.cos(el), math.sin(el)],
        "lightColor": list(rng.uniform(0.85, 1.0, 3)),
        "lightAmbientCoeff": float(rng.uniform(0.35, 0.65)),
        "lightDiffuseCoeff": float(rng.uniform(0.4, 0.7)),
        "lightSpecularCoeff": float(rng.uniform(0.05, 0.3)),
        "shadow": 0,  # TinyRenderer shadows double the render time for little benefit here
    }


DEFAULT_LIGHT: dict[str, object] = {
    "lightDirection": [0.4, 0.3, 1.0], "lightColor": [1.0, 1.0, 1.0], "lightAmbientCoeff": 0.5,
    "lightDiffuseCoeff": 0.55, "lightSpecularCoeff": 0.1, "shadow": 0,
}


def boxes_from_mask(seg: np.ndarray, bodies: dict[int, str], min_pixels: int) -> list[Detection]:
    """One box per body id in ``bodies`` with at least ``min_pixels`` visible pixels (x2/y2 exclusive)."""
    out = []
    body_ids = seg & ((1 << 24) - 1)  # low 24 bits hold the body id if link indices were encoded
    body_ids = np.where(seg < 0, -1, body_ids)
    for body, name in bodies.items():
        ys, xs = np.nonzero(body_ids == body)
        if len(xs) < min_pixels:
            continue
        out.append(Detection(float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1),
                             score=1.0, class_name=name, track_id=int(body)))
    return out


class SimScene:
    """Floor + robot + objects; ``render()`` returns a :class:`Frame` with ``truth`` boxes.

    ``objects=None`` picks ``n_objects`` names from ``DEFAULT_OBJECTS`` (seeded). ``reset_every > 0``
    re-randomises the layout every that many ``render()`` calls (a varied stream for ``SimSource``).
    ``stamp`` is simulated time: +1/``rate`` per ``render()``, +1/240 per physics ``step()``.
    """

    def __init__(self, robot: str = "a1", objects: Sequence[str] | None = None, width: int = 320, height: int = 240,
                 fov: float = 60.0, seed: int = 0, randomize: bool = True, frame_id: str = "camera",
                 n_objects: int = 4, rate: float = 30.0, min_pixels: int = 30, reset_every: int = 0,
                 arm_camera: str = "fixed", motion: str = "none") -> None:
        check_robot(robot)
        if motion not in MOTIONS:
            raise ValueError(f"motion must be one of {', '.join(MOTIONS)}, got {motion!r}")
        if width < 16 or height < 16 or width > 4096 or height > 4096:
            raise ValueError(f"width/height must be in [16, 4096], got {width}x{height}")
        if not 5.0 <= fov <= 170.0:
            raise ValueError(f"fov must be in [5, 170] degrees, got {fov}")
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        rng = np.random.default_rng(seed)
        if objects is None:
            if not 1 <= n_objects <= len(DEFAULT_OBJECTS):
                raise ValueError(f"n_objects must be in [1, {len(DEFAULT_OBJECTS)}], got {n_objects}")
            objects = [DEFAULT_OBJECTS[i] for i in sorted(rng.choice(len(DEFAULT_OBJECTS), n_objects, replace=False))]
        self.object_names = check_objects(objects)
        self.width, self.height, self.fov = int(width), int(height), float(fov)
        self.randomize, self.frame_id, self.rate = randomize, frame_id, float(rate)
        self.min_pixels, self.reset_every = int(min_pixels), int(reset_every)
        self.motion = motion
        self.seed = int(seed)
        self.time = 0.0
        self._renders = 0
        self._camera_override: CameraPose | None = None
        self.client = p.connect(p.DIRECT)
        try:
            p.setGravity(0, 0, -9.81, physicsClientId=self.client)
            p.setTimeStep(PHYSICS_DT, physicsClientId=self.client)
            self.plane = p.loadURDF(f"{pybullet_data.getDataPath()}/plane.urdf", physicsClientId=self.client)
            kw = {"camera": arm_camera} if robot in ("panda", "kuka") else {}
            self.robot: Robot = make_robot(self.client, robot, self.step, **kw)
            self.bodies: dict[int, str] = {}
            for name in self.object_names:
                self.bodies[spawn_object(self.client, name, 0.0, 0.0, 0.0)] = name
            self._proj = p.computeProjectionMatrixFOV(self.fov, self.width / self.height, 0.02, 20.0)
            self.reset(seed)
        except Exception:
            p.disconnect(self.client)
            raise

    # --- layout -----------------------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        """Robot home, objects re-placed in view with random yaw/distance, new lighting (deterministic per seed)."""
        self.seed = self.seed + 1 if seed is None else int(seed)
        rng = np.random.default_rng(self.seed)
        self.robot.home()
        self.light = random_light(rng) if self.randomize else dict(DEFAULT_LIGHT)
        placed: list[tuple[float, float]] = []
        for i, body in enumerate(self.bodies):
            x, y = self._place(rng, i, placed)
            placed.append((x, y))
            yaw = rng.uniform(-math.pi, math.pi) if self.randomize else 0.0
            z = get_object(self.bodies[body]).z_offset
            p.resetBasePositionAndOrientation(body, [x, y, z], p.getQuaternionFromEuler([0, 0, yaw]),
                                              physicsClientId=self.client)
            p.resetBaseVelocity(body, [0, 0, 0], [0, 0, 0], physicsClientId=self.client)

    def _place(self, rng: np.random.Generator, i: int, placed: list[tuple[float, float]]) -> tuple[float, float]:
        """A floor point in view of the robot's camera, away from already placed objects."""
        n = len(self.bodies)
        for attempt in range(200):
            if isinstance(self.robot, ArmRobot):
                (x0, x1), (y0, y1) = self.robot.workspace
                if self.randomize:
                    x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
                else:  # a row across the workspace
                    x, y = (x0 + x1) / 2, y0 + (y1 - y0) * (i + 0.5) / n
            else:
                eye, target, _ = self.robot.camera_pose()
                heading = math.atan2(target[1] - eye[1], target[0] - eye[0])
                half = math.radians(self.fov) * self.width / self.height / 2 * 0.75
                if self.randomize:
                    d, b = rng.uniform(0.4, 1.2), rng.uniform(-half, half)
                else:  # an arc at 0.8 m
                    d, b = 0.8, -half + 2 * half * (i + 0.5) / n
                x, y = eye[0] + d * math.cos(heading + b), eye[1] + d * math.sin(heading + b)
            if all(math.hypot(x - px, y - py) >= _MIN_SEPARATION for px, py in placed) or attempt == 199:
                return x, y
        raise AssertionError("unreachable")

    # --- camera / rendering -----------------------------------------------------------------------------------
    def camera_pose(self) -> CameraPose:
        return self._camera_override or self.robot.camera_pose()

    def set_camera(self, eye: Sequence[float] | None, target: Sequence[float] | None = None,
                   up: Sequence[float] = (0.0, 0.0, 1.0)) -> None:
        """Fix the camera at ``eye`` looking at ``target``; ``set_camera(None)`` goes back to the robot camera."""
        if eye is None:
            self._camera_override = None
            return
        if target is None or len(eye) != 3 or len(target) != 3:
            raise ValueError("set_camera needs eye and target as 3-vectors")
        self._camera_override = (tuple(map(float, eye)), tuple(map(float, target)), tuple(map(float, up)))

    def render(self) -> Frame:
        """RGB frame from the current camera with truth boxes of the visible objects (robot and floor excluded)."""
        return self.render_with_mask()[0]

    def render_with_mask(self) -> tuple[Frame, np.ndarray]:
        """Like :meth:`render` but also returns the body-id mask (H, W) int64 (-1 = background)."""
        if self.reset_every > 0 and self._renders > 0 and self._renders % self.reset_every == 0:
            self.reset()
        if self.motion == "turn" and self._renders > 0:
            self.turn_objects(2 * math.pi / (TURN_PERIOD_S * self.rate))
        eye, target, up = self.camera_pose()
        view = p.computeViewMatrix(eye, target, up)
        _, _, rgba, _, seg = p.getCameraImage(self.width, self.height, view, self._proj,
                                              renderer=p.ER_TINY_RENDERER, physicsClientId=self.client,
                                              **self.light)
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(self.height, self.width, 4)[..., :3].copy()
        seg = np.asarray(seg, dtype=np.int64).reshape(self.height, self.width)
        frame = Frame(image=rgb, stamp=self.time, frame_id=self.frame_id,
                      truth=boxes_from_mask(seg, self.bodies, self.min_pixels))
        self.time += 1.0 / self.rate
        self._renders += 1
        return frame, seg

    def turn_objects(self, angle: float) -> None:
        """Turn every object by ``angle`` radians about its vertical axis, in place (a turntable): the
        camera sees other sides of it while its box barely moves."""
        for body in self.bodies:
            pos, orn = p.getBasePositionAndOrientation(body, physicsClientId=self.client)
            turn = p.getQuaternionFromEuler([0.0, 0.0, angle])
            _, orn = p.multiplyTransforms([0, 0, 0], turn, [0, 0, 0], orn)
            p.resetBasePositionAndOrientation(body, pos, orn, physicsClientId=self.client)

    # --- physics / lifetime -----------------------------------------------------------------------------------
    def step(self, n: int = 1) -> None:
        """Advance physics by ``n`` steps of 1/240 s."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        for _ in range(n):
            p.stepSimulation(physicsClientId=self.client)
        self.time += n * PHYSICS_DT

    def object_ids(self, name: str | None = None) -> list[int]:
        """Body ids of the scene's objects (all, or those called ``name``)."""
        return [b for b, n in self.bodies.items() if name is None or n == name]

    def close(self) -> None:
        if self.client is not None and self.client >= 0:
            with contextlib.suppress(p.error):  # already disconnected
                p.disconnect(self.client)
            self.client = -1

    def __enter__(self) -> SimScene:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown: pybullet may already be gone
            self.close()
