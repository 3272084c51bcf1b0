"""The robot's perception as ROS 2 nodes in this process, for the demos.

The same four nodes as ``chhnn-perception`` (camera, detector, encoder,
classifier), started by the graph runner (:class:`~chhnn_ros.graph.Graph`,
in this process) with the probe the demo talks through.  The camera
node builds the sim scene from its parameters (``sim_robot``,
``sim_objects``); the demo drives that scene's robot and swaps the camera's
frame source for a :class:`LockedSceneSource` so frames are never rendered
halfway through a motion.  Teaching is a JSON command on ``teach``; results
are read from ``objects`` (never the detector's class names or track ids).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from chhnn_ros.demos.geometry import LockedSceneSource
from chhnn_ros.graph import Graph
from chhnn_ros.ros.messages import frame_key, frame_sec

TEACH_TIMEOUT_S = 90.0
#: A teach takes a sample at most this often (``teach_interval``) and the demo changes the view a
#: little more often, so that every sample of a teach is a view of its own.  Samples at the camera's
#: 10 Hz with the view changed every 0.4 s would make 12 samples 3-4 views, and a class taught from
#: so few is often not recognised at its second place in the quadruped's row (0.43-0.71 of the stops
#: in five runs, against 0.93-1.0 in three with a view per sample).
SAMPLE_PERIOD_S = 0.25
VIEW_PERIOD_S = 0.2
FIRST_RESULT_TIMEOUT_S = 120.0  # model loading on a busy machine


class PerceptionGraph:
    """Context manager: ``with PerceptionGraph("panda", ["duck", "mug"]) as g: g.scene.robot.move_to(...)``."""

    def __init__(self, robot: str, objects: list[str], namespace: str = "chhnn_demo", learner: str = "chhnn",
                 encoder: str = "efficientnet-onnx", teach_samples: int = 12, rate: float = 10.0,
                 width: int = 320, height: int = 240, seed: int = 0) -> None:
        from chhnn_ros.sim.scene import SimScene

        self._work = tempfile.TemporaryDirectory(prefix="chhnn_demo_")  # never the user's memory
        params = {"sim_robot": robot, "sim_objects": ",".join(objects), "seed": seed, "rate": rate,
                  "width": width, "height": height, "sim_reset_every": 0, "publish_truth": True,
                  "sim_process": False, "sim_cache": 0,  # the demo moves the robot in this process's scene
                  "detector": "groundtruth", "encoder": encoder, "device": "cpu", "learner": learner,
                  "teach_samples": teach_samples, "teach_interval": SAMPLE_PERIOD_S,
                  "memory_path": f"{self._work.name}/memory.pt"}
        try:
            self.graph = Graph(Path(self._work.name), {"**": params}, mode="inprocess", namespace=namespace,
                               domain=None, record=[("truth", "truth")])  # the user's domain: ros2 CLI can watch
        except BaseException:
            self._work.cleanup()
            raise
        camera = self.graph.node("camera")
        self.scene = camera.scene
        if not isinstance(self.scene, SimScene):
            self.close()
            raise RuntimeError(f"the camera node's source is not an in-process sim scene: {self.scene!r}")
        self.lock = threading.RLock()
        with camera.source_lock:
            camera.source = LockedSceneSource(self.scene, self.lock)
        self.probe = self.graph.probe

    # --------------------------------------------------------------------------------------------- results
    def results_after(self, t: float, n: int = 1, timeout: float = 30.0) -> list[tuple[dict, dict]]:
        """``n`` (objects, truth) pairs of frames rendered after wall time ``t``.

        The truth (the sim's boxes) is for scoring only; the robot acts on ``objects``.
        """
        since = time.monotonic() - (time.time() - t) - 1.0  # receive-time bound: skip old messages quickly

        def ready() -> list[tuple[dict, dict]] | None:
            truth = {frame_key(m): m for m in self.probe.messages_of("truth", since) if frame_sec(m) >= t}
            pairs = [(o, truth[frame_key(o)]) for o in self.probe.messages_of("objects", since)
                     if frame_key(o) in truth]
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
              vary_period: float = VIEW_PERIOD_S) -> dict:
        """Teach the object the person points at (its track id) as ``label`` over the ``teach`` topic;
        ``vary(i)`` changes the view every ``vary_period`` s while samples are collected.  Final status."""
        done: list[dict | None] = []
        sender = threading.Thread(target=lambda: done.append(self.graph.teach(
            {"label": label, "track_id": int(track_id)}, TEACH_TIMEOUT_S)), name="teach", daemon=True)
        sender.start()
        i = 0
        while sender.is_alive():
            if vary is not None:
                i += 1
                with self.lock:
                    vary(i)
            sender.join(vary_period)
        if not done or done[0] is None:
            raise TimeoutError(f"teaching {label!r}: no result in {TEACH_TIMEOUT_S:g} s")
        return done[0]

    def forget_all(self) -> None:
        """Empty the classifier's memory (the ``~/reset`` service), e.g. between episodes."""
        ok, msg = self.graph.trigger("classifier/reset", timeout=20.0)
        if not ok:
            raise RuntimeError(msg)

    # ------------------------------------------------------------------------------------------- lifetime
    def close(self) -> None:
        self.graph.stop()
        self._work.cleanup()

    def __enter__(self) -> PerceptionGraph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
