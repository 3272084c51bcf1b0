"""gz_truth: ``boxes`` (vision_msgs/Detection2DArray from a Gazebo boundingbox_camera, via ros_gz_bridge)
→ ``truth`` (JSON, same stamp), the input of the groundtruth detector.  Started by launch/sim.launch.py;
needs vision_msgs (part of every ROS 2 desktop install, not of the pip wheels)."""

from __future__ import annotations

import sys

from rclpy.node import Node
from std_msgs.msg import String

from chhnn_ros.app import payloads
from chhnn_ros.ros import qos
from chhnn_ros.ros.runtime import main_for
from chhnn_ros.sim.gz_truth import truth_detections


class GzTruthNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("gz_truth", **kwargs)
        from vision_msgs.msg import Detection2DArray  # lazy: only this node needs vision_msgs

        self.pub = self.create_publisher(String, "truth", qos.result_qos())
        # best effort accepts both reliable and best-effort publishers
        self.create_subscription(Detection2DArray, "boxes", self._on_boxes, qos.image_qos("best_effort"))

    def _on_boxes(self, msg) -> None:
        boxes = [(d.bbox.center.position.x, d.bbox.center.position.y, d.bbox.size_x, d.bbox.size_y,
                  d.results[0].hypothesis.class_id if d.results else d.id) for d in msg.detections]
        dets = [payloads.detection_to_dict(d) for d in truth_detections(boxes)]
        self.pub.publish(String(data=payloads.encode("truth", msg.header.stamp, msg.header.frame_id,
                                                     detections=dets)))


def main(args: list[str] | None = None) -> int:
    return main_for([GzTruthNode], args)


if __name__ == "__main__":
    sys.exit(main())
