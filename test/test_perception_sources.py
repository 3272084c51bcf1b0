"""Folder / video / device sources on files written to a temporary directory."""

import cv2
import numpy as np
import pytest

from chhnn_ros.perception.sources import FolderSource, SourceError, make_source


def _frames(n, h=48, w=64):
    # Distinct solid colours so the order and the RGB/BGR handling can be checked after decoding.
    return [np.full((h, w, 3), (10 * i + 5, 100, 200 - 10 * i), np.uint8) for i in range(n)]


def test_folder_source_natural_order_rgb_and_loop(tmp_path):
    frames = _frames(3)
    for order, name in ((1, "img2.png"), (2, "img10.png"), (0, "img1.png")):  # img10 sorts last, not second
        cv2.imwrite(str(tmp_path / name), cv2.cvtColor(frames[order], cv2.COLOR_RGB2BGR))
    (tmp_path / "notes.txt").write_text("not an image")
    with make_source("folder", path=tmp_path) as src:
        got = list(src)
    assert [tuple(f.image[0, 0]) for f in got] == [tuple(f[0, 0]) for f in frames]
    assert [f.stamp for f in got] == pytest.approx([0, 1 / 30, 2 / 30])
    assert all(f.image.dtype == np.uint8 and f.image.shape == (48, 64, 3) for f in got)
    looped = make_source("folder", path=tmp_path, loop=True)
    stamps = [looped.read().stamp for _ in range(7)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 7


def test_folder_source_skips_corrupt_file(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), _frames(1)[0])
    (tmp_path / "b.png").write_bytes(b"\x89PNG garbage")
    src = FolderSource(tmp_path)
    assert src.read() is not None and src.read() is None


def test_video_source(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    assert writer.isOpened()
    for f in _frames(5):
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    with make_source("video", path=path) as src:
        got = list(src)
    assert len(got) == 5
    assert [f.stamp for f in got] == pytest.approx([0, 0.1, 0.2, 0.3, 0.4])
    # MJPEG is lossy; the colour must still be the RGB we wrote (not BGR-swapped).
    assert np.abs(got[2].image[24, 32].astype(int) - (25, 100, 180)).max() < 12


def test_sources_reject_bad_paths(tmp_path):
    with pytest.raises(SourceError, match="not found"):
        make_source("video", path=tmp_path / "missing.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"definitely not a video")
    with pytest.raises(SourceError, match="decode"):
        make_source("video", path=bad)
    with pytest.raises(SourceError, match="not found"):
        make_source("folder", path=tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="no image files"):
        make_source("folder", path=empty)
    with pytest.raises(SourceError, match="cannot open camera"):
        make_source("device", device=97)
    with pytest.raises(ValueError, match="unknown source kind"):
        make_source("webcam")
