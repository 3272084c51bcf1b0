"""QoS mismatch: how fast does a node say so, naming the topic and the fix?

Two real cases on ``image_raw`` (yolo_ros users' most frequent complaint is
a silent mismatch): a camera driver publishing best-effort (sensor-data QoS)
to a detector that was set to subscribe reliable, and a viewer subscribing
transient-local to our (volatile) camera.  The time is measured from the
moment the incompatible endpoint is created to the WARNING line in the
node's log.  The nodes are started by the graph runner (:class:`~chhnn_ros.graph.Graph`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from chhnn_ros.graph import Graph, NodeProcess
from chhnn_ros.ros import qos
from chhnn_ros.ros.probe import Probe

NS = "rq"


def _measure(probe: Probe, node: NodeProcess, make_endpoint, needles: tuple[str, ...], timeout: float) -> float | None:
    """Seconds from creating the endpoint until every needle is in the node's log (None: never)."""
    t0 = time.monotonic()
    make_endpoint()
    found = probe.wait_for(lambda: all(n in node.text() for n in needles), timeout)
    return round(time.monotonic() - t0, 3) if found else None


def run_qos(workdir: Path, domain: int, camera: bool = True, timeout: float = 10.0) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {}
    g = Graph(workdir / "detector", {"detector": {"image_reliability": "reliable"}}, namespace=NS,
              nodes=("detector",), domain=domain)
    probe, det = g.probe, g.procs["detector"]
    try:
        # the detector is up once its subscription is visible in the graph
        if not probe.wait_for(lambda: probe.count_subscribers(f"/{NS}/image_raw") > 0, 60.0):
            raise RuntimeError(f"detector did not start:\n{det.text()[-1500:]}")
        needles = (f"incompatible QoS on subscription 'image_raw' (/{NS}/image_raw, RELIABILITY",
                   "set image_reliability: best_effort")
        out["qos_warning_s"] = _measure(probe, det, lambda: probe.create_publisher(
            Image, f"/{NS}/image_raw", qos.image_qos("best_effort")), needles, timeout)
        out["qos_warning_line"] = next((ln for ln in det.text().splitlines() if needles[0] in ln), "")
        out["detector_alive"] = det.alive()
    finally:
        g.stop()
    if camera:
        g = Graph(workdir / "camera", {"camera": {"rate": 2.0}}, namespace=f"{NS}c", nodes=("camera",),
                  domain=domain)
        probe, cam = g.probe, g.procs["camera"]
        try:
            if not probe.wait_for(lambda: probe.count_publishers(f"/{NS}c/image_raw") > 0, 60.0):
                raise RuntimeError(f"camera did not start:\n{cam.text()[-1500:]}")
            latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                                 durability=DurabilityPolicy.TRANSIENT_LOCAL)
            needles = (f"a subscriber of 'image_raw' (/{NS}c/image_raw) requested incompatible QoS (DURABILITY",
                       "make that subscription volatile")
            out["qos_warning_publisher_s"] = _measure(probe, cam, lambda: probe.create_subscription(
                Image, f"/{NS}c/image_raw", lambda _m: None, latched), needles, timeout)
        finally:
            g.stop()
    return out
