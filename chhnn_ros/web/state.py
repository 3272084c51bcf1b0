"""What the teach console shows, fed by the web node with plain Python values (no ROS).

Frames and objects travel on separate topics; the view pairs each ``objects`` payload with the
camera frame of the same stamp, so the boxes drawn on the page belong to that very image (the view
lags the camera by the pipeline's latency).  When no objects arrive (no classifier running), the
view falls back to the newest raw frame without boxes.

Everything is newest-only and bounded: a short ring of frames to pair with, one view, per-class
confidence histories of fixed length, one thumbnail per class, the last teach statuses.  The
feeding calls take one lock for constant work and never wait for a browser; JPEG encoding happens
on the web server's side, once per view, only when a client asks for it.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from chhnn_ros.perception.crops import crop_window, letterbox
from chhnn_ros.perception.types import Detection
from chhnn_ros.web.commands import TeachCommands

FrameKey = tuple[int, int]  # the camera stamp (sec, nanosec) that pairs a frame with its objects

# Frames kept to find the one an objects payload belongs to: the pipeline's latency (detector +
# encoder + classifier) at the camera's rate, with room for a loaded machine.
FRAME_RING = 16
OBJECTS_TIMEOUT_S = 2.0  # no objects paired with a frame for this long: show raw frames (no boxes), not a still
HISTORY_S = 60.0  # confidence history kept per class
HISTORY_BIN_S = 0.5  # one point (the best score) per class per bin: a bounded, plottable series
THUMB_PERIOD_S = 5.0  # a class's thumbnail is refreshed at most this often (each refresh reloads its image)
THUMB_SIZE = 128  # pixels, square (letterboxed crop)
TEACH_LOG = 20  # teach statuses kept (from any sender: this console, chhnn-teach, ros2 topic pub)
HEALTH_STALE_S = 10.0  # a node whose last /diagnostics is older is shown as stale


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"JPEG encoding failed for an image of shape {rgb.shape}")
    return buf.tobytes()


@dataclass(frozen=True)
class View:
    """One displayed frame: the image and the objects drawn on it."""

    seq: int
    stamp: FrameKey
    image: np.ndarray  # RGB uint8 (H, W, 3)
    objects: list[dict[str, Any]]
    paired: bool  # objects are this frame's; False: a raw frame shown without boxes

    def meta(self) -> dict[str, Any]:
        h, w = self.image.shape[:2]
        return {"seq": self.seq, "stamp": {"sec": self.stamp[0], "nanosec": self.stamp[1]}, "width": w,
                "height": h, "objects": self.objects, "paired": self.paired}


class ConsoleState:
    """Thread-safe: the web node's callbacks write, the web server's handlers read."""

    def __init__(self, jpeg_quality: int = 80, clock: Callable[[], float] = time.monotonic) -> None:
        self.jpeg_quality = jpeg_quality
        self.clock = clock
        self._lock = threading.Lock()
        self._frames: OrderedDict[FrameKey, np.ndarray] = OrderedDict()
        self._view: View | None = None
        self._jpeg: tuple[int, bytes] | None = None  # (view seq, JPEG) of the newest view asked for
        self._jpeg_lock = threading.Lock()  # one encoder per view, however many clients ask at once
        self._objects: dict[str, Any] | None = None
        self._paired_t = -math.inf  # when objects last found their frame
        self._classes: dict[str, Any] | None = None
        self._teach_log: deque[dict[str, Any]] = deque(maxlen=TEACH_LOG)
        self._health: dict[str, dict[str, Any]] = {}
        self._history: dict[str, deque[tuple[float, float]]] = {}
        self._thumbs: dict[str, tuple[float, np.ndarray]] = {}
        self._thumb_jpeg: dict[str, tuple[float, bytes]] = {}
        self.commands = TeachCommands()
        self.info_version = 0  # classes or teach statuses changed: clients get a state update at once
        self.frames_in = self.objects_in = self.unpaired = 0

    # ------------------------------------------------------------------ feeding (node callbacks)
    def put_frame(self, stamp: FrameKey, rgb: np.ndarray) -> None:
        """A camera frame (RGB uint8; kept by reference, never written)."""
        now = self.clock()
        with self._lock:
            self.frames_in += 1
            self._frames[stamp] = rgb
            while len(self._frames) > FRAME_RING:
                self._frames.popitem(last=False)
            if now - self._paired_t > OBJECTS_TIMEOUT_S:  # no classifier, or its objects never match a frame
                self._view = View(self._next_seq(), stamp, rgb, [], False)

    def put_objects(self, stamp: FrameKey, payload: dict[str, Any]) -> bool:
        """An ``objects`` payload; True if its frame was found (a new view with boxes)."""
        now = self.clock()
        objects = list(payload.get("objects", []))
        with self._lock:
            self.objects_in += 1
            self._objects = payload
            image = self._frames.get(stamp)
            if image is None:  # that frame was dropped on the way (best-effort images) or is too old
                self.unpaired += 1
            else:
                self._view, self._paired_t = View(self._next_seq(), stamp, image, objects, True), now
                while self._frames and next(iter(self._frames)) != stamp:  # objects come in frame order
                    self._frames.popitem(last=False)
            self._record(objects, image, now)
        return image is not None

    def put_classes(self, payload: dict[str, Any]) -> None:
        """A ``classes`` payload (classes, teaches, database_version)."""
        with self._lock:
            self._classes = payload
            known = {str(c) for c in payload.get("classes", [])}
            for store in (self._history, self._thumbs, self._thumb_jpeg):
                for label in [k for k in store if k not in known]:  # forgotten or reset
                    del store[label]
            self.info_version += 1

    def put_teach_status(self, payload: dict[str, Any]) -> None:
        """A ``teach_status`` payload, from whoever sent the command."""
        now = self.clock()
        with self._lock:
            self._teach_log.append({**payload, "_t": now})
            self.commands.on_status(payload, now)
            self.info_version += 1

    def put_health(self, statuses: list[dict[str, Any]]) -> None:
        """Node statuses from /diagnostics: ``{"name", "level", "message", "values"}`` each."""
        now = self.clock()
        with self._lock:
            for st in statuses:
                self._health[st["name"]] = {**st, "_t": now}

    def command_sent(self) -> None:
        with self._lock:
            self.info_version += 1

    def _next_seq(self) -> int:
        return (self._view.seq if self._view is not None else 0) + 1

    def _record(self, objects: list[dict[str, Any]], image: np.ndarray | None, now: float) -> None:
        """Confidence history and thumbnails from one frame's known objects (lock held)."""
        best: dict[str, dict[str, Any]] = {}
        for o in objects:
            if o.get("known") and (o["label"] not in best or o.get("score", 0) > best[o["label"]].get("score", 0)):
                best[o["label"]] = o
        for label, o in best.items():
            series = self._history.setdefault(label, deque(maxlen=int(HISTORY_S / HISTORY_BIN_S) + 1))
            t_bin = math.floor(now / HISTORY_BIN_S) * HISTORY_BIN_S
            score = float(o.get("score", 0.0))
            if series and series[-1][0] == t_bin:
                series[-1] = (t_bin, max(series[-1][1], score))
            else:
                series.append((t_bin, score))
            if image is not None and now - self._thumbs.get(label, (-math.inf,))[0] >= THUMB_PERIOD_S:
                h, w = image.shape[:2]
                window = crop_window(Detection(*o["box"]), w, h, pad=0.1, min_size=2)
                if window is not None:
                    x1, y1, x2, y2 = window
                    self._thumbs[label] = (now, letterbox(image[y1:y2, x1:x2], THUMB_SIZE))

    # --------------------------------------------------------------------- reading (web server)
    def view_seq(self) -> int:
        view = self._view
        return view.seq if view is not None else 0

    def view(self) -> View | None:
        return self._view

    def view_jpeg(self) -> tuple[View, bytes] | None:
        """The newest view and its JPEG (encoded once per view, whoever asks first)."""
        view = self._view
        if view is None:
            return None
        with self._jpeg_lock:
            if self._jpeg is None or self._jpeg[0] != view.seq:
                self._jpeg = (view.seq, encode_jpeg(view.image, self.jpeg_quality))
            return view, self._jpeg[1]

    def thumbnail(self, label: str) -> bytes | None:
        with self._lock:
            thumb = self._thumbs.get(label)
            cached = self._thumb_jpeg.get(label)
        if thumb is None:
            return None
        if cached is None or cached[0] != thumb[0]:
            cached = (thumb[0], encode_jpeg(thumb[1], 85))
            with self._lock:
                if label in self._thumbs:
                    self._thumb_jpeg[label] = cached
        return cached[1]

    def objects(self) -> dict[str, Any] | None:
        return self._objects

    def classes(self) -> dict[str, Any] | None:
        return self._classes

    def class_list(self) -> list[dict[str, Any]]:
        """The classes with their teach counts and thumbnail stamps (for the page)."""
        with self._lock:
            payload = self._classes or {}
            teaches = payload.get("teaches") or []
            out = []
            for i, c in enumerate(payload.get("classes", [])):
                thumb = self._thumbs.get(str(c))
                out.append({"label": str(c), "teaches": teaches[i] if i < len(teaches) else None,
                            "thumbnail": round(thumb[0], 3) if thumb else None})
            return out

    def history(self) -> dict[str, list[list[float]]]:
        """Per class, ``[seconds ago, best score]`` points of the last :data:`HISTORY_S` seconds."""
        now = self.clock()
        with self._lock:
            return {label: [[round(now - t, 2), round(s, 4)] for t, s in series if now - t <= HISTORY_S]
                    for label, series in self._history.items()}

    def health(self) -> dict[str, dict[str, Any]]:
        now = self.clock()
        with self._lock:
            out = {}
            for name, st in self._health.items():
                age = now - st["_t"]
                out[name] = {k: v for k, v in st.items() if k != "_t"} | {"age_s": round(age, 1)}
                if age > HEALTH_STALE_S:
                    out[name]["level"] = "STALE"
            return out

    def teach_log(self) -> list[dict[str, Any]]:
        now = self.clock()
        with self._lock:
            return [{k: v for k, v in s.items() if k != "_t"} | {"age_s": round(now - s["_t"], 1)}
                    for s in self._teach_log]

    def counters(self) -> dict[str, int]:
        return {"frames_in": self.frames_in, "objects_in": self.objects_in, "unpaired_objects": self.unpaired,
                "view_seq": self.view_seq()}

    def snapshot(self) -> dict[str, Any]:
        """Everything but the image: what the page's side panels show."""
        classes = self._classes or {}
        return {"classes": self.class_list(), "database_version": classes.get("database_version"),
                "teach_log": self.teach_log(), "commands": self.commands.recent(self.clock()), "health": self.health(),
                "history": self.history()}
