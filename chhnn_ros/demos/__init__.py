"""Task demos (``chhnn-demo arm|quadruped``): a robot in PyBullet acts on classes taught by name.

The perception is the real ROS 2 graph (camera → detector → encoder → classifier)
run in this process (:mod:`.graph`); teaching goes through the ``teach`` topic
and the robot reads ``objects``, as on a real robot.  :mod:`.geometry` and the
task primitives are pure (no rclpy) and tested on their own.
"""
