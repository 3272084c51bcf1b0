"""Robots: the quadruped moves with its camera, the arm reaches and grasps."""

import numpy as np
import pybullet as p
import pytest

from chhnn_ros.sim.scene import SimScene


@pytest.mark.parametrize("kind", ["a1", "laikago"])
def test_quadruped_walks_and_camera_follows(kind):
    with SimScene(robot=kind, objects=["duck"], seed=0) as sc:
        q = sc.robot
        eye0, target0, _ = q.camera_pose()
        f0 = sc.render()
        frames = []
        q.walk_to(1.0, 0.5, yaw=np.pi / 2, on_step=lambda: frames.append(sc.render()))
        assert q.pose() == pytest.approx((1.0, 0.5, np.pi / 2))
        pos, _ = p.getBasePositionAndOrientation(q.body, physicsClientId=sc.client)
        assert pos[:2] == pytest.approx((1.0, 0.5))
        eye1, target1, _ = q.camera_pose()
        assert np.linalg.norm(np.subtract(eye1, eye0)) > 1.0
        look = np.subtract(target1, eye1)
        assert look[1] > 0.9 and abs(look[0]) < 0.1  # facing +y after yaw = pi/2
        assert eye1[2] == pytest.approx(eye0[2])  # head height kept: legs standing
        assert len(frames) >= 20 and frames[-1].stamp > f0.stamp
        assert not np.array_equal(frames[-1].image, f0.image)


@pytest.mark.parametrize("kind", ["panda", "kuka"])
def test_arm_reaches_and_grasps(kind):
    with SimScene(robot=kind, objects=["lego", "mug"], seed=4) as sc:
        arm = sc.robot
        target = np.array([0.5, 0.1, 0.3])
        assert arm.move_to(target) < 0.03
        assert np.linalg.norm(np.subtract(arm.ee_pose()[0], target)) < 0.03
        lego = sc.object_ids("lego")[0]
        pos = np.array(p.getBasePositionAndOrientation(lego, physicsClientId=sc.client)[0])
        assert not arm.grasp(lego)  # too far away
        arm.move_to(pos + [0, 0, 0.2])
        arm.move_to(pos + [0, 0, 0.05])
        assert arm.grasp(lego) and arm.held == lego
        arm.move_to(pos + [0, 0, 0.3])
        lifted = p.getBasePositionAndOrientation(lego, physicsClientId=sc.client)[0]
        assert lifted[2] > pos[2] + 0.15
        arm.release()
        sc.step(240)
        assert p.getBasePositionAndOrientation(lego, physicsClientId=sc.client)[0][2] < pos[2] + 0.05
        arm.camera = "wrist"
        assert sc.render().image.shape == (240, 320, 3)
        with pytest.raises(ValueError):
            arm.move_to([0.5, 0.0])
