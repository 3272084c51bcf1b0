"""Fine-tuning: the MLP trained on each teach with no protection at all.

The lower bound of the comparison: in class-IL with one class per teach it
drifts towards whichever class it saw last (catastrophic forgetting).
"""

from __future__ import annotations

from chhnn_ros.learning.baselines.mlp import MLPLearner
from chhnn_ros.learning.registry import register


@register
class Finetune(MLPLearner):
    name = "finetune"
