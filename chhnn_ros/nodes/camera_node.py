"""camera: publishes ``image_raw`` (rgb8) and ``camera_info`` from any frame
source (sim, device, video, folder), stamped with the frame's capture time.

With ``source: sim`` it also publishes the ground-truth boxes on ``truth``
(JSON, same stamp) for the groundtruth detector, and offers ``~/randomize``
(std_srvs/Trigger) to re-randomise the scene for fresh views.
"""

from __future__ import annotations

import sys
import threading
import time

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String
from std_srvs.srv import Trigger

from chhnn_ros.nodes import diagnostics, messages, qos
from chhnn_ros.nodes.conversions import array_to_image, sec_to_stamp
from chhnn_ros.nodes.runtime import main_for
from chhnn_ros.params import declare
from chhnn_ros.perception.source_wrappers import CachedSource, ProcessSource
from chhnn_ros.perception.sources import make_source

STAMP_SKEW_S = 3600.0


def open_source(p: dict):
    """The camera's frame source; the sim renders in a child process and/or is cached (parameters)."""
    kw = source_kwargs(p)
    if p["source"] != "sim":
        return make_source(p["source"], **kw)
    if p["sim_cache"] > 0:
        return CachedSource(make_source("sim", **kw), p["sim_cache"])
    return ProcessSource("sim", kw) if p["sim_process"] else make_source("sim", **kw)


def source_kwargs(p: dict) -> dict:
    """Camera parameters → keyword arguments of ``make_source``."""
    kind = p["source"]
    if kind == "sim":
        kw = {"width": p["width"], "height": p["height"], "seed": p["seed"], "rate": p["rate"],
              "frame_id": p["frame_id"], "n_objects": p["sim_n_objects"], "reset_every": p["sim_reset_every"]}
        if p["sim_robot"]:
            kw["robot"] = p["sim_robot"]
        if p["sim_objects"]:
            kw["objects"] = [s.strip() for s in p["sim_objects"].split(",") if s.strip()]
        return kw
    if kind == "device":
        return {"device": p["device_index"], "width": p["width"], "height": p["height"], "frame_id": p["frame_id"]}
    if not p["source_path"]:
        raise ValueError(f"source {kind!r} needs the source_path parameter")
    kw = {"path": p["source_path"], "loop": p["loop"], "frame_id": p["frame_id"]}
    return {**kw, "fps": p["rate"]} if kind == "folder" else kw


class CameraNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("camera", **kwargs)
        p = self.p = declare(self, "camera")
        if p["rate"] <= 0:
            raise ValueError(f"rate must be > 0 Hz, got {p['rate']}")
        self.source = open_source(p)
        self.source_lock = threading.Lock()
        self.stats = diagnostics.Stats()
        self.pub_image = self.create_publisher(Image, "image_raw", qos.image_qos(p["image_reliability"]),
                                               event_callbacks=qos.pub_events(self, "image_raw"))
        self.pub_info = self.create_publisher(CameraInfo, "camera_info", qos.image_qos(p["image_reliability"]))
        self.pub_truth = None
        if p["source"] == "sim" and p["publish_truth"]:
            self.pub_truth = self.create_publisher(String, "truth", qos.result_qos())
        self.scene = getattr(self.source, "scene", None)  # the SimScene behind a sim source
        if self.scene is not None:
            # Own callback group: a reset takes ~1 s and must not hold up the node's other callbacks
            # (multi-threaded executor); source_lock serialises it with the capture thread.
            self.create_service(Trigger, "~/randomize", self._on_randomize,
                                callback_group=MutuallyExclusiveCallbackGroup())
        self.pub_diag = self.create_publisher(diagnostics.DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, lambda: diagnostics.publish(self, self.pub_diag, self.stats, {"source": p["source"]}))
        self.ended = False
        self._halt = threading.Event()
        self.capture = threading.Thread(target=self._capture_loop, args=(1.0 / p["rate"],), name="capture",
                                        daemon=True)
        self.capture.start()
        self.get_logger().info(f"publishing {p['source']} frames at {p['rate']:g} Hz on {self.pub_image.topic_name}")

    def _on_randomize(self, _req, resp):
        try:
            with self.source_lock:
                self.scene.reset()  # new layout, yaw and lighting
            resp.success, resp.message = True, "scene re-randomised"
        except Exception as exc:  # report, never crash the camera
            resp.success, resp.message = False, f"randomize failed: {exc}"
        return resp

    def _capture_loop(self, period: float) -> None:
        """Read and publish at ``rate`` Hz in this thread, not in an executor callback: a camera
        read or a sim render blocks for tens of ms, which in a single-threaded executor (the
        events executor of the one-process bringup) would hold up every node's callbacks."""
        next_t = time.monotonic()
        while not self._halt.is_set():
            try:
                self._tick()
            except Exception as exc:  # e.g. publishing while the context shuts down
                if self._halt.is_set() or not self.context.ok():
                    return
                self.get_logger().error(f"frame not published: {exc}", throttle_duration_sec=5.0)
            next_t += period
            if next_t < time.monotonic():  # behind (slow source): skip missed ticks, as a timer does
                next_t = time.monotonic()
            self._halt.wait(next_t - time.monotonic())

    def stop_capture(self) -> None:
        self._halt.set()
        self.capture.join(timeout=10.0)

    def _tick(self) -> None:
        try:
            with self.source_lock:
                frame = self.source.read()
        except Exception as exc:
            why = diagnostics.describe(exc)  # e.g. EOFError: a source's child process ended
            self.stats.error(why)
            self.get_logger().error(f"frame source failed: {why}", throttle_duration_sec=5.0)
            return
        self.stats.input()
        if frame is None:
            if not self.ended:
                self.get_logger().warning("frame source ended (set loop: true to restart videos/folders)")
                self.ended = True
            return
        # The frame's own capture time when it is on the node's clock (camera, sim); a video's
        # position in seconds is not, so such frames are stamped on arrival.
        now = self.get_clock().now()
        absolute = abs(frame.stamp - now.nanoseconds * 1e-9) < STAMP_SKEW_S
        stamp = sec_to_stamp(frame.stamp) if absolute else now.to_msg()
        fid = self.p["frame_id"] or frame.frame_id
        if self.pub_truth is not None:  # before the image, so the detector rarely has to wait for it
            h, w = frame.image.shape[:2]
            dets = [messages.detection_to_dict(d) for d in frame.truth]
            self.pub_truth.publish(String(data=messages.encode("truth", stamp, fid, image_size=[w, h],
                                                               detections=dets)))
        img = array_to_image(frame.image, "rgb8", stamp, fid)
        self.pub_image.publish(img)
        self.pub_info.publish(camera_info(img))
        self.stats.output()

    def destroy_node(self) -> None:
        self.stop_capture()
        try:
            self.source.close()  # ends a ProcessSource's child
        except Exception as exc:
            self.get_logger().warning(f"closing the frame source failed: {exc}")
        super().destroy_node()


def camera_info(img: Image) -> CameraInfo:
    """A pinhole model with a 60° horizontal field of view (sources carry no calibration)."""
    info = CameraInfo(header=img.header, width=img.width, height=img.height, distortion_model="plumb_bob")
    f = img.width / (2 * 0.5773502691896258)  # tan(30°)
    cx, cy = img.width / 2, img.height / 2
    info.d = [0.0] * 5
    info.k = [f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [f, 0.0, cx, 0.0, 0.0, f, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


def main(args: list[str] | None = None) -> int:
    return main_for([CameraNode], args)


if __name__ == "__main__":
    sys.exit(main())
