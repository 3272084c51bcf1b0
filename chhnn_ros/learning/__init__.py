"""Continual learners: CH-HNN and baselines behind one interface (no ROS)."""

from chhnn_ros.learning.base import Learner
from chhnn_ros.learning.registry import available, learner_from_state, make_learner

__all__ = ["Learner", "available", "learner_from_state", "make_learner"]
