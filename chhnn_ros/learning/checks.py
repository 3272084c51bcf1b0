"""Hyper-parameter checks shared by every learner: a bad value fails at construction with one line
naming the key and what it must be."""

from __future__ import annotations

import math
from collections.abc import Sequence


def check_positive(**values: float) -> None:
    for key, val in values.items():
        if not (isinstance(val, int | float) and math.isfinite(val) and val > 0):
            raise ValueError(f"{key} must be a positive finite number, got {val!r}")


def check_counts(**values: int) -> None:
    """Every value must be an ``int`` >= 1 (steps, batch sizes, budgets, time steps)."""
    for key, val in values.items():
        if not isinstance(val, int) or val < 1:
            raise ValueError(f"{key} must be an integer >= 1, got {val!r}")


def check_optimizer(kind: str) -> None:
    if kind not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {kind!r}")


def check_hidden(hidden: Sequence[int]) -> list[int]:
    try:
        out = [int(h) for h in hidden]
    except (TypeError, ValueError):
        raise ValueError(f"hidden must be a sequence of positive ints, got {hidden!r}") from None
    if not out or any(h <= 0 for h in out):
        raise ValueError(f"hidden must be a non-empty sequence of positive ints, got {hidden!r}")
    return out


def check_fraction(key: str, val: float, *, upper_open: bool = False) -> None:
    """``val`` in [0, 1] (or [0, 1) with ``upper_open``)."""
    ok = isinstance(val, int | float) and val >= 0.0 and (val < 1.0 if upper_open else val <= 1.0)
    if not ok:
        raise ValueError(f"{key} must be in [0, {'1)' if upper_open else '1]'}, got {val!r}")
