"""Per-class sample buffers filled by reservoir sampling: the replay memories of the learners.

Every sample of a class offered so far has the same chance to be in that class's
buffer (Vitter's algorithm R, per class); a replay batch draws stored rows
uniformly over all classes' buffers.  Rows can be anything of a fixed shape
(raw features, bit-packed spike trains).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


class ClassReservoirs:
    def __init__(self, row_shape: Sequence[int], dtype: torch.dtype = torch.float32) -> None:
        self.row_shape, self.dtype = tuple(int(v) for v in row_shape), dtype
        self.buffers: list[torch.Tensor] = []  # per class (m, *row_shape)
        self.seen: list[int] = []  # rows offered per class

    def __len__(self) -> int:
        return len(self.buffers)

    def grow(self, n_classes: int) -> None:
        """Empty buffers for classes that arrived since the last call."""
        while len(self.buffers) < n_classes:
            self.buffers.append(torch.zeros((0, *self.row_shape), dtype=self.dtype))
            self.seen.append(0)

    def trim(self, quota: int) -> None:
        """Keep at most ``quota`` rows a class (a fixed budget shared by more classes)."""
        self.buffers = [b[:quota] for b in self.buffers]

    def offer(self, idx: Sequence[int], rows: torch.Tensor, quota: int, rng: np.random.Generator) -> None:
        """Offer ``rows[i]`` to the buffer of class ``idx[i]``, each buffer bounded by ``quota``."""
        for c, x in zip(idx, rows):
            self.seen[c] += 1
            buf = self.buffers[c]
            if len(buf) < quota:
                self.buffers[c] = torch.cat([buf, x[None].to(self.dtype)])
            else:
                j = int(rng.integers(self.seen[c]))
                if j < quota:
                    buf[j] = x

    def sample(self, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, np.ndarray] | None:
        """Up to ``n`` stored rows drawn without replacement over every buffer, and their classes; None if
        nothing is stored."""
        sizes = np.array([len(b) for b in self.buffers])
        total = int(sizes.sum())
        if total == 0:
            return None
        flat = rng.choice(total, size=min(total, n), replace=False)
        cls = np.searchsorted(np.cumsum(sizes), flat, side="right")
        row = flat - np.concatenate([[0], np.cumsum(sizes)[:-1]])[cls]
        return torch.stack([self.buffers[c][r] for c, r in zip(cls, row)]), cls.astype(np.int64)

    def remove(self, i: int) -> None:
        if i < len(self.buffers):
            del self.buffers[i]
            del self.seen[i]

    def nbytes(self) -> int:
        return sum(b.numel() * b.element_size() for b in self.buffers)

    def state(self) -> dict[str, Any]:
        return {"store": [b.clone() for b in self.buffers], "seen": list(self.seen)}

    def load(self, state: dict[str, Any], n_classes: int, what: str) -> ClassReservoirs:
        """A new memory of the same row shape from :meth:`state` (``ValueError`` naming ``what`` if it does not
        fit ``n_classes``)."""
        out = ClassReservoirs(self.row_shape, self.dtype)
        out.buffers = [torch.as_tensor(b, dtype=self.dtype).reshape(-1, *self.row_shape).clone()
                       for b in state["store"]]
        out.seen = [int(v) for v in state["seen"]]
        if len(out.buffers) != len(out.seen) or len(out.buffers) > n_classes:
            raise ValueError(f"{what} state holds {len(out.buffers)} buffers for {n_classes} classes")
        return out
