"""Glyph renderers: installed TrueType/OpenType fonts (Pillow) and OpenCV's built-in Hershey faces.

Both return ink coverage (float32, 0..1) of one character at roughly the asked pixel height, with a
little margin. Hershey faces ship inside OpenCV, so printed glyphs exist even on a machine without fonts.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts")
# Fonts that map ASCII code points to pictures or non-Latin shapes: a "5" there is not a five.
# (D050000L is URW's Dingbats.)
_NOT_TEXT = re.compile(
    r"symbol|dingbat|d050000l|emoji|wingding|webding|icon|awesome|music|braille|ornament|cursor", re.I
)
DIGITS = "0123456789"

HERSHEY = {
    "simplex": cv2.FONT_HERSHEY_SIMPLEX,
    "plain": cv2.FONT_HERSHEY_PLAIN,
    "duplex": cv2.FONT_HERSHEY_DUPLEX,
    "complex": cv2.FONT_HERSHEY_COMPLEX,
    "triplex": cv2.FONT_HERSHEY_TRIPLEX,
    "complex_small": cv2.FONT_HERSHEY_COMPLEX_SMALL,
    "script_simplex": cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    "script_complex": cv2.FONT_HERSHEY_SCRIPT_COMPLEX,
}
HERSHEY_SCRIPT = ("script_simplex", "script_complex")


@functools.cache
def font_files(dirs: tuple[str, ...] = FONT_DIRS) -> tuple[str, ...]:
    """Every usable outline font under `dirs` that has all ten digits, sorted so the order (and so
    the generated data) is the same on every run of one machine."""
    found = []
    for d in dirs:
        root = Path(d)
        if not root.is_dir():
            continue
        for p in root.rglob("*"):
            if p.suffix.lower() in (".ttf", ".otf", ".ttc") and not _NOT_TEXT.search(p.name):
                found.append(str(p))
    usable = []
    for path in sorted(set(found)):
        try:
            if all(has_glyph(path, c) for c in DIGITS):
                usable.append(path)
        except OSError:  # unreadable or bitmap-only font file
            continue
    return tuple(usable)


@functools.cache
def font_families(dirs: tuple[str, ...] = FONT_DIRS) -> tuple[tuple[str, ...], ...]:
    """`font_files` grouped by family (bold/italic/oblique files together), so that a family shipped
    in twelve weights is not drawn twelve times as often as one shipped in two."""
    groups: dict[str, list[str]] = {}
    for path in font_files(dirs):
        stem = Path(path).stem.split("-")[0].lower()
        groups.setdefault(re.sub(r"(bold|italic|oblique)+$", "", stem), []).append(path)
    return tuple(tuple(groups[k]) for k in sorted(groups))


@functools.lru_cache(maxsize=8192)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@functools.cache
def has_glyph(path: str, char: str) -> bool:
    """A font without the character draws its 'missing' box, the same as for a private-use code point."""
    font = _font(path, 40)

    def drawn(c: str) -> bytes:
        img = Image.new("L", (80, 80), 0)
        ImageDraw.Draw(img).text((20, 60), c, font=font, fill=255, anchor="ls")
        return img.tobytes()

    ink = drawn(char)
    return any(ink) and ink != drawn("\ue000")


@functools.cache
def _ref_height_ttf(path: str, size: int) -> float:
    """Ink height of the digits at this size: what 'height' means for every character."""
    box = _font(path, size).getbbox("0", anchor="ls")
    return float(max(1, box[3] - box[1]))


# Glyphs are drawn once at this digit height and scaled down to the camera size: one master bitmap
# per font and character keeps the cache small (fonts × characters, not × sizes × weights), and an
# area-averaged downscale of a smooth outline is closer to a photo than hinted small-size rendering.
MASTER_HEIGHT = 72


@functools.lru_cache(maxsize=32768)
def _ttf_master(path: str, char: str) -> np.ndarray:
    font = _font(path, max(6, round(MASTER_HEIGHT * 40 / _ref_height_ttf(path, 40))))
    left, top, right, bottom = font.getbbox(char, anchor="ls")
    pad = 4
    img = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(img).text((pad - left, pad - top), char, font=font, fill=255, anchor="ls")
    out = np.asarray(img, np.float32) / 255.0
    out.flags.writeable = False
    return out


def render_ttf(path: str, char: str, height: float, bold: int = 0) -> np.ndarray:
    """Coverage of `char` in the font at `path`, scaled so a digit would be `height` px tall;
    `bold` px of extra stroke on each side (faux bold, as printers and cheap signs do)."""
    master = _ttf_master(path, char)
    scale = height / MASTER_HEIGHT
    size = (max(1, round(master.shape[1] * scale)), max(1, round(master.shape[0] * scale)))
    out = cv2.resize(master, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    if bold > 0:
        out = np.pad(out, bold)
        out = cv2.dilate(out, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * bold + 1, 2 * bold + 1)))
    return out


def _quantize(value: float, step: float = 1.05) -> float:
    """Snap to a geometric grid (±2.5 %): the heights are random anyway, and the bitmap caches then
    hold a few dozen sizes per font instead of every pixel size."""
    return float(step ** round(np.log(max(value, 1e-6)) / np.log(step)))


@functools.lru_cache(maxsize=4096)
def _hershey_bitmap(char: str, face: int, scale_milli: int, thickness: int) -> np.ndarray:
    scale = scale_milli / 1000.0
    (w, h), base = cv2.getTextSize(char, face, scale, thickness)
    pad = thickness + 3
    canvas = np.zeros((h + base + 2 * pad, w + 2 * pad), np.uint8)
    cv2.putText(canvas, char, (pad, pad + h), face, scale, 255, thickness, cv2.LINE_AA)
    out = canvas.astype(np.float32) / 255.0
    out.flags.writeable = False
    return out


@functools.cache
def _hershey_digit_height(face: int) -> float:
    (_, h), _ = cv2.getTextSize("0", face, 1.0, 1)
    return float(h)


def render_hershey(
    char: str, face: str, height: float, thickness: int = 1, italic: bool = False
) -> np.ndarray:
    """Coverage of `char` drawn with a Hershey stroke face, a digit being about `height` px tall."""
    code = HERSHEY[face] | (cv2.FONT_ITALIC if italic else 0)
    scale = _quantize(height / _hershey_digit_height(HERSHEY[face]))
    return _hershey_bitmap(char, code, round(scale * 1000), max(1, int(thickness)))
