"""detector: ``image_raw`` → ``detections`` (JSON) [+ ``crops`` (Image mosaic)].

``detections`` carries the kept boxes (min_size, clipped with crop_pad) and the
crop geometry (``crop_size``, ``crop_pad``), so the encoder can cut the same
crops from ``image_raw`` itself (its default).  The ``crops`` mosaic is
rendered only while someone subscribes (an encoder with ``crop_source:
crops``, e.g. on another machine): one rgb8 Image per frame, the N square
crops (``crop_size`` px) stacked vertically (height N*crop_size), with the
same header as the ``detections`` JSON whose i-th box is the i-th crop.
Images are taken best-effort, depth 1, into a one-slot worker so stale
frames are dropped, never queued.  With ``detector: groundtruth`` the sim's
boxes come from ``truth`` (matched by stamp).  ``~/debug_image`` (boxes
drawn) is rendered only when someone subscribes.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict

import cv2
import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import String

from chhnn_ros.nodes import diagnostics, messages, qos
from chhnn_ros.nodes.conversions import array_to_image, image_to_rgb8, stamp_to_sec
from chhnn_ros.nodes.runtime import main_for
from chhnn_ros.nodes.worker import LatestWorker
from chhnn_ros.params import declare
from chhnn_ros.perception.crops import crop_detections, kept_detections
from chhnn_ros.perception.detectors import make_detector
from chhnn_ros.perception.types import Frame

TRUTH_WAIT_S = 1.0  # truth and image travel separately: wait this long for the matching truth


def detector_kwargs(p: dict) -> dict:
    """Detector parameters → keyword arguments of ``make_detector``."""
    if p["detector"] == "groundtruth":
        return {}
    kw = {"conf": p["threshold"], "max_det": p["max_det"]}
    if p["detector"] == "yolo":
        kw.update(device=p["device"], track=p["track"], **({"model": p["model"]} if p["model"] else {}))
    return kw


class DetectorNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("detector", **kwargs)
        p = self.p = declare(self, "detector")
        self.detector = make_detector(p["detector"], **detector_kwargs(p))
        self.stats = diagnostics.Stats()
        self._on_error = diagnostics.skip_handler(self, self.stats, "frame")
        self.pub_dets = self.create_publisher(String, "detections", qos.latest_qos())
        # reliable: a 5-crop mosaic (750 KB) would be dropped best-effort by default Fast DDS
        self.pub_crops = self.create_publisher(Image, "crops", qos.latest_qos())
        self.pub_debug = self.create_publisher(Image, "~/debug_image", qos.image_qos("best_effort"))
        self.pub_diag = self.create_publisher(diagnostics.DiagnosticArray, "/diagnostics", 10)
        self.truth: OrderedDict[float, list] = OrderedDict()
        self.truth_cv = threading.Condition()
        if p["detector"] == "groundtruth":
            self.create_subscription(String, "truth", self._on_truth, qos.result_qos())
        self.worker = LatestWorker(self._process, self._on_error, "detector")
        self.create_subscription(Image, "image_raw", self.worker.put, qos.image_qos(p["image_reliability"]),
                                 event_callbacks=qos.sub_events(self, "image_raw", "image_reliability"))
        self.create_timer(1.0, lambda: diagnostics.publish(
            self, self.pub_diag, self.stats, {"detector": p["detector"], "dropped_frames": self.worker.dropped}))

    def _on_truth(self, msg: String) -> None:
        try:
            payload = messages.decode(msg.data, "truth")
        except ValueError as exc:
            self._on_error(exc)
            return
        t = payload["stamp"]["sec"] + payload["stamp"]["nanosec"] * 1e-9
        with self.truth_cv:
            self.truth[t] = payload["detections"]
            while len(self.truth) > 50:
                self.truth.popitem(last=False)
            self.truth_cv.notify_all()

    def _truth_for(self, t: float) -> list | None:
        tol = self.p["truth_tolerance"]

        def find():
            best = min(self.truth, key=lambda k: abs(k - t), default=None)
            return self.truth[best] if best is not None and abs(best - t) <= tol else None

        with self.truth_cv:
            self.truth_cv.wait_for(lambda: find() is not None, timeout=TRUTH_WAIT_S)
            return find()

    def _process(self, msg: Image) -> None:
        self.stats.input()
        rgb = image_to_rgb8(msg, copy=False)  # read only: crops, boxes and drawings are new arrays
        t = stamp_to_sec(msg.header.stamp)
        frame = Frame(rgb, t, msg.header.frame_id)
        if self.p["detector"] == "groundtruth":
            truth = self._truth_for(t)
            if truth is None:
                raise ValueError(f"no ground truth within {self.p['truth_tolerance']} s of frame {t:.3f}: is the "
                                 "camera a sim with publish_truth, and is 'truth' remapped like image_raw?")
            frame.truth = truth
        dets = self.detector.detect(frame)
        p, hdr = self.p, msg.header
        # The crop mosaic only if someone takes it (an encoder with crop_source: crops): by default
        # the encoder cuts the same crops from image_raw itself, which saves a 0.9 MB hop per frame.
        if self.pub_crops.get_subscription_count() > 0:
            crops, kept = crop_detections(rgb, dets, size=p["crop_size"], pad=p["crop_pad"], min_size=p["min_size"])
            if kept:
                mosaic = np.ascontiguousarray(np.concatenate(list(crops), axis=0))
                self.pub_crops.publish(array_to_image(mosaic, "rgb8", hdr.stamp, hdr.frame_id))
        else:
            kept = kept_detections(rgb.shape, dets, pad=p["crop_pad"], min_size=p["min_size"])
        h, w = rgb.shape[:2]
        self.pub_dets.publish(String(data=messages.encode(
            "detections", hdr.stamp, hdr.frame_id, image_size=[w, h], crop_size=p["crop_size"],
            crop_pad=p["crop_pad"], detections=[messages.detection_to_dict(d) for d in kept])))
        self.stats.output(self.get_clock().now().nanoseconds * 1e-9 - t)
        if self.pub_debug.get_subscription_count() > 0:
            self.pub_debug.publish(array_to_image(draw(rgb, kept), "rgb8", hdr.stamp, hdr.frame_id))

    def destroy_node(self) -> None:
        self.worker.stop()
        super().destroy_node()


def draw(rgb: np.ndarray, dets: list, labels: list[str] | None = None) -> np.ndarray:
    out = rgb.copy()
    for i, d in enumerate(dets):
        p1, p2 = (int(d.x1), int(d.y1)), (int(d.x2), int(d.y2))
        cv2.rectangle(out, p1, p2, (0, 255, 0), 2)
        text = labels[i] if labels else f"{d.class_name} {d.score:.2f}"
        cv2.putText(out, text, (p1[0], max(12, p1[1] - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 0), 1)
    return out


def main(args: list[str] | None = None) -> int:
    return main_for([DetectorNode], args)


if __name__ == "__main__":
    sys.exit(main())
