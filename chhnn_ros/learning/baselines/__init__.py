"""Baseline continual learners, all behind :class:`chhnn_ros.learning.base.Learner`.

Importing this package registers every baseline (the registry imports it).
"""

from chhnn_ros.learning.baselines import finetune, joint, prototypes, regularisers, replay, snn_baselines, xdg

__all__ = ["finetune", "joint", "prototypes", "regularisers", "replay", "snn_baselines", "xdg"]
