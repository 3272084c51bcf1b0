"""Prior training data that is disjoint from every evaluation stream.

``glyphs28``: letters A–Z and a–z rendered MNIST-style (white on black,
28×28) from the DejaVu fonts that matplotlib ships, with random affine jitter
and stroke width.  Its classes are letters, so the default pixel-space prior
never sees a digit (MNIST) or a garment (Fashion-MNIST): the published MNIST
prior saw the test digits, which we do not repeat.
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

LETTERS = string.ascii_uppercase + string.ascii_lowercase


def _font_files() -> list[Path]:
    import matplotlib

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    files = sorted(p for p in ttf.glob("DejaVu*.ttf") if "Display" not in p.name)
    if not files:
        raise FileNotFoundError(f"no DejaVu fonts under {ttf}")
    return files


def _render(ch: str, font: ImageFont.FreeTypeFont, rng: np.random.Generator) -> np.ndarray:
    canvas = Image.new("L", (56, 56), 0)
    draw = ImageDraw.Draw(canvas)
    draw.text((28, 28), ch, fill=255, font=font, anchor="mm", stroke_width=int(rng.integers(0, 3)), stroke_fill=255)
    canvas = canvas.rotate(float(rng.uniform(-15, 15)), resample=Image.BILINEAR)
    arr = np.asarray(canvas)
    ys, xs = np.nonzero(arr > 30)
    if len(xs) == 0:
        return np.zeros((28, 28), np.uint8)
    crop = canvas.crop((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
    # MNIST normalisation: fit the glyph in a 20×20 box, then centre in 28×28.
    w, h = crop.size
    s = float(rng.uniform(0.8, 1.0)) * 20.0 / max(w, h)
    crop = crop.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)
    out = Image.new("L", (28, 28), 0)
    dx, dy = (int(v) for v in rng.integers(-2, 3, size=2))
    out.paste(crop, ((28 - crop.size[0]) // 2 + dx, (28 - crop.size[1]) // 2 + dy))
    return np.asarray(out.filter(ImageFilter.GaussianBlur(0.5)))


def glyphs28(per_class: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 images and (N,) letter labels."""
    rng = np.random.default_rng(seed)
    fonts = [ImageFont.truetype(str(p), 36) for p in _font_files()]
    xs, ys = [], []
    for ch in LETTERS:
        for _ in range(per_class):
            xs.append(_render(ch, fonts[int(rng.integers(len(fonts)))], rng))
            ys.append(ch)
    return np.stack(xs), np.array(ys)
