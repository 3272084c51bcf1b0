"""Declare a node's parameters from :mod:`chhnn_ros.params` as ROS 2 users expect.

* descriptors carry the description, the range (``integer_range`` /
  ``floating_point_range``) and the choices (``additional_constraints``), so
  ``ros2 param describe`` and rqt show them and ``ros2 param set`` rejects a
  value out of range;
* parameters that are not ``live`` are ``read_only``: they need a restart;
* ``live`` parameters are validated by :meth:`Param.check` on ``ros2 param
  set`` and then handed to the node's ``apply`` callback, which puts them into
  effect;
* a parameter given for this node (params file, ``-p``) that no chhnn_ros node
  has fails the start, naming the closest valid name: ROS would ignore it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter

from chhnn_ros.params import BUILTIN_PARAMS, NODE_PARAMS, check_names, describe, params_for


def descriptor(p: Any) -> ParameterDescriptor:
    d = ParameterDescriptor(description=describe(p), read_only=not p.live,
                            additional_constraints=f"one of: {', '.join(p.choices)}" if p.choices else "")
    if p.bounds is not None:
        lo, hi = p.bounds
        if isinstance(p.default, int) and not isinstance(p.default, bool):
            d.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=0)]
        elif isinstance(p.default, float):
            d.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi), step=0.0)]
    return d


def _given(node: Node) -> set[str]:
    """Names of the parameters a params file or ``-p`` gave this node (rclpy keeps them as overrides
    and has no public accessor)."""
    return set(getattr(node, "_parameter_overrides", {}))


def declare(node: Node, kind: str, apply: Callable[[str, Any], None] | None = None) -> dict[str, Any]:
    """Declare ``kind``'s parameters on ``node``; return their checked values (a dict the node reads,
    kept up to date on live changes).  ``apply(name, value)`` puts a live change into effect."""
    params = {p.name: p for p in params_for(kind)}
    # A `-p name:=value` without a node name, or a '/**' section, reaches every node of the process: a
    # parameter of another of our nodes is fine here; a name none of them has is a typo.
    others = {q.name for k, ps in NODE_PARAMS.items() if k != kind for q in ps}
    check_names(kind, _given(node) - set(BUILTIN_PARAMS) - others, f"node {node.get_fully_qualified_name()}")
    values: dict[str, Any] = {}
    for p in params.values():
        # The value's type is the default's (an int given for a float is converted, not refused).
        given = node._parameter_overrides.get(p.name) if hasattr(node, "_parameter_overrides") else None
        if given is not None and isinstance(p.default, float) and given.type_ == Parameter.Type.INTEGER:
            node._parameter_overrides[p.name] = Parameter(p.name, value=float(given.value))
        node.declare_parameter(p.name, p.default, descriptor(p))
        values[p.name] = p.check(node.get_parameter(p.name).value)

    def validate(changes: list[Parameter]) -> SetParametersResult:
        for change in changes:
            p = params.get(change.name)
            if p is None:
                continue  # rclpy's own (use_sim_time)
            try:
                p.check(change.value)
            except ValueError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    def commit(changes: list[Parameter]) -> None:
        for change in changes:
            p = params.get(change.name)
            if p is None or not p.live:
                continue
            values[p.name] = p.check(change.value)
            if apply is not None:
                apply(p.name, values[p.name])
            node.get_logger().info(f"parameter {p.name} = {values[p.name]!r}")

    node.add_on_set_parameters_callback(validate)
    node.add_post_set_parameters_callback(commit)
    return values
