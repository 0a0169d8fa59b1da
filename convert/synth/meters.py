"""Photo-like test pictures of meters and signs: LCD and LED seven-segment displays, water-meter counter
drums, printed signs, each inside a whole photo with its device, printed words and glass effects.

These are the engine's and the meter mode's *test* pictures. The segment shapes, drum faces and fonts
are drawn here independently of the training renderers in convert/synth (glyphs, sevenseg, drum), so a
benchmark on them is not a replay of the training data.

`make_meter(category, seed, value)` is a pure function of its arguments. The layout (device, position,
tilt, digit count) depends only on (category, seed), so a clip can show the same meter with changing
values; `shot` seeds what changes from photo to photo (noise, JPEG, glare placement).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from convert.synth.scenes import (
    FONT_DIR,
    Scene,
    Transition,
    _camera_homography,
    _desk_texture,
    _lighting,
    _Page,
    _printed_word,
    _sensor,
    project_printed,
)

METER_CATEGORIES = ("lcd", "led", "drum", "printed_sign")

# Segment sets per digit; some digits have two common forms (6 and 9 with/without tail, 7 with/without
# the left bar): a display uses one form throughout.
_SEGMENTS = {
    "0": ("abcdef",),
    "1": ("bc",),
    "2": ("abdeg",),
    "3": ("abcdg",),
    "4": ("bcfg",),
    "5": ("acdfg",),
    "6": ("acdefg", "cdefg"),
    "7": ("abc", "abcf"),
    "8": ("abcdefg",),
    "9": ("abcdfg", "abcfg"),
}
_DIGIT_FONTS = (
    "DejaVuSans-Bold.ttf",
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSans.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSansCondensed.ttf",
)


# ------------------------------------------------------------------------------- seven segments


@dataclass(frozen=True)
class _SegStyle:
    height: float  # digit height in px
    width: float  # digit cell width (without slant)
    thick: float  # segment thickness
    gap: float  # gap between neighbouring segments
    slant: float  # x shift per unit of height going up (italic displays lean right)
    forms: tuple[int, int, int]  # which form of 6, 7, 9


def _segment_polygons(style: _SegStyle) -> dict[str, np.ndarray]:
    w, h, t, g = style.width, style.height, style.thick, style.gap
    xl, xr = t / 2, w - t / 2
    yt, ym, yb = t / 2, h / 2, h - t / 2

    def horizontal(y: float) -> np.ndarray:
        x0, x1 = xl + g, xr - g
        return np.array(
            [
                (x0, y),
                (x0 + t / 2, y - t / 2),
                (x1 - t / 2, y - t / 2),
                (x1, y),
                (x1 - t / 2, y + t / 2),
                (x0 + t / 2, y + t / 2),
            ]
        )

    def vertical(x: float, y0: float, y1: float) -> np.ndarray:
        y0, y1 = y0 + g, y1 - g
        return np.array(
            [
                (x, y0),
                (x + t / 2, y0 + t / 2),
                (x + t / 2, y1 - t / 2),
                (x, y1),
                (x - t / 2, y1 - t / 2),
                (x - t / 2, y0 + t / 2),
            ]
        )

    polys = {
        "a": horizontal(yt),
        "g": horizontal(ym),
        "d": horizontal(yb),
        "f": vertical(xl, yt, ym),
        "b": vertical(xr, yt, ym),
        "e": vertical(xl, ym, yb),
        "c": vertical(xr, ym, yb),
    }
    for p in polys.values():
        p[:, 0] += style.slant * (h - p[:, 1])
    return polys


def _segments_on(ch: str, style: _SegStyle) -> str:
    forms = _SEGMENTS[ch]
    pick = {"6": style.forms[0], "7": style.forms[1], "9": style.forms[2]}.get(ch, 0)
    return forms[min(pick, len(forms) - 1)]


_SHIFT = 4  # fillPoly sub-pixel bits: smooth segment edges at any size


def _fill(canvas: np.ndarray, poly: np.ndarray, dx: float, dy: float, value: float = 1.0) -> None:
    pts = np.round((poly + np.array((dx, dy))) * (1 << _SHIFT)).astype(np.int32)
    cv2.fillPoly(canvas, [pts], value, cv2.LINE_AA, _SHIFT)


def _seven_segment_row(
    text: str, cells: int, style: _SegStyle, pitch: float
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], float]:
    """Render `text` right-aligned in `cells` digit cells (a '.' sits between cells, as on a display).

    Returns (lit coverage, ghost coverage of all unlit segments, per-character lit coverage, margin)."""
    digits = text.replace(".", "")
    if len(digits) > cells:
        raise ValueError(f"value {text!r} has more digits than the display's {cells} cells")
    pad = style.thick + 2
    width = math.ceil(pitch * (cells - 1) + style.width + style.slant * style.height + 2 * pad)
    height = math.ceil(style.height + 2 * pad)
    lit = np.zeros((height, width), np.float32)
    ghost = np.zeros_like(lit)
    polys = _segment_polygons(style)
    first = cells - len(digits)
    per_char: list[np.ndarray] = []
    cell = first
    dot_size = style.thick * 1.1
    for ch in text:
        if ch == ".":
            # The point sits in the gap after the previous digit, on the baseline.
            x = pad + pitch * (cell - 1) + style.width + (pitch - style.width) / 2 - dot_size / 2
            y = pad + style.height - dot_size
            mask = np.zeros_like(lit)
            sq = np.array([(0, 0), (dot_size, 0), (dot_size, dot_size), (0, dot_size)])
            _fill(mask, sq, x, y)
            per_char.append(mask)
            continue
        on = _segments_on(ch, style)
        mask = np.zeros_like(lit)
        for name, p in polys.items():
            if name in on:
                _fill(mask, p, pad + pitch * cell, pad)
        per_char.append(mask)
        cell += 1
    for c in range(cells):
        for p in polys.values():
            _fill(ghost, p, pad + pitch * c, pad)
    for m in per_char:
        np.maximum(lit, m, out=lit)
    ghost = np.clip(ghost - lit, 0, 1)
    # Unused decimal-point positions are ghost segments too.
    return lit, ghost, per_char, pad


def _seg_style(rng: np.random.Generator, height: float, led: bool = False) -> _SegStyle:
    return _SegStyle(
        height=height,
        width=height * float(rng.uniform(0.45, 0.6)),
        thick=height * float(rng.uniform(0.1, 0.16 if not led else 0.18)),
        gap=height * float(rng.uniform(0.012, 0.03)),
        slant=float(rng.choice([0.0, rng.uniform(0.06, 0.14)])),
        forms=(int(rng.integers(2)), int(rng.integers(2)), int(rng.integers(2))),
    )


# ----------------------------------------------------------------------------------- printed text


def _font(size: int, index: int):
    from PIL import ImageFont

    path = FONT_DIR / _DIGIT_FONTS[index % len(_DIGIT_FONTS)]
    if path.exists():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def _printed_chars(
    text: str, digit_height: float, font_index: int
) -> tuple[list[tuple[np.ndarray, int]], int]:
    """Each character of `text` as its own coverage patch (all the same height, baseline aligned) and its
    x offset; digits come out `digit_height` px tall. Returns (patches, total width)."""
    from PIL import Image, ImageDraw

    probe = _font(100, font_index)
    box = probe.getbbox("0")
    size = max(8, round(100 * digit_height / (box[3] - box[1])))
    font = _font(size, font_index)
    ascent, descent = font.getmetrics()
    x = 0.0
    out = []
    for ch in text:
        advance = font.getlength(ch)
        img = Image.new("L", (int(advance) + 6, ascent + descent + 4), 0)
        ImageDraw.Draw(img).text((3, 2), ch, fill=255, font=font)
        out.append((np.asarray(img, np.float32) / 255.0, round(x) - 3))
        x += advance
    return out, int(x) + 6


def _ink_width(patch: np.ndarray) -> int:
    cols = np.nonzero(patch.max(axis=0) > 0.3)[0]
    return int(cols[-1] - cols[0] + 1) if cols.size else 0


# ------------------------------------------------------------------------------------ the device


def _record(page: _Page, text: str, patches: list[tuple[np.ndarray, int, int]], level: float = 0.5) -> None:
    points = []
    for patch, x, y in patches:
        ys, xs = np.nonzero(patch >= level * max(float(patch.max()), 1e-6))
        points.append(np.stack([xs + x, ys + y], axis=1).astype(np.float32))
    page.digit_points.append(points)
    page.lines.append(text)


def _soft(mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; a wide one is done on a smaller copy (same look, a fraction of the time)."""
    f = int(sigma // 3)
    if f < 2 or min(mask.shape) < 8 * f:
        return cv2.GaussianBlur(mask, (0, 0), sigma)
    h, w = mask.shape
    small = cv2.resize(mask, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    return cv2.resize(cv2.GaussianBlur(small, (0, 0), sigma / f), (w, h), interpolation=cv2.INTER_LINEAR)


def _rounded_rect(canvas: np.ndarray, x0: float, y0: float, x1: float, y1: float, r: float, value) -> None:
    x0, y0, x1, y1, r = int(x0), int(y0), int(x1), int(y1), max(1, int(r))
    cv2.rectangle(canvas, (x0 + r, y0), (x1 - r, y1), value, -1)
    cv2.rectangle(canvas, (x0, y0 + r), (x1, y1 - r), value, -1)
    for cx, cy in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x0 + r, y1 - r), (x1 - r, y1 - r)):
        cv2.circle(canvas, (cx, cy), r, value, -1, cv2.LINE_AA)


def _panel(
    page: _Page, x0: float, y0: float, x1: float, y1: float, colour, radius: float, bevel: bool = True
) -> None:
    """A raised/recessed rectangular part of the device: flat colour with a soft edge shadow."""
    soft = max(2.0, 0.02 * (y1 - y0))
    m = int(3 * soft) + 6
    ox, oy = int(x0) - m, int(y0) - m
    mask = np.zeros((int(y1) - int(y0) + 2 * m + 1, int(x1) - int(x0) + 2 * m + 1), np.float32)
    _rounded_rect(mask, m, m, m + int(x1) - int(x0), m + int(y1) - int(y0), radius, 1.0)
    if bevel:
        shadow = np.roll(_soft(mask, soft), (3, 3), axis=(0, 1))
        page.blend(0.35 * shadow * (1.0 - mask), np.zeros(3, np.float32), ox, oy)
    page.blend(mask, np.asarray(colour, np.float32), ox, oy)


def _disc(page: _Page, cx: float, cy: float, r: float, colour) -> None:
    m = int(r) + 3
    mask = np.zeros((2 * m + 1, 2 * m + 1), np.float32)
    cv2.circle(mask, (m, m), int(r), 1.0, -1, cv2.LINE_AA)
    page.blend(mask, np.asarray(colour, np.float32), int(cx) - m, int(cy) - m)


def _vertical_shade(h: int, w: int, depth: float) -> np.ndarray:
    """Cylinder shading of a drum: darker towards the top and bottom of its window."""
    y = (np.arange(h, dtype=np.float32) + 0.5) / h
    return np.repeat((1.0 - depth * (2 * y - 1) ** 2)[:, None], w, axis=1)


def _grain(rng: np.random.Generator, h: int, w: int, sigma: float) -> np.ndarray:
    """Fine surface grain: a blurred noise tile repeated (a 3% grain does not show its period)."""
    m = int(3 * sigma) + 1
    noise = rng.standard_normal((128, 128), np.float32)
    tile = cv2.GaussianBlur(np.pad(noise, m, mode="wrap"), (0, 0), sigma)[m:-m, m:-m]
    return np.tile(tile, (h // 128 + 1, w // 128 + 1))[:h, :w]


def _backdrop(rng: np.random.Generator, h: int, w: int, kind: str) -> np.ndarray:
    if kind == "desk":
        return _desk_texture(rng, h, w)
    if kind == "metal":  # painted pump body
        base = np.array(
            rng.choice([(225, 225, 225), (60, 60, 190), (150, 90, 30), (200, 200, 190), (45, 45, 45)]),
            np.float32,
        )
        streak = cv2.resize(rng.standard_normal((2, max(2, w // 4)), np.float32), (w, h))
        fine = _grain(rng, h, w, 1.0)
        return base * (1.0 + 0.03 * streak + 0.025 * fine)[..., None]
    # A wall or a pit: plain paint or concrete, dirty in places.
    v = float(rng.uniform(40, 170))
    base = np.array((v, v * rng.uniform(0.9, 1.05), v * rng.uniform(0.95, 1.15)), np.float32)
    coarse = cv2.resize(rng.standard_normal((3, 4), np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    blotch = cv2.resize(
        rng.standard_normal((max(2, h // 80), max(2, w // 80)), np.float32),
        (w, h),
        interpolation=cv2.INTER_CUBIC,
    )
    fine = _grain(rng, h, w, 0.8)
    return base * (1.0 + 0.06 * coarse + 0.025 * blotch + 0.03 * fine)[..., None]


def _frame_for(rng: np.random.Generator, category: str, style: str) -> tuple[int, int]:
    if category == "lcd" and style == "pump":
        return (2048, 1152) if rng.random() < 0.5 else (1280, 720)
    if category == "printed_sign":
        return ((640, 480), (1280, 720), (2048, 1152))[int(rng.choice(3, p=[0.4, 0.4, 0.2]))]
    return (1280, 720) if rng.random() < 0.3 else (640, 480)


def _random_value(rng: np.random.Generator, category: str, style: str) -> str:
    if category == "drum":
        n = int(rng.integers(5, 9))
        return "".join(str(int(d)) for d in rng.integers(0, 10, n))
    if style == "pump":
        whole = int(rng.integers(1, 4))
        return (
            str(int(rng.integers(10 ** (whole - 1) if whole > 1 else 0, 10**whole)))
            + "."
            + "".join(str(int(d)) for d in rng.integers(0, 10, 2))
        )
    n = int(rng.integers(3, 8))
    digits = "".join(str(int(d)) for d in rng.integers(0, 10, n))
    if rng.random() < 0.4:
        k = int(rng.integers(1, min(3, n - 1) + 1))
        digits = digits[:-k] + "." + digits[-k:]
    return digits


# ----------------------------------------------------------------------------------- glass effects


def _glass_effects(
    rng: np.random.Generator,
    img: np.ndarray,
    region: tuple[float, float, float, float],
    digit_h: float,
    glare: float,
    avoid: tuple[float, float],
) -> np.ndarray:
    """Glare band, a window reflection and scribbles on the glass over `region` (x0, y0, x1, y1) in the
    frame. `avoid` is the (top, bottom) y range of the digits: scribbles stay out of it."""
    h, w = img.shape[:2]
    # Work on the glass's neighbourhood only (big frames, small displays).
    m = int(digit_h) + 8
    rx0, ry0 = max(0, int(region[0]) - m), max(0, int(region[1]) - m)
    rx1, ry1 = min(w, int(region[2]) + m), min(h, int(region[3]) + m)
    if rx1 <= rx0 or ry1 <= ry0:
        return img
    sub = img[ry0:ry1, rx0:rx1].copy()
    sh, sw = sub.shape[:2]
    x0, y0, x1, y1 = region[0] - rx0, region[1] - ry0, region[2] - rx0, region[3] - ry0
    top, bottom = avoid[0] - ry0, avoid[1] - ry0
    if glare > 0:
        band = np.zeros((sh, sw), np.float32)
        cx = float(rng.uniform(x0, x1))
        width = float(rng.uniform(0.05, 0.2)) * (x1 - x0)
        lean = float(rng.uniform(-0.6, 0.6)) * (y1 - y0)
        pts = np.array(
            [
                (cx - width, y0 - lean),
                (cx + width, y0 - lean),
                (cx + width + lean, y1),
                (cx - width + lean, y1),
            ],
            np.int32,
        )
        cv2.fillPoly(band, [pts], 1.0, cv2.LINE_AA)
        clip = np.zeros_like(band)
        cv2.rectangle(clip, (int(x0), int(y0)), (int(x1), int(y1)), 1.0, -1)
        band = _soft(band * clip, max(2.0, width * 0.35))
        sub += (glare * float(rng.uniform(50, 110))) * band[..., None]
    if rng.random() < 0.35:  # a faint reflection of a bright window
        refl = np.zeros((sh, sw), np.float32)
        px, py = float(rng.uniform(x0, x1)), float(rng.uniform(y0, y1))
        pw, ph = float(rng.uniform(0.1, 0.3)) * (x1 - x0), float(rng.uniform(0.2, 0.5)) * (y1 - y0)
        cv2.rectangle(refl, (int(px), int(py)), (int(px + pw), int(py + ph)), 1.0, -1)
        refl = _soft(refl, max(3.0, digit_h * 0.4))
        sub += float(rng.uniform(12, 30)) * refl[..., None]
    if rng.random() < 0.3:  # a marker scribble or scratch on the glass, above or below the digits
        above = rng.random() < 0.5 and top - y0 > digit_h * 0.5
        ya, yb = (y0, top - digit_h * 0.15) if above else (bottom + digit_h * 0.15, y1)
        if yb - ya > 4:
            ink = np.zeros((sh, sw), np.float32)
            p = np.array([rng.uniform(x0, x1), rng.uniform(ya, yb)])
            pts = [p.copy()]
            for _ in range(int(rng.integers(4, 12))):
                p = p + rng.normal(0, digit_h * 0.5, 2)
                p[1] = np.clip(p[1], ya, yb)
                p[0] = np.clip(p[0], x0, x1)
                pts.append(p.copy())
            cv2.polylines(ink, [np.array(pts, np.int32)], False, 1.0, int(rng.integers(1, 4)), cv2.LINE_AA)
            colour = np.array(rng.choice([(40, 40, 40), (150, 60, 20), (200, 200, 200)]), np.float32)
            a = ink[..., None] * float(rng.uniform(0.5, 0.9))
            sub = sub * (1 - a) + colour * a
    img = img.copy()
    img[ry0:ry1, rx0:rx1] = sub
    return img


def _hot_spot(
    rng: np.random.Generator, img: np.ndarray, centre: tuple[float, float], size: float, strength: float
) -> np.ndarray:
    """The camera flash reflected by the glass: a bright, partly saturated blob."""
    h, w = img.shape[:2]
    f = 4
    yy, xx = np.mgrid[0 : h // f + 1, 0 : w // f + 1].astype(np.float32) * f
    r2 = ((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (size**2)
    blob = np.exp(-r2) + 0.8 * np.exp(-r2 * 12)
    blob = cv2.resize(blob, (w, h), interpolation=cv2.INTER_LINEAR)
    del rng
    return img + strength * blob[..., None]


# -------------------------------------------------------------------------------- per category


@dataclass
class _Built:
    page: _Page
    pad: int
    digit_h: float
    glass: tuple[float, float, float, float]  # page coords
    band: tuple[float, float]  # digits' y range, page coords
    max_deg: float
    persp: float
    glow: tuple[np.ndarray, np.ndarray] | None = None  # LED light (coverage, colour) added after the lighting
    transition: list[Transition] | None = None


def _build_lcd(
    rng: np.random.Generator, out_w: int, out_h: int, style: str, values: list[str], vrng: np.random.Generator
) -> _Built:
    pad = int(0.12 * max(out_w, out_h))
    page = _Page(out_w + 2 * pad, out_h + 2 * pad, np.zeros(3, np.float32), None)
    page.rgb[:] = _backdrop(rng, page.height, page.width, "metal" if style == "pump" else "wall")
    rows = len(values)
    cells = max(len(v.replace(".", "")) for v in values) + int(rng.integers(0, 2))
    if style == "pump":
        panel_w = out_w * float(rng.uniform(0.28, 0.38))
    else:
        panel_w = out_w * float(rng.uniform(0.25, 0.45))
    seg = _seg_style(rng, 1.0)
    pitch_rel = seg.width + float(rng.uniform(0.22, 0.35))
    row_w_rel = pitch_rel * (cells - 1) + seg.width + seg.slant
    digit_h = min(panel_w * 0.86 / row_w_rel, out_h * 0.5 / (rows * 1.6))
    seg = _SegStyle(
        digit_h, seg.width * digit_h, seg.thick * digit_h, seg.gap * digit_h, seg.slant, seg.forms
    )
    pitch = pitch_rel * digit_h
    row_gap = digit_h * float(rng.uniform(0.5, 0.9))
    label_h = digit_h * 0.28
    panel_h = rows * (digit_h + row_gap) + row_gap * 0.6
    # Device body around the display.
    px0 = pad + (out_w - panel_w) * float(rng.uniform(0.35, 0.8))
    py0 = pad + (out_h - panel_h) * float(rng.uniform(0.25, 0.7))
    px1, py1 = px0 + panel_w, py0 + panel_h
    if style == "meter":
        margin = digit_h * 1.5
        body = np.array(rng.choice([(215, 215, 210), (60, 60, 60), (190, 200, 200)]), np.float32)
        _panel(page, px0 - margin, py0 - margin, px1 + margin * 1.8, py1 + margin * 2.2, body, digit_h * 0.6)
        word = _printed_word("kWh", digit_h * 0.45, 0)
        text_col = np.array((30, 30, 30) if body.mean() > 120 else (220, 220, 220), np.float32)
        page.print_word(word, text_col, int(px1 + digit_h * 0.3), int(py1 - word.shape[0]))
        for i, extra in enumerate(
            rng.choice(["Class A", "ELECTRICITY METER", "Imp/kWh", "Made in EU"], 2, replace=False)
        ):
            lab = _printed_word(str(extra), digit_h * 0.18, 0)
            page.print_word(lab, text_col, int(px0), int(py1 + margin * (0.5 + 0.5 * i)))
    bezel = np.array((25, 25, 25), np.float32) if rng.random() < 0.7 else np.array((90, 90, 90), np.float32)
    b = digit_h * 0.25
    _panel(page, px0 - b, py0 - b, px1 + b, py1 + b, bezel, b)
    lcd_bg = np.array((rng.uniform(135, 165), rng.uniform(170, 195), rng.uniform(155, 180)), np.float32)
    _panel(page, px0, py0, px1, py1, lcd_bg, b * 0.3, bevel=False)
    # LCD background is not flat: a faint vertical gradient from the backlight/reflector.
    grad = np.linspace(1.04, 0.94, int(py1) - int(py0), dtype=np.float32)[:, None, None]
    page.rgb[int(py0) : int(py1), int(px0) : int(px1)] *= grad
    seg_col = np.array((35, 50, 40), np.float32)
    ghost_a = float(rng.uniform(0.04, 0.12))
    labels = (
        ["THIS SALE $", "LITRES", "PRICE"] if rng.random() < 0.5 else ["THIS SALE $", "Gallons", "PRICE/G"]
    )
    band_top, band_bottom = 1e9, -1e9
    for r, value in enumerate(values):
        lit, ghost, chars, mpad = _seven_segment_row(value, cells, seg, pitch)
        x = int(px1 - (panel_w - row_w_rel * digit_h) / 2 - lit.shape[1] + mpad)
        y = int(py0 + row_gap * 0.8 + r * (digit_h + row_gap) - mpad)
        # A segment's shadow on the LCD's reflector, offset a little: typical of reflective LCDs.
        shadow = cv2.GaussianBlur(lit, (0, 0), max(0.8, digit_h * 0.02))
        page.blend(shadow * 0.18, seg_col, x + max(1, int(digit_h * 0.03)), y + max(1, int(digit_h * 0.03)))
        page.blend(ghost * ghost_a, seg_col, x, y)
        page.blend(lit * float(rng.uniform(0.8, 0.95)), seg_col, x, y)
        _record(page, value, [(m, x, y) for m in chars])
        band_top, band_bottom = min(band_top, y + mpad), max(band_bottom, y + mpad + digit_h)
        if style == "pump":
            word = labels[r] if r < len(labels) else "PRICE"
            lab = _printed_word(word, label_h if rng.random() < 0.5 else digit_h * 0.35, 1)
            text_col = (
                np.array((20, 20, 20), np.float32)
                if page.rgb[int(py0), int(px0 - b * 3)].mean() > 110
                else np.array((235, 235, 235), np.float32)
            )
            # Labels to the left of the display (on the body), level with their row.
            lx = int(px0 - b - digit_h * 0.3 - lab.shape[1])
            page.print_word(lab, text_col, lx, int(y + mpad + (digit_h - lab.shape[0]) / 2))
    del vrng
    return _Built(
        page,
        pad,
        digit_h,
        (px0 - pad, py0 - pad, px1 - pad, py1 - pad),
        (band_top - pad, band_bottom - pad),
        5.0,
        0.03,
    )


def _build_led(rng: np.random.Generator, out_w: int, out_h: int, values: list[str]) -> _Built:
    pad = int(0.12 * max(out_w, out_h))
    page = _Page(out_w + 2 * pad, out_h + 2 * pad, np.zeros(3, np.float32), None)
    page.rgb[:] = _backdrop(rng, page.height, page.width, "wall")
    value = values[0]
    cells = len(value.replace(".", "")) + int(rng.integers(0, 2))
    seg = _seg_style(rng, 1.0, led=True)
    pitch_rel = seg.width + float(rng.uniform(0.25, 0.45))
    row_w_rel = pitch_rel * (cells - 1) + seg.width + seg.slant
    digit_h = min(out_w * float(rng.uniform(0.25, 0.6)) / row_w_rel, out_h * 0.35) * (out_h / 480) ** 0
    digit_h = max(digit_h, 22.0)
    seg = _SegStyle(
        digit_h, seg.width * digit_h, seg.thick * digit_h, seg.gap * digit_h, seg.slant, seg.forms
    )
    pitch = pitch_rel * digit_h
    lit, ghost, chars, mpad = _seven_segment_row(value, cells, seg, pitch)
    margin = digit_h * 0.45
    pw, ph = lit.shape[1] - 2 * mpad + 2 * margin, digit_h + 2 * margin
    px0 = pad + (out_w - pw) * float(rng.uniform(0.15, 0.85))
    py0 = pad + (out_h - ph) * float(rng.uniform(0.2, 0.8))
    housing = np.array(rng.choice([(40, 40, 40), (180, 180, 180), (30, 30, 120)]), np.float32)
    _panel(
        page,
        px0 - margin * 0.6,
        py0 - margin * 1.8,
        px0 + pw + margin * 0.6,
        py0 + ph + margin * 0.6,
        housing,
        margin * 0.4,
    )
    _panel(page, px0, py0, px0 + pw, py0 + ph, np.array((12, 12, 14), np.float32), margin * 0.15, bevel=False)
    word = str(rng.choice(["PRICE", "Gallons", "LITRES", "TOTAL", "THIS SALE $"]))
    lab = _printed_word(word, margin * 0.6, 1)
    text_col = np.array((235, 235, 235) if housing.mean() < 120 else (25, 25, 25), np.float32)
    page.print_word(lab, text_col, int(px0), int(py0 - margin * 0.3 - lab.shape[0]))
    colour = np.array(rng.choice([(60, 60, 255), (80, 255, 90), (40, 170, 255), (255, 200, 120)]), np.float32)
    x = int(px0 + margin - mpad)
    y = int(py0 + margin - mpad)
    page.blend(ghost * float(rng.uniform(0.05, 0.12)), colour * 0.5, x, y)
    core = colour * 0.7 + 255 * 0.3  # the lit segment saturates towards white in the camera
    page.blend(lit, core, x, y)
    _record(page, value, [(m, x, y) for m in chars])
    sigma = max(1.5, seg.thick * 0.9)
    gm = int(3 * sigma) + 2
    local = cv2.GaussianBlur(
        cv2.copyMakeBorder(lit, gm, gm, gm, gm, cv2.BORDER_CONSTANT, value=0.0), (0, 0), sigma
    )
    glow = np.zeros((page.height, page.width), np.float32)
    glow[y - gm : y - gm + local.shape[0], x - gm : x - gm + local.shape[1]] = local
    glow_rgb = (glow, colour * float(rng.uniform(0.4, 0.8)))
    return _Built(
        page,
        pad,
        digit_h,
        (px0 - pad, py0 - pad, px0 + pw - pad, py0 + ph - pad),
        (py0 + margin - pad, py0 + margin + digit_h - pad),
        6.0,
        0.03,
        glow=glow_rgb,
    )


def _drum_window(
    ch: str, nxt: str, fraction: float, w: int, h: int, digit_h: float, font_index: int, face: float
) -> tuple[np.ndarray, np.ndarray]:
    """A drum window (h × w): coverage of the printed digits (current rolling up and out, next rolling in)
    and the drum shading. Digits are spaced one window height apart on the drum."""
    cov = np.zeros((h, w), np.float32)
    spacing = h * 1.15
    for d, offset in ((ch, -fraction * spacing), (nxt, (1 - fraction) * spacing)):
        if abs(offset) >= spacing:
            continue
        patches, total = _printed_chars(d, digit_h, font_index)
        patch, _ = patches[0]
        ys, xs = np.nonzero(patch > 0.05)
        if ys.size == 0:
            continue
        patch = patch[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        if patch.shape[1] > w - 2:  # a wide face is printed condensed on a narrow drum
            patch = cv2.resize(patch, (w - 2, patch.shape[0]), interpolation=cv2.INTER_AREA)
        x = (w - patch.shape[1]) // 2
        y = round((h - patch.shape[0]) / 2 + offset)
        y0, y1 = max(0, y), min(h, y + patch.shape[0])
        if y1 > y0:
            sub = cov[y0:y1, x : x + patch.shape[1]]
            np.maximum(sub, patch[y0 - y : y1 - y, : sub.shape[1]], out=sub)
        del total
    shade = _vertical_shade(h, w, face)
    return cov, shade


def _build_drum(
    rng: np.random.Generator, out_w: int, out_h: int, value: str, roll: float, vrng: np.random.Generator
) -> _Built:
    pad = int(0.2 * max(out_w, out_h))
    page = _Page(out_w + 2 * pad, out_h + 2 * pad, np.zeros(3, np.float32), None)
    page.rgb[:] = _backdrop(rng, page.height, page.width, "wall")
    scale = out_h / 480.0
    digit_h = float(rng.uniform(20, 30)) * scale
    n = len(value)
    font_index = int(rng.integers(len(_DIGIT_FONTS)))
    glyph_w = max(_ink_width(p) for p, _ in _printed_chars("0123456789", digit_h, font_index)[0])
    win_h = int(digit_h * float(rng.uniform(1.25, 1.45)))
    win_w = int(
        max(digit_h * float(rng.uniform(0.75, 0.9)), glyph_w + digit_h * float(rng.uniform(0.2, 0.35)))
    )
    sep = max(2, int(digit_h * float(rng.uniform(0.12, 0.3))))
    row_w = n * win_w + (n - 1) * sep
    cx = pad + out_w * float(rng.uniform(0.4, 0.6))
    cy = pad + out_h * float(rng.uniform(0.42, 0.58))
    radius = max(row_w * 0.75, out_h * float(rng.uniform(0.3, 0.42)))
    radius = min(radius, 0.48 * min(out_w, out_h) + row_w * 0.2)
    # Meter: a ring (brass/plastic), the dial face, the counter row a bit above the centre.
    ring = np.array(rng.choice([(60, 120, 170), (40, 40, 40), (170, 120, 40), (200, 200, 200)]), np.float32)
    face_col = np.array(rng.choice([(235, 235, 230), (30, 30, 30), (150, 90, 30)]), np.float32)
    _disc(page, cx, cy, radius * 1.12, ring)
    _disc(page, cx, cy, radius, face_col)
    on_light = face_col.mean() > 120
    text_col = np.array((30, 30, 30) if on_light else (225, 225, 225), np.float32)
    x0 = int(cx - row_w / 2)
    y0 = int(cy - radius * float(rng.uniform(0.15, 0.4)) - win_h / 2)
    # Counter plate: a dark frame around all windows, with a thin bevel.
    frame_pad = max(3, int(sep * 1.2))
    plate = np.array((20, 20, 20) if rng.random() < 0.6 else (70, 70, 70), np.float32)
    _panel(page, x0 - frame_pad, y0 - frame_pad, x0 + row_w + frame_pad, y0 + win_h + frame_pad, plate, 2)
    red = int(rng.choice([0, 0, 1, 2, 3])) if n >= 6 else 0
    face_shade = float(rng.uniform(0.25, 0.55))
    # Digits in transition: the last drum rolls; a drum further left rolls with it when every drum to
    # its right is going from 9 to 0 (the carry).
    rolling = [False] * n
    if roll > 0:
        rolling[-1] = True
        for i in range(n - 2, -1, -1):
            if value[i + 1] == "9" and rolling[i + 1]:
                rolling[i] = True
            else:
                break
    transitions = []
    patches = []
    for i, ch in enumerate(value):
        wx = x0 + i * (win_w + sep)
        nxt = str((int(ch) + 1) % 10)
        f = roll if rolling[i] else 0.0
        cov, shade = _drum_window(ch, nxt, f, win_w, win_h, digit_h, font_index, face_shade)
        drum_bg = np.array((35, 35, 170) if i >= n - red else (28, 28, 28), np.float32)
        digit_col = np.array((235, 235, 235), np.float32)
        window = (drum_bg * (1 - cov[..., None]) + digit_col * cov[..., None]) * shade[..., None]
        page.rgb[y0 : y0 + win_h, wx : wx + win_w] = window
        # The window's bezel: a light rim on one edge, a dark one on the other (recessed window).
        rim = np.zeros((win_h + 4, win_w + 4), np.float32)
        cv2.rectangle(rim, (1, 1), (win_w + 2, win_h + 2), 1.0, 1)
        page.blend(rim * 0.5, np.array((140, 140, 140), np.float32), wx - 2, y0 - 2)
        patches.append((cov * (cov >= 0.5), wx, y0))
        if rolling[i]:
            transitions.append(Transition(0, i, ch, nxt, float(f)))
    _record(page, value, patches)
    # Printed words and dials on the face: not digits.
    unit = _printed_word("m³" if rng.random() < 0.6 else "m3", digit_h * 0.6, 0)
    page.print_word(
        unit, text_col, int(x0 + row_w + frame_pad + digit_h * 0.3), int(y0 + (win_h - unit.shape[0]) / 2)
    )
    brand = _printed_word(str(rng.choice(["WATER", "AQUA", "Qn", "HYDRO"])), digit_h * 0.5, 1)
    page.print_word(
        brand, text_col, int(cx - brand.shape[1] / 2), int(y0 - frame_pad - digit_h * 1.2 - brand.shape[0])
    )
    for k in range(int(rng.integers(0, 4))):
        dx = (k - 1) * radius * 0.42
        r = int(radius * 0.13)
        ox, oy = int(cx + dx) - r - 2, int(cy + radius * 0.45) - r - 2
        dcx, dcy = r + 2, r + 2
        dial = np.zeros((2 * r + 5, 2 * r + 5), np.float32)
        cv2.circle(dial, (dcx, dcy), r, 0.8, 1, cv2.LINE_AA)
        for t in range(10):
            a = t * math.pi / 5
            cv2.line(
                dial,
                (int(dcx + 0.8 * r * math.cos(a)), int(dcy + 0.8 * r * math.sin(a))),
                (int(dcx + r * math.cos(a)), int(dcy + r * math.sin(a))),
                0.8,
                1,
                cv2.LINE_AA,
            )
        a = float(vrng.uniform(0, 2 * math.pi))
        page.blend(dial, text_col, ox, oy)
        hand = np.zeros_like(dial)
        cv2.line(
            hand,
            (dcx, dcy),
            (int(dcx + 0.75 * r * math.cos(a)), int(dcy + 0.75 * r * math.sin(a))),
            1.0,
            max(1, r // 6),
            cv2.LINE_AA,
        )
        page.blend(hand, np.array((40, 40, 200), np.float32), ox, oy)
    glass = (cx - radius - pad, cy - radius - pad, cx + radius - pad, cy + radius - pad)
    return _Built(page, pad, digit_h, glass, (y0 - pad, y0 + win_h - pad), 20.0, 0.04, transition=transitions)


def _build_sign(rng: np.random.Generator, out_w: int, out_h: int, values: list[str]) -> _Built:
    pad = int(0.12 * max(out_w, out_h))
    page = _Page(out_w + 2 * pad, out_h + 2 * pad, np.zeros(3, np.float32), None)
    page.rgb[:] = _backdrop(rng, page.height, page.width, str(rng.choice(["wall", "metal"])))
    board = np.array(rng.choice([(245, 245, 245), (60, 220, 250), (40, 40, 200), (60, 120, 30)]), np.float32)
    ink = np.array((20, 20, 20) if board.mean() > 150 else (245, 245, 245), np.float32)
    font_index = int(rng.integers(len(_DIGIT_FONTS)))
    rows = len(values)
    labels = list(
        rng.choice(["LITRES", "Gallons", "THIS SALE $", "TOTAL", "PRICE", "kWh"], rows, replace=False)
    )
    # Fit: label (smaller) + number on each row, number a fraction of the frame.
    digit_h = out_h * float(rng.uniform(0.06, 0.18))
    measured = [_printed_chars(v, 100, font_index)[1] / 100 for v in values]
    label_rel = [_printed_word(str(w), 100 * 0.5, 1).shape[1] / 100 for w in labels]
    row_rel = max(m + lr + 0.6 for m, lr in zip(measured, label_rel, strict=True))
    digit_h = min(digit_h, out_w * 0.7 / row_rel, out_h * 0.6 / (rows * 1.7))
    margin = digit_h * 0.6
    bw = row_rel * digit_h + 2 * margin
    bh = rows * digit_h * 1.7 + margin
    bx0 = pad + (out_w - bw) * float(rng.uniform(0.1, 0.9))
    by0 = pad + (out_h - bh) * float(rng.uniform(0.15, 0.85))
    _panel(page, bx0, by0, bx0 + bw, by0 + bh, board, digit_h * 0.2)
    band_top, band_bottom = 1e9, -1e9
    for r, (value, word) in enumerate(zip(values, labels, strict=True)):
        y = by0 + margin + r * digit_h * 1.7
        lab = _printed_word(str(word), digit_h * 0.5, 1)
        page.print_word(lab, ink, int(bx0 + margin), int(y + digit_h - lab.shape[0]))
        chars, total = _printed_chars(value, digit_h, font_index)
        x = int(bx0 + bw - margin - total)
        canvas_patches = []
        # Align glyph tops so that digits sit on a common baseline: the patches share the font metrics.
        ref = chars[0][0]
        ys = np.nonzero(ref.max(axis=1) > 0.3)[0]
        top_off = int(ys.min()) if ys.size else 0
        for patch, dx in chars:
            page.blend(patch, ink, x + dx, int(y - top_off))
            canvas_patches.append((patch, x + dx, int(y - top_off)))
        _record(page, value, canvas_patches)
        band_top, band_bottom = min(band_top, y), max(band_bottom, y + digit_h)
    if rng.random() < 0.5:  # small print under the board
        small = _printed_word(
            str(rng.choice(["SELF SERVICE", "PRICE PER LITRE", "Pay at pump", "UNLEADED"])),
            max(8.0, digit_h * 0.25),
            0,
        )
        wall_col = page.rgb[min(page.height - 1, int(by0 + bh + digit_h * 0.5)), int(bx0)].mean()
        page.print_word(
            small,
            np.array((20, 20, 20) if wall_col > 110 else (230, 230, 230), np.float32),
            int(bx0),
            int(by0 + bh + digit_h * 0.3),
        )
    glass = (bx0 - pad, by0 - pad, bx0 + bw - pad, by0 + bh - pad)
    return _Built(page, pad, digit_h, glass, (band_top - pad, band_bottom - pad), 6.0, 0.04)


# -------------------------------------------------------------------------------------- public


def _project(page: _Page, m: np.ndarray) -> list[list[tuple[int, int, int, int]]]:
    boxes = []
    for line in page.digit_points:
        out = []
        for pts in line:
            q = cv2.perspectiveTransform(pts.reshape(-1, 1, 2), m).reshape(-1, 2)
            x0, y0 = np.floor(q.min(axis=0)).astype(int)
            x1, y1 = np.ceil(q.max(axis=0)).astype(int)
            out.append((int(x0), int(y0), int(x1 - x0) + 1, int(y1 - y0) + 1))
        boxes.append(out)
    return boxes


def make_meter(
    category: str,
    seed: int,
    value: str | None = None,
    *,
    roll: float | None = None,
    shot: int | None = None,
    glare: float | None = None,
    blur: float | None = None,
    frame: tuple[int, int] | None = None,
    camera: bool = True,
) -> Scene:
    """A photo of a meter/sign display of `category` (see METER_CATEGORIES) showing `value`.

    `value` (digits, optionally one '.') defaults to a random value for the seed; the device, its place
    in the frame and the camera angle depend only on (category, seed). `roll` (drum only, 0..1) turns
    the last drum that far towards the next digit (with carries); the truth keeps the shown value and
    `Scene.transition` lists the rolling drums. `roll=None`: a random photo has a drum part-way in a
    third of the cases, a given value none. `shot` seeds the per-photo randomness (noise, JPEG,
    glare placement; default: seed); `glare` (0..1) and `blur` (sigma px) override it.
    `frame` (width, height) overrides the photo size (the layout scales with it). `camera=False` skips
    the sensor (noise, JPEG): clips add their own per frame."""
    if category not in METER_CATEGORIES:
        raise ValueError(
            f"unknown meter category {category!r}; expected one of {', '.join(METER_CATEGORIES)}"
        )
    if value is not None and not _valid_value(value, category):
        raise ValueError(f"meter value {value!r}: expected 1–9 digits with at most one '.' (none for drums)")
    cat = METER_CATEGORIES.index(category)
    for attempt in range(20):
        scene = _make_meter(category, cat, seed, attempt, value, roll, shot, glare, blur, frame, camera)
        h, w = scene.image.shape[:2]
        if all(
            x >= 1 and y >= 1 and x + bw <= w - 1 and y + bh <= h - 1
            for line in scene.boxes
            for x, y, bw, bh in line
        ):
            return scene
    raise RuntimeError(f"could not lay out a {category} meter for seed {seed}")


def _make_meter(
    category: str,
    cat: int,
    seed: int,
    attempt: int,
    value: str | None,
    roll: float | None,
    shot: int | None,
    glare: float | None,
    blur: float | None,
    frame: tuple[int, int] | None,
    camera: bool,
) -> Scene:
    rng = np.random.default_rng([int(seed), cat, 0x3E7E5, attempt])
    vrng = np.random.default_rng([int(seed), cat, 0x7A1])
    srng = np.random.default_rng([int(seed if shot is None else shot), cat, 0x5407])
    style = "pump" if category == "lcd" and rng.random() < 0.5 else "meter"
    out_w, out_h = _frame_for(rng, category, style)
    if frame is not None:
        out_w, out_h = int(frame[0]), int(frame[1])
    if value is None:
        values = [_random_value(vrng, category, style)]
        if category == "lcd" and style == "pump" and vrng.random() < 0.7:
            values.append(_random_value(vrng, category, style))
        if category == "printed_sign" and vrng.random() < 0.4:
            values.append(_random_value(vrng, category, "meter"))
    else:
        values = [value]
    if category == "lcd":
        built = _build_lcd(rng, out_w, out_h, style, values, vrng)
    elif category == "led":
        built = _build_led(rng, out_w, out_h, values)
    elif category == "drum":
        if roll is None:
            roll = float(vrng.uniform(0.15, 0.85)) if value is None and vrng.random() < 0.35 else 0.0
        built = _build_drum(rng, out_w, out_h, values[0], float(np.clip(roll, 0.0, 0.99)), vrng)
    else:
        built = _build_sign(rng, out_w, out_h, values)
    page, pad = built.page, built.pad
    m = _camera_homography(rng, out_w, out_h, (pad, pad), built.max_deg, built.persp)
    img = cv2.warpPerspective(
        page.rgb, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    light = _lighting(rng, out_h, out_w, shadow=category == "printed_sign")
    img = img * light[..., None]
    if built.glow is not None:  # emitted light is not shaded by the room's lighting
        glow = cv2.warpPerspective(built.glow[0], m, (out_w, out_h), flags=cv2.INTER_LINEAR)
        img = img + glow[..., None] * built.glow[1]
    # Glass effects in frame coordinates, over the display's (projected) area.
    gx0, gy0, gx1, gy1 = built.glass
    corners = cv2.perspectiveTransform(
        np.float32(
            [[gx0 + pad, gy0 + pad], [gx1 + pad, gy0 + pad], [gx1 + pad, gy1 + pad], [gx0 + pad, gy1 + pad]]
        ).reshape(-1, 1, 2),
        m,
    ).reshape(-1, 2)
    region = (
        float(corners[:, 0].min()),
        float(corners[:, 1].min()),
        float(corners[:, 0].max()),
        float(corners[:, 1].max()),
    )
    boxes = _project(page, m)
    band = (min(b[1] for line in boxes for b in line), max(b[1] + b[3] for line in boxes for b in line))
    if category != "printed_sign":
        g = float(srng.uniform(0, 1)) * float(srng.random() < 0.5) if glare is None else float(glare)
        img = _glass_effects(srng, img, region, built.digit_h, g, band)
    if category == "drum" and ((glare is None and srng.random() < 0.6) or (glare or 0) > 0):
        # The flash's hot spot on the glass: beside the counter (on it, the drums would be unreadable).
        rx = float(srng.uniform(region[0], region[2]))
        above = srng.random() < 0.5
        ry = (
            band[0] - built.digit_h * float(srng.uniform(1.2, 2.5))
            if above
            else band[1] + built.digit_h * float(srng.uniform(1.2, 2.5))
        )
        img = _hot_spot(
            srng, img, (rx, ry), built.digit_h * float(srng.uniform(0.8, 1.6)), float(srng.uniform(80, 200))
        )
    sigma = (
        float(srng.uniform(0.0, 1.0)) * min(1.5, 0.3 + 0.02 * built.digit_h) if blur is None else float(blur)
    )
    if camera:
        image = _sensor(srng, img, sigma, float(srng.uniform(1.0, 5.0)), int(srng.integers(60, 93)))
    else:
        image = np.clip(cv2.GaussianBlur(img, (0, 0), sigma) if sigma > 0.3 else img, 0, 255).astype(np.uint8)
    return Scene(image, list(page.lines), boxes, category, built.transition or [], project_printed(page, m))


def _valid_value(value: str, category: str) -> bool:
    digits = value.replace(".", "", 1)
    if not digits.isdigit() or not 1 <= len(digits) <= 9:
        return False
    return not (category == "drum" and "." in value)


# Seeds of the pictures in docs/img (chosen by eye to show each category's typical look).
SAMPLE_SEEDS = {
    "scene": {"single_line": 4, "multi_line": 3, "cheque_field": 2, "desk_sheet": 2, "words_and_numbers": 4},
    "meter": {"lcd": 2, "led": 1, "drum": 3, "printed_sign": 0},
}


def write_samples(directory: str) -> list[str]:
    """One picture per scene and meter category (scene_<cat>.jpg, meter_<cat>.jpg), at most 800 px wide,
    for the docs. Returns the paths written."""
    from pathlib import Path

    from convert.manifest import write_artifact
    from convert.synth.scenes import make_scene

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, seeds in SAMPLE_SEEDS.items():
        for category, seed in seeds.items():
            scene = make_scene(category, seed) if kind == "scene" else make_meter(category, seed)
            img = scene.image
            if img.shape[1] > 800:
                img = cv2.resize(
                    img, (800, round(img.shape[0] * 800 / img.shape[1])), interpolation=cv2.INTER_AREA
                )
            path = out / f"{kind}_{category}.jpg"
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 88])
            if not ok:
                raise RuntimeError(f"{path}: JPEG encoding failed")
            write_artifact(path, buf.tobytes())
            written.append(str(path))
    return written


if __name__ == "__main__":
    import sys

    for p in write_samples(sys.argv[1] if len(sys.argv) > 1 else "docs/img"):
        print(p)
