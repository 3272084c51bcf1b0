"""classifier: ``features`` → ``objects`` labelled by the continual learner,
taught by name on ``teach``.

Publishes ``objects`` (JSON, the frame's stamp), ``teach_status`` and
``classes`` (transient-local); services ``~/save``, ``~/reset``,
``~/list_classes`` (std_srvs/Trigger, JSON in ``message``).  Learning runs in
its own thread (see knowledge.py): the perception path only predicts.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time

from builtin_interfaces.msg import Time
from rclpy.node import Node
from std_msgs.msg import String
from std_srvs.srv import Trigger

from chhnn_ros.nodes import diagnostics, messages, qos
from chhnn_ros.nodes.knowledge import Knowledge
from chhnn_ros.nodes.runtime import main_for
from chhnn_ros.nodes.teach import Teacher, TeachStatus
from chhnn_ros.nodes.worker import LatestWorker
from chhnn_ros.params import declare


class ClassifierNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("classifier", **kwargs)
        p = self.p = declare(self, "classifier")
        self.knowledge = Knowledge(p["learner"], p["learner_params"], p["seed"], p["memory_path"],
                                   p["start_empty_on_error"])
        self.get_logger().info(self.knowledge.notice)
        self.teacher = Teacher(p["teach_samples"], p["teach_timeout"], reserved=(p["unknown_label"],))
        self.stale_frames = 0
        self.teach_lock = threading.Lock()
        self.jobs: queue.Queue = queue.Queue()
        self.stats = diagnostics.Stats()
        self._on_error = diagnostics.skip_handler(self, self.stats, "features")
        self.fault = ""
        self.pub_objects = self.create_publisher(String, "objects", qos.result_qos())
        self.pub_status = self.create_publisher(String, "teach_status", qos.command_qos())  # one per command
        self.pub_classes = self.create_publisher(String, "classes", qos.latched_qos())
        self.pub_diag = self.create_publisher(diagnostics.DiagnosticArray, "/diagnostics", 10)
        self.worker = LatestWorker(self._process, self._on_error, "classifier")
        self.learner_thread = threading.Thread(target=self._learn_loop, name="learning", daemon=True)
        self.learner_thread.start()
        self.create_subscription(String, "features", self.worker.put, qos.latest_qos(),
                                 event_callbacks=qos.sub_events(self, "features"))
        self.create_subscription(String, "teach", self._on_teach, qos.command_qos())
        self.create_service(Trigger, "~/save", self._srv_save)
        self.create_service(Trigger, "~/reset", self._srv_reset)
        self.create_service(Trigger, "~/list_classes", self._srv_list)
        self.create_timer(0.5, self._tick)
        self.create_timer(p["diagnostics_period"], self._diagnostics)
        self._publish_classes()

    # ------------------------------------------------------------- perception
    def _process(self, msg: String) -> None:
        self.stats.input()
        payload = messages.decode(msg.data, "features")
        dets = payload["detections"]
        X = payload["vectors"]  # (n, dim) float32, checked by decode
        try:
            self.knowledge.check_features(payload["encoder"], payload["dim"])
            self.fault = ""
        except ValueError as exc:
            self.fault = str(exc)
            raise
        labels, scores = self.knowledge.predict(X)
        objects = []
        for i, d in enumerate(dets):
            label, score = (labels[i], float(scores[i])) if labels else (self.p["unknown_label"], 0.0)
            if score < self.p["min_confidence"]:
                label = self.p["unknown_label"]
            objects.append({"box": list(d.box), "label": label, "score": round(score, 4), "track_id": d.track_id,
                            "detector_class": d.class_name})
        st = payload["stamp"]
        stamp = Time(sec=st["sec"], nanosec=st["nanosec"])
        self.pub_objects.publish(String(data=messages.encode(
            "objects", stamp, payload["frame_id"], objects=objects,
            database_version=self.knowledge.database_version)))
        age = self.get_clock().now().nanoseconds * 1e-9 - (st["sec"] + st["nanosec"] * 1e-9)
        self.stats.output(age)
        if self.p["max_input_age"] > 0 and abs(age) > self.p["max_input_age"]:
            self.stale_frames += 1  # still labelled (the stamp says which frame), but an operator must know
            self.get_logger().warning(
                f"features of frame {st['sec']}.{st['nanosec']:09d} are {age:.1f} s off this node's clock "
                f"(limit max_input_age {self.p['max_input_age']:g} s): a clock mismatch (use_sim_time on some "
                "nodes only?) or a backlog", throttle_duration_sec=5.0)
        size = payload.get("image_size") or [0, 0]
        with self.teach_lock:
            status, job = self.teacher.frame(dets, X, (size[1], size[0]), time.monotonic())
        if status:
            self._status(status)
        if job:
            self.jobs.put(("teach", job[0], job[1], payload["encoder"]))

    # --------------------------------------------------------------- teaching
    def _on_teach(self, msg: String) -> None:
        with self.teach_lock:
            status, cmd = self.teacher.command(msg.data, time.monotonic())
        self._status(status)
        if cmd is not None and cmd.kind == "forget":
            self.jobs.put(("forget", cmd.label))

    def _tick(self) -> None:
        with self.teach_lock:
            status = self.teacher.tick(time.monotonic())
        if status:
            self._status(status)

    def _learn_loop(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            label = job[1]
            try:
                t0 = time.monotonic()
                if job[0] == "teach":
                    version = self.knowledge.teach(label, job[2], job[3])
                    msg = f"learned {label!r} from {len(job[2])} samples in {time.monotonic() - t0:.2f} s"
                    self._status(TeachStatus("learned", label, msg, len(job[2]), len(job[2])))
                else:
                    version = self.knowledge.forget(label)
                    self._status(TeachStatus("forgotten", label, f"forgot {label!r}"))
                self.get_logger().info(f"{job[0]} {label!r}: database version {version}")
                self._publish_classes()
            except Exception as exc:  # a failed update keeps the previous learner
                self._status(TeachStatus("error", label, f"{job[0]} {label!r} failed, nothing changed: {exc}"))

    def _status(self, s: TeachStatus) -> None:
        if s.state == "error":  # rclpy wants one severity per call site
            self.get_logger().warning(f"teach: {s.message}")
        else:
            self.get_logger().info(f"teach: {s.message}")
        self.pub_status.publish(String(data=messages.encode(
            "teach_status", database_version=self.knowledge.database_version, **s.to_dict())))

    def _classes_json(self) -> str:
        return json.dumps({"classes": self.knowledge.classes(), "database_version": self.knowledge.database_version})

    def _publish_classes(self) -> None:
        self.pub_classes.publish(String(data=messages.encode(
            "classes", classes=self.knowledge.classes(), database_version=self.knowledge.database_version)))

    # --------------------------------------------------------------- services
    def _srv_save(self, _req, resp):
        try:
            resp.success, resp.message = True, self.knowledge.save()
        except OSError as exc:
            resp.success, resp.message = False, f"save failed: {exc}"
        return resp

    def _srv_reset(self, _req, resp):
        self.knowledge.reset()
        self._publish_classes()
        resp.success, resp.message = True, self._classes_json()
        return resp

    def _srv_list(self, _req, resp):
        resp.success, resp.message = True, self._classes_json()
        return resp

    def _diagnostics(self) -> None:
        k = self.knowledge
        extra = {"learner": k.learner_name, "classes": len(k.classes()), "database_version": k.database_version,
                 "teaching": self.teacher.session.command.label if self.teacher.session else "",
                 "dropped_frames": self.worker.dropped, "stale_frames": self.stale_frames}
        diagnostics.publish(self, self.pub_diag, self.stats, extra, self.fault)

    def destroy_node(self) -> None:
        self.worker.stop()
        self.jobs.put(None)
        self.learner_thread.join(timeout=30.0)  # let a running teach finish and save
        try:
            self.get_logger().info(f"shutdown: {self.knowledge.save()}")
        except OSError as exc:
            self.get_logger().error(f"shutdown save failed: {exc}")
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return main_for([ClassifierNode], args)


if __name__ == "__main__":
    sys.exit(main())
