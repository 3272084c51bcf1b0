"""Every ROS parameter of the nodes: name, default, description, range, and
whether it can change while the node runs.

The single source of truth: nodes declare from here (descriptions, ranges and
choices go into the ROS parameter descriptors, so ``ros2 param describe`` and
rqt show them; parameters that are not ``live`` are read-only),
``config/perception.yaml`` and ``docs/parameters.md`` are generated from here
(``python -m chhnn_ros.params [--markdown]``; a test fails on drift), params
files are checked against it before any node starts, and the launch file's
arguments are checked against :data:`LAUNCH_ARGS`.  No ROS here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Param:
    name: str
    default: bool | int | float | str
    description: str
    choices: tuple[str, ...] = ()
    bounds: tuple[float, float] | None = None  # inclusive range of a number
    live: bool = False  # takes effect on `ros2 param set` while the node runs (else read-only)

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
_DIAGNOSTICS = Param("diagnostics_period", 1.0, "Seconds between /diagnostics messages.", bounds=(0.05, 3600.0),
                     live=True)

NODE_PARAMS: dict[str, tuple[Param, ...]] = {
    "camera": (
        Param("source", "sim", "Frame source.", ("sim", "device", "video", "folder")),
        Param("source_path", "", "Video file or image folder (source video/folder)."),
        Param("device_index", 0, "OpenCV camera index (source device).", bounds=(0, 255)),
        Param("rate", 10.0, "Publish rate in Hz.", bounds=(0.1, 1000.0), live=True),
        Param("width", 640, "Image width in pixels (sim, device).", bounds=(16, 8192)),
        Param("height", 480, "Image height in pixels (sim, device).", bounds=(16, 8192)),
        Param("frame_id", "camera", "frame_id stamped on image_raw and camera_info."),
        Param("loop", True, "Restart a video/folder source at its end instead of stopping."),
        Param("sim_robot", "", "Simulated robot carrying the camera: a1, laikago, panda, kuka, none "
              "(empty: the simulator's default)."),
        Param("sim_objects", "", "Comma-separated object names for the sim scene (empty: sim_n_objects picked "
              "from the default objects by seed)."),
        Param("sim_n_objects", 4, "Number of default objects in the sim scene when sim_objects is empty.",
              bounds=(1, 10)),
        Param("sim_reset_every", 0, "Re-randomise the sim layout every N frames (0: only on ~/randomize).",
              bounds=(0, 1_000_000)),
        Param("sim_motion", "none", "Motion in the sim scene between frames: none (a still scene) or turn (every "
              "object turns slowly on the spot, as on a turntable, so a teach collects different views of it).",
              ("none", "turn")),
        Param("sim_process", True, "Render the sim in a child process (PyBullet holds the GIL while it renders, "
              "which stalls every other node of a one-process bringup)."),
        Param("sim_cache", 0, "Pre-render this many sim frames at start and publish them in a loop (cheap, "
              "repeatable frames for benchmarks; no ~/randomize). 0: render every frame live.", bounds=(0, 10_000)),
        Param("seed", 0, "Random seed of the sim scene.", bounds=(0, 2**31 - 1)),
        Param("publish_truth", True, "Publish the sim's ground-truth boxes on 'truth' (groundtruth detector)."),
        Param("image_reliability", "reliable", "QoS reliability of image_raw.", ("reliable", "best_effort")),
        _DIAGNOSTICS,
    ),
    "detector": (
        Param("detector", "groundtruth", "Detector back end.", ("groundtruth", "yolo", "ssd")),
        Param("model", "", "yolo weights file (empty: the bundled default, no download)."),
        _DEVICE,
        Param("threshold", 0.25, "Minimum detection score.", bounds=(0.0, 1.0), live=True),
        Param("max_det", 20, "Maximum detections per frame.", bounds=(1, 1000), live=True),
        Param("track", True, "yolo: track objects across frames (ultralytics ByteTrack) so detections carry "
              "track ids, which teach commands can name."),
        # Bounded: the encoder checks a detections message's crop geometry against these same
        # parameters, so a bogus value cannot make it allocate gigabytes.
        Param("crop_size", 224, "Side of the square crops sent to the encoder, pixels.", bounds=(1, 2048)),
        Param("crop_pad", 0.1, "Context padding added around each box, as a fraction of its size.",
              bounds=(0.0, 10.0)),
        Param("min_size", 8, "Boxes smaller than this (pixels) are dropped.", bounds=(1, 8192), live=True),
        Param("truth_tolerance", 0.02, "groundtruth: max |stamp difference| in s between image and truth message.",
              bounds=(0.0, 10.0), live=True),
        Param("image_reliability", "best_effort", "QoS reliability of the image_raw subscription "
              "(best_effort accepts both publisher kinds).", ("best_effort", "reliable")),
        _DIAGNOSTICS,
    ),
    "encoder": (
        Param("encoder", "efficientnet", "Feature encoder.", ("efficientnet", "efficientnet-onnx", "clip")),
        Param("model", "", "Encoder weights file (empty: the bundled default, no download)."),
        _DEVICE,
        Param("backend", "auto", "Runtime of the efficientnet encoder: auto (ONNX Runtime on CPU when installed, "
              "same features to 1e-4 and faster than eager; eager PyTorch on GPU), onnx, torch.",
              ("auto", "onnx", "torch")),
        Param("crop_source", "image", "Where the crops come from: image (cut from image_raw with the boxes and crop "
              "geometry of 'detections': no pixel hop between detector and encoder) or crops (the detector's crop "
              "mosaic topic, e.g. when the encoder runs on another machine than the camera).", ("image", "crops")),
        Param("image_reliability", "best_effort", "QoS reliability of the image_raw subscription (crop_source "
              "image; best_effort accepts both publisher kinds).", ("best_effort", "reliable")),
        Param("onnx_threads", 1, "ONNX Runtime intra-op threads (0: one per core). The pipeline's stages already "
              "run in parallel, and a thread pool per stage that spins waiting for its own threads slows an "
              "overloaded CPU down (see docs/results/perf.md).", bounds=(0, 256)),
        _DIAGNOSTICS,
    ),
    "classifier": (
        Param("learner", "chhnn", "Continual learner (chhnn_ros.learning registry name)."),
        Param("learner_params", "", "Extra learner constructor arguments as a YAML/JSON mapping string."),
        Param("seed", 0, "Learner random seed.", bounds=(0, 2**31 - 1)),
        Param("feature_dim", 1280, "Feature size the empty learner is built for at start (the encoder's output: "
              "efficientnet 1280, clip ViT-B-32 512), so the first teach does not wait for it; rebuilt when the "
              "first features differ and no class is known yet. 0: build at the first features.",
              bounds=(0, 65536)),
        Param("memory_path", "~/.ros/chhnn_ros/memory.pt", "Learned classes are saved here after every "
              "change and on shutdown, and loaded at start (empty: no persistence)."),
        Param("start_empty_on_error", False, "If the memory file is corrupt or incompatible, move it aside "
              "(<name>.corrupt-<time>) and start empty instead of refusing to start."),
        Param("teach_samples", 20, "Crops of the target collected per teach command.", bounds=(1, 500), live=True),
        Param("teach_timeout", 10.0, "Seconds a teach waits for its object (or for any frame) before failing.",
              bounds=(0.1, 3600.0), live=True),
        Param("teach_lost_timeout", 3.0, "Seconds a teach may not see its object, once it has a sample, while "
              "frames keep arriving; then it fails and learns nothing.", bounds=(0.1, 3600.0), live=True),
        Param("teach_interval", 0.2, "Minimum seconds between two samples of a teach, so its samples come from "
              "different moments (views) instead of consecutive frames.", bounds=(0.0, 60.0), live=True),
        Param("teach_min_similarity", 0.5, "Without track ids, a sample whose features have a lower cosine "
              "similarity to the mean of the samples collected so far is a different object under the box: the "
              "teach fails and learns nothing (with track ids the detector's tracker associates).",
              bounds=(-1.0, 1.0), live=True),
        Param("min_confidence", 0.0, "Objects the learner knows but whose class probability is lower are "
              "labelled unknown_label too (an extra filter on top of the learner's own open-set decision).",
              bounds=(0.0, 1.0), live=True),
        Param("unknown_label", "unknown", "Label of objects the learner does not know, or below min_confidence.",
              live=True),
        _DIAGNOSTICS,
        Param("torch_threads", 1, "PyTorch intra-op threads of the process that runs the classifier (0: PyTorch's "
              "default, one per core). The learner's matrices are small, and on a busy CPU extra threads wait for "
              "each other.", bounds=(0, 256)),
        Param("max_input_age", 5.0, "Feature frames whose camera stamp is further than this (s) from the node's "
              "clock are still labelled but logged and counted as stale_frames (clock mismatch or backlog; "
              "0: no check).", bounds=(0.0, 1e6), live=True),
    ),
    "web": (
        Param("web_host", "127.0.0.1", "Address the teach console listens on: 127.0.0.1 (this machine only), "
              "0.0.0.0 (every network interface: set web_token too) or one interface's address."),
        Param("web_port", 8080, "TCP port of the teach console (0: any free port, logged at start).",
              bounds=(0, 65535)),
        Param("web_token", "", "If set, every request (page, API, WebSocket) must carry it, as 'Authorization: "
              "Bearer <token>' or '?token=<token>'; otherwise 401. Empty: no token."),
        Param("web_jpeg_quality", 80, "JPEG quality of the live image.", bounds=(10, 100), live=True),
        Param("web_max_fps", 5.0, "Most live images per second sent to one browser (each gets the newest frame; "
              "a slow one gets fewer).", bounds=(0.2, 30.0), live=True),
        Param("web_max_clients", 8, "Browsers watching the live image at once; more are refused.",
              bounds=(1, 64)),
        Param("web_max_body", 8192, "Largest request body in bytes (a teach command is ~100); larger gets 413.",
              bounds=(256, 1_048_576)),
        Param("web_teach_wait", 60.0, "Seconds POST /api/teach waits for the command's final teach_status "
              "before answering 504.", bounds=(1.0, 3600.0), live=True),
        _DIAGNOSTICS,
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
    "web": None,  # start the web node (teach console)
    "web_port": "web.web_port",
}
#: Launch arguments that set a parameter do so only when given: their default is this empty string,
#: so a params file's value is kept unless the argument is on the command line.
UNSET = ""

BUILTIN_PARAMS = ("use_sim_time",)


def params_for(node: str) -> tuple[Param, ...]:
    if node not in NODE_PARAMS:
        raise ValueError(f"unknown node {node!r}; nodes: {', '.join(NODE_PARAMS)}")
    return NODE_PARAMS[node]


def defaults(node: str) -> dict[str, Any]:
    return {p.name: p.default for p in params_for(node)}


def describe(p: Param) -> str:
    """The description shown by ``ros2 param describe`` and in docs/parameters.md."""
    return p.description + (f" One of: {', '.join(p.choices)}." if p.choices else "") + (
        f" Range: {p.bounds[0]:g}..{p.bounds[1]:g}." if p.bounds else "")


def closest(name: str, valid: list[str] | tuple[str, ...]) -> str:
    """' (did you mean X?)' for the valid name closest to a misspelt ``name``, or ''."""
    match = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def check_names(node: str, names: list[str] | set[str], where: str) -> None:
    """``ValueError`` naming the first parameter name ``node`` does not have, with the closest valid one."""
    valid = [p.name for p in params_for(node)] + list(BUILTIN_PARAMS)
    for name in sorted(names):
        if name not in valid:
            raise ValueError(f"{where}: {node} has no parameter {name!r}{closest(name, valid)}")


def _section_node(key: str) -> str:
    """The node name a params-file section applies to: '/**/classifier' → 'classifier', '/**' → '**'."""
    return key.strip("/").rsplit("/", 1)[-1] if key.strip("/") else "**"


def check_params_file(path: str | Path) -> None:
    """Check a params file before any node reads it: every section of ours names one of this package's
    nodes (or a wildcard), and every parameter exists.  ``ValueError`` with the closest valid name.

    A section for a node of another package (a robot's params file is often shared) is allowed when its
    name is not close to one of ours; a misspelt name of ours (``clasifier:``) fails, because ROS would
    silently ignore it and the node would run with its defaults."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"params file {path}: cannot read it: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"params file {path}: expected a mapping of node names to 'ros__parameters'")
    all_names = sorted({p.name for ps in NODE_PARAMS.values() for p in ps} | set(BUILTIN_PARAMS))
    for key, section in data.items():
        node = _section_node(str(key))
        values = section.get("ros__parameters") if isinstance(section, dict) else None
        if not isinstance(values, dict):
            raise ValueError(f"params file {path}: section {key!r} has no 'ros__parameters' mapping")
        if node in ("**", "*"):
            for name in sorted(values):  # a wildcard section may set any of our nodes' parameters
                if name not in all_names:
                    raise ValueError(f"params file {path}, section {key!r}: no chhnn_ros node has a parameter "
                                     f"{name!r}{closest(name, all_names)}")
        elif node in NODE_PARAMS:
            check_names(node, set(values), f"params file {path}")
        elif closest(node, list(NODE_PARAMS)):
            raise ValueError(f"params file {path}: section {key!r} names no chhnn_ros node"
                             f"{closest(node, list(NODE_PARAMS))}")


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
    """docs/parameters.md (test_params.py checks it is up to date)."""
    out = ["# Parameters", "", "Generated from `chhnn_ros/params.py` (`python -m chhnn_ros.params --markdown > "
           "docs/parameters.md`). *live*: takes effect on `ros2 param set` while the node runs; the others are "
           "read-only (restart the node). Ranges and choices are in the ROS parameter descriptors "
           "(`ros2 param describe`).", ""]
    for node, params in NODE_PARAMS.items():
        out += [f"## {node}", "", "| parameter | default | live | description |", "|---|---|---|---|"]
        for p in params:
            out.append(f"| `{p.name}` | `{p.default!r}` | {'yes' if p.live else ''} | {describe(p)} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    import sys

    print(render_markdown() if "--markdown" in sys.argv else render_yaml(), end="")
