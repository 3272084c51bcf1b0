"""Export EfficientNet-Lite0 to ONNX (features + logits, dynamic batch), cached on disk."""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from chhnn_ros.perception.encoders.efficientnet_lite import INPUT_SIZE, EfficientNetLite0, load_efficientnet_lite0
from chhnn_ros.perception.weights import cache_dir, efficientnet_lite0_weights

LOG = logging.getLogger(__name__)
OPSET = 18


class _Both(nn.Module):
    """One graph with both heads so a single export serves encode() and classify()."""

    def __init__(self, net: EfficientNetLite0) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.net.features(x)
        return feats, self.net._fc(feats)


def export_onnx(model: EfficientNetLite0, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` to ``path`` atomically (tmp file + rename, so a crash leaves no half file).

    Uses the ``torch.export`` based exporter (needs ``onnxscript``); falls back to the deprecated
    TorchScript exporter when ``onnxscript`` is not installed. Both give a graph with a dynamic
    batch axis and a fixed 224×224 input (SamePad's arithmetic is folded to constants).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.onnx")
    net = _Both(model).eval()
    dummy = (torch.zeros(2, 3, INPUT_SIZE, INPUT_SIZE),)
    names = {"input_names": ["image"], "output_names": ["features", "logits"]}
    try:
        _export(net, dummy, tmp, names)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def _export(net: nn.Module, dummy: tuple[torch.Tensor], tmp: Path, names: dict[str, list[str]]) -> None:
    try:
        import onnxscript  # noqa: F401 - probe only: required by the dynamo exporter
    except ImportError:
        LOG.warning("onnxscript not installed; using the legacy TorchScript ONNX exporter")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (torch.jit.TracerWarning, DeprecationWarning))
            axes = {"image": {0: "batch"}, "features": {0: "batch"}, "logits": {0: "batch"}}
            torch.onnx.export(net, dummy, str(tmp), dynamic_axes=axes, opset_version=OPSET, dynamo=False, **names)
        return
    batch = torch.export.Dim("batch", min=1, max=4096)
    torch.onnx.export(
        net, dummy, str(tmp), dynamic_shapes=({0: batch},), opset_version=OPSET, dynamo=True, external_data=False,
        verbose=False, **names,
    )  # fmt: skip


def _weights_tag(weights: Path) -> str:
    stat = weights.stat()
    return hashlib.sha1(f"{weights.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:10]


def ensure_onnx(
    weights: str | os.PathLike[str] | None = None, onnx_path: str | os.PathLike[str] | None = None
) -> Path:
    """Path to a valid ONNX export of the given (default: shipped) weights, exporting if needed.

    The default cache name embeds a hash of the weights file identity, so new weights never reuse
    a stale export. An explicit ``onnx_path`` that exists is used as is.
    """
    import onnx


    src = Path(weights).expanduser() if weights is not None else efficientnet_lite0_weights()
    if onnx_path is not None:
        path = Path(onnx_path).expanduser()
        if path.is_file():
            try:
                onnx.checker.check_model(str(path))
            except Exception as exc:
                raise ValueError(f"ONNX file {path} is corrupt: {str(exc).splitlines()[0]}") from exc
            return path
    else:
        path = cache_dir() / f"efficientnet_lite0_{_weights_tag(src)}.onnx" if src.is_file() else None
        if path is not None and path.is_file():
            try:
                onnx.checker.check_model(str(path))
                return path
            except Exception:
                LOG.warning("cached ONNX export %s is corrupt; exporting again", path)
    model = load_efficientnet_lite0(src)  # raises the clear weights error if src is missing/corrupt
    assert path is not None
    LOG.info("exporting EfficientNet-Lite0 to %s", path)
    return export_onnx(model, path)
