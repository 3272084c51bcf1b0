"""QoS mismatch: how fast does a node say so, naming the topic and the fix?

Two real cases on ``image_raw`` (yolo_ros users' most frequent complaint is
a silent mismatch): a camera driver publishing best-effort (sensor-data QoS)
to a detector that was set to subscribe reliable, and a viewer subscribing
transient-local to our (volatile) camera.  The time is measured from the
moment the incompatible endpoint is created to the WARNING line in the
node's log.  Needs rclpy initialised.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from chhnn_ros.bench.reliability_proc import NodeProc
from chhnn_ros.nodes import qos
from chhnn_ros.nodes.probe import Probe

NS = "rq"


def _measure(probe: Probe, node: NodeProc, make_endpoint, needles: tuple[str, ...], timeout: float) -> float | None:
    """Seconds from creating the endpoint until every needle is in the node's log (None: never)."""
    t0 = time.monotonic()
    make_endpoint()
    found = probe.wait_for(lambda: all(n in node.text()[node.log_offset:] for n in needles), timeout)
    return round(time.monotonic() - t0, 3) if found else None


def run_qos(workdir: Path, domain: int, camera: bool = True, timeout: float = 10.0) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    probe = Probe("reliability_qos")
    out: dict[str, Any] = {}
    det = NodeProc("detector_node", workdir / "detector.log",
                   ["-r", f"__ns:=/{NS}", "-p", "image_reliability:=reliable"], domain)
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
        det.stop()
    if camera:
        cam = NodeProc("camera_node", workdir / "camera.log", ["-r", f"__ns:=/{NS}c", "-p", "rate:=2.0"], domain)
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
            cam.stop()
    probe.destroy_node()
    return out
