"""detector: ``image_raw`` → ``detections`` [+ ``crops`` (Image mosaic)].

``detections`` carries the kept boxes (min_size, clipped with crop_pad) and the
crop geometry (``crop_size``, ``crop_pad``), so the encoder cuts the same
crops from ``image_raw`` itself (its default).  The ``crops`` mosaic is
rendered only while someone subscribes (an encoder with ``crop_source:
crops``, e.g. on another machine): one rgb8 Image per frame, the N square
crops stacked vertically, with the same header as ``detections``.  Images
are taken best-effort, depth 1, into a one-slot worker so stale frames are
dropped, never queued.  With ``detector: groundtruth`` the sim's boxes come
from ``truth`` (matched by stamp).  ``~/debug_image`` (boxes drawn) is
rendered only when someone subscribes.
"""

from __future__ import annotations

import sys
from typing import Any

from sensor_msgs.msg import Image
from std_msgs.msg import String

from chhnn_ros.app import payloads
from chhnn_ros.app.factories import apply_detector_param, open_detector
from chhnn_ros.app.stages import CropGeometry, DetectStage
from chhnn_ros.app.truth_cache import TruthCache
from chhnn_ros.app.worker import LatestWorker
from chhnn_ros.perception.drawing import draw_boxes
from chhnn_ros.perception.types import Frame
from chhnn_ros.ros import qos
from chhnn_ros.ros.conversions import array_to_image, image_to_rgb8, stamp_to_sec
from chhnn_ros.ros.node_base import ChhnnNode
from chhnn_ros.ros.runtime import main_for

TRUTH_WAIT_S = 1.0  # truth and image travel separately: wait this long for the matching truth


class DetectorNode(ChhnnNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("detector", **kwargs)
        p = self.p
        self.stage = DetectStage(open_detector(p), CropGeometry.from_params(p))
        self.pub_dets = self.create_publisher(String, "detections", qos.latest_qos())
        # reliable: a 5-crop mosaic (750 KB) would be dropped best-effort by default Fast DDS
        self.pub_crops = self.create_publisher(Image, "crops", qos.latest_qos())
        self.pub_debug = self.create_publisher(Image, "~/debug_image", qos.image_qos("best_effort"))
        self.truth = TruthCache()
        if p["detector"] == "groundtruth":
            self.create_subscription(String, "truth", self._on_truth, qos.result_qos())
        self.worker = LatestWorker(self._process, self.on_error, "detector")
        self.on_close(self.worker.stop)
        self.create_subscription(Image, "image_raw", self.worker.put, qos.image_qos(p["image_reliability"]),
                                 event_callbacks=qos.sub_events(self, "image_raw", "image_reliability"))

    def apply_param(self, name: str, value: Any) -> None:
        apply_detector_param(self.stage.detector, name, value)
        if name == "min_size":
            self.stage.geometry = CropGeometry.from_params(self.p)

    def diagnostic_values(self) -> dict[str, Any]:
        return {"detector": self.p["detector"], "dropped_frames": self.worker.dropped}

    def _on_truth(self, msg: String) -> None:
        try:
            payload = payloads.decode(msg.data, "truth")
        except ValueError as exc:
            self.on_error(exc)
            return
        self.truth.add(payloads.stamp_sec(payload), payload["detections"])

    def _process(self, msg: Image) -> None:
        self.stats.input()
        rgb = image_to_rgb8(msg, copy=False)  # read only: crops, boxes and drawings are new arrays
        t = stamp_to_sec(msg.header.stamp)
        frame = Frame(rgb, t, msg.header.frame_id)
        if self.p["detector"] == "groundtruth":
            truth = self.truth.get(t, self.p["truth_tolerance"], TRUTH_WAIT_S)
            if truth is None:
                raise ValueError(f"no ground truth within {self.p['truth_tolerance']} s of frame {t:.3f}: is the "
                                 "camera a sim with publish_truth, and is 'truth' remapped like image_raw?")
            frame.truth = truth
        kept = self.stage.detect(frame)
        hdr, g = msg.header, self.stage.geometry
        # The crop mosaic only if someone takes it (an encoder with crop_source: crops): by default
        # the encoder cuts the same crops from image_raw itself, which saves a pixel hop per frame.
        if self.pub_crops.get_subscription_count() > 0 and (mosaic := self.stage.mosaic(rgb, kept)) is not None:
            self.pub_crops.publish(array_to_image(mosaic, "rgb8", hdr.stamp, hdr.frame_id))
        h, w = rgb.shape[:2]
        self.pub_dets.publish(String(data=payloads.encode(
            "detections", hdr.stamp, hdr.frame_id, image_size=[w, h], crop_size=g.size, crop_pad=g.pad,
            detections=[payloads.detection_to_dict(d) for d in kept])))
        self.stats.output(self.get_clock().now().nanoseconds * 1e-9 - t)
        if self.pub_debug.get_subscription_count() > 0:
            self.pub_debug.publish(array_to_image(draw_boxes(rgb, kept), "rgb8", hdr.stamp, hdr.frame_id))


def main(args: list[str] | None = None) -> int:
    return main_for([DetectorNode], args)


if __name__ == "__main__":
    sys.exit(main())
