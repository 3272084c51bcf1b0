"""What the reliability runs ask of a running graph (:class:`chhnn_ros.graph.Graph`): which raw
messages were valid, teach the object in view, is every node alive and answering."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from chhnn_ros.app import payloads
from chhnn_ros.graph import Graph, teach_command


def valid(g: Graph, topic: str, since: float = 0.0) -> list[dict]:
    """The messages of a raw-recorded topic that decode as ``topic`` payloads."""
    out = []
    for msg in g.probe.messages_of(topic, since):
        with contextlib.suppress(ValueError):
            out.append(payloads.decode(msg.data, topic))
    return out


def teach_visible(g: Graph, label: str, timeout: float = 90.0) -> dict | None:
    """Teach the first ground-truth object of a recent frame as ``label``; its final teach_status."""
    truths = g.probe.wait_for(lambda: [m for m in valid(g, "truth", time.monotonic() - 2.0)
                                       if m["detections"] and m["frame_id"] != "fuzz"], 20.0)
    if not truths:
        return None
    return g.teach(teach_command(label, truths[-1]["detections"][0]), timeout)


def result_summary(g: Graph) -> dict[str, Any]:
    """Graph facts used by several runs: who is alive, who answers."""
    return {"alive": g.alive(), "answering": g.answering()}
