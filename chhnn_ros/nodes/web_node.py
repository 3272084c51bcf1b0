"""web: the teach console in the browser (:mod:`chhnn_ros.web`), served by this node.

Subscribes ``image_raw`` (best-effort), ``objects``, ``classes``, ``teach_status`` and
``/diagnostics``; publishes commands on ``teach``: nothing the other nodes do not already offer.
Every message conversion lives here (the web package takes plain Python values), so changing the
message types touches only this file.  The callbacks only hand values to the console's state
(newest-only slots), so browsers, however slow or many, never hold up the perception path.
"""

from __future__ import annotations

import sys
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image
from std_msgs.msg import String

from chhnn_ros.msg import ClassList, LabelledObjectArray, TeachStatus
from chhnn_ros.ros import messages, qos
from chhnn_ros.ros.conversions import image_to_rgb8, stamp_key, stamp_to_sec
from chhnn_ros.ros.node_base import ChhnnNode
from chhnn_ros.ros.runtime import main_for
from chhnn_ros.web.app import WebSettings, create_app
from chhnn_ros.web.server import ConsoleServer, exposure_warning
from chhnn_ros.web.state import ConsoleState

LEVELS = {0: "OK", 1: "WARN", 2: "ERROR", 3: "STALE"}


def status_to_dict(st: Any) -> dict[str, Any]:
    """diagnostic_msgs/DiagnosticStatus → plain values (``level`` is a byte in rclpy)."""
    level = st.level[0] if isinstance(st.level, bytes | bytearray) else int(st.level)
    return {"name": st.name, "level": LEVELS.get(level, str(level)), "message": st.message,
            "values": {kv.key: kv.value for kv in st.values}}


class WebNode(ChhnnNode):
    input_name = "message"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("web", **kwargs)
        self.settings = WebSettings.from_params(self.p)
        self.state = ConsoleState(self.settings.jpeg_quality)
        self.pub_teach = self.create_publisher(String, "teach", qos.command_qos())
        ns = self.get_namespace().rstrip("/")
        self.health_prefix = f"{ns}/" if ns else "/"  # this graph's nodes; /diagnostics is global
        self.create_subscription(Image, "image_raw", self._on_image, qos.image_qos("best_effort"),
                                 event_callbacks=qos.sub_events(self, "image_raw"))
        self.create_subscription(LabelledObjectArray, "objects", self._on_objects, qos.result_qos())
        self.create_subscription(ClassList, "classes", self._on_classes, qos.latched_qos())
        self.create_subscription(TeachStatus, "teach_status", self._on_teach_status, qos.command_qos())
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        # Last: a port in use fails the start here, with nothing of the server left to clean up.
        self.server = ConsoleServer(create_app(self.state, self.settings, self._publish_teach),
                                    self.settings.host, self.settings.port)
        self.on_close(self.server.stop)
        if warning := exposure_warning(self.settings.host, self.settings.token):
            self.get_logger().warning(warning)
        how = " (add ?token=<web_token> to the address)" if self.settings.token else ""
        self.get_logger().info(f"web console at {self.server.url}{how}")

    def apply_param(self, name: str, value: Any) -> None:
        if name == "web_jpeg_quality":
            self.state.jpeg_quality = self.settings.jpeg_quality = value
        elif name == "web_max_fps":
            self.settings.max_fps = value
        elif name == "web_teach_wait":
            self.settings.teach_wait = value

    def diagnostic_values(self) -> dict[str, Any]:
        return {"url": self.server.url, **self.state.counters()}

    # ------------------------------------------------------------------ messages → plain values
    def _on_image(self, msg: Image) -> None:
        self.stats.input()
        try:
            rgb = image_to_rgb8(msg, copy=False)  # kept read-only by the console
        except ValueError as exc:
            self.on_error(exc)
            return
        self.state.put_frame(stamp_key(msg.header.stamp), rgb)

    def _on_objects(self, msg: LabelledObjectArray) -> None:
        try:
            objects = messages.objects_to_dict(msg)
        except ValueError as exc:
            self.on_error(exc)
            return
        if self.state.put_objects(stamp_key(msg.header.stamp), objects):
            self.stats.output(self.get_clock().now().nanoseconds * 1e-9 - stamp_to_sec(msg.header.stamp))

    def _on_classes(self, msg: ClassList) -> None:
        self.state.put_classes(messages.classes_to_dict(msg))

    def _on_teach_status(self, msg: TeachStatus) -> None:
        self.state.put_teach_status(messages.teach_status_to_dict(msg))

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        self.state.put_health([status_to_dict(st) for st in msg.status if st.name.startswith(self.health_prefix)])

    def _publish_teach(self, text: str) -> None:
        """Called from the web server's thread with a command the teach parser accepted."""
        self.pub_teach.publish(String(data=text))


def main(args: list[str] | None = None) -> int:
    return main_for([WebNode], args)


if __name__ == "__main__":
    sys.exit(main())
