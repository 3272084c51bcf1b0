"""``chhnn-detect`` end to end through ``python -m chhnn_ros.cli.detect``."""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import skimage.data

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "YOLO_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "chhnn_ros.cli.detect", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def coffee_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "coffee.png"
    cv2.imwrite(str(path), cv2.cvtColor(skimage.data.coffee(), cv2.COLOR_RGB2BGR))
    return path


def test_cli_ssd_json_with_encoder(coffee_png):
    res = _run(str(coffee_png), "--detector", "ssd", "--json", "--encoder", "efficientnet")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["size"] == [600, 400]
    assert "cup" in [d["class_name"] for d in out["detections"]]
    assert out["encoder"]["dim"] == 1280 and out["encoder"]["crops"] == len(out["detections"])


def test_cli_table(coffee_png):
    res = _run(str(coffee_png), "--classes", "cup", "--conf", "0.5")
    assert res.returncode == 0, res.stderr
    assert "cup" in res.stdout and "bowl" not in res.stdout


@pytest.mark.parametrize(
    "args, match",
    [
        (("{tmp}/missing.png",), "image not found"),
        (("{tmp}/not_image.png",), "cannot decode"),
        (("{img}", "--detector", "yolo"), "YOLO weights"),
        (("{img}", "--encoder", "clip"), "checkpoint"),
        (("{img}", "--conf", "3"), "conf must be in"),
    ],
)
def test_cli_bad_input_exit_2(coffee_png, args, match):
    tmp = coffee_png.parent
    (tmp / "not_image.png").write_text("hello")
    res = _run(*(a.format(tmp=tmp, img=coffee_png) for a in args))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chhnn-detect: error:") and match in lines[0]
