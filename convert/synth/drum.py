"""Mechanical counter-drum digits: printed digits on a turning drum seen through a window.

While the drum turns from d to d+1 the window shows the bottom of d above the top of d+1, both cut
straight by the window edges. A window is labelled with the digit of which at least LABEL_SHARE of its
height is in view while the other shows at most 1 − AMBIGUOUS_SHARE; windows in between are not
generated, so the network learns the dominant digit and stays unsure in the middle.

LABEL_SHARE is 0.75 rather than the 0.65 first planned: looking at the crops, the bottom two thirds of
an 8 or a 6 is a plain loop (a 0) and the bottom of a 7 a bare diagonal (a 1). For 6, 7 and 9, whose
telling stroke is at the top, a window that clips their top needs 85 % of them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

LABEL_SHARE = 0.75
AMBIGUOUS_SHARE = 0.65  # the other digit may show at most 1 - this of its height
NEEDS_TOP = {6: 0.85, 7: 0.85, 9: 0.85}
STATIC_SHARE = 0.3  # share of windows with the drum at rest (one digit fully in view)


def _ink_rows(coverage: np.ndarray) -> tuple[int, int]:
    rows = np.nonzero((coverage > 0.5).any(axis=1))[0]
    return int(rows[0]), int(rows[-1]) + 1


def render(
    rng: np.random.Generator, draw: Callable[[str], np.ndarray | None]
) -> tuple[np.ndarray, int, dict] | None:
    """Window coverage (float32, 0..1), its label, and {"shown": "d/next", "visible": share of the label
    digit in view}. `draw(char)` renders one digit of the drum's face. None when the window is ambiguous
    or the face cannot draw a digit (the caller draws again)."""
    d = int(rng.integers(10))
    digits = [(d - 1) % 10, d, (d + 1) % 10]
    glyphs = [draw(str(k)) for k in digits]
    if any(g is None for g in glyphs) or any(not (g > 0.5).any() for g in glyphs):
        return None
    rows = [_ink_rows(g) for g in glyphs]
    digit_h = rows[1][1] - rows[1][0]
    pitch = digit_h * rng.uniform(1.2, 1.6)
    window_h = digit_h * rng.uniform(1.05, 1.35)
    # Strip coordinates: ink top of digit k at (k - 1) · pitch, i.e. d starts at 0.
    tops = [(k - 1) * pitch for k in range(3)]
    if rng.random() < STATIC_SHARE:
        start = -(window_h - digit_h) / 2 + rng.normal(0, 0.03) * digit_h
    else:
        start = -(window_h - digit_h) / 2 + rng.uniform(0, pitch)
    end = start + window_h
    visible = []
    for top, (r0, r1) in zip(tops, rows, strict=True):
        ink_h = r1 - r0
        lo, hi = max(start, top), min(end, top + ink_h)
        visible.append(max(0.0, hi - lo) / ink_h)
    best = int(np.argmax(visible))
    others = [v for i, v in enumerate(visible) if i != best]
    top_clipped = start > tops[best] + 0.5
    need = NEEDS_TOP.get(digits[best], LABEL_SHARE) if top_clipped else LABEL_SHARE
    if visible[best] < need or max(others) > 1.0 - AMBIGUOUS_SHARE:
        return None
    width = max(g.shape[1] for g in glyphs) + 4
    y0 = int(np.floor(start))
    window = np.zeros((int(np.ceil(end)) - y0, width), np.float32)
    for top, g, (r0, _) in zip(tops, glyphs, rows, strict=True):
        gy = round(top) - r0 - y0  # row of the glyph bitmap's first row in the window
        gx = (width - g.shape[1]) // 2
        a, b = max(0, gy), min(window.shape[0], gy + g.shape[0])
        if a < b:
            np.maximum(
                window[a:b, gx : gx + g.shape[1]], g[a - gy : b - gy], out=window[a:b, gx : gx + g.shape[1]]
            )
    # The window edges cut the ink: leave a clean margin outside them for the camera to blur into.
    window = np.pad(window, ((3, 3), (0, 0)))
    shown = (
        f"{digits[best]}" if others == [0.0, 0.0] else f"{d}/{digits[2]}" if start > 0 else f"{digits[0]}/{d}"
    )
    return window, digits[best], {"shown": shown, "visible": round(visible[best], 3)}
