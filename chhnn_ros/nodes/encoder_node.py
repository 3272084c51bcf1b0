"""encoder: ``detections`` + ``image_raw`` (or ``crops``), same stamp → ``features`` (JSON, vectors in base64).

With ``crop_source: image`` (default) the crops are cut from ``image_raw`` with
the boxes and crop geometry (``crop_size``, ``crop_pad``) that ``detections``
carries, exactly as the detector would; with ``crop_source: crops`` they come
from the detector's mosaic.  The two inputs are paired by their exact header
stamp; a frame with no detection needs no pixels.  Encoding runs in a
one-slot worker so the newest frame is encoded and stale ones are dropped.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict

import numpy as np
from builtin_interfaces.msg import Time
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import String

from chhnn_ros.nodes import diagnostics, messages, qos
from chhnn_ros.nodes.conversions import image_to_rgb8, stamp_key
from chhnn_ros.nodes.runtime import main_for
from chhnn_ros.nodes.worker import LatestWorker
from chhnn_ros.params import declare, defaults
from chhnn_ros.perception.crops import crop_detections
from chhnn_ros.perception.encoders import make_encoder

PENDING = 20  # unpaired messages kept per input
DETECTOR = defaults("detector")  # crop geometry of a detections payload that does not carry it


def split_mosaic(mosaic: np.ndarray, n: int, size: int) -> list[np.ndarray]:
    """The detector's vertical stack of n size×size crops → list of crops."""
    if mosaic.shape != (n * size, size, 3):
        raise ValueError(f"crops image is {mosaic.shape[1]}x{mosaic.shape[0]}, expected {size}x{n * size} "
                         f"for {n} crops of {size} px")
    return [mosaic[i * size:(i + 1) * size] for i in range(n)]


def crops_from_image(rgb: np.ndarray, dets: list, size: int, pad: float) -> list[np.ndarray]:
    """The crops of the detector's kept boxes, cut from the frame as the detector would cut them."""
    crops, kept = crop_detections(rgb, dets, size=size, pad=pad, min_size=0)  # already filtered upstream
    if len(kept) != len(dets):
        raise ValueError(f"{len(dets) - len(kept)} of {len(dets)} boxes lie outside the "
                         f"{rgb.shape[1]}x{rgb.shape[0]} image_raw frame: is image_raw the detector's image?")
    return crops


def encoder_kwargs(p: dict) -> dict:
    """Encoder parameters → keyword arguments of ``make_encoder`` (``model`` is a weights file)."""
    kw = {"device": p["device"]}
    if p["encoder"] == "efficientnet-onnx":
        kw["threads"] = p.get("onnx_threads", 0)
    if p["model"]:
        onnx = p["encoder"] == "efficientnet-onnx" and p["model"].endswith(".onnx")
        kw["checkpoint" if p["encoder"] == "clip" else "onnx_path" if onnx else "weights"] = p["model"]
    return kw


def encoder_kind(p: dict) -> str:
    """The make_encoder kind: ``efficientnet`` runs on ONNX Runtime when ``backend`` says so
    (auto: on CPU, if onnxruntime is installed); the published encoder name stays ``efficientnet``."""
    if p["encoder"] != "efficientnet" or p["backend"] == "torch":
        return p["encoder"]
    if p["backend"] == "onnx":
        return "efficientnet-onnx"
    import importlib.util

    from chhnn_ros.perception.weights import resolve_device

    cpu = resolve_device(p["device"]) == "cpu"
    return "efficientnet-onnx" if cpu and importlib.util.find_spec("onnxruntime") else "efficientnet"


def open_encoder(p: dict, log) -> tuple:
    """(encoder, kind actually used); auto falls back to eager PyTorch if the ONNX export fails."""
    kind = encoder_kind(p)
    try:
        return make_encoder(kind, **encoder_kwargs({**p, "encoder": kind})), kind
    except Exception as exc:  # the export can fail in many ways; eager PyTorch is always there
        if kind == p["encoder"] or p["backend"] != "auto":
            raise
        log.warning(f"ONNX Runtime backend unavailable ({exc}); using eager PyTorch")
        return make_encoder(p["encoder"], **encoder_kwargs(p)), p["encoder"]


class EncoderNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("encoder", **kwargs)
        p = self.p = declare(self, "encoder")
        self.encoder, self.backend_kind = open_encoder(p, self.get_logger())
        self.stats = diagnostics.Stats()
        self._on_error = diagnostics.skip_handler(self, self.stats, "frame")
        self.lock = threading.Lock()
        self.dets: OrderedDict[tuple, dict] = OrderedDict()
        self.pixels: OrderedDict[tuple, Image] = OrderedDict()  # image_raw or crops messages by stamp
        self.pub = self.create_publisher(String, "features", qos.latest_qos())
        self.pub_diag = self.create_publisher(diagnostics.DiagnosticArray, "/diagnostics", 10)
        self.worker = LatestWorker(self._process, self._on_error, "encoder")
        self.create_subscription(String, "detections", self._on_dets, qos.latest_qos(),
                                 event_callbacks=qos.sub_events(self, "detections"))
        if p["crop_source"] == "image":
            self.create_subscription(Image, "image_raw", self._on_pixels, qos.image_qos(p["image_reliability"]),
                                     event_callbacks=qos.sub_events(self, "image_raw", "image_reliability"))
        else:
            self.create_subscription(Image, "crops", self._on_pixels, qos.latest_qos(),
                                     event_callbacks=qos.sub_events(self, "crops"))
        self.create_timer(1.0, lambda: diagnostics.publish(
            self, self.pub_diag, self.stats,
            {"encoder": p["encoder"], "dim": self.encoder.dim, "dropped_frames": self.worker.dropped}))
        self.get_logger().info(f"encoder {p['encoder']} ready (dim {self.encoder.dim}, {self.backend_kind})")

    def _on_dets(self, msg: String) -> None:
        try:
            payload = messages.decode(msg.data, "detections")
        except ValueError as exc:
            self._on_error(exc)
            return
        key = (payload["stamp"]["sec"], payload["stamp"]["nanosec"])
        if not payload["detections"]:
            with self.lock:
                self.pixels.pop(key, None)
            self.worker.put((payload, None))
            return
        self._pair(key, payload, None)

    def _on_pixels(self, msg: Image) -> None:
        self._pair(stamp_key(msg.header.stamp), None, msg)

    def _pair(self, key: tuple, payload: dict | None, pixels: Image | None) -> None:
        with self.lock:
            if payload is not None:
                self.dets[key] = payload
            if pixels is not None:
                self.pixels[key] = pixels
            if key in self.dets and key in self.pixels:
                self.worker.put((self.dets.pop(key), self.pixels.pop(key)))
            for d in (self.dets, self.pixels):
                while len(d) > PENDING:
                    d.popitem(last=False)

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
        vectors = np.zeros((0, self.encoder.dim), np.float32)
        if dets:
            crops = self._crops(payload, pixels)
            vectors = np.asarray(self.encoder.encode(crops), dtype=np.float32)
            if not np.isfinite(vectors).all():
                raise ValueError("encoder produced NaN/inf features")
        st = payload["stamp"]
        out = messages.encode(
            "features", Time(sec=st["sec"], nanosec=st["nanosec"]), payload["frame_id"],
            image_size=payload.get("image_size"), encoder=self.p["encoder"], dim=int(self.encoder.dim),
            detections=[messages.detection_to_dict(d) for d in dets], vectors_b64=messages.vectors_to_b64(vectors))
        self.pub.publish(String(data=out))
        self.stats.output(self.get_clock().now().nanoseconds * 1e-9 - (st["sec"] + st["nanosec"] * 1e-9))

    def destroy_node(self) -> None:
        self.worker.stop()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return main_for([EncoderNode], args)


if __name__ == "__main__":
    sys.exit(main())
