"""Corrupt or incompatible files: a clear error, and nothing on disk overwritten.

Each case writes a bad file into its own directory, hashes the directory,
tries to use the file the way the nodes do (the classifier's memory, the
encoder's weights, the detector's weights, the CH-HNN prior), and checks
that a ``ValueError`` (or ``FileNotFoundError``) with a useful message came
out and the directory is byte-for-byte unchanged.  No ROS here;
:func:`node_checks` repeats the main cases against real node processes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch


def snapshot(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.is_file()}


def _truncate(src: Path, dst: Path, frac: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * frac)])
    return dst


def _good_memory(path: Path, learner: str = "ncm", dim: int = 8) -> Path:
    from chhnn_ros.nodes.knowledge import Knowledge

    k = Knowledge(learner, "", 0, str(path), False)
    rng = np.random.default_rng(0)
    for i, label in enumerate(("cup", "key")):
        k.teach(label, (rng.standard_normal((5, dim)) + 3 * i).astype(np.float32), "test")
    return path


def _small_prior(path: Path) -> Path:
    from chhnn_ros.learning.prior import MaskPrior, save_prior

    save_prior(MaskPrior(8, (16, 16), width=16), path)
    return path


def _knowledge(path: Path, learner: str = "ncm", params: str = "") -> Callable[[], Any]:
    from chhnn_ros.nodes.knowledge import Knowledge

    return lambda: Knowledge(learner, params, 0, str(path), False)


def cases(work: Path) -> list[tuple[str, Path, Callable[[], Any], tuple[str, ...]]]:
    """(name, directory, action that must fail, words the message must contain)."""
    from chhnn_ros.perception.weights import efficientnet_lite0_weights

    out = []

    def case(name: str) -> Path:
        d = work / name
        d.mkdir(parents=True, exist_ok=True)
        return d

    def memory_case(name: str, make: Callable[[Path], None], learner: str = "ncm", words=("memory",)) -> None:
        d = case(name)
        make(d / "memory.pt")
        out.append((name, d, _knowledge(d / "memory.pt", learner), (*words, "start_empty_on_error")))

    good = _good_memory(case("_source") / "memory.pt")
    memory_case("memory_random_bytes", lambda p: p.write_bytes(os.urandom(4096)), words=("cannot be read",))
    memory_case("memory_empty", lambda p: p.write_bytes(b""), words=("cannot be read",))
    for frac in (0.1, 0.5, 0.99):
        memory_case(f"memory_truncated_{int(frac * 100)}pct", lambda p, f=frac: _truncate(good, p, f),
                    words=("cannot be read",))
    memory_case("memory_is_a_prior", lambda p: _small_prior(p), words=("not a chhnn_ros memory file",))
    memory_case("memory_other_learner", lambda p: p.write_bytes(good.read_bytes()), learner="slda",
                words=("learner 'ncm'",))

    def future(p: Path) -> None:
        payload = torch.load(good, weights_only=True)
        payload["version"] = 99
        torch.save(payload, p)

    memory_case("memory_future_version", future, words=("version 99",))
    # encoder weights of the wrong model / truncated
    from chhnn_ros.perception.encoders import make_encoder

    d = case("encoder_weights_of_a_prior")
    _small_prior(d / "weights.pth")
    out.append(("encoder_weights_of_a_prior", d, lambda d=d: make_encoder("efficientnet", weights=str(
        d / "weights.pth"), device="cpu"), ("not an EfficientNet-Lite0",)))
    d = case("encoder_weights_truncated")
    _truncate(efficientnet_lite0_weights(), d / "weights.pth", 0.5)
    out.append(("encoder_weights_truncated", d, lambda d=d: make_encoder("efficientnet", weights=str(
        d / "weights.pth"), device="cpu"), ("cannot read",)))
    # detector weights of the wrong model
    from chhnn_ros.perception.detectors import make_detector

    d = case("detector_weights_of_an_encoder")
    (d / "yolo.pt").write_bytes(efficientnet_lite0_weights().read_bytes())
    out.append(("detector_weights_of_an_encoder", d, lambda d=d: make_detector(
        "yolo", model=str(d / "yolo.pt"), device="cpu"), ("cannot load YOLO model",)))
    d = case("detector_weights_wrong_suffix")
    (d / "yolo.pth").write_bytes(efficientnet_lite0_weights().read_bytes())
    out.append((d.name, d, lambda d=d: make_detector("yolo", model=str(d / "yolo.pth"), device="cpu"),
                ("YOLO model",)))
    # the CH-HNN prior: truncated, or not a prior; the classifier refuses it at start
    prior = _small_prior(case("_prior") / "prior.pt")
    for frac in (0.3, 0.9):
        d = case(f"prior_truncated_{int(frac * 100)}pct")
        _truncate(prior, d / "prior.pt", frac)
        out.append((d.name, d, _knowledge(d / "memory.pt", "chhnn", f"{{prior: {d / 'prior.pt'}}}"),
                    ("prior", "cannot read")))
    d = case("prior_is_encoder_weights")
    (d / "prior.pt").write_bytes(efficientnet_lite0_weights().read_bytes())
    out.append((d.name, d, _knowledge(d / "memory.pt", "chhnn", f"{{prior: {d / 'prior.pt'}}}"),
                ("not a CH-HNN prior",)))
    return out


def run_file_checks(work: Path) -> dict[str, Any]:
    results = {}
    for name, d, action, words in cases(work):
        before = snapshot(d)
        try:
            action()
            outcome, message = "accepted", ""
        except (ValueError, FileNotFoundError) as exc:
            outcome, message = "clear_error", str(exc)
        except Exception as exc:  # anything else is a crash with a traceback in a node
            outcome, message = f"crash ({type(exc).__name__})", str(exc)
        unchanged = snapshot(d) == before
        clear = outcome == "clear_error" and all(w in message for w in words)
        results[name] = {"ok": clear and unchanged, "outcome": outcome, "unchanged": unchanged,
                         "message": message[:600]}
    # start_empty_on_error: the bad file is kept aside byte for byte, never overwritten
    from chhnn_ros.nodes.knowledge import Knowledge

    d = work / "memory_start_empty"
    d.mkdir(parents=True, exist_ok=True)
    bad = os.urandom(1000)
    (d / "memory.pt").write_bytes(bad)
    k = Knowledge("ncm", "", 0, str(d / "memory.pt"), True)
    k.teach("cup", np.ones((3, 4), np.float32), "test")
    kept = [p for p in d.iterdir() if ".corrupt-" in p.name]
    results["memory_start_empty_keeps_file"] = {
        "ok": len(kept) == 1 and kept[0].read_bytes() == bad and k.classes() == ["cup"], "outcome": k.notice[:300]}
    return {"file_cases": results, "file_cases_ok": sum(r["ok"] for r in results.values()),
            "file_cases_total": len(results)}
