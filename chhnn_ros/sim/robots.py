"""Robots from ``pybullet_data`` with a camera: quadrupeds (head camera) and arms (fixed or wrist camera).

Quadrupeds are teleported along a path with their legs in a standing pose (we
want camera motion for perception, not locomotion control). Arms are driven by
position control to inverse-kinematics targets and grasp by a fixed constraint
(the standard PyBullet shortcut for pick-and-place demos: friction grasps need
tuned contacts that add nothing to a perception demo).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pybullet as p
import pybullet_data

ROBOT_KINDS = ("a1", "laikago", "panda", "kuka", "none")
Vec3 = tuple[float, float, float]
CameraPose = tuple[Vec3, Vec3, Vec3]

# kind: (urdf, standing (hip, thigh, knee) angles per leg, head camera offset in the base frame)
_QUADRUPEDS = {
    "a1": ("a1/a1.urdf", (0.0, 0.8, -1.6), (0.28, 0.0, 0.06)),
    "laikago": ("laikago/laikago_toes_zup.urdf", (0.0, 0.67, -1.25), (0.34, 0.0, 0.08)),
}
# kind: (urdf, end-effector link, arm joints, rest pose, downward end-effector orientation (euler),
#        wrist camera offset in the end-effector frame: beside the hand so fingers/flange do not fill the view)
_ARMS = {
    "panda": ("franka_panda/panda.urdf", 11, 7, (0.0, -0.4, 0.0, -2.4, 0.0, 2.0, 0.785), (math.pi, 0.0, 0.0),
              (0.07, 0.0, -0.04)),
    "kuka": ("kuka_iiwa/model.urdf", 6, 7, (0.0, 0.4, 0.0, -1.6, 0.0, 1.1, 0.0), (0.0, -math.pi, 0.0),
             (0.07, 0.0, 0.03)),
}
_PANDA_FINGERS = (9, 10)


def check_robot(kind: str) -> str:
    if kind not in ROBOT_KINDS:
        raise ValueError(f"unknown robot {kind!r}; valid: {', '.join(ROBOT_KINDS)}")
    return kind


def _rot(orn: Sequence[float]) -> np.ndarray:
    return np.asarray(p.getMatrixFromQuaternion(orn), dtype=float).reshape(3, 3)


def _tup(v: np.ndarray) -> Vec3:
    return (float(v[0]), float(v[1]), float(v[2]))


class Robot:
    """Base: a body in a client; ``stepper(n)`` advances physics (the scene passes its own to keep sim time)."""

    kind = "none"

    def __init__(self, client: int, stepper: Callable[[int], None] | None = None) -> None:
        self.client = client
        self.body: int | None = None
        self.stepper = stepper or self._step

    def _step(self, n: int) -> None:
        for _ in range(n):
            p.stepSimulation(physicsClientId=self.client)

    def home(self) -> None:
        """Return to the start pose."""

    def camera_pose(self) -> CameraPose:
        raise NotImplementedError


class NoRobot(Robot):
    """A camera on a pole at quadruped head height, looking along +x."""

    def __init__(self, client: int, stepper: Callable[[int], None] | None = None, height: float = 0.35) -> None:
        super().__init__(client, stepper)
        self.height = height

    def camera_pose(self) -> CameraPose:
        return (0.0, 0.0, self.height), (1.0, 0.0, self.height - 0.36), (0.0, 0.0, 1.0)


class Quadruped(Robot):
    """A1 or Laikago standing still; ``walk_to`` teleports the base along a straight path."""

    def __init__(self, client: int, kind: str = "a1", stepper: Callable[[int], None] | None = None,
                 camera_pitch: float = -0.35) -> None:
        super().__init__(client, stepper)
        if kind not in _QUADRUPEDS:
            raise ValueError(f"unknown quadruped {kind!r}; valid: {', '.join(_QUADRUPEDS)}")
        self.kind = kind
        urdf, self._stand, self._cam_offset = _QUADRUPEDS[kind]
        self.camera_pitch = camera_pitch
        # Fixed base: the teleported body must not fall or drift between poses.
        self.body = p.loadURDF(f"{pybullet_data.getDataPath()}/{urdf}", [0, 0, 1.0], useFixedBase=True,
                               physicsClientId=client)
        self._leg_joints = [j for j in range(p.getNumJoints(self.body, physicsClientId=client))
                            if p.getJointInfo(self.body, j, physicsClientId=client)[2] == p.JOINT_REVOLUTE]
        if len(self._leg_joints) != 12:
            raise RuntimeError(f"{kind}: expected 12 leg joints, found {len(self._leg_joints)}")
        for i, j in enumerate(self._leg_joints):
            p.resetJointState(self.body, j, self._stand[i % 3], physicsClientId=client)
        # Base height that puts the lowest foot on the ground.
        lowest = min(p.getAABB(self.body, link, physicsClientId=client)[0][2]
                     for link in range(-1, p.getNumJoints(self.body, physicsClientId=client)))
        self.base_height = 1.0 - lowest
        self.x = self.y = self.yaw = 0.0
        self.home()

    def home(self) -> None:
        self.set_pose(0.0, 0.0, 0.0)

    def set_pose(self, x: float, y: float, yaw: float) -> None:
        self.x, self.y, self.yaw = float(x), float(y), float(yaw)
        p.resetBasePositionAndOrientation(self.body, [x, y, self.base_height], p.getQuaternionFromEuler([0, 0, yaw]),
                                          physicsClientId=self.client)

    def pose(self) -> tuple[float, float, float]:
        return self.x, self.y, self.yaw

    def walk_to(self, x: float, y: float, yaw: float | None = None, step: float = 0.05,
                on_step: Callable[[], None] | None = None) -> None:
        """Move in straight steps of ``step`` metres (turning to face the goal, then to ``yaw``).

        ``on_step`` is called after each intermediate pose (e.g. to render a frame).
        """
        if step <= 0:
            raise ValueError(f"step must be > 0, got {step}")
        dx, dy = x - self.x, y - self.y
        dist = math.hypot(dx, dy)
        heading = math.atan2(dy, dx) if dist > 1e-6 else self.yaw
        goal_yaw = heading if yaw is None else float(yaw)
        x0, y0, yaw0 = self.x, self.y, self.yaw
        n = max(1, math.ceil(dist / step))
        for i in range(1, n + 1):
            t = i / n
            turn = _wrap(heading - yaw0)
            self.set_pose(x0 + t * dx, y0 + t * dy, yaw0 + min(1.0, 2 * t) * turn)
            self.stepper(1)
            if on_step:
                on_step()
        final_turn = _wrap(goal_yaw - self.yaw)
        for i in range(1, max(1, math.ceil(abs(final_turn) / 0.15)) + 1):
            self.set_pose(x, y, heading + final_turn * min(1.0, i * 0.15 / max(abs(final_turn), 1e-9)))
            self.stepper(1)
            if on_step:
                on_step()
        self.set_pose(x, y, goal_yaw)

    def camera_pose(self) -> CameraPose:
        pos, orn = p.getBasePositionAndOrientation(self.body, physicsClientId=self.client)
        rot = _rot(orn)
        eye = np.asarray(pos) + rot @ np.asarray(self._cam_offset)
        fwd = rot @ np.array([math.cos(self.camera_pitch), 0.0, math.sin(self.camera_pitch)])
        return _tup(eye), _tup(eye + fwd), _tup(rot @ np.array([0.0, 0.0, 1.0]))


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


class ArmRobot(Robot):
    """Panda or KUKA iiwa on the floor at the origin; objects live in the workspace in front (+x).

    ``camera="fixed"`` looks at the workspace from the front (arm and objects in view);
    ``camera="wrist"`` looks along the gripper's approach axis.
    """

    workspace = ((0.35, 0.75), (-0.3, 0.3))  # x and y ranges on the floor reachable by both arms

    def __init__(self, client: int, kind: str = "panda", stepper: Callable[[int], None] | None = None,
                 camera: str = "fixed") -> None:
        super().__init__(client, stepper)
        if kind not in _ARMS:
            raise ValueError(f"unknown arm {kind!r}; valid: {', '.join(_ARMS)}")
        if camera not in ("fixed", "wrist"):
            raise ValueError(f"camera must be 'fixed' or 'wrist', got {camera!r}")
        self.kind, self.camera = kind, camera
        urdf, self.ee_link, n_arm, self.rest, down, self._wrist_offset = _ARMS[kind]
        self.down = p.getQuaternionFromEuler(down)
        self.body = p.loadURDF(f"{pybullet_data.getDataPath()}/{urdf}", [0, 0, 0], useFixedBase=True,
                               physicsClientId=client)
        self.arm_joints = list(range(n_arm))
        info = [p.getJointInfo(self.body, j, physicsClientId=client) for j in self.arm_joints]
        self._lower = [i[8] for i in info]
        self._upper = [i[9] for i in info]
        self._ranges = [u - lo for lo, u in zip(self._lower, self._upper)]
        self._grasp: int | None = None
        self.held: int | None = None
        self.home()

    def home(self) -> None:
        self.release()
        for j, q in zip(self.arm_joints, self.rest):
            p.resetJointState(self.body, j, q, physicsClientId=self.client)
        self._command(list(self.rest))
        self._fingers(open_=True, reset=True)

    def _command(self, q: Sequence[float]) -> None:
        p.setJointMotorControlArray(self.body, self.arm_joints, p.POSITION_CONTROL, targetPositions=list(q),
                                    forces=[300.0] * len(self.arm_joints), physicsClientId=self.client)

    def _fingers(self, open_: bool, reset: bool = False) -> None:
        if self.kind != "panda":
            return
        q = 0.04 if open_ else 0.0
        for j in _PANDA_FINGERS:
            if reset:
                p.resetJointState(self.body, j, q, physicsClientId=self.client)
            p.setJointMotorControl2(self.body, j, p.POSITION_CONTROL, targetPosition=q, force=20.0,
                                    physicsClientId=self.client)

    def ee_pose(self) -> tuple[Vec3, tuple[float, float, float, float]]:
        st = p.getLinkState(self.body, self.ee_link, computeForwardKinematics=True, physicsClientId=self.client)
        return tuple(st[4]), tuple(st[5])

    def joint_positions(self) -> list[float]:
        return [p.getJointState(self.body, j, physicsClientId=self.client)[0] for j in self.arm_joints]

    def _ik(self, pos: Sequence[float], orn: Sequence[float]) -> list[float]:
        n_dof = sum(1 for j in range(p.getNumJoints(self.body, physicsClientId=self.client))
                    if p.getJointInfo(self.body, j, physicsClientId=self.client)[2] != p.JOINT_FIXED)
        extra = n_dof - len(self.arm_joints)  # finger joints are part of the IK solution vector
        q = p.calculateInverseKinematics(
            self.body, self.ee_link, list(pos), list(orn),
            lowerLimits=self._lower + [0.0] * extra, upperLimits=self._upper + [0.04] * extra,
            jointRanges=self._ranges + [0.04] * extra, restPoses=list(self.rest) + [0.02] * extra,
            maxNumIterations=100, residualThreshold=1e-4, physicsClientId=self.client)
        return list(q[: len(self.arm_joints)])

    def move_to(self, pos: Sequence[float], orn: Sequence[float] | None = None, steps: int = 240) -> float:
        """Drive the end effector to ``pos`` (gripper pointing down unless ``orn``); returns the final error (m)."""
        if len(pos) != 3 or not np.all(np.isfinite(pos)):
            raise ValueError(f"pos must be 3 finite numbers, got {pos!r}")
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        orn = self.down if orn is None else orn
        # Re-solve IK from the current configuration every few steps: one shot from a far pose is imprecise.
        for i in range(steps):
            if i % 20 == 0:
                self._command(self._ik(pos, orn))
            self.stepper(1)
        return float(np.linalg.norm(np.asarray(self.ee_pose()[0]) - np.asarray(pos)))

    def grasp(self, body_id: int, max_dist: float = 0.06) -> bool:
        """Attach ``body_id`` to the gripper if it is within ``max_dist`` of it; returns whether it grasped."""
        self.release()
        near = p.getClosestPoints(self.body, body_id, max_dist, linkIndexA=self.ee_link, physicsClientId=self.client)
        if not near and self.kind == "panda":
            near = [c for f in _PANDA_FINGERS for c in p.getClosestPoints(
                self.body, body_id, max_dist, linkIndexA=f, physicsClientId=self.client)]
        if not near:
            return False
        self._fingers(open_=False)
        ee_pos, ee_orn = self.ee_pose()
        obj_pos, obj_orn = p.getBasePositionAndOrientation(body_id, physicsClientId=self.client)
        inv_pos, inv_orn = p.invertTransform(ee_pos, ee_orn)
        rel_pos, rel_orn = p.multiplyTransforms(inv_pos, inv_orn, obj_pos, obj_orn)
        self._grasp = p.createConstraint(self.body, self.ee_link, body_id, -1, p.JOINT_FIXED, [0, 0, 0],
                                         rel_pos, [0, 0, 0], parentFrameOrientation=rel_orn,
                                         physicsClientId=self.client)
        p.changeConstraint(self._grasp, maxForce=200.0, physicsClientId=self.client)
        self.held = body_id
        return True

    def release(self) -> None:
        if self._grasp is not None:
            p.removeConstraint(self._grasp, physicsClientId=self.client)
        self._grasp, self.held = None, None
        self._fingers(open_=True)

    def camera_pose(self) -> CameraPose:
        if self.camera == "wrist":
            pos, orn = self.ee_pose()
            rot = _rot(orn)
            eye = np.asarray(pos) + rot @ np.asarray(self._wrist_offset)  # looking along the approach axis (z)
            return _tup(eye), _tup(eye + rot[:, 2]), _tup(rot[:, 0])
        return (1.4, 0.0, 0.8), (0.5, 0.0, 0.08), (0.0, 0.0, 1.0)


def make_robot(client: int, kind: str, stepper: Callable[[int], None] | None = None, **kw: object) -> Robot:
    check_robot(kind)
    if kind in _QUADRUPEDS:
        return Quadruped(client, kind, stepper, **kw)  # type: ignore[arg-type]
    if kind in _ARMS:
        return ArmRobot(client, kind, stepper, **kw)  # type: ignore[arg-type]
    return NoRobot(client, stepper, **kw)  # type: ignore[arg-type]
