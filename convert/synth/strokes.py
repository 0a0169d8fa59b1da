"""Non-glyph marks for the reject class: pen strokes and scribbles, and clutter a segmenter cuts out of a
photo (smudges, textures, ruled-line fragments, page corners and edges). Each returns ink coverage
(float32, 0..1) at about `height` px, drawn anti-aliased with sub-pixel precision.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

_SHIFT = 3  # cv2 drawing with 3 fractional bits
_ONE = 1 << _SHIFT


def _canvas(h: float, w: float, pad: int) -> np.ndarray:
    return np.zeros((int(np.ceil(h)) + 2 * pad, int(np.ceil(w)) + 2 * pad), np.uint8)


def _to_cov(canvas: np.ndarray) -> np.ndarray:
    return canvas.astype(np.float32) / 255.0


def _polyline(canvas: np.ndarray, pts: np.ndarray, thickness: int, closed: bool = False) -> None:
    fixed = np.round(pts * _ONE).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(canvas, [fixed], closed, 255, max(1, thickness), cv2.LINE_AA, _SHIFT)


def _stroke_canvas(pts: np.ndarray, pad: int, pen: int) -> tuple[np.ndarray, np.ndarray]:
    """An open pen stroke through `pts` on a canvas just large enough, `pad` on every side; also the
    points as placed (shifted to start at 0, before the pad)."""
    pts = pts - pts.min(0)
    canvas = _canvas(pts[:, 1].max(), pts[:, 0].max(), pad)
    _polyline(canvas, pts + pad, pen)
    return canvas, pts


def _smooth(points: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Chaikin corner cutting: a hand's curve through random control points."""
    for _ in range(rounds):
        a, b = points[:-1], points[1:]
        q = 0.75 * a + 0.25 * b
        r = 0.25 * a + 0.75 * b
        points = np.concatenate([points[:1], np.stack([q, r], 1).reshape(-1, 2), points[-1:]])
    return points


def _pen(rng: np.random.Generator, height: float) -> int:
    return max(1, round(height * rng.uniform(0.04, 0.12)))


def scribble(rng: np.random.Generator, height: float) -> np.ndarray:
    """A random smooth pen path through several points: crossings, loops, hooks."""
    # Many control points: with few, a random curve is too often a passable 2, 7 or S.
    w = height * rng.uniform(0.8, 2.4)
    pad = int(height * 0.15) + 3
    pts = rng.uniform(0, 1, size=(int(rng.integers(8, 15)), 2)) * [w, height] + pad
    canvas = _canvas(height, w, pad)
    _polyline(canvas, _smooth(pts), _pen(rng, height))
    return _to_cov(canvas)


def loops(rng: np.random.Generator, height: float) -> np.ndarray:
    """Cursive-like run of loops or waves (a signature, an illegible word)."""
    n = int(rng.integers(2, 6))
    t = np.linspace(0, 2 * np.pi * n, 40 * n)
    r = height * rng.uniform(0.25, 0.45)
    advance = height * rng.uniform(0.15, 0.5)
    kind = rng.random()
    x = advance * t / (2 * np.pi) + (r * np.cos(t) if kind < 0.6 else 0)
    y = r * np.sin(t) * (1 if kind < 0.6 else rng.uniform(0.6, 1.2))
    if kind >= 0.8:
        y = np.abs(y)  # 'mmm'-like arches
    pts = np.stack([x, y], 1)
    pts += rng.normal(0, height * 0.02, size=pts.shape)
    canvas, _ = _stroke_canvas(pts, int(height * 0.15) + 3, _pen(rng, height))
    return _to_cov(canvas)


def arc(rng: np.random.Generator, height: float) -> np.ndarray:
    """A partial ellipse: brackets, smiles, hooks. Never closed (a closed loop is a zero)."""
    rx, ry = height * rng.uniform(0.2, 0.6), height * rng.uniform(0.2, 0.6)
    sweep = rng.uniform(70, 240)
    start = rng.uniform(0, 360)
    t = np.deg2rad(np.linspace(start, start + sweep, 60))
    pts = np.stack([rx * np.cos(t), ry * np.sin(t)], 1)
    canvas, _ = _stroke_canvas(pts, int(height * 0.15) + 3, _pen(rng, height))
    return _to_cov(canvas)


def cheque_mark(rng: np.random.Generator, height: float) -> np.ndarray:
    """The small marks in written amounts, cropped alone and so blown up by normalisation:
    a dash, a dot, a comma, a flat slash, a tick, a wavy underline."""
    kind = int(rng.integers(6))
    pad = int(height * 0.2) + 3
    pen = _pen(rng, height) + 1
    if kind == 1:  # dot: a blob a bit irregular
        canvas = _canvas(height * 0.3, height * 0.3, pad)
        c = pad + height * 0.15
        axes = (height * rng.uniform(0.08, 0.15), height * rng.uniform(0.08, 0.15))
        cv2.ellipse(canvas, ((c, c), (2 * axes[0], 2 * axes[1]), rng.uniform(0, 180)), 255, -1, cv2.LINE_AA)
        return _to_cov(canvas)
    if kind == 2:  # comma: a dot with a tail to the lower left
        pts = np.array([[0.3, 0.0], [0.35, 0.2], [0.25, 0.5], [0.0, 0.8]]) * height * 0.5
        pts += rng.normal(0, height * 0.02, size=pts.shape)
    elif kind == 3:  # flat slash: leans far more than any written one
        angle = np.deg2rad(rng.uniform(45, 70)) * rng.choice([-1, 1])
        length = height * rng.uniform(0.5, 1.0)
        pts = np.array([[0, 0], [np.sin(angle) * length, np.cos(angle) * length]])
    elif kind == 4:  # tick / check mark
        pts = np.array([[0, 0.5], [0.3, 1.0], [1.0, 0.0]]) * height * rng.uniform(0.4, 0.8)
    elif kind == 5:  # wavy underline
        t = np.linspace(0, 2 * np.pi * rng.uniform(1, 3), 50)
        pts = np.stack([t / t.max() * height * rng.uniform(1.0, 2.0), np.sin(t) * height * 0.08], 1)
    else:  # dash, within 25° of horizontal
        angle = np.deg2rad(rng.uniform(-25, 25))
        length = height * rng.uniform(0.4, 1.2)
        pts = np.array([[0, 0], [np.cos(angle) * length, np.sin(angle) * length]])
    canvas, pts = _stroke_canvas(pts, pad, pen)
    if kind == 2:
        cv2.circle(canvas, (int(pad + pts[0, 0]), int(pad + pts[0, 1])), max(1, pen), 255, -1, cv2.LINE_AA)
    return _to_cov(canvas)


def smudge(rng: np.random.Generator, height: float) -> np.ndarray:
    """An irregular filled blob: a smudge, a fingerprint, a stain."""
    w = height * rng.uniform(0.5, 1.8)
    field = rng.uniform(0, 1, size=(int(rng.integers(3, 7)), int(rng.integers(3, 7)))).astype(np.float32)
    pad = 3
    field = cv2.resize(field, (int(w) + 1, int(height) + 1), interpolation=cv2.INTER_CUBIC)
    gy, gx = np.mgrid[0 : field.shape[0], 0 : field.shape[1]].astype(np.float32)
    # Fade towards the border so the blob does not fill the box like a solid rectangle.
    fade = 1.0 - np.hypot(gx / field.shape[1] - 0.5, gy / field.shape[0] - 0.5) * 1.6
    blob = np.clip((field * 0.6 + fade * 0.7 - 0.55) * 8.0, 0, 1)
    return np.pad(blob, pad)


def texture(rng: np.random.Generator, height: float) -> np.ndarray:
    """Print patterns and paper texture: halftone dots, hatching, speckle."""
    w = height * rng.uniform(0.7, 1.6)
    canvas = _canvas(height, w, 2)
    kind = int(rng.integers(3))
    if kind == 0:  # halftone dots or a dotted background
        step = max(3.0, height * rng.uniform(0.1, 0.25))
        r = max(1, int(step * rng.uniform(0.2, 0.4)))
        for y in np.arange(2, canvas.shape[0] - 2, step):
            for x in np.arange(2 + (y % (2 * step)) / 2, canvas.shape[1] - 2, step):
                cv2.circle(canvas, (int(x), int(y)), r, 255, -1, cv2.LINE_AA)
    elif kind == 1:  # hatching, one or two directions
        step = max(3.0, height * rng.uniform(0.12, 0.3))
        for angle in rng.uniform(0, np.pi, size=int(rng.integers(1, 3))):
            d = np.array([np.cos(angle), np.sin(angle)])
            n = np.array([-d[1], d[0]])
            centre = np.array(canvas.shape[::-1]) / 2
            for k in np.arange(-2 * height, 2 * height, step):
                p = centre + n * k
                _polyline(
                    canvas, np.array([p - d * 3 * height, p + d * 3 * height]), _pen(rng, height) // 2 + 1
                )
    else:  # speckle / grain
        grain = rng.uniform(0, 1, size=(max(3, int(height / 4)), max(3, int(w / 4)))).astype(np.float32)
        grain = cv2.resize(grain, (canvas.shape[1], canvas.shape[0]), interpolation=cv2.INTER_LINEAR)
        canvas = np.where(grain > 0.72, 255, 0).astype(np.uint8)
    return _to_cov(canvas)


def rules(rng: np.random.Generator, height: float) -> np.ndarray:
    """Fragments of ruled lines and grids: parallel lines, crossings, boxes of a form."""
    w = height * rng.uniform(0.6, 1.8)
    canvas = _canvas(height, w, 2)
    hh, ww = canvas.shape
    pen = max(1, round(height * rng.uniform(0.03, 0.08)))
    kind = int(rng.integers(3))
    if kind == 0:  # two to four horizontal rules, maybe a margin line across
        for y in np.linspace(2, hh - 3, int(rng.integers(2, 5))):
            _polyline(canvas, np.array([[0, y], [ww - 1, y + rng.normal(0, 1)]]), pen)
        if rng.random() < 0.5:
            x = rng.uniform(0.2, 0.8) * ww
            _polyline(canvas, np.array([[x, 0], [x, hh - 1]]), pen)
    elif kind == 1:  # grid cell corners: a '+' or an 'L' / 'T' where form lines meet
        x, y = rng.uniform(0.2, 0.8) * ww, rng.uniform(0.2, 0.8) * hh
        _polyline(canvas, np.array([[0 if rng.random() < 0.7 else x, y], [ww - 1, y]]), pen)
        _polyline(canvas, np.array([[x, 0 if rng.random() < 0.7 else y], [x, hh - 1]]), pen)
        if rng.random() < 0.5:
            y2 = rng.uniform(0, 1) * hh
            _polyline(canvas, np.array([[0, y2], [ww - 1, y2]]), pen)
    else:  # a box of a form, whole or with one side out of view (never a lone corner: that is a 7)
        x0, y0 = rng.uniform(0.0, 0.2, size=2) * [ww, hh]
        x1, y1 = rng.uniform(0.8, 1.0, size=2) * [ww, hh]
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        side = int(rng.integers(5))
        if side == 4:
            _polyline(canvas, corners, pen, closed=True)
        else:  # open polyline starting after the missing side
            _polyline(canvas, np.roll(corners, -(side + 1), axis=0), pen)
    return _to_cov(canvas)


def page_corner(rng: np.random.Generator, height: float) -> np.ndarray:
    """A sheet corner or edge on a darker desk: a large filled region cut by the crop."""
    w = height * rng.uniform(0.6, 1.6)
    canvas = _canvas(height, w, 0)
    hh, ww = canvas.shape
    if rng.random() < 0.5:  # corner: a quadrant with slightly skewed edges
        cx, cy = rng.uniform(0.25, 0.75) * ww, rng.uniform(0.25, 0.75) * hh
        sx, sy = rng.choice([-1, 1], size=2) * 3 * max(hh, ww)
        pts = np.array([[cx, cy], [cx + sx, cy + rng.normal(0, 0.1) * sx], [cx + sx, cy + sy], [cx, cy + sy]])
        pts[3, 0] += rng.normal(0, 0.1) * sy
    else:  # edge: a half-plane with a straight or slightly torn border
        angle = rng.uniform(0, 2 * np.pi)
        d = np.array([np.cos(angle), np.sin(angle)])
        n = np.array([-d[1], d[0]])
        c = np.array([ww, hh]) * rng.uniform(0.3, 0.7, size=2)
        far = 3 * max(hh, ww)
        pts = np.array([c - d * far, c + d * far, c + d * far + n * far, c - d * far + n * far])
    fixed = np.round(pts * _ONE).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(canvas, [fixed], 255, cv2.LINE_AA, _SHIFT)
    return np.pad(_to_cov(canvas), 2)


CLUTTER: dict[str, Callable[[np.random.Generator, float], np.ndarray]] = {
    "smudge": smudge,
    "texture": texture,
    "rules": rules,
    "page_corner": page_corner,
}
STROKES: dict[str, Callable[[np.random.Generator, float], np.ndarray]] = {
    "scribble": scribble,
    "loops": loops,
    "arc": arc,
    "cheque_mark": cheque_mark,
}
