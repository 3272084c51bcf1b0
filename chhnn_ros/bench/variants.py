"""Method lists of the benches: names, named variants and per-method parameters.

``--methods 'chhnn[memory_per_class=20],ncm'`` and
``--method-params 'chhnn: {memory_per_class: 20}'`` both end as one
canonical variant name per method (``chhnn[memory_per_class=20]``), which is
what the protocol builds (:func:`chhnn_ros.learning.registry.make_learner`
reads variant names) and what the JSON reports are keyed by, next to the
learner name and its parameters (:func:`describe`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from typing import Any

import yaml

from chhnn_ros.learning.registry import available, check_params, format_variant, parse_variant, split_top

_METHOD_KEY = re.compile(r"^\s*([^\s:{}\[\]]+(?:\[[^\]]*\])?)\s*:(.*)$", re.S)


def parse_method_params(texts: Sequence[str] | None) -> dict[str, dict[str, Any]]:
    """``--method-params`` values → {method: {key: value}}.

    Each text is ``METHOD: MAPPING`` (``chhnn: {memory_per_class: 20}``; the space after the
    colon may be left out) or a YAML/JSON mapping of methods to mappings
    (``{chhnn: {meta: 0}, ncm: {scale: 10}}``).  Several texts are merged.
    """
    out: dict[str, dict[str, Any]] = {}
    for text in texts or ():
        doc = None
        with contextlib.suppress(yaml.YAMLError):
            doc = yaml.safe_load(text)
        if not (isinstance(doc, dict) and doc and all(isinstance(v, dict) for v in doc.values())):
            m = _METHOD_KEY.match(text)
            if m is None:
                raise ValueError(f"bad --method-params {text!r}: use 'METHOD: {{key: value, ...}}'")
            try:
                params = yaml.safe_load(m.group(2)) if m.group(2).strip() else {}
            except yaml.YAMLError as exc:
                raise ValueError(f"bad --method-params {text!r}: {exc}") from None
            if not isinstance(params, dict):
                raise ValueError(f"bad --method-params {text!r}: the parameters of {m.group(1)} must be a "
                                 "mapping, e.g. '{memory_per_class: 20}'")
            doc = {m.group(1): params}
        for method, params in doc.items():
            if not all(isinstance(k, str) for k in params):
                raise ValueError(f"--method-params of {method}: keys must be names, got {list(params)}")
            clash = set(out.get(str(method), {})) & set(params)
            if clash:
                raise ValueError(f"--method-params sets {', '.join(sorted(clash))} of {method} twice")
            out.setdefault(str(method), {}).update(params)
    return out


def resolve_methods(spec: str, method_params: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """Comma-separated names/variants (or ``all``) + per-method params → canonical variant names.

    A ``method_params`` key names a method of the list (its learner name or its exact variant
    text); its keys join the variant's (a key set in both is an error).
    """
    method_params = dict(method_params or {})
    if spec.strip() == "all":
        items = available()
    else:
        items = [m.strip() for m in split_top(spec) if m.strip()]
    if not items:
        raise ValueError("--methods is empty")
    names = available()
    unknown = [m for m in items if m.split("[", 1)[0].strip() not in names]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; registered: {', '.join(names)}")
    out: list[str] = []
    used: set[str] = set()
    for item in items:
        base, params = parse_variant(item)
        for key in (item, base):
            if key in method_params:
                extra = method_params[key]
                clash = set(params) & set(extra)
                if clash:
                    raise ValueError(f"{item}: {', '.join(sorted(clash))} set in the variant and in --method-params")
                check_params(base, extra)
                params = {**params, **extra}
                used.add(key)
                break
        out.append(format_variant(base, params))
    unused = sorted(set(method_params) - used)
    if unused:
        raise ValueError(f"--method-params names {', '.join(unused)}, which is not in --methods ({spec})")
    dup = sorted({m for m in out if out.count(m) > 1})
    if dup:
        raise ValueError(f"method(s) listed twice: {', '.join(dup)}")
    return out


def describe(method: str) -> dict[str, Any]:
    """{"learner": registry name, "params": constructor parameters} of a variant name."""
    base, params = parse_variant(method)
    return {"learner": base, "params": params}
