"""encoder: ``detections`` + ``image_raw`` (or ``crops``), same stamp → ``features`` (chhnn_ros/FeatureArray).

With ``crop_source: image`` (default) the crops are cut from ``image_raw`` with
the boxes and crop geometry that ``detections`` carries, exactly as the
detector would; with ``crop_source: crops`` they come from the detector's
mosaic.  The two inputs are paired by their exact header stamp; a frame with
no detection needs no pixels.  Encoding runs in a one-slot worker so the
newest frame is encoded and stale ones are dropped.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from sensor_msgs.msg import Image

from chhnn_ros.app.factories import open_encoder
from chhnn_ros.app.stages import EncodeStage, crops_from_image, split_mosaic
from chhnn_ros.app.stamp_pairing import StampPairer
from chhnn_ros.app.worker import LatestWorker
from chhnn_ros.msg import DetectionArray, FeatureArray
from chhnn_ros.perception.types import Detection
from chhnn_ros.ros import messages, qos
from chhnn_ros.ros.conversions import image_to_rgb8, stamp_key, stamp_to_sec
from chhnn_ros.ros.node_base import ChhnnNode
from chhnn_ros.ros.runtime import main_for


class EncoderNode(ChhnnNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("encoder", **kwargs)
        p = self.p
        encoder, self.backend_kind = open_encoder(p, self.get_logger().warning)
        self.stage = EncodeStage(encoder)
        self.pairs: StampPairer[tuple[DetectionArray, list[Detection]], Image] = StampPairer()
        self.pub = self.create_publisher(FeatureArray, "features", qos.latest_qos())
        self.worker = LatestWorker(self._process, self.on_error, "encoder")
        self.on_close(self.worker.stop)
        self.create_subscription(DetectionArray, "detections", self._on_dets, qos.latest_qos(),
                                 event_callbacks=qos.sub_events(self, "detections"))
        if p["crop_source"] == "image":
            self.create_subscription(Image, "image_raw", self._on_pixels, qos.image_qos(p["image_reliability"]),
                                     event_callbacks=qos.sub_events(self, "image_raw", "image_reliability"))
        else:
            self.create_subscription(Image, "crops", self._on_pixels, qos.latest_qos(),
                                     event_callbacks=qos.sub_events(self, "crops"))
        self.get_logger().info(f"encoder {p['encoder']} ready (dim {self.stage.dim}, {self.backend_kind})")

    def diagnostic_values(self) -> dict[str, Any]:
        return {"encoder": self.p["encoder"], "dim": self.stage.dim, "dropped_frames": self.worker.dropped}

    def _on_dets(self, msg: DetectionArray) -> None:
        try:
            dets = messages.detections_from_msg(msg)
        except ValueError as exc:
            self.on_error(exc)
            return
        key = stamp_key(msg.header.stamp)
        if not dets:  # nothing to crop: no pixels needed
            self.pairs.discard_b(key)
            self.worker.put(((msg, dets), None))
        elif (pair := self.pairs.add_a(key, (msg, dets))) is not None:
            self.worker.put(pair)

    def _on_pixels(self, msg: Image) -> None:
        if (pair := self.pairs.add_b(stamp_key(msg.header.stamp), msg)) is not None:
            self.worker.put(pair)

    def _crops(self, msg: DetectionArray, dets: list[Detection], pixels: Image) -> list[np.ndarray]:
        rgb = image_to_rgb8(pixels, copy=False)  # a view, only read: the encoder batches the crops anew
        if self.p["crop_source"] == "crops":
            return split_mosaic(rgb, len(dets), msg.crop_size)
        return crops_from_image(rgb, dets, msg.crop_size, msg.crop_pad)

    def _process(self, item: tuple[tuple[DetectionArray, list[Detection]], Image | None]) -> None:
        (msg, dets), pixels = item
        self.stats.input()
        vectors = self.stage.encode(self._crops(msg, dets, pixels) if dets else [])
        self.pub.publish(messages.features_to_msg(msg.header, dets, vectors, self.p["encoder"],
                                                  messages.image_size(msg)))
        self.stats.output(self.get_clock().now().nanoseconds * 1e-9 - stamp_to_sec(msg.header.stamp))


def main(args: list[str] | None = None) -> int:
    return main_for([EncoderNode], args)


if __name__ == "__main__":
    sys.exit(main())
