"""Every ROS parameter of the four nodes: name, default, description.

The single source of truth: nodes declare from here (with descriptions),
``config/perception.yaml`` is generated from here (``python -m
chhnn_ros.params > config/perception.yaml``; a test fails on drift) and the
launch file's arguments are checked against :data:`LAUNCH_ARGS`.  No rclpy
import at module level so the core and the tests can read it without ROS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Param:
    name: str
    default: bool | int | float | str
    description: str
    choices: tuple[str, ...] = ()
    bounds: tuple[float, float] | None = None  # inclusive range of a number

    def check(self, value: Any) -> Any:
        """Coerce and validate a value read from ROS; ``ValueError`` names the parameter.

        Declared with dynamic typing so ``-p rate:=15`` (an int) is accepted
        for a float parameter instead of failing with a type exception.
        """
        kind = type(self.default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"parameter {self.name!r} must be {kind.__name__}, got {value!r}")
        if self.choices and value not in self.choices:
            raise ValueError(f"parameter {self.name!r}: {value!r} is not one of {', '.join(self.choices)}")
        if self.bounds is not None:
            lo, hi = self.bounds
            if not lo <= value <= hi:  # NaN fails too
                raise ValueError(f"parameter {self.name!r} must be in {lo:g}..{hi:g}, got {value!r}")
        return value


_DEVICE = Param("device", "auto", "Torch/ONNX device: auto (cuda if available, else cpu), cpu, cuda, cuda:N.")

NODE_PARAMS: dict[str, tuple[Param, ...]] = {
    "camera": (
        Param("source", "sim", "Frame source.", ("sim", "device", "video", "folder")),
        Param("source_path", "", "Video file or image folder (source video/folder)."),
        Param("device_index", 0, "OpenCV camera index (source device)."),
        Param("rate", 10.0, "Publish rate in Hz."),
        Param("width", 640, "Image width in pixels (sim, device)."),
        Param("height", 480, "Image height in pixels (sim, device)."),
        Param("frame_id", "camera", "frame_id stamped on image_raw and camera_info."),
        Param("loop", True, "Restart a video/folder source at its end instead of stopping."),
        Param("sim_robot", "", "Simulated robot carrying the camera: a1, laikago, panda, kuka, none "
              "(empty: the simulator's default)."),
        Param("sim_objects", "", "Comma-separated object names for the sim scene (empty: sim_n_objects picked "
              "from the default objects by seed)."),
        Param("sim_n_objects", 4, "Number of default objects in the sim scene when sim_objects is empty."),
        Param("sim_reset_every", 0, "Re-randomise the sim layout every N frames (0: only on ~/randomize)."),
        Param("sim_process", True, "Render the sim in a child process (PyBullet holds the GIL while it renders, "
              "which stalls every other node of a one-process bringup)."),
        Param("sim_cache", 0, "Pre-render this many sim frames at start and publish them in a loop (cheap, "
              "repeatable frames for benchmarks; no ~/randomize). 0: render every frame live."),
        Param("seed", 0, "Random seed of the sim scene."),
        Param("publish_truth", True, "Publish the sim's ground-truth boxes as JSON on 'truth' (groundtruth detector)."),
        Param("image_reliability", "reliable", "QoS reliability of image_raw.", ("reliable", "best_effort")),
    ),
    "detector": (
        Param("detector", "groundtruth", "Detector back end.", ("groundtruth", "yolo", "ssd")),
        Param("model", "", "yolo weights file (empty: the bundled default, no download)."),
        _DEVICE,
        Param("threshold", 0.25, "Minimum detection score."),
        Param("max_det", 20, "Maximum detections per frame."),
        Param("track", True, "yolo: track objects across frames (ultralytics ByteTrack) so detections carry "
              "track ids, which teach commands can name."),
        # Bounded: the encoder checks a detections payload's crop geometry against these same
        # parameters (messages.py), so a bogus value cannot make it allocate gigabytes.
        Param("crop_size", 224, "Side of the square crops sent to the encoder, pixels.", bounds=(1, 2048)),
        Param("crop_pad", 0.1, "Context padding added around each box, as a fraction of its size.",
              bounds=(0.0, 10.0)),
        Param("min_size", 8, "Boxes smaller than this (pixels) are dropped."),
        Param("truth_tolerance", 0.02, "groundtruth: max |stamp difference| in s between image and truth message."),
        Param("image_reliability", "best_effort", "QoS reliability of the image_raw subscription "
              "(best_effort accepts both publisher kinds).", ("best_effort", "reliable")),
    ),
    "encoder": (
        Param("encoder", "efficientnet", "Feature encoder.", ("efficientnet", "efficientnet-onnx", "clip")),
        Param("model", "", "Encoder weights file (empty: the bundled default, no download)."),
        _DEVICE,
        Param("backend", "auto", "Runtime of the efficientnet encoder: auto (ONNX Runtime on CPU when installed: "
              "same features to 1e-4, about 4x faster than eager; eager PyTorch on GPU), onnx, torch.",
              ("auto", "onnx", "torch")),
        Param("crop_source", "image", "Where the crops come from: image (cut from image_raw with the boxes and crop "
              "geometry of 'detections': no pixel hop between detector and encoder) or crops (the detector's crop "
              "mosaic topic, e.g. when the encoder runs on another machine than the camera).", ("image", "crops")),
        Param("image_reliability", "best_effort", "QoS reliability of the image_raw subscription (crop_source "
              "image; best_effort accepts both publisher kinds).", ("best_effort", "reliable")),
        Param("onnx_threads", 1, "ONNX Runtime intra-op threads (0: one per core). The four stages already run "
              "in parallel; a thread pool per stage that spins and waits for its own threads on a busy CPU made "
              "an overloaded pipeline several times slower."),
    ),
    "classifier": (
        Param("learner", "chhnn", "Continual learner (chhnn_ros.learning registry name)."),
        Param("learner_params", "", "Extra learner constructor arguments as a YAML/JSON mapping string."),
        Param("seed", 0, "Learner random seed."),
        Param("memory_path", "~/.ros/chhnn_ros/memory.pt", "Learned classes are saved here after every "
              "change and on shutdown, and loaded at start (empty: no persistence)."),
        Param("start_empty_on_error", False, "If the memory file is corrupt or incompatible, move it aside "
              "(<name>.corrupt-<time>) and start empty instead of refusing to start."),
        Param("teach_samples", 20, "Crops of the target collected per teach command."),
        Param("teach_timeout", 10.0, "Seconds a teach command waits for its object before failing."),
        Param("min_confidence", 0.0, "Objects whose best class probability is lower are labelled unknown_label."),
        Param("unknown_label", "unknown", "Label published for objects below min_confidence or before any teach."),
        Param("diagnostics_period", 1.0, "Seconds between /diagnostics messages."),
        Param("torch_threads", 1, "PyTorch intra-op threads of the process that runs the classifier (0: PyTorch's "
              "default, one per core). The learner's matrices are small, and on a busy CPU extra threads wait for "
              "each other: a teach took 5-20x longer with 2 threads than with 1 on 2 shared cores."),
        Param("max_input_age", 5.0, "Feature frames whose camera stamp is further than this (s) from the node's "
              "clock are still labelled but logged and counted as stale_frames (clock mismatch or backlog; "
              "0: no check)."),
    ),
}

#: Launch arguments of launch/perception.launch.py → the parameter they set
#: ("node.param"), or None for launch-only arguments.  ``use_sim_time`` is
#: rclpy's built-in parameter, set on every node.
LAUNCH_ARGS: dict[str, str | None] = {
    "namespace": None,
    "params_file": None,
    "image_topic": None,  # a remapping of the detector's and encoder's image_raw, not a parameter
    "use_camera": None,
    "use_sim_time": "*.use_sim_time",
    "learner": "classifier.learner",
    "device": "detector.device,encoder.device",
    "detector": "detector.detector",
    "encoder": "encoder.encoder",
}

BUILTIN_PARAMS = ("use_sim_time",)


def params_for(node: str) -> tuple[Param, ...]:
    if node not in NODE_PARAMS:
        raise ValueError(f"unknown node {node!r}; nodes: {', '.join(NODE_PARAMS)}")
    return NODE_PARAMS[node]


def defaults(node: str) -> dict[str, Any]:
    return {p.name: p.default for p in params_for(node)}


def declare(node: Any, kind: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Declare ``kind``'s parameters on an rclpy node; return their values.

    ``overrides`` replace defaults (used by the one-process bringup); values
    from a params file or ``-p`` still win because ROS applies them on
    declaration.
    """
    from rcl_interfaces.msg import ParameterDescriptor

    values: dict[str, Any] = {}
    for p in params_for(kind):
        desc = p.description + (f" One of: {', '.join(p.choices)}." if p.choices else "") + (
            f" Range: {p.bounds[0]:g}..{p.bounds[1]:g}." if p.bounds else "")
        default = (overrides or {}).get(p.name, p.default)
        descriptor = ParameterDescriptor(description=desc, dynamic_typing=True)
        node.declare_parameter(p.name, type(p.default)(default), descriptor)
        values[p.name] = p.check(node.get_parameter(p.name).value)
    return values


def yaml_config() -> dict[str, Any]:
    """The params-file mapping: ``/**/<node>: ros__parameters: {...}``."""
    return {f"/**/{node}": {"ros__parameters": defaults(node)} for node in NODE_PARAMS}


def render_yaml() -> str:
    head = (
        "# Parameters of the chhnn_ros nodes. GENERATED from chhnn_ros/params.py\n"
        "# (python -m chhnn_ros.params > config/perception.yaml); test_params.py checks it.\n"
        "# '/**/' matches the nodes in any namespace (the launch default is /chhnn).\n"
    )
    return head + yaml.safe_dump(yaml_config(), sort_keys=False, default_flow_style=False)


def render_markdown() -> str:
    """Parameter tables for README.md (test_params.py checks README holds them)."""
    out = []
    for node, params in NODE_PARAMS.items():
        out += [f"**{node}**", "", "| parameter | default | description |", "|---|---|---|"]
        for p in params:
            choices = f" One of: {', '.join(p.choices)}." if p.choices else ""
            out.append(f"| `{p.name}` | `{p.default!r}` | {p.description}{choices} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    import sys

    print(render_markdown() if "--markdown" in sys.argv else render_yaml(), end="")
