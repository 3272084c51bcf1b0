"""Node parameters → the frame source, detector, encoder and teach policy they describe.

The one place that turns a parameter dict (as :mod:`chhnn_ros.params` defines
it) into perception objects: the nodes, ``chhnn-detect`` and the benchmarks
all build their parts here, so a benchmark runs what a node runs.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import chhnn_ros.sim.source  # noqa: F401  (registers the "sim" frame source)
from chhnn_ros.app.teaching import TeachPolicy
from chhnn_ros.perception.detectors import Detector, make_detector
from chhnn_ros.perception.encoders import Encoder, make_encoder
from chhnn_ros.perception.source_wrappers import CachedSource, ProcessSource
from chhnn_ros.perception.sources import FrameSource, make_source
from chhnn_ros.perception.weights import resolve_device

SIM_MODULE = "chhnn_ros.sim.source"


# ------------------------------------------------------------------ camera
def source_kwargs(p: dict[str, Any]) -> dict[str, Any]:
    """Camera parameters → keyword arguments of ``make_source``."""
    kind = p["source"]
    if kind == "sim":
        kw = {"width": p["width"], "height": p["height"], "seed": p["seed"], "rate": p["rate"],
              "frame_id": p["frame_id"], "n_objects": p["sim_n_objects"], "reset_every": p["sim_reset_every"],
              "motion": p["sim_motion"]}
        if p["sim_robot"]:
            kw["robot"] = p["sim_robot"]
        if p["sim_objects"]:
            kw["objects"] = [s.strip() for s in p["sim_objects"].split(",") if s.strip()]
        return kw
    if kind == "device":
        return {"device": p["device_index"], "width": p["width"], "height": p["height"], "frame_id": p["frame_id"]}
    if not p["source_path"]:
        raise ValueError(f"source {kind!r} needs the source_path parameter")
    kw = {"path": p["source_path"], "loop": p["loop"], "frame_id": p["frame_id"]}
    return {**kw, "fps": p["rate"]} if kind == "folder" else kw


def open_source(p: dict[str, Any]) -> FrameSource:
    """The camera's frame source; the sim renders in a child process and/or is cached (parameters)."""
    kw = source_kwargs(p)
    if p["source"] != "sim":
        return make_source(p["source"], **kw)
    if p["sim_cache"] > 0:
        return CachedSource(make_source("sim", **kw), p["sim_cache"])
    return ProcessSource("sim", kw, SIM_MODULE) if p["sim_process"] else make_source("sim", **kw)


# ---------------------------------------------------------------- detector
def detector_kwargs(p: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Detector parameters → keyword arguments of ``make_detector`` (``extra``: e.g. ``classes``;
    a ``threshold`` of None keeps the detector's own default)."""
    if p["detector"] == "groundtruth":
        return {}
    kw = {"max_det": p["max_det"], **extra, **({"conf": p["threshold"]} if p["threshold"] is not None else {})}
    if p["detector"] == "yolo":
        kw.update(device=p["device"], track=p["track"], **({"model": p["model"]} if p["model"] else {}))
    return kw


def open_detector(p: dict[str, Any], **extra: Any) -> Detector:
    return make_detector(p["detector"], **detector_kwargs(p, **extra))


def apply_detector_param(detector: Detector, name: str, value: Any) -> None:
    """A live change of ``threshold`` or ``max_det`` on a running detector (the ones that have them)."""
    attr = {"threshold": "conf", "max_det": "max_det"}.get(name)
    if attr and hasattr(detector, attr):
        setattr(detector, attr, value)


# ----------------------------------------------------------------- encoder
def encoder_kind(p: dict[str, Any]) -> str:
    """The make_encoder kind: ``efficientnet`` runs on ONNX Runtime when ``backend`` says so
    (auto: on CPU, if onnxruntime is installed); the published encoder name stays ``efficientnet``."""
    if p["encoder"] != "efficientnet" or p["backend"] == "torch":
        return p["encoder"]
    if p["backend"] == "onnx":
        return "efficientnet-onnx"
    cpu = resolve_device(p["device"]) == "cpu"
    return "efficientnet-onnx" if cpu and importlib.util.find_spec("onnxruntime") else "efficientnet"


def encoder_kwargs(p: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Encoder parameters → keyword arguments of ``make_encoder`` (``model`` is a weights file)."""
    kw = {"device": p["device"], **extra}
    if p["encoder"] == "efficientnet-onnx":
        kw["threads"] = p.get("onnx_threads", 0)
    if p["model"]:
        onnx = p["encoder"] == "efficientnet-onnx" and p["model"].endswith(".onnx")
        kw["checkpoint" if p["encoder"] == "clip" else "onnx_path" if onnx else "weights"] = p["model"]
    return kw


def open_encoder(p: dict[str, Any], warn: Callable[[str], object] = print) -> tuple[Encoder, str]:
    """(encoder, kind actually used); ``backend: auto`` falls back to eager PyTorch if the ONNX export fails."""
    kind = encoder_kind(p)
    try:
        return make_encoder(kind, **encoder_kwargs({**p, "encoder": kind})), kind
    except Exception as exc:  # the export can fail in many ways; eager PyTorch is always there
        if kind == p["encoder"] or p["backend"] != "auto":
            raise
        warn(f"ONNX Runtime backend unavailable ({exc}); using eager PyTorch")
        return make_encoder(p["encoder"], **encoder_kwargs(p)), p["encoder"]


# -------------------------------------------------------------- classifier
def teach_policy(p: dict[str, Any]) -> TeachPolicy:
    return TeachPolicy(samples=p["teach_samples"], timeout=p["teach_timeout"], lost_timeout=p["teach_lost_timeout"],
                       interval=p["teach_interval"], min_similarity=p["teach_min_similarity"])
