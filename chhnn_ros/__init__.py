"""chhnn_ros: online continual object learning (CH-HNN) for ROS 2 robots."""

__version__ = "0.1.0"
