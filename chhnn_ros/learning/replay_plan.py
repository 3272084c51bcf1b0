"""The old classes' share of a CH-HNN teach, drawable ahead of the teach.

Each training step of a teach mixes the taught samples with pseudo-features of
the other classes from the class memory, and the prior computes masks for all
of them.  The old classes' rows come from a random stream of their own
(seeded by the learner's seed and update count, never by the taught data), so
the draws and masks of the next teach of one new class are known before it
happens: the learner computes them at rest, after consolidation
(:meth:`CHHNN.consolidate`), and the teach takes them instead of drawing them.
A teach that finds no matching plan draws the same rows itself: the plan only
moves work off the teach path and never changes what is learned.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

#: Third word of the old-class stream's seed: consolidation seeds with 1 + its count in that place,
#: which never reaches this.
OLD_STREAM = 2**32 - 1

Masks = list[torch.Tensor | None] | None


@dataclass(frozen=True)
class OldDraw:
    """One step's pseudo-features of old classes, their class indices and prior masks (None: no rows)."""

    x: np.ndarray
    y: np.ndarray
    masks: Masks


@dataclass(frozen=True)
class ReplayPlan:
    """The first draws of the next teach and the stream's generator after them (copied before use, so a
    plan shared between learner copies stays as drawn)."""

    key: tuple
    draws: tuple[OldDraw, ...]
    rng: np.random.Generator


def _stream_rng(seed_words: list[int]) -> np.random.Generator:
    return np.random.default_rng([*seed_words, OLD_STREAM])


def old_draws(sample: Callable[[list[int], int, np.random.Generator], tuple[np.ndarray, np.ndarray]],
              masks: Callable[[torch.Tensor], Masks], others: list[int], n_old: int, per_class: int,
              rng: np.random.Generator) -> Iterator[OldDraw]:
    """Endless per-step draws: ``n_old`` of the ``others`` classes at random, ``per_class`` rows each."""
    while True:
        old = [int(c) for c in rng.choice(others, size=n_old, replace=False)] if others else []
        x, y = sample(old, per_class, rng)
        yield OldDraw(x, y, masks(torch.from_numpy(x)) if len(x) else None)


def stream_from(plan: ReplayPlan | None, key: tuple, seed_words: list[int],
                draws: Callable[[np.random.Generator], Iterator[OldDraw]]) -> Iterator[OldDraw]:
    """The old-class stream of a teach with ``key``: the plan's draws and then its generator when the plan
    was made for it, else the stream drawn from its seed."""
    if plan is not None and plan.key == key:
        return itertools.chain(plan.draws, draws(copy.deepcopy(plan.rng)))
    return draws(_stream_rng(seed_words))


def make_plan(key: tuple, seed_words: list[int], draws: Callable[[np.random.Generator], Iterator[OldDraw]],
              steps: int) -> ReplayPlan:
    """Draw the first ``steps`` steps of the stream a teach with ``key`` would draw."""
    rng = _stream_rng(seed_words)
    return ReplayPlan(key, tuple(itertools.islice(draws(rng), steps)), rng)


def join_masks(current: Masks, old: Masks) -> Masks:
    """Masks of a batch of the current rows followed by the old rows (per layer; None = unmasked layer)."""
    if current is None or old is None:
        return current
    return [None if c is None else torch.cat([c, o]) for c, o in zip(current, old)]
