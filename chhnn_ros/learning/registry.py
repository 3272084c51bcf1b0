"""Name → learner class registry, so the bench, the node and the tests build
learners the same way (``make_learner("ncm", dim=1280)``).

A method name may carry constructor parameters, a *named variant*:
``chhnn[memory_per_class=20,meta=0]``.  Values are YAML scalars or flow
collections (``hidden=[128,128]``).  :func:`parse_variant` is the one parser
of that syntax; :func:`make_learner` accepts variant names wherever a learner
name is accepted, and unknown learner names or constructor keys are rejected
with the list of valid ones.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from typing import Any

import yaml

from chhnn_ros.learning.base import Learner

_REGISTRY: dict[str, type[Learner]] = {}
# Modules that register learners on import; listed here so lookups by name
# work without the caller importing every module first.
_MODULES = ("chhnn_ros.learning.chhnn", "chhnn_ros.learning.baselines")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def register(cls: type[Learner]) -> type[Learner]:
    _REGISTRY[cls.name] = cls
    return cls


def _load_all() -> None:
    for mod in _MODULES:
        importlib.import_module(mod)  # an import error here is a real bug: let it show


def available() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def learner_class(name: str) -> type[Learner]:
    _load_all()
    if name not in _REGISTRY:
        raise ValueError(f"unknown learner {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def constructor_keys(name: str) -> list[str]:
    """Keyword parameters the learner ``name`` accepts besides ``dim`` and ``seed``.

    Follows ``**kw`` up the class hierarchy (an ablation subclass passes its
    keywords to its parent) and leaves out the keys a subclass fixes
    (``fixed_params``, e.g. ``meta`` of ``chhnn-nometa``).
    """
    cls = learner_class(name)
    keys: list[str] = []
    fixed = set(getattr(cls, "fixed_params", {}))
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        keys += [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return [k for k in dict.fromkeys(keys) if k not in ("self", "dim", "seed") and k not in fixed]


def check_params(name: str, params: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the valid keys if ``params`` has a key ``name`` does not take."""
    valid = constructor_keys(name)
    unknown = [k for k in params if k not in valid]
    if unknown:
        raise ValueError(f"learner {name!r} has no parameter {', '.join(map(repr, unknown))}; "
                         f"valid keys: {', '.join(valid) or 'none'}")


# ------------------------------------------------------------------ variants
def split_top(text: str, sep: str = ",") -> list[str]:
    """Split at ``sep`` outside brackets/braces and quotes."""
    parts, depth, quote, cur, escaped = [], 0, "", [], False
    for ch in text:
        if escaped:
            escaped = False
        elif quote == '"' and ch == "\\":
            escaped = True
        elif quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced brackets in {text!r}")
        elif ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    if depth or quote:
        raise ValueError(f"unbalanced brackets or quotes in {text!r}")
    parts.append("".join(cur))
    return parts


def _value_text(v: Any) -> str:
    """Compact YAML text that :func:`parse_variant` reads back to ``v``."""
    if isinstance(v, list | tuple):
        return "[" + ",".join(_value_text(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{_value_text(k)}: {_value_text(x)}" for k, x in v.items()) + "}"
    if isinstance(v, str):
        try:
            plain = yaml.safe_load(v) == v and split_top(v) == [v] and not set("=[]{}") & set(v)
        except (yaml.YAMLError, ValueError):
            plain = False
        return v if plain and v.strip() == v and v else json.dumps(v, ensure_ascii=False)
    text = yaml.safe_dump(v, default_flow_style=True, width=1 << 30)  # YAML's own float/bool/null spelling
    return text.removesuffix("\n").removesuffix("\n...").strip()


def format_variant(name: str, params: dict[str, Any]) -> str:
    """``name[k=v,...]`` (keys in the given order), or ``name`` when there are no params."""
    if not params:
        return name
    return name + "[" + ",".join(f"{k}={_value_text(v)}" for k, v in params.items()) + "]"


def parse_variant(spec: str) -> tuple[str, dict[str, Any]]:
    """``"chhnn[memory_per_class=20,meta=0]"`` → ``("chhnn", {"memory_per_class": 20, "meta": 0})``.

    Checks the learner name and every key (clear ``ValueError`` listing the valid ones).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"a method name must be a non-empty string, got {spec!r}")
    spec = spec.strip()
    m = re.fullmatch(r"([^\[\]]+?)\s*(?:\[(.*)\])?", spec, re.S)
    if m is None:
        raise ValueError(f"bad method {spec!r}: use NAME or NAME[key=value,...]")
    name, body = m.group(1).strip(), m.group(2)
    if not _NAME.match(name):
        raise ValueError(f"bad learner name {name!r} in {spec!r}")
    learner_class(name)
    params: dict[str, Any] = {}
    if body is not None and body.strip():
        for item in split_top(body):
            key, eq, text = item.partition("=")
            key = key.strip()
            if not eq or not _KEY.match(key):
                raise ValueError(f"bad parameter {item.strip()!r} in {spec!r}: use key=value")
            if key in params:
                raise ValueError(f"parameter {key!r} given twice in {spec!r}")
            try:
                params[key] = yaml.safe_load(text.strip()) if text.strip() else ""
            except yaml.YAMLError as exc:
                raise ValueError(f"bad value for {key!r} in {spec!r}: {exc}") from None
    check_params(name, params)
    return name, params


def parse_params(text: str) -> dict[str, Any]:
    """A YAML/JSON mapping of constructor parameters (``"{memory_per_class: 20}"``); empty text → {}."""
    if not text or not text.strip():
        return {}
    try:
        kw = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as exc:
        raise ValueError(f"parameters are not valid YAML/JSON: {exc}") from None
    if kw is None:
        return {}
    if not isinstance(kw, dict) or not all(isinstance(k, str) for k in kw):
        raise ValueError(f"parameters must be a mapping of names to values, got {text!r}")
    return kw


def make_learner(name: str, dim: int, seed: int = 0, **kwargs: Any) -> Learner:
    """Build learner ``name`` (a registry name or a variant ``name[k=v,...]``) with ``kwargs``."""
    base, params = parse_variant(name)
    clash = sorted(set(params) & set(kwargs))
    if clash:
        raise ValueError(f"parameter(s) {', '.join(clash)} set both in {name!r} and as keyword arguments")
    params.update(kwargs)
    check_params(base, params)
    return _REGISTRY[base](dim=dim, seed=seed, **params)


def learner_from_state(state: dict[str, Any]) -> Learner:
    """Rebuild a learner (class and config) from its ``state_dict()``."""
    if not isinstance(state, dict) or "learner" not in state or "config" not in state:
        raise ValueError("not a chhnn_ros learner state")
    cfg = dict(state["config"])
    for key in getattr(learner_class(str(state["learner"])), "fixed_params", {}):
        cfg.pop(key, None)  # recorded in the config, but set by the class itself
    learner = make_learner(state["learner"], **cfg)
    learner.load_state_dict(state)
    return learner
