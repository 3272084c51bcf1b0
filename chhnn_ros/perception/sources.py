"""Frame sources: camera device, video file, image folder, and a registry other frame sources join.

Every source yields ``Frame`` objects holding RGB uint8 (H, W, 3) images (OpenCV's BGR is
converted here, once, so nothing downstream has to guess the channel order).
"""

from __future__ import annotations

import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from chhnn_ros.perception.types import Frame

LOG = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
SOURCE_KINDS = ("device", "video", "folder", "sim")


class SourceError(ValueError):
    """A source cannot be opened: missing device, unreadable file, empty folder, bad argument."""


class FrameSource(ABC):
    """Iterable stream of frames; ``read()`` returns ``None`` at the end of the stream."""

    @abstractmethod
    def read(self) -> Frame | None: ...

    def close(self) -> None:  # noqa: B027 - sources without resources need nothing
        pass

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read()) is not None:
            yield frame

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _bgr_to_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class DeviceSource(FrameSource):
    """A live OpenCV camera (index or device path / stream URL); stamps are wall-clock time."""

    def __init__(
        self, device: int | str = 0, width: int | None = None, height: int | None = None, frame_id: str = "camera"
    ) -> None:
        if isinstance(device, str) and device.strip().isdigit():
            device = int(device)
        self.device, self.frame_id = device, frame_id
        self._cap = cv2.VideoCapture(device)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"cannot open camera device {device!r} (not connected, busy, or no permission)")
        if width:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, int(width))
        if height:
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, int(height))

    def read(self) -> Frame | None:
        ok, image = self._cap.read()
        if not ok or image is None:
            return None  # unplugged camera or end of a stream URL
        return Frame(image=_bgr_to_rgb(image), stamp=time.time(), frame_id=self.frame_id)

    def close(self) -> None:
        self._cap.release()


class VideoSource(FrameSource):
    """A video file; stamps are the frame position in seconds (index / fps)."""

    def __init__(self, path: str | Path, frame_id: str = "camera", loop: bool = False) -> None:
        self.path, self.frame_id, self.loop = Path(path).expanduser(), frame_id, loop
        if not self.path.is_file():
            raise SourceError(f"video file not found: {self.path}")
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"cannot decode video file {self.path} (corrupt or unsupported codec)")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and np.isfinite(fps) and fps > 0 else 30.0
        self._index = 0  # keeps counting across loops so stamps stay monotonic

    def read(self) -> Frame | None:
        ok, image = self._cap.read()
        if not ok and self.loop and self._index > 0:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._cap.read()
        if not ok or image is None:
            return None
        frame = Frame(image=_bgr_to_rgb(image), stamp=self._index / self.fps, frame_id=self.frame_id)
        self._index += 1
        return frame

    def close(self) -> None:
        self._cap.release()


def _natural_key(path: Path) -> list[Any]:
    # "img2.png" before "img10.png", as a camera dump is usually numbered without zero padding.
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", path.name)]


class FolderSource(FrameSource):
    """Image files of a folder in natural sort order; stamps are index / fps.

    Unreadable files inside the folder are skipped with a warning (one bad file must not stop a
    long-running node); if no file at all decodes, the stream simply ends.
    """

    def __init__(self, path: str | Path, loop: bool = False, fps: float = 30.0, frame_id: str = "camera") -> None:
        self.path, self.loop, self.frame_id = Path(path).expanduser(), loop, frame_id
        if not self.path.is_dir():
            raise SourceError(f"image folder not found: {self.path}")
        if not fps > 0:
            raise SourceError(f"fps must be > 0, got {fps}")
        self.fps = float(fps)
        self.files = sorted((p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
        if not self.files:
            raise SourceError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in folder {self.path}")
        self._pos = 0  # position in the endless (looped) sequence
        self._bad: set[Path] = set()

    def read(self) -> Frame | None:
        while len(self._bad) < len(self.files):
            if self._pos >= len(self.files) and not self.loop:
                return None
            index = self._pos
            path = self.files[index % len(self.files)]
            self._pos += 1
            if path in self._bad:
                continue
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                LOG.warning("skipping unreadable image %s", path)
                self._bad.add(path)
                continue
            return Frame(image=_bgr_to_rgb(image), stamp=index / self.fps, frame_id=self.frame_id)
        return None


#: kind → factory; other packages add theirs with :func:`register_source` (the simulator registers
#: ``sim`` from :mod:`chhnn_ros.sim.source`, so this module never imports the simulator).
_FACTORIES: dict[str, Callable[..., FrameSource]] = {}


def register_source(kind: str, factory: Callable[..., FrameSource]) -> None:
    _FACTORIES[kind] = factory


def make_source(kind: str, **kw: Any) -> FrameSource:
    """Open a frame source.

    ``device`` (device, width, height), ``video`` (path, loop), ``folder`` (path, loop, fps), and
    the registered ones (``sim``: SimScene keywords, once :mod:`chhnn_ros.sim.source` is imported).
    """
    if kind not in _FACTORIES:
        raise SourceError(f"unknown source kind {kind!r}; choose one of {', '.join(SOURCE_KINDS)}"
                          + ("" if kind not in SOURCE_KINDS else f" (import the module that registers {kind!r})"))
    return _FACTORIES[kind](**kw)


for _kind, _factory in (("device", DeviceSource), ("video", VideoSource), ("folder", FolderSource)):
    register_source(_kind, _factory)
