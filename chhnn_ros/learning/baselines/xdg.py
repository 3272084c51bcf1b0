"""Context-dependent gating (XdG, Masse et al. 2018): task-incremental only.

Each task id owns a fixed random binary gate per hidden layer that keeps
``keep`` (20 %) of the units; the gates are drawn from ``(seed, task)`` so
they need no storage and are identical after a reload.  As in the task-IL
setting XdG was proposed for, the output is multi-headed: the softmax (in
training and prediction) runs over the classes taught under the given task
id, so other classes get probability 0.  Plain XdG (no EWC/SI on top).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from chhnn_ros.learning.baselines.mlp import MLPLearner
from chhnn_ros.learning.registry import register


def check_task(task: Any) -> int:
    if isinstance(task, np.integer):
        task = int(task)
    if isinstance(task, bool) or not isinstance(task, int) or task < 0:
        raise ValueError(f"task id must be a non-negative int, got {task!r}")
    return task


@register
class XdG(MLPLearner):
    name = "xdg"
    needs_task = True

    def __init__(self, dim: int, seed: int = 0, keep: float = 0.2, **kw: Any) -> None:
        super().__init__(dim, seed, **kw)
        if not (isinstance(keep, int | float) and 0 < keep <= 1):
            raise ValueError(f"keep must be in (0, 1], got {keep!r}")
        self.config["keep"] = float(keep)
        self.class_tasks: list[list[int]] = []  # per class index: task ids it was taught under
        self._gate_cache: dict[int, list[torch.Tensor]] = {}

    # Task ids are validated before the base class touches any state.
    def partial_fit(self, X: Any, y: Any, task: int | None = None) -> XdG:
        if task is not None:
            task = check_task(task)
        return super().partial_fit(X, y, task)  # type: ignore[return-value]

    def predict_proba(self, X: Any, task: int | None = None) -> np.ndarray:
        if task is not None:
            task = check_task(task)
        return super().predict_proba(X, task)

    def gates(self, task: int) -> list[torch.Tensor]:
        if task not in self._gate_cache:
            rng = np.random.default_rng([self.seed, task])
            out = []
            for h in self.config["hidden"]:
                g = torch.zeros(h)
                g[rng.choice(h, size=max(1, round(self.config["keep"] * h)), replace=False)] = 1.0
                out.append(g)
            self._gate_cache[task] = out
        return self._gate_cache[task]

    def _gates(self, task: int | None, n: int) -> list[torch.Tensor] | None:
        return None if task is None else self.gates(task)

    def _task_mask(self, task: int | None) -> torch.Tensor | None:
        """Boolean column mask of the classes of ``task`` (None: the task has no class yet → all columns)."""
        cols = [i for i, ts in enumerate(self.class_tasks) if task in ts]
        if not cols:
            return None
        mask = torch.zeros(len(self.class_tasks), dtype=torch.bool)
        mask[cols] = True
        return mask

    def _fit(self, X: np.ndarray, idx: np.ndarray, task: int | None) -> None:
        self.class_tasks += [[] for _ in range(len(self.classes_) - len(self.class_tasks))]
        for c in np.unique(idx):
            if task not in self.class_tasks[c]:
                self.class_tasks[c].append(task)
        super()._fit(X, idx, task)

    def _loss(self, logits: torch.Tensor, y: torch.Tensor, x: torch.Tensor, task: int | None) -> torch.Tensor:
        mask = self._task_mask(task)
        if mask is not None:
            logits = logits.masked_fill(~mask, float("-inf"))
        return F.cross_entropy(logits, y)

    def _proba(self, X: np.ndarray, task: int | None) -> np.ndarray:
        logits = self._logits(X, task).double()
        mask = self._task_mask(task)
        if mask is not None:
            logits = logits.masked_fill(~mask, float("-inf"))
        return F.softmax(logits, dim=1).numpy()

    def _forget_extra(self, index: int) -> None:
        del self.class_tasks[index]

    def _extra_state(self) -> dict[str, Any]:
        return {"class_tasks": [list(ts) for ts in self.class_tasks]}

    def _parse_extra(self, state: dict[str, Any], n_classes: int) -> dict[str, Any]:
        class_tasks = [[check_task(t) for t in ts] for ts in state["class_tasks"]]
        if len(class_tasks) != n_classes:
            raise ValueError(f"xdg state has task lists for {len(class_tasks)} classes, expected {n_classes}")
        return {"class_tasks": class_tasks}
