"""Crop encoders: EfficientNet-Lite0 (shipped ImageNet weights), its ONNX export, OpenCLIP via checkpoint."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import time  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import skimage.data  # noqa: E402
import torch  # noqa: E402

from chhnn_ros.perception.crops import crop_detections  # noqa: E402
from chhnn_ros.perception.encoders import make_encoder  # noqa: E402
from chhnn_ros.perception.types import Detection  # noqa: E402
from chhnn_ros.perception.weights import WeightsUnavailableError  # noqa: E402

CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


@pytest.fixture(scope="module")
def eager():
    return make_encoder("efficientnet")


@pytest.fixture(scope="module")
def crops():
    coffee = skimage.data.coffee()
    dets = [Detection(173, 13, 412, 240), Detection(0, 0, 600, 400), Detection(300, 200, 580, 390)]
    out, _ = crop_detections(coffee, dets, size=224)
    return out + [skimage.data.chelsea(), skimage.data.astronaut(), skimage.data.camera(), skimage.data.rocket(),
                  skimage.data.chelsea()[::-1]]  # fmt: skip


def test_efficientnet_imagenet_top1_is_cat(eager):
    logits = eager.classify([skimage.data.chelsea()])
    assert logits.shape == (1, 1000)
    assert int(logits.argmax()) in CAT_CLASSES
    probs = torch.from_numpy(logits).softmax(1)[0]
    assert float(probs[list(CAT_CLASSES)].sum()) > 0.8


def test_efficientnet_features(eager, crops):
    feats = eager.encode(crops)
    assert eager.dim == 1280 and feats.shape == (8, 1280) and feats.dtype == np.float32
    assert np.allclose(np.linalg.norm(feats, axis=1), 1.0, atol=1e-5)
    assert (feats[3] @ feats[7]) > (feats[3] @ feats[5])  # flipped cat closer to cat than to the camera man
    assert np.allclose(eager.encode(crops[3]), feats[3:4], atol=1e-5)  # single crop == batched
    assert eager.encode([]).shape == (0, 1280)
    with pytest.raises(ValueError):
        eager.encode([np.zeros((0, 3, 3), np.uint8)])


def test_onnx_matches_eager(eager, crops, tmp_path):
    onnx = make_encoder("efficientnet-onnx", onnx_path=tmp_path / "lite0.onnx")
    assert (tmp_path / "lite0.onnx").is_file()
    a, b = eager.encode(crops), onnx.encode(crops)
    assert np.abs(a - b).max() < 1e-4
    assert np.abs(eager.classify(crops[:2]) - onnx.classify(crops[:2])).max() < 1e-3  # logits are O(10)
    again = make_encoder("efficientnet-onnx", onnx_path=tmp_path / "lite0.onnx")  # reuses the export
    assert np.abs(again.encode(crops[:1]) - b[:1]).max() < 1e-6


def test_efficientnet_bad_weights(tmp_path):
    with pytest.raises(FileNotFoundError):
        make_encoder("efficientnet", weights=tmp_path / "missing.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="corrupt"):
        make_encoder("efficientnet", weights=bad)
    wrong = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, wrong)
    with pytest.raises(ValueError, match="not an EfficientNet-Lite0"):
        make_encoder("efficientnet", weights=wrong)
    broken_onnx = tmp_path / "broken.onnx"
    broken_onnx.write_bytes(b"nope")
    with pytest.raises(ValueError, match="corrupt"):
        make_encoder("efficientnet-onnx", onnx_path=broken_onnx)
    with pytest.raises(ValueError, match="unknown encoder"):
        make_encoder("resnet")
    for device in ("cuda:99", "tpu"):
        with pytest.raises(ValueError, match="device"):
            make_encoder("efficientnet", device=device)


def test_clip_checkpoint_roundtrip(tmp_path, crops):
    import open_clip

    model_name = "ViT-S-32"  # smallest ViT config (63 M parameters) keeps the saved file and test fast
    ckpt = tmp_path / "clip_random.pt"
    torch.save(open_clip.create_model(model_name).state_dict(), ckpt)
    enc = make_encoder("clip", model=model_name, checkpoint=ckpt, batch_size=4)
    feats = enc.encode(crops)
    assert enc.dim == 384 and enc.input_size == 224 and feats.shape == (8, 384)
    assert np.allclose(np.linalg.norm(feats, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(feats).all() and np.abs(feats[0] - feats[3]).max() > 1e-4


def test_clip_fails_fast_without_weights(tmp_path):
    t0 = time.perf_counter()
    with pytest.raises(WeightsUnavailableError, match="checkpoint=.*efficientnet"):
        make_encoder("clip", model="ViT-B-32", pretrained="openai")  # HF_HUB_OFFLINE=1, nothing cached
    with pytest.raises(ValueError, match="unknown pretrained tag"):
        make_encoder("clip", model="ViT-S-32", pretrained="no_such_tag")
    assert time.perf_counter() - t0 < 10
    with pytest.raises(FileNotFoundError):
        make_encoder("clip", checkpoint=tmp_path / "none.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="CLIP"):
        make_encoder("clip", model="ViT-S-32", checkpoint=bad)
    with pytest.raises(ValueError, match="unknown open_clip model"):
        make_encoder("clip", model="ViT-nope")
