"""camera: publishes ``image_raw`` (rgb8) and ``camera_info`` from any frame
source (sim, device, video, folder), stamped with the frame's capture time.

With ``source: sim`` it also publishes the ground-truth boxes on ``truth``
(same stamp) for the groundtruth detector, and offers ``~/randomize``
(std_srvs/Trigger) to re-randomise the scene for fresh views.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String
from std_srvs.srv import Trigger

from chhnn_ros.app import payloads
from chhnn_ros.app.capture import CaptureLoop, frame_stamp
from chhnn_ros.app.factories import open_source
from chhnn_ros.app.stats import describe
from chhnn_ros.perception.types import Frame
from chhnn_ros.ros import qos
from chhnn_ros.ros.conversions import array_to_image, camera_info, sec_to_stamp
from chhnn_ros.ros.node_base import ChhnnNode
from chhnn_ros.ros.runtime import main_for


class CameraNode(ChhnnNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("camera", **kwargs)
        p = self.p
        self.source = open_source(p)
        self.on_close(self._close_source)
        self.source_lock = threading.Lock()
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
        self.capture = CaptureLoop(self._read, self._publish, p["rate"], self._on_read_error, self._on_end)
        self.on_close(self.capture.stop)
        self.capture.start()
        self.get_logger().info(f"publishing {p['source']} frames at {p['rate']:g} Hz on {self.pub_image.topic_name}")

    def apply_param(self, name: str, value: Any) -> None:
        if name == "rate":
            self.capture.rate = value

    def diagnostic_values(self) -> dict[str, Any]:
        return {"source": self.p["source"]}

    def stop_capture(self) -> None:
        self.capture.stop()

    def _close_source(self) -> None:
        self.source.close()  # ends a ProcessSource's child

    def _on_randomize(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        try:
            with self.source_lock:
                self.scene.reset()  # new layout, yaw and lighting
            resp.success, resp.message = True, "scene re-randomised"
        except Exception as exc:  # report, never crash the camera
            resp.success, resp.message = False, f"randomize failed: {exc}"
        return resp

    def _read(self) -> Frame | None:
        with self.source_lock:
            frame = self.source.read()
        self.stats.input()
        return frame

    def _on_read_error(self, exc: BaseException) -> None:
        if not self.context.ok():
            return
        why = describe(exc)  # e.g. EOFError: a source's child process ended
        self.stats.error(why)
        self.get_logger().error(f"frame source failed: {why}", throttle_duration_sec=5.0)

    def _on_end(self) -> None:
        self.get_logger().warning("frame source ended (set loop: true to restart videos/folders)")

    def _publish(self, frame: Frame) -> None:
        stamp = sec_to_stamp(frame_stamp(frame.stamp, self.get_clock().now().nanoseconds * 1e-9))
        fid = self.p["frame_id"] or frame.frame_id
        if self.pub_truth is not None:  # before the image, so the detector rarely has to wait for it
            h, w = frame.image.shape[:2]
            self.pub_truth.publish(String(data=payloads.encode(
                "truth", stamp, fid, image_size=[w, h],
                detections=[payloads.detection_to_dict(d) for d in frame.truth])))
        img = array_to_image(frame.image, "rgb8", stamp, fid)
        self.pub_image.publish(img)
        self.pub_info.publish(camera_info(img))
        self.stats.output()


def main(args: list[str] | None = None) -> int:
    return main_for([CameraNode], args)


if __name__ == "__main__":
    sys.exit(main())
