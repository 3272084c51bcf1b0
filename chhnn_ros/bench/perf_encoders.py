"""Encoder and teach measurements of ``chhnn-bench perf`` on the sim's objects.

The data: frames of the PyBullet scene (re-randomised every frame), cropped
at the ground-truth boxes exactly as the detector node does.  Measured on
those crops, in one run: eager PyTorch vs ONNX Runtime (same features to
1e-4), INT8 static quantisation of the ONNX graph, and the cost of teaching
a class from 20 views relative to encoding those views.  No rclpy.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import chhnn_ros.sim.source  # noqa: F401  (registers the "sim" frame source)
from chhnn_ros.app.stages import CropGeometry, DetectStage, crops_from_image
from chhnn_ros.bench.perf_models import median_time, ratio
from chhnn_ros.bench.protocol import teach_knowledge
from chhnn_ros.params import defaults
from chhnn_ros.perception.detectors.groundtruth import GroundTruthDetector
from chhnn_ros.perception.encoders import make_encoder
from chhnn_ros.perception.sources import make_source
from chhnn_ros.perception.types import Frame

SCENE: dict[str, Any] = {"width": 640, "height": 480,
                         "objects": ["duck", "teddy", "soccer_ball", "mug", "lego", "jenga"]}


def sim_frames(n: int, seed: int = 0, reset_every: int = 1, **scene: Any) -> list[Frame]:
    """``n`` frames of the sim camera source (deterministic for given arguments)."""
    kw = {**SCENE, **scene}
    with make_source("sim", seed=seed, reset_every=reset_every, **kw) as src:
        return [src.read() for _ in range(n)]


def frame_crops(frames: Sequence[Frame]) -> list[tuple[list[np.ndarray], list[str]]]:
    """Per frame: the detector and encoder nodes' crops of the ground-truth boxes and their object names."""
    stage = DetectStage(GroundTruthDetector(), CropGeometry.from_params(defaults("detector")))
    out = []
    for f in frames:
        kept = stage.detect(f)
        out.append((crops_from_image(f.image, kept, stage.geometry.size, stage.geometry.pad),
                    [d.class_name for d in kept]))
    return out


def encode_frames(encoder, per_frame: Sequence[list[np.ndarray]]) -> np.ndarray:
    """Encode frame by frame (one batch per frame, as the encoder node does)."""
    feats = [encoder.encode(c) for c in per_frame if len(c)]
    return np.concatenate(feats) if feats else np.zeros((0, encoder.dim), np.float32)


def encoder_comparison(per_frame: Sequence[list[np.ndarray]], repeat: int) -> tuple[dict[str, Any], np.ndarray, dict]:
    """Eager vs ONNX Runtime on the same crops; returns (result, ONNX features, the two encoders)."""
    eager = make_encoder("efficientnet", device="cpu")
    onnx = make_encoder("efficientnet-onnx", device="cpu")
    f_eager, f_onnx = encode_frames(eager, per_frame), encode_frames(onnx, per_frame)
    t_eager = median_time(lambda: encode_frames(eager, per_frame), repeat, warmup=0)
    t_onnx = median_time(lambda: encode_frames(onnx, per_frame), repeat, warmup=0)
    n = sum(len(c) for c in per_frame)
    res = {"crops": n, "frames": len(per_frame), "eager_ms_per_crop": 1e3 * t_eager / n,
           "onnx_ms_per_crop": 1e3 * t_onnx / n, "onnx_speedup": ratio(t_eager, t_onnx),
           "max_abs_diff": float(np.abs(f_eager - f_onnx).max()), "onnx_path": str(onnx.path)}
    res["equal_1e-4"] = res["max_abs_diff"] <= 1e-4
    return res, f_onnx, {"onnx": onnx, "eager": eager}


def ncm_accuracy(F_train: np.ndarray, y_train: np.ndarray, F_test: np.ndarray, y_test: np.ndarray) -> float:
    """Nearest class mean (cosine): how much of the features' class structure survives quantisation."""
    classes = sorted(set(y_train.tolist()))
    means = np.stack([F_train[y_train == c].mean(0) for c in classes])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    pred = np.asarray(classes, dtype=object)[(F_test @ means.T).argmax(1)]
    return float(np.mean(pred == y_test.astype(object)))


def onnx_int8(onnx_path: str, calib: Sequence[np.ndarray], per_frame: Sequence[list[np.ndarray]],
              f_fp32: np.ndarray, split: np.ndarray, labels: np.ndarray, repeat: int) -> dict[str, Any]:
    """Static INT8 (QDQ, per-channel weights, MinMax calibration on ``calib`` crops) of the encoder graph."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from chhnn_ros.perception.encoders.efficientnet import to_input

    fp32 = make_encoder("efficientnet-onnx", device="cpu", onnx_path=onnx_path)
    out = Path(onnx_path).with_name(Path(onnx_path).stem + "_int8_qdq.onnx")
    if not out.is_file():

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self.items = iter([{"image": to_input(fp32.prepare([c]))} for c in calib])

            def get_next(self):  # noqa: ANN201 - onnxruntime's interface
                return next(self.items, None)

        tmp = out.with_name(f".{out.name}.tmp.onnx")
        quantize_static(onnx_path, str(tmp), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        tmp.replace(out)
    int8 = make_encoder("efficientnet-onnx", device="cpu", onnx_path=out)
    f_int8 = encode_frames(int8, per_frame)
    t_fp = median_time(lambda: encode_frames(fp32, per_frame), repeat, warmup=1)
    t_q = median_time(lambda: encode_frames(int8, per_frame), repeat, warmup=1)
    cos = np.sum(f_fp32 * f_int8, axis=1)
    tr, te = split, ~split
    return {"fp32_ms_per_crop": 1e3 * t_fp / len(f_fp32), "int8_ms_per_crop": 1e3 * t_q / len(f_fp32),
            "speedup": ratio(t_fp, t_q), "cosine_mean": float(cos.mean()), "cosine_min": float(cos.min()),
            "ncm_acc_fp32": ncm_accuracy(f_fp32[tr], labels[tr], f_fp32[te], labels[te]),
            "ncm_acc_int8": ncm_accuracy(f_int8[tr], labels[tr], f_int8[te], labels[te]), "path": str(out)}


def teach_split(labels: np.ndarray, views: int) -> np.ndarray:
    """True for the first ``views`` samples of every class (taught), False for the rest (test)."""
    split = np.zeros(len(labels), bool)
    for c in dict.fromkeys(labels.tolist()):
        split[np.flatnonzero(labels == c)[:views]] = True
    return split


def teach_cost(feats: np.ndarray, crops: Sequence[np.ndarray], labels: np.ndarray, split: np.ndarray,
               encoders: dict[str, Any], repeat: int, **learner_kw: Any) -> tuple[dict[str, Any], Any]:
    """Teach CH-HNN one class at a time from its taught views through the classifier's own teach path
    (:meth:`Knowledge.teach`: copy, fit, swap, atomic save of the memory file), each followed by the
    consolidation the learning thread runs next (timed apart, off the teach path); time each teach and
    the encoding of the same crops.  Returns (result, trained learner).  The first teach only imprints (no
    training step: one class has nothing to separate), so the ratio is the median over the others.
    All teaches are timed first, then all encodings: interleaved, the encoders' work (the eager
    PyTorch one above all) leaves the next teach slower (cold caches)."""
    import tempfile

    from chhnn_ros.app.knowledge import Knowledge

    rows, taught = [], []
    with tempfile.TemporaryDirectory(prefix="chhnn_perf_") as tmp:
        knowledge = Knowledge("chhnn", json.dumps(learner_kw), 0, f"{tmp}/memory.pt", False, int(feats.shape[1]))
        for c in dict.fromkeys(labels.tolist()):
            idx = np.flatnonzero(split & (labels == c))
            teach_ms, consolidate_ms = teach_knowledge(knowledge, str(c), feats[idx])
            rows.append({"class": c, "views": len(idx), "teach_ms": teach_ms, "consolidate_ms": consolidate_ms,
                         "steps": knowledge.learner.last_steps,
                         "file_kb": round(Path(tmp, "memory.pt").stat().st_size / 1024, 1)})
            taught.append(idx)
    for row, idx in zip(rows, taught):
        views = [crops[i] for i in idx]
        for name, enc in encoders.items():
            row[f"encode_{name}_ms"] = 1e3 * median_time(lambda enc=enc, v=views: enc.encode(v), repeat, warmup=0)
    trained = rows[1:] or rows
    res = {"per_class": rows, "teach_ms": float(np.median([r["teach_ms"] for r in trained])),
           "consolidate_ms": float(np.median([r["consolidate_ms"] for r in trained])),
           "path": "Knowledge.teach (copy, fit, save)"}
    for name in encoders:
        res[f"ratio_{name}"] = float(np.median([r["teach_ms"] / r[f"encode_{name}_ms"] for r in trained]))
    return res, knowledge.learner
