"""Corrupt or incompatible files: a clear error, and nothing on disk overwritten.

Each case writes a bad file into its own directory, hashes the directory,
tries to use the file the way the nodes do (the classifier's memory, the
encoder's weights, the detector's weights, the CH-HNN prior), and checks
that a ``ValueError`` (or ``FileNotFoundError``) with a useful message came
out and the directory is byte-for-byte unchanged.  The cases are data
(:data:`CASES`), so the tests run each one by its name.  No ROS here.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch


def snapshot(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.is_file()}


def _good_memory(path: Path, learner: str = "ncm", dim: int = 8) -> Path:
    from chhnn_ros.app.knowledge import Knowledge

    k = Knowledge(learner, "", 0, str(path), False)
    rng = np.random.default_rng(0)
    for i, label in enumerate(("cup", "key")):
        k.teach(label, (rng.standard_normal((5, dim)) + 3 * i).astype(np.float32), "test")
    return path


def _knowledge(path: Path, learner: str = "ncm", params: str = "") -> Any:
    """The classifier node's start with this memory file and learner (its default feature_dim)."""
    from chhnn_ros.app.knowledge import Knowledge
    from chhnn_ros.params import defaults

    return Knowledge(learner, params, 0, str(path), False, defaults("classifier")["feature_dim"])


def _future_version(p: Path) -> None:
    good = _good_memory(p.with_name("_good.pt"))
    payload = torch.load(good, weights_only=True)
    payload["version"] = 99
    torch.save(payload, p)
    good.unlink()


def _from_good_memory(p: Path, f: Callable[[bytes], bytes]) -> None:
    good = _good_memory(p.with_name("_good.pt"))
    p.write_bytes(f(good.read_bytes()))
    good.unlink()


def _weights() -> bytes:
    from chhnn_ros.perception.weights import efficientnet_lite0_weights

    return efficientnet_lite0_weights().read_bytes()


def _small_prior_bytes() -> bytes:
    import io

    from chhnn_ros.learning.prior import MaskPrior, prior_to_state

    buf = io.BytesIO()
    torch.save(prior_to_state(MaskPrior(8, (16, 16), width=16)), buf)
    return buf.getvalue()


def _encoder(d: Path) -> Any:
    from chhnn_ros.perception.encoders import make_encoder

    return make_encoder("efficientnet", weights=str(d / "weights.pth"), device="cpu")


def _yolo(model: Path) -> Any:
    from chhnn_ros.perception.detectors import make_detector

    return make_detector("yolo", model=str(model), device="cpu")


def _chhnn_with_prior(d: Path) -> Any:
    return _knowledge(d / "memory.pt", "chhnn", f"{{prior: {d / 'prior.pt'}}}")


@dataclass(frozen=True)
class FileCase:
    """A bad file (``make`` writes it into an empty directory), the use of it that must fail with a clear
    error (``action`` on that directory), and words that message must contain."""

    name: str
    make: Callable[[Path], object]
    action: Callable[[Path], object]
    words: tuple[str, ...]


def _memory(name: str, make: Callable[[Path], object], words: tuple[str, ...], learner: str = "ncm") -> FileCase:
    return FileCase(name, lambda d: make(d / "memory.pt"), lambda d: _knowledge(d / "memory.pt", learner),
                    (*words, "start_empty_on_error"))


def _truncated(frac: float) -> Callable[[bytes], bytes]:
    return lambda data: data[: int(len(data) * frac)]


CASES: tuple[FileCase, ...] = (
    _memory("memory_random_bytes", lambda p: p.write_bytes(os.urandom(4096)), ("cannot be read",)),
    _memory("memory_empty", lambda p: p.write_bytes(b""), ("cannot be read",)),
    *(_memory(f"memory_truncated_{int(f * 100)}pct", lambda p, f=f: _from_good_memory(p, _truncated(f)),
              ("cannot be read",)) for f in (0.1, 0.5, 0.99)),
    _memory("memory_is_a_prior", lambda p: p.write_bytes(_small_prior_bytes()), ("not a chhnn_ros memory file",)),
    _memory("memory_other_learner", lambda p: _from_good_memory(p, bytes), ("learner 'ncm'",), learner="slda"),
    _memory("memory_future_version", _future_version, ("version 99",)),
    FileCase("encoder_weights_of_a_prior", lambda d: (d / "weights.pth").write_bytes(_small_prior_bytes()), _encoder,
             ("not an EfficientNet-Lite0",)),
    FileCase("encoder_weights_truncated", lambda d: (d / "weights.pth").write_bytes(_truncated(0.5)(_weights())),
             _encoder, ("cannot read",)),
    FileCase("detector_weights_of_an_encoder", lambda d: (d / "yolo.pt").write_bytes(_weights()),
             lambda d: _yolo(d / "yolo.pt"), ("cannot load YOLO model",)),
    FileCase("detector_weights_wrong_suffix", lambda d: (d / "yolo.pth").write_bytes(_weights()),
             lambda d: _yolo(d / "yolo.pth"), ("YOLO model",)),
    # the CH-HNN prior: truncated, or not a prior; the classifier refuses it at start
    *(FileCase(f"prior_truncated_{int(f * 100)}pct", lambda d, f=f: (d / "prior.pt").write_bytes(
        _truncated(f)(_small_prior_bytes())), _chhnn_with_prior, ("prior", "cannot read")) for f in (0.3, 0.9)),
    FileCase("prior_is_encoder_weights", lambda d: (d / "prior.pt").write_bytes(_weights()), _chhnn_with_prior,
             ("not a CH-HNN prior",)),
)


def run_case(case: FileCase, work: Path) -> dict[str, Any]:
    """Write the case's bad file into ``work/<name>``, use it, check the error and that nothing changed."""
    d = work / case.name
    d.mkdir(parents=True, exist_ok=True)
    case.make(d)
    before = snapshot(d)
    try:
        case.action(d)
        outcome, message = "accepted", ""
    except (ValueError, FileNotFoundError) as exc:
        outcome, message = "clear_error", str(exc)
    except Exception as exc:  # anything else is a crash with a traceback in a node
        outcome, message = f"crash ({type(exc).__name__})", str(exc)
    unchanged = snapshot(d) == before
    clear = outcome == "clear_error" and all(w in message for w in case.words)
    return {"ok": clear and unchanged, "outcome": outcome, "unchanged": unchanged, "message": message[:600]}


def check_start_empty(work: Path) -> dict[str, Any]:
    """start_empty_on_error: the bad file is kept aside byte for byte, never overwritten."""
    from chhnn_ros.app.knowledge import Knowledge

    d = work / "memory_start_empty"
    d.mkdir(parents=True, exist_ok=True)
    bad = os.urandom(1000)
    (d / "memory.pt").write_bytes(bad)
    k = Knowledge("ncm", "", 0, str(d / "memory.pt"), True)
    k.teach("cup", np.ones((3, 4), np.float32), "test")
    kept = [p for p in d.iterdir() if ".corrupt-" in p.name]
    return {"ok": len(kept) == 1 and kept[0].read_bytes() == bad and k.classes() == ["cup"], "outcome": k.notice[:300]}


def run_file_checks(work: Path) -> dict[str, Any]:
    results = {case.name: run_case(case, work) for case in CASES}
    results["memory_start_empty_keeps_file"] = check_start_empty(work)
    return {"file_cases": results, "file_cases_ok": sum(r["ok"] for r in results.values()),
            "file_cases_total": len(results)}
