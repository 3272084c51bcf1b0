"""classifier: ``features`` → ``objects`` labelled by the continual learner,
taught by name on ``teach``.

Publishes ``objects`` (the frame's stamp), ``teach_status`` and ``classes``
(transient-local); services ``~/save``, ``~/reset``, ``~/list_classes``
(std_srvs/Trigger, JSON in ``message``).  Predicting, labelling and teaching
are the app core's (:mod:`chhnn_ros.app`); learning runs in its own thread, so
the perception path only predicts.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from typing import Any

from std_msgs.msg import String
from std_srvs.srv import Trigger

from chhnn_ros.app import payloads
from chhnn_ros.app.factories import teach_policy
from chhnn_ros.app.freshness import Freshness
from chhnn_ros.app.knowledge import Knowledge
from chhnn_ros.app.labelling import Labeller
from chhnn_ros.app.learning_loop import ForgetJob, LearningLoop, TeachJob
from chhnn_ros.app.teaching import Teacher, TeachStatus
from chhnn_ros.app.worker import LatestWorker
from chhnn_ros.ros import qos
from chhnn_ros.ros.conversions import stamp_from_dict
from chhnn_ros.ros.node_base import ChhnnNode
from chhnn_ros.ros.runtime import main_for


class ClassifierNode(ChhnnNode):
    input_name = "features"

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
        self.pub_objects = self.create_publisher(String, "objects", qos.result_qos())
        self.pub_status = self.create_publisher(String, "teach_status", qos.command_qos())  # one per command
        self.pub_classes = self.create_publisher(String, "classes", qos.latched_qos())
        self.learning = LearningLoop(self.knowledge, self._status, self._publish_classes, self.get_logger().info)
        self.on_close(self.learning.stop)  # lets a running teach finish and save before the final save
        self.worker = LatestWorker(self._process, self.on_error, "classifier")
        self.on_close(self.worker.stop)
        self.create_subscription(String, "features", self.worker.put, qos.latest_qos(),
                                 event_callbacks=qos.sub_events(self, "features"))
        self.create_subscription(String, "teach", self._on_teach, qos.command_qos())
        self.create_service(Trigger, "~/save", self._srv_save)
        self.create_service(Trigger, "~/reset", self._srv_reset)
        self.create_service(Trigger, "~/list_classes", self._srv_list)
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
                "stale_frames": self.freshness.stale, "last_update_ms": round(self.learning.last_ms, 1)}

    # ------------------------------------------------------------- perception
    def _process(self, msg: String) -> None:
        self.stats.input()
        payload = payloads.decode(msg.data, "features")
        dets, X = payload["detections"], payload["vectors"]  # (n, dim) float32, checked by decode
        try:
            self.knowledge.check_features(payload["encoder"], payload["dim"])
            if self.knowledge.prepare(payload["dim"]):
                self.get_logger().info(f"learner built for {payload['dim']}-d {payload['encoder']} features")
            self.fault = ""
        except ValueError as exc:
            self.fault = str(exc)
            raise
        objects = self.labeller.label(dets, self.knowledge.predict(X))
        self.pub_objects.publish(String(data=payloads.encode(
            "objects", stamp_from_dict(payload["stamp"]), payload["frame_id"],
            objects=[o.to_dict() for o in objects], database_version=self.knowledge.database_version)))
        stamp = payloads.stamp_sec(payload)
        now = self.get_clock().now().nanoseconds * 1e-9
        self.stats.output(now - stamp)
        if (age := self.freshness.check(stamp, now)) is not None:  # labelled, but an operator must know
            self.get_logger().warning(
                f"features of frame {stamp:.3f} are {age:.1f} s off this node's clock (limit max_input_age "
                f"{self.freshness.max_age:g} s): a clock mismatch (use_sim_time on some nodes only?) or a backlog",
                throttle_duration_sec=5.0)
        size = payload.get("image_size") or [0, 0]
        status, done = self.teacher.frame(dets, X, (size[1], size[0]), time.monotonic())
        if status:
            self._status(status)
        if done:
            self.learning.put(TeachJob(done.label, done.features, done.views, payload["encoder"]))

    # --------------------------------------------------------------- teaching
    def _on_teach(self, msg: String) -> None:
        status, cmd = self.teacher.command(msg.data, time.monotonic())
        self._status(status)
        if cmd is not None and cmd.kind == "forget":
            self.learning.put(ForgetJob(cmd.label))

    def _tick(self) -> None:
        if status := self.teacher.tick(time.monotonic()):
            self._status(status)

    def _status(self, s: TeachStatus) -> None:
        if s.state == "error":  # rclpy wants one severity per call site
            self.get_logger().warning(f"teach: {s.message}")
        else:
            self.get_logger().info(f"teach: {s.message}")
        self.pub_status.publish(String(data=payloads.encode(
            "teach_status", database_version=self.knowledge.database_version, **s.to_dict())))

    def _classes_json(self) -> str:
        return json.dumps({"classes": self.knowledge.classes(), "database_version": self.knowledge.database_version})

    def _publish_classes(self) -> None:
        k = self.knowledge
        self.pub_classes.publish(String(data=payloads.encode(
            "classes", classes=k.classes(), teaches=list(k.teaches().values()), database_version=k.database_version)))

    # --------------------------------------------------------------- services
    def _srv_save(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        try:
            resp.success, resp.message = True, self.knowledge.save()
        except OSError as exc:
            resp.success, resp.message = False, f"save failed: {exc}"
        return resp

    def _srv_reset(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        self.knowledge.reset()
        self._publish_classes()
        resp.success, resp.message = True, self._classes_json()
        return resp

    def _srv_list(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        resp.success, resp.message = True, self._classes_json()
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
