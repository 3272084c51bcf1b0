"""A small per-class exemplar memory (reservoir sampling, float16).

One teach is one class, and cross-entropy over a single class has zero
gradient (defect 4 of the published code), so each update replays a few
stored features of the other classes as negatives.  The memory is bounded per
class and its size in bytes is reported by the learner.
"""

from __future__ import annotations

import numpy as np
import torch


class ClassMemory:
    def __init__(self, dim: int, per_class: int, seed: int = 0) -> None:
        if per_class < 1:
            raise ValueError("memory per class must be >= 1")
        self.dim, self.per_class, self.seed = dim, per_class, seed
        self.items: list[np.ndarray] = []  # per class: (m, dim) float16
        self.seen: list[int] = []  # samples offered per class (for the reservoir)

    def add_class(self) -> None:
        self.items.append(np.zeros((0, self.dim), np.float16))
        self.seen.append(0)

    def remove_class(self, i: int) -> None:
        del self.items[i]
        del self.seen[i]

    def add(self, i: int, X: np.ndarray) -> None:
        """Reservoir sampling: every sample ever offered is kept with equal probability."""
        rng = np.random.default_rng([self.seed, i, self.seen[i]])
        buf = self.items[i]
        for x in X.astype(np.float16):
            self.seen[i] += 1
            if len(buf) < self.per_class:
                buf = np.vstack([buf, x[None]])
            else:
                j = int(rng.integers(self.seen[i]))
                if j < self.per_class:
                    buf[j] = x
        self.items[i] = buf

    def sample(self, classes: list[int], n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` stored features of each listed class (with replacement), float32, and their indices."""
        xs, ys = [], []
        for c in classes:
            buf = self.items[c]
            if len(buf):
                pick = rng.integers(len(buf), size=min(n, len(buf)))
                xs.append(buf[pick].astype(np.float32))
                ys.append(np.full(len(pick), c, np.int64))
        if not xs:
            return np.zeros((0, self.dim), np.float32), np.zeros(0, np.int64)
        return np.concatenate(xs), np.concatenate(ys)

    def all(self, classes: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Every stored feature of the listed classes (float32) and their class indices."""
        xs = [self.items[c].astype(np.float32) for c in classes]
        ys = [np.full(len(self.items[c]), c, np.int64) for c in classes]
        if not xs:
            return np.zeros((0, self.dim), np.float32), np.zeros(0, np.int64)
        return np.concatenate(xs), np.concatenate(ys)

    def nbytes_per_class(self) -> float:
        return self.per_class * self.dim * 2.0

    def state(self) -> dict:
        return {"items": [torch.from_numpy(a.copy()) for a in self.items], "seen": list(self.seen)}

    def load(self, state: dict) -> None:
        self.items = [torch.as_tensor(a).numpy().astype(np.float16).reshape(-1, self.dim) for a in state["items"]]
        self.seen = [int(s) for s in state["seen"]]
