"""classifier: ``features`` → ``objects`` labelled by the continual learner,
taught by name on ``teach`` or through the ``~/teach`` service.

Publishes ``objects`` (chhnn_ros/LabelledObjectArray, the frame's stamp),
``teach_status`` (one per step of a command), ``classes`` (transient-local)
and, while someone subscribes, ``~/annotated`` (the camera image with each
object's box and label drawn, for rqt_image_view, RViz and Foxglove).
Services: ``~/teach`` and ``~/forget`` (answer when the command has ended),
``~/list_classes``, ``~/save``, ``~/reset``.  Predicting, labelling and
teaching are the app core's (:mod:`chhnn_ros.app`); learning runs in its own
thread, so the perception path only predicts.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from typing import Any

from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.task import Future
from sensor_msgs.msg import Image
from std_msgs.msg import String
from std_srvs.srv import Trigger

from chhnn_ros.app.factories import teach_policy
from chhnn_ros.app.freshness import Freshness
from chhnn_ros.app.knowledge import Knowledge
from chhnn_ros.app.labelling import LabelledObject, Labeller
from chhnn_ros.app.learning_loop import ForgetJob, LearningLoop, TeachJob
from chhnn_ros.app.stamp_pairing import StampPairer
from chhnn_ros.app.teaching import TeachCommand, Teacher, TeachStatus, command_from_dict
from chhnn_ros.app.worker import LatestWorker
from chhnn_ros.msg import ClassList, FeatureArray, LabelledObjectArray
from chhnn_ros.msg import TeachStatus as TeachStatusMsg
from chhnn_ros.perception.drawing import draw_boxes
from chhnn_ros.ros import messages, qos
from chhnn_ros.ros.conversions import array_to_image, image_to_rgb8, stamp_key, stamp_to_sec
from chhnn_ros.ros.node_base import ChhnnNode
from chhnn_ros.ros.runtime import main_for
from chhnn_ros.srv import Forget, ListClasses, Teach

FINAL = ("learned", "forgotten", "error")


class ClassifierNode(ChhnnNode):
    input_name = "features"
    # ~/teach and ~/forget answer when the command has ended: their callbacks await it, and rclpy's
    # events executor does not run coroutine callbacks.
    executor_kind = "multi"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("classifier", **kwargs)
        p = self.p
        self.knowledge = Knowledge(p["learner"], p["learner_params"], p["seed"], p["memory_path"],
                                   p["start_empty_on_error"], p["feature_dim"])
        self.get_logger().info(self.knowledge.notice)
        self.on_close(self._save_on_shutdown)
        self.labeller = Labeller(p["unknown_label"], p["min_confidence"])
        self.teacher = Teacher(teach_policy(p), reserved=(p["unknown_label"],))
        self.freshness = Freshness(p["max_input_age"])
        self._waiters: list[tuple[str, Future]] = []  # service calls waiting for a command's final status
        self._waiters_lock = threading.Lock()
        self.pub_objects = self.create_publisher(LabelledObjectArray, "objects", qos.result_qos())
        self.pub_status = self.create_publisher(TeachStatusMsg, "teach_status", qos.command_qos())  # one per step
        self.pub_classes = self.create_publisher(ClassList, "classes", qos.latched_qos())
        self.pub_annotated = self.create_publisher(Image, "~/annotated", qos.image_qos("best_effort"))
        self.frames: StampPairer[Image, list[LabelledObject]] = StampPairer(pending=5)
        self.sub_image = None  # image_raw, only while ~/annotated has a subscriber
        self.learning = LearningLoop(self.knowledge, self._status, self._publish_classes, self.get_logger().info)
        self.on_close(self.learning.stop)  # lets a running teach finish and save before the final save
        self.worker = LatestWorker(self._process, self.on_error, "classifier")
        self.on_close(self.worker.stop)
        self.create_subscription(FeatureArray, "features", self.worker.put, qos.latest_qos(),
                                 event_callbacks=qos.sub_events(self, "features"))
        self.create_subscription(String, "teach", self._on_teach, qos.command_qos())
        waiting = ReentrantCallbackGroup()
        self.create_service(Teach, "~/teach", self._srv_teach, callback_group=waiting)
        self.create_service(Forget, "~/forget", self._srv_forget, callback_group=waiting)
        self.create_service(ListClasses, "~/list_classes", self._srv_list)
        self.create_service(Trigger, "~/save", self._srv_save)
        self.create_service(Trigger, "~/reset", self._srv_reset)
        self.create_timer(0.5, self._tick)
        self._publish_classes()

    # -------------------------------------------------------------- parameters
    def apply_param(self, name: str, value: Any) -> None:
        if name in ("unknown_label", "min_confidence"):
            self.labeller = Labeller(self.p["unknown_label"], self.p["min_confidence"])
            self.teacher.reserved = (self.p["unknown_label"],)
        elif name.startswith("teach_"):
            self.teacher.policy = dataclasses.replace(self.teacher.policy, **dataclasses.asdict(
                teach_policy(self.p)))  # the running teach keeps the policy it started with
        elif name == "max_input_age":
            self.freshness.max_age = value

    def diagnostic_values(self) -> dict[str, Any]:
        k = self.knowledge
        return {"learner": k.learner_name, "classes": len(k.classes()), "database_version": k.database_version,
                "teaching": self.teacher.teaching(), "dropped_frames": self.worker.dropped,
                "stale_frames": self.freshness.stale, "last_update_ms": round(self.learning.last_ms, 1),
                "last_consolidate_ms": round(self.learning.last_consolidate_ms, 1)}

    # ------------------------------------------------------------- perception
    def _process(self, msg: FeatureArray) -> None:
        self.stats.input()
        dets, X = messages.features_from_msg(msg)
        try:
            self.knowledge.check_features(msg.encoder, msg.dim)
            if self.knowledge.prepare(msg.dim):
                self.get_logger().info(f"learner built for {msg.dim}-d {msg.encoder} features")
            self.fault = ""
        except ValueError as exc:
            self.fault = str(exc)
            raise
        objects = self.labeller.label(dets, self.knowledge.predict(X))
        self.pub_objects.publish(messages.objects_to_msg(msg.header, objects, self.knowledge.database_version))
        self._annotate(stamp_key(msg.header.stamp), objects, None)
        stamp = stamp_to_sec(msg.header.stamp)
        now = self.get_clock().now().nanoseconds * 1e-9
        self.stats.output(now - stamp)
        if (age := self.freshness.check(stamp, now)) is not None:  # labelled, but an operator must know
            self.get_logger().warning(
                f"features of frame {stamp:.3f} are {age:.1f} s off this node's clock (limit max_input_age "
                f"{self.freshness.max_age:g} s): a clock mismatch (use_sim_time on some nodes only?) or a backlog",
                throttle_duration_sec=5.0)
        status, done = self.teacher.frame(dets, X, (msg.image_height, msg.image_width), time.monotonic())
        if status:
            self._status(status)
        if done:
            self.learning.put(TeachJob(done.label, done.features, done.views, msg.encoder))

    # -------------------------------------------------------------- annotated
    def _tick(self) -> None:
        if status := self.teacher.tick(time.monotonic()):
            self._status(status)
        wanted = self.pub_annotated.get_subscription_count() > 0
        if wanted and self.sub_image is None:  # the camera image crosses to this node only while drawn
            self.sub_image = self.create_subscription(Image, "image_raw", self._on_image, qos.image_qos())
        elif not wanted and self.sub_image is not None:
            self.destroy_subscription(self.sub_image)
            self.sub_image = None

    def _on_image(self, msg: Image) -> None:
        self._annotate(stamp_key(msg.header.stamp), None, msg)

    def _annotate(self, key: tuple[int, int], objects: list[LabelledObject] | None, image: Image | None) -> None:
        if self.sub_image is None:
            return
        pair = self.frames.add_b(key, objects) if objects is not None else self.frames.add_a(key, image)
        if pair is None:
            return
        img, objs = pair
        try:
            rgb = draw_boxes(image_to_rgb8(img, copy=False), objs, [f"{o.label} {o.score:.2f}" if o.known else
                                                                   f"{o.label} (nearest: {o.nearest or '-'})"
                                                                   for o in objs], [o.known for o in objs])
            self.pub_annotated.publish(array_to_image(rgb, "rgb8", img.header.stamp, img.header.frame_id))
        except ValueError as exc:
            self.on_error(exc)

    # --------------------------------------------------------------- teaching
    def _on_teach(self, msg: String) -> None:
        status, cmd = self.teacher.command(msg.data, time.monotonic())
        self._start(status, cmd)

    def _start(self, status: TeachStatus, cmd: TeachCommand | None) -> None:
        self._status(status)
        if cmd is not None and cmd.kind == "forget":
            self.learning.put(ForgetJob(cmd.label))

    def _status(self, s: TeachStatus) -> None:
        if s.state == "error":  # rclpy wants one severity per call site
            self.get_logger().warning(f"teach: {s.message}")
        else:
            self.get_logger().info(f"teach: {s.message}")
        self.pub_status.publish(messages.teach_status_to_msg(s, self.knowledge.database_version,
                                                             self.get_clock().now().to_msg()))
        if s.state in FINAL:
            with self._waiters_lock:
                done = [f for label, f in self._waiters if label == s.label]
                self._waiters = [(label, f) for label, f in self._waiters if label != s.label]
            for f in done:
                f.set_result(s)

    async def _until_final(self, status: TeachStatus, cmd: TeachCommand | None) -> TeachStatus:
        """Start a command and wait for its final status (the command's own if it was refused)."""
        if cmd is None or status.state in FINAL:
            self._status(status)
            return status
        future = Future()
        with self._waiters_lock:
            self._waiters.append((cmd.label, future))
        self._start(status, cmd)
        return await future

    def _publish_classes(self) -> None:
        self.pub_classes.publish(self._class_list())

    def _class_list(self) -> ClassList:
        k = self.knowledge
        return messages.classes_to_msg(k.classes(), list(k.teaches().values()), k.database_version,
                                       self.get_clock().now().to_msg())

    # --------------------------------------------------------------- services
    async def _srv_teach(self, req: Teach.Request, resp: Teach.Response) -> Teach.Response:
        obj: dict[str, Any] = {"label": req.label}
        if req.samples:
            obj["samples"] = int(req.samples)
        if req.box:
            obj["box"] = list(messages.box_from_msg(req.box[0], "box"))
        if req.track_id != Teach.Request.NO_TRACK:
            obj["track_id"] = int(req.track_id)
        try:
            status, cmd = self.teacher.start(command_from_dict(obj, self.teacher.policy.samples), time.monotonic())
        except ValueError as exc:
            status, cmd = TeachStatus("error", str(req.label), f"bad teach command: {exc}"), None
        final = await self._until_final(status, cmd)
        resp.success, resp.message = final.state == "learned", final.message
        resp.database_version, resp.samples_used, resp.views = self.knowledge.database_version, final.collected, \
            final.views
        return resp

    async def _srv_forget(self, req: Forget.Request, resp: Forget.Response) -> Forget.Response:
        try:
            status, cmd = self.teacher.start(command_from_dict({"forget": req.label}, 0), time.monotonic())
        except ValueError as exc:
            status, cmd = TeachStatus("error", str(req.label), f"bad forget command: {exc}"), None
        final = await self._until_final(status, cmd)
        resp.success, resp.message, resp.database_version = final.state == "forgotten", final.message, \
            self.knowledge.database_version
        return resp

    def _srv_list(self, _req: ListClasses.Request, resp: ListClasses.Response) -> ListClasses.Response:
        resp.classes = self._class_list()
        return resp

    def _srv_save(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        try:
            resp.success, resp.message = True, self.knowledge.save()
        except OSError as exc:
            resp.success, resp.message = False, f"save failed: {exc}"
        return resp

    def _srv_reset(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        version = self.knowledge.reset()
        self._publish_classes()
        resp.success, resp.message = True, f"forgot every class (database version {version})"
        return resp

    def _save_on_shutdown(self) -> None:
        try:
            self.get_logger().info(f"shutdown: {self.knowledge.save()}")
        except OSError as exc:
            self.get_logger().error(f"shutdown save failed: {exc}")


def main(args: list[str] | None = None) -> int:
    return main_for([ClassifierNode], args)


if __name__ == "__main__":
    sys.exit(main())
