"""The robot's perception as ROS 2 nodes in this process, for the demos.

The same four nodes as ``chhnn-perception`` (camera, detector, encoder,
classifier) plus a :class:`~chhnn_ros.nodes.probe.Probe` the demo talks
through, spun by a MultiThreadedExecutor in a background thread.  The camera
node builds the sim scene from its parameters (``sim_robot``,
``sim_objects``); the demo drives that scene's robot and swaps the camera's
frame source for a :class:`LockedSceneSource` so frames are never rendered
halfway through a motion.  Teaching is a JSON command on ``teach``; results
are read from ``objects`` (never the detector's class names or track ids).
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from chhnn_ros.sim.demos.geometry import LockedSceneSource

TEACH_TIMEOUT_S = 90.0
FIRST_RESULT_TIMEOUT_S = 120.0  # model loading on a busy machine


def stamp_sec(payload: dict) -> float:
    return payload["stamp"]["sec"] + payload["stamp"]["nanosec"] * 1e-9


class PerceptionGraph:
    """Context manager: ``with PerceptionGraph("panda", ["duck", "mug"]) as g: g.scene.robot.move_to(...)``."""

    def __init__(self, robot: str, objects: list[str], namespace: str = "chhnn_demo", learner: str = "chhnn",
                 encoder: str = "efficientnet-onnx", teach_samples: int = 12, rate: float = 10.0,
                 width: int = 320, height: int = 240, seed: int = 0) -> None:
        from chhnn_ros.nodes.bringup import dds_environment

        dds_environment()  # before rclpy creates a DDS participant
        import rclpy

        from chhnn_ros.nodes.camera_node import CameraNode
        from chhnn_ros.nodes.classifier_node import ClassifierNode
        from chhnn_ros.nodes.detector_node import DetectorNode
        from chhnn_ros.nodes.encoder_node import EncoderNode
        from chhnn_ros.nodes.probe import Probe
        from chhnn_ros.nodes.runtime import init
        from chhnn_ros.sim.scene import SimScene

        self._memory = tempfile.TemporaryDirectory(prefix="chhnn_demo_")  # never the user's memory
        params = {"sim_robot": robot, "sim_objects": ",".join(objects), "seed": seed, "rate": rate,
                  "width": width, "height": height, "sim_reset_every": 0, "publish_truth": True,
                  "sim_process": False, "sim_cache": 0,  # the demo moves the robot in this process's scene
                  "detector": "groundtruth", "encoder": encoder, "device": "cpu", "learner": learner,
                  "teach_samples": teach_samples, "memory_path": f"{self._memory.name}/memory.pt"}
        args = ["chhnn-demo", "--ros-args", "-r", f"__ns:=/{namespace.strip('/')}"]
        for k, v in params.items():  # YAML values: strings quoted, booleans lower case
            args += ["-p", f"{k}:={json.dumps(v) if isinstance(v, str | bool) else v}"]
        init(args)
        self.nodes: list[Any] = []
        try:
            for cls in (CameraNode, DetectorNode, EncoderNode, ClassifierNode):
                self.nodes.append(cls())
            camera = self.nodes[0]
            self.scene = camera.scene
            if not isinstance(self.scene, SimScene):
                raise RuntimeError(f"the camera node's source is not an in-process sim scene: {self.scene!r}")
            self.lock = threading.RLock()
            camera.source = LockedSceneSource(self.scene, self.lock)
            self.probe = Probe("demo", spin_self=False)
            self.nodes.append(self.probe)
        except BaseException:
            for n in self.nodes:
                n.destroy_node()
            rclpy.try_shutdown()
            self._memory.cleanup()
            raise
        for topic in ("objects", "truth", "teach_status"):
            self.probe.record(topic, kind=topic)
        self.stop = threading.Event()
        from chhnn_ros.nodes.runtime import spin

        self.thread = threading.Thread(target=spin, args=(self.nodes, self.stop), name="ros", daemon=True)
        self.thread.start()

    # --------------------------------------------------------------------------------------------- results
    def results_after(self, t: float, n: int = 1, timeout: float = 30.0) -> list[tuple[dict, dict]]:
        """``n`` (objects, truth) pairs of frames rendered after wall time ``t``.

        The truth (the sim's boxes) is for scoring only; the robot acts on ``objects``.
        """
        since = time.monotonic() - (time.time() - t) - 1.0  # receive-time bound: skip old messages quickly

        def ready() -> list[tuple[dict, dict]] | None:
            truth = {m["stamp"]["sec"] * 10**9 + m["stamp"]["nanosec"]: m
                     for m in self.probe.messages_of("truth", since) if stamp_sec(m) >= t}
            pairs = [(o, truth[k]) for o in self.probe.messages_of("objects", since)
                     if (k := o["stamp"]["sec"] * 10**9 + o["stamp"]["nanosec"]) in truth]
            return pairs[:n] if len(pairs) >= n else None

        got = self.probe.wait_for(ready, timeout)
        if not got:
            raise TimeoutError(f"no perception result for a frame after the robot stopped within {timeout:g} s")
        return got

    def wait_ready(self) -> None:
        """Block until the whole chain has produced a result (models loaded)."""
        self.results_after(time.time(), 1, FIRST_RESULT_TIMEOUT_S)

    # -------------------------------------------------------------------------------------------- teaching
    def teach(self, label: str, track_id: int, vary: Callable[[int], None] | None = None,
              vary_period: float = 0.4) -> dict:
        """Teach the object the person points at (its track id) as ``label`` over the ``teach`` topic;
        ``vary(i)`` changes the view every ``vary_period`` s while samples are collected.  Final status."""
        t0 = time.monotonic()
        self.probe.publish("teach", json.dumps({"label": label, "track_id": int(track_id)}))
        i = 0
        while time.monotonic() - t0 < TEACH_TIMEOUT_S:
            done = [s for s in self.probe.messages_of("teach_status", t0)
                    if s["label"] == label and s["state"] in ("learned", "error")]
            if done:
                return done[-1]
            if vary is not None:
                i += 1
                with self.lock:
                    vary(i)
            self.probe.wait_for(lambda: False, vary_period)
        raise TimeoutError(f"teaching {label!r}: no result in {TEACH_TIMEOUT_S:g} s")

    def forget_all(self) -> None:
        """Empty the classifier's memory (the ``~/reset`` service), e.g. between episodes."""
        ok, msg = self.probe.trigger("classifier/reset", timeout=20.0)
        if not ok:
            raise RuntimeError(msg)

    # ------------------------------------------------------------------------------------------- lifetime
    def close(self) -> None:
        # Stop rendering first and let in-flight callbacks end: rclpy's executor shutdown does not wait for
        # them, and a callback still running when its node is destroyed logs an InvalidHandle error.
        self.nodes[0].stop_capture()
        time.sleep(0.5)
        self.stop.set()
        self.thread.join(timeout=30.0)
        self._memory.cleanup()

    def __enter__(self) -> PerceptionGraph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
