"""Ultralytics YOLO detector (any detect/pose/segment checkpoint; boxes are used)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from chhnn_ros.perception.detectors.base import Detector, check_max_det, check_threshold, class_filter, frame_image
from chhnn_ros.perception.types import Detection, Frame
from chhnn_ros.perception.weights import WeightsUnavailableError, resolve_device, resolve_yolo_weights


class YoloDetector(Detector):
    """Weights are loaded once here; ``detect`` only runs inference (optionally with BoT-SORT/ByteTrack)."""

    def __init__(
        self,
        model: str | os.PathLike[str] = "yolo11n.pt",
        device: str = "auto",
        conf: float = 0.25,
        iou: float = 0.7,
        imgsz: int = 640,
        max_det: int = 50,
        classes: Sequence[int | str] | None = None,
        agnostic: bool = False,
        track: bool = False,
        tracker: str = "bytetrack.yaml",
        warmup: bool = True,
    ) -> None:
        self.conf, self.iou = check_threshold("conf", conf), check_threshold("iou", iou)
        self.max_det = check_max_det(max_det)
        if int(imgsz) < 32:
            raise ValueError(f"imgsz must be >= 32, got {imgsz}")
        self.imgsz, self.agnostic, self.track, self.tracker = int(imgsz), bool(agnostic), bool(track), tracker
        self.device = resolve_device(device)
        spec = resolve_yolo_weights(model)
        from ultralytics import YOLO  # lazy: ~1 s import, not needed by the SSD/groundtruth paths

        try:
            self.model = YOLO(spec)
        except Exception as exc:  # ultralytics raises many types for missing / corrupt / non-YOLO files
            if not Path(spec).exists() and (isinstance(exc, (ConnectionError, TimeoutError)) or "download" in str(exc)):
                raise WeightsUnavailableError(
                    f"YOLO weights '{spec}' could not be downloaded: pass model=/local/path.pt or pre-download it"
                ) from exc
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"cannot load YOLO model {spec!r}: {reason}") from exc
        try:  # ultralytics loads lazily: a non-YOLO file (e.g. a .pth state dict) fails here with AssertionError
            self.names: dict[int, str] = {int(k): str(v) for k, v in self.model.names.items()}
        except Exception as exc:
            raise ValueError(f"cannot load YOLO model {spec!r}: {type(exc).__name__}: {exc}") from exc
        self.class_ids = class_filter(classes, self.names)
        if warmup:
            # ultralytics builds its predictor (fuses layers, ~1 s on CPU) on the first call: pay it here,
            # not on the robot's first frame. Never in track mode (it would seed the tracker).
            try:
                self._predict(np.full((self.imgsz * 3 // 4, self.imgsz, 3), 114, np.uint8), track=False)
            except Exception as exc:  # e.g. AssertionError for a .pth file: a load error, not a crash
                raise ValueError(f"YOLO model {spec!r} does not run: {type(exc).__name__}: {exc}") from exc

    def detect(self, frame: Frame | np.ndarray) -> list[Detection]:
        image = frame_image(frame)
        return self._predict(np.ascontiguousarray(image[:, :, ::-1]), self.track)  # ultralytics wants BGR arrays

    def _predict(self, bgr: np.ndarray, track: bool) -> list[Detection]:
        if self.model is None:
            raise RuntimeError("YoloDetector.detect() called after close()")
        kw = dict(
            conf=self.conf,
            iou=self.iou,
            imgsz=self.imgsz,
            max_det=self.max_det,
            classes=sorted(self.class_ids) if self.class_ids is not None else None,
            agnostic_nms=self.agnostic,
            device=self.device,
            verbose=False,
        )
        if track:
            results = self.model.track(bgr, persist=True, tracker=self.tracker, **kw)
        else:
            results = self.model.predict(bgr, **kw)
        boxes = results[0].boxes
        if boxes is None or len(boxes) == 0:
            return []
        xyxy = boxes.xyxy.cpu().numpy()
        scores = boxes.conf.cpu().numpy()
        cls = boxes.cls.cpu().numpy().astype(int)
        ids = boxes.id.cpu().numpy().astype(int) if boxes.is_track and boxes.id is not None else None
        return [
            Detection(
                float(b[0]), float(b[1]), float(b[2]), float(b[3]),
                score=float(s), class_name=self.names.get(int(c), str(int(c))),
                track_id=int(ids[i]) if ids is not None else None,
            )
            for i, (b, s, c) in enumerate(zip(xyxy, scores, cls))
        ]  # fmt: skip

    def close(self) -> None:
        # Drop the model (and tracker state) so GPU memory is released when the node shuts down.
        self.model = None  # type: ignore[assignment]
