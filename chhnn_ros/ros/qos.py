"""QoS profiles of the package's topics and a loud warning on QoS mismatch.

Images: best-effort, depth 1 by default (the sensor-data convention): a
best-effort subscription matches both reliable and best-effort publishers,
and a slow node gets the newest frame instead of a backlog.  Between
stages (detections, crops, features): reliable, depth 1.  Results
(objects, teach_status): reliable, depth 10.  ``classes``: transient-local
so a late subscriber gets the current list at once.
"""

from __future__ import annotations

from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

_RELIABILITY = {"best_effort": ReliabilityPolicy.BEST_EFFORT, "reliable": ReliabilityPolicy.RELIABLE}


def image_qos(reliability: str = "best_effort") -> QoSProfile:
    if reliability not in _RELIABILITY:
        raise ValueError(f"reliability must be one of {', '.join(_RELIABILITY)}, got {reliability!r}")
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=_RELIABILITY[reliability],
                      durability=DurabilityPolicy.VOLATILE)


def latest_qos() -> QoSProfile:
    """Reliable, depth 1: between pipeline stages only the newest frame matters; a deeper
    queue would make a slow stage work through a backlog of old frames (seconds of latency)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE)


def result_qos() -> QoSProfile:
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)


def command_qos() -> QoSProfile:
    """Commands (teach) and their replies (teach_status): reliable and deep, so every command of a
    burst from a script gets its reply instead of being silently cut to the last 10."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE)


def latched_qos() -> QoSProfile:
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


def _fix_hint(policy: str, param: str | None = None) -> str:
    if "RELIABILITY" in policy:
        fix = f"set {param}: best_effort on this node" if param else "make the publisher reliable"
        return f"a reliable subscription cannot receive from a best-effort publisher: {fix}"
    if "DURABILITY" in policy:
        return "a transient-local subscription needs a transient-local publisher: subscribe volatile"
    return "make the publisher's and subscriber's QoS compatible"


def _resolved(node, topic: str) -> str:
    try:
        return node.resolve_topic_name(topic)
    except Exception:  # older rclpy, or a name rcl refuses: the relative name still helps
        return topic


def sub_events(node, topic: str, param: str | None = None) -> SubscriptionEventCallbacks:
    """Subscription callbacks that log a WARNING on incompatible QoS, naming the topic and the fix
    (``param``: the node parameter that sets this subscription's reliability, if any)."""

    def on_incompatible(event) -> None:
        from rclpy.event_handler import qos_policy_name_from_kind

        policy = qos_policy_name_from_kind(event.last_policy_kind)
        node.get_logger().warning(f"incompatible QoS on subscription {topic!r} ({_resolved(node, topic)}, {policy}): "
                                  f"nothing will be received; {_fix_hint(policy, param)}")

    return SubscriptionEventCallbacks(incompatible_qos=on_incompatible)


def pub_events(node, topic: str) -> PublisherEventCallbacks:
    def on_incompatible(event) -> None:
        from rclpy.event_handler import qos_policy_name_from_kind

        policy = qos_policy_name_from_kind(event.last_policy_kind)
        if "RELIABILITY" in policy:
            fix = "make that subscription best-effort, or set this node's image_reliability: reliable"
        elif "DURABILITY" in policy:
            fix = "make that subscription volatile (this topic keeps no history for late joiners)"
        else:
            fix = "make that subscription's QoS compatible (best-effort, volatile, default deadline/liveliness)"
        node.get_logger().warning(f"a subscriber of {topic!r} ({_resolved(node, topic)}) requested incompatible "
                                  f"QoS ({policy}) and receives nothing: {fix}")

    return PublisherEventCallbacks(incompatible_qos=on_incompatible)
