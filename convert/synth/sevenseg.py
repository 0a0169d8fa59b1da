"""Seven-segment digits as the camera sees an LCD or LED display: separate segments with gaps between
them, so one digit is several disconnected pieces (the runtime segmenter groups them).

Segments:   a            Variants seen on real displays: 6 with or without its top bar (a),
          f   b          7 with or without the left upright (f), 9 with or without its tail (d).
            g
          e   c
            d
"""

from __future__ import annotations

import cv2
import numpy as np

SEGMENTS: dict[int, tuple[str, ...]] = {
    0: ("abcdef",),
    1: ("bc",),
    2: ("abdeg",),
    3: ("abcdg",),
    4: ("bcfg",),
    5: ("acdfg",),
    6: ("acdefg", "cdefg"),
    7: ("abc", "abcf"),
    8: ("abcdefg",),
    9: ("abcdfg", "abcfg"),
}
STYLES = ("hex", "rect", "round")
_SHIFT = 3
_ONE = 1 << _SHIFT


def _centrelines(w: float, h: float, t: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    left, right, top, mid, bottom = t / 2, w - t / 2, t / 2, h / 2, h - t / 2
    p = np.array
    return {
        "a": (p([left, top]), p([right, top])),
        "g": (p([left, mid]), p([right, mid])),
        "d": (p([left, bottom]), p([right, bottom])),
        "f": (p([left, top]), p([left, mid])),
        "b": (p([right, top]), p([right, mid])),
        "e": (p([left, mid]), p([left, bottom])),
        "c": (p([right, mid]), p([right, bottom])),
    }


def _rect_boxes(w: float, h: float, t: float, gap: float) -> dict[str, tuple[float, float, float, float]]:
    """(x0, y0, x1, y1) per segment for square-ended segments: the uprights own the corners and the
    bars stop a gap short of them, as on most LCD glass."""
    m = h / 2
    return {
        "a": (t + gap, 0, w - t - gap, t),
        "g": (t + gap, m - t / 2, w - t - gap, m + t / 2),
        "d": (t + gap, h - t, w - t - gap, h),
        "f": (0, 0, t, m - gap / 2),
        "b": (w - t, 0, w, m - gap / 2),
        "e": (0, m + gap / 2, t, h),
        "c": (w - t, m + gap / 2, w, h),
    }


def _hex_polygon(p0: np.ndarray, p1: np.ndarray, t: float, gap: float) -> np.ndarray:
    """Pointed ends meeting at the corner point; pulling each tip back by `gap` leaves that gap."""
    u = (p1 - p0) / np.linalg.norm(p1 - p0)
    n = np.array([-u[1], u[0]])
    half = t / 2
    a, b = p0 + u * gap, p1 - u * gap
    return np.array([a, a + u * half + n * half, b - u * half + n * half, b, b - u * half - n * half,
                     a + u * half - n * half])  # fmt: skip


def render(digit: int, height: float, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Coverage (float32, 0..1) of `digit` about `height` px tall, and the style used:
    {"style": str, "gap": px between segments, "slant": shear for the camera (top leans right)}."""
    h = float(height)
    w = h * rng.uniform(0.48, 0.65)
    t = h * rng.uniform(0.07, 0.16)
    gap = max(1.6, h * rng.uniform(0.025, 0.05))  # much under 2 px and a camera closes the gap
    # OpenCV's anti-aliased fill feathers about half a pixel outside each edge: draw the gaps wider.
    drawn_gap = gap + 0.8
    style = STYLES[int(rng.integers(len(STYLES)))]
    # Bars at least 1.8× as long as thick, as on real displays (else a digit reads as scattered dots).
    # Free bar length: rect w - 2t - 2g; hex w - t - 2g; round w - 2t - 1.42(t + g).
    if style == "rect":
        t = min(t, (w - 2 * drawn_gap) / 3.8)
    elif style == "hex":
        t = min(t, (w - 2 * drawn_gap) / 2.8)
    else:
        t = min(t, (w - 1.42 * drawn_gap) / 5.22)
    t = max(t, 1.5)
    variants = SEGMENTS[digit]
    segs = variants[int(rng.integers(len(variants)))]
    pad = int(np.ceil(t)) + 3
    canvas = np.zeros((int(np.ceil(h)) + 2 * pad, int(np.ceil(w)) + 2 * pad), np.uint8)
    lines = _centrelines(w, h, t)
    boxes = _rect_boxes(w, h, t, drawn_gap)
    for s in segs:
        p0, p1 = lines[s]
        if style == "round":
            # Round caps stick out half a stroke; two caps meeting at a corner are √2·pull apart
            # centre to centre, so pull ≥ (t + gap)/√2 leaves the gap between them.
            u = (p1 - p0) / np.linalg.norm(p1 - p0)
            pull = u * (0.71 * (t + drawn_gap))
            ends = np.round((np.stack([p0 + pull, p1 - pull]) + pad) * _ONE).astype(int)
            cv2.line(canvas, tuple(ends[0]), tuple(ends[1]), 255, max(1, round(t)), cv2.LINE_AA, _SHIFT)
            continue
        if style == "rect":
            x0, y0, x1, y1 = boxes[s]
            poly = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        else:
            poly = _hex_polygon(p0, p1, t, drawn_gap)
        fixed = np.round((poly + pad) * _ONE).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(canvas, [fixed], 255, cv2.LINE_AA, _SHIFT)
    slant = float(rng.uniform(0.08, 0.22)) if rng.random() < 0.5 else 0.0
    info = {"style": f"sevenseg:{style}:{segs}", "gap": gap, "slant": slant}
    return canvas.astype(np.float32) / 255.0, info
