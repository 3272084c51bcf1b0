"""encoder: ``detections`` + ``image_raw`` (or ``crops``), same stamp → ``features``.

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
from std_msgs.msg import String

from chhnn_ros.app import payloads
from chhnn_ros.app.factories import open_encoder
from chhnn_ros.app.stages import EncodeStage, crops_from_image, split_mosaic
from chhnn_ros.app.stamp_pairing import StampPairer
from chhnn_ros.app.worker import LatestWorker
from chhnn_ros.params import defaults
from chhnn_ros.ros import qos
from chhnn_ros.ros.conversions import image_to_rgb8, stamp_from_dict, stamp_key
from chhnn_ros.ros.node_base import ChhnnNode
from chhnn_ros.ros.runtime import main_for

DETECTOR = defaults("detector")  # crop geometry of a detections payload that does not carry it


class EncoderNode(ChhnnNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("encoder", **kwargs)
        p = self.p
        encoder, self.backend_kind = open_encoder(p, self.get_logger().warning)
        self.stage = EncodeStage(encoder)
        self.pairs: StampPairer[dict, Image] = StampPairer()
        self.pub = self.create_publisher(String, "features", qos.latest_qos())
        self.worker = LatestWorker(self._process, self.on_error, "encoder")
        self.on_close(self.worker.stop)
        self.create_subscription(String, "detections", self._on_dets, qos.latest_qos(),
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

    def _on_dets(self, msg: String) -> None:
        try:
            payload = payloads.decode(msg.data, "detections")
        except ValueError as exc:
            self.on_error(exc)
            return
        key = payloads.stamp_key(payload)
        if not payload["detections"]:  # nothing to crop: no pixels needed
            self.pairs.discard_b(key)
            self.worker.put((payload, None))
        elif (pair := self.pairs.add_a(key, payload)) is not None:
            self.worker.put(pair)

    def _on_pixels(self, msg: Image) -> None:
        if (pair := self.pairs.add_b(stamp_key(msg.header.stamp), msg)) is not None:
            self.worker.put(pair)

    def _crops(self, payload: dict, pixels: Image) -> list[np.ndarray]:
        dets, size = payload["detections"], int(payload.get("crop_size", DETECTOR["crop_size"]))
        rgb = image_to_rgb8(pixels, copy=False)  # a view, only read: the encoder batches the crops anew
        if self.p["crop_source"] == "crops":
            return split_mosaic(rgb, len(dets), size)
        return crops_from_image(rgb, dets, size, float(payload.get("crop_pad", DETECTOR["crop_pad"])))

    def _process(self, item: tuple[dict, Image | None]) -> None:
        payload, pixels = item
        self.stats.input()
        dets = payload["detections"]
        vectors = self.stage.encode(self._crops(payload, pixels) if dets else [])
        out = payloads.encode(
            "features", stamp_from_dict(payload['stamp']), payload["frame_id"], image_size=payload.get("image_size"),
            encoder=self.p["encoder"], dim=self.stage.dim, detections=[payloads.detection_to_dict(d) for d in dets],
            vectors_b64=payloads.vectors_to_b64(vectors))
        self.pub.publish(String(data=out))
        self.stats.output(self.get_clock().now().nanoseconds * 1e-9 - payloads.stamp_sec(payload))


def main(args: list[str] | None = None) -> int:
    return main_for([EncoderNode], args)


if __name__ == "__main__":
    sys.exit(main())
