"""Name → learner class registry, so the bench, the node and the tests build
learners the same way (``make_learner("ncm", dim=1280)``)."""

from __future__ import annotations

import importlib
from typing import Any

from chhnn_ros.learning.base import Learner

_REGISTRY: dict[str, type[Learner]] = {}
# Modules that register learners on import; listed here so lookups by name
# work without the caller importing every module first.
_MODULES = ("chhnn_ros.learning.chhnn", "chhnn_ros.learning.baselines")


def register(cls: type[Learner]) -> type[Learner]:
    _REGISTRY[cls.name] = cls
    return cls


def _load_all() -> None:
    for mod in _MODULES:
        importlib.import_module(mod)  # an import error here is a real bug: let it show


def available() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def make_learner(name: str, dim: int, seed: int = 0, **kwargs: Any) -> Learner:
    _load_all()
    if name not in _REGISTRY:
        raise ValueError(f"unknown learner {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](dim=dim, seed=seed, **kwargs)


def learner_from_state(state: dict[str, Any]) -> Learner:
    """Rebuild a learner (class and config) from its ``state_dict()``."""
    if not isinstance(state, dict) or "learner" not in state or "config" not in state:
        raise ValueError("not a chhnn_ros learner state")
    cfg = dict(state["config"])
    learner = make_learner(state["learner"], **cfg)
    learner.load_state_dict(state)
    return learner
