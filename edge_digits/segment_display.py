"""What meters and displays add to segmentation: windows, frames, and digits made of separate segments.

Three things in a meter photo break a segmenter made for ink on paper, and each is fixed on the ink
mask before `segment.segment` sees it:

1. **Windows.** Light digits in a dark window (a counter's drum strip, an LED panel) on a light device
   come out of a dark-on-light mask as *holes* in one big ink blob. A blob whose holes are digit-shaped
   strokes, side by side, is a window: inside it the mask is inverted, so the digits become ink. Thin
   bars spanning the window's full height (the separators between drums) are dropped there.
2. **Frames.** The bezel of an LCD, the rim of a meter's face, the border of a drum window: a ring of
   ink around the digits. It is taller than the digits it encloses, so the segmenter would take it
   for the line and the digits for its fragments (or read it as a 0 or a 1). A component whose holes
   contain other components of digit size is a frame and is removed.
3. **Seven segments.** An LCD/LED digit is several disconnected bars. Bars of one digit are a fraction
   of a bar's thickness apart, digits are further apart than that; closing the mask of the bar-shaped
   components (only those: a decimal point or a printed digit is not touched) with a kernel of about
   half a bar's thickness joins each digit into one component. The joining pixels decide only which
   pieces belong together: the segmentation's label image is cut back to the real ink, so the network
   sees the segments with their gaps, as it was trained.

All three are pure functions on uint8 masks (255 = ink); `segment_display` chains them and calls
`segment.segment`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np

from edge_digits.normalize import stroke_width
from edge_digits.segment import (
    Candidate,
    DrumWindow,
    Segmentation,
    TextLine,
    _x_overlap,
    _y_overlap,
    components,
    label_mask,
    long_thin,
    median_of,
    segment,
)

# A hole counts as a digit in a window when it is at least this share of the window's height there.
WINDOW_DIGIT_MIN = 0.35
# ... and a hole at least this share of it is a separator bar between drums, not a digit.
WINDOW_SEPARATOR = 0.85
# A glowing blob: ink on at least GLOW_SOLID of its box, strokes at least GLOW_THICK of its smaller
# side thick; cut back to its lit core when that is a share of it within GLOW_CORE.
GLOW_SOLID = 0.55
GLOW_THICK = 0.45
GLOW_CORE = (0.25, 0.8)
# Halves of a seven-segment digit stacked with a gap overlap by at least this share of the narrower.
STACKED_OVERLAP = 0.35
# Glare over a digit: a blob this many times thicker than the display's other strokes, whose bright core
# is at least this share of it.
GLARE_THICK = 2.0
GLARE_CORE = 0.12
GLARE_SOLID = 0.4  # (glare need not fill a blob as glow does)
GLOW_SPREAD = 0.5  # the blob's shades span at least this share of its brightest (10th to 90th percentile)
# A piece with at least this share of its pixels on the window's rim is the edge, not a digit.
WINDOW_RIM = 0.35
# A drum caught turning shows two pieces cut by its window's edges: each at least this share of a
# digit's height (less is no help to the network), reaching at most TURNING_REACH of it beyond the digits
# at rest (the window is a little taller than its digits).
TURNING_PIECE = 0.15
TURNING_REACH = 0.45
# Digits at rest lie within this share of their height of the counter's band (top and bottom, each);
# a drum whose one piece sits at least TURNING_SHIFT lower (or higher) and reaches TURNING_CUT beyond
# the band's other edge is cut by the window there: it is turning. Two pieces of a turning drum span
# at least TURNING_TALL of a digit's height (from the window's top edge to its bottom one).
REST_TOLERANCE = 0.15
TURNING_SHIFT = 0.15
TURNING_CUT = 0.1
TURNING_TALL = 1.15
# The network learnt a turning drum's digit from windows showing at least this share of it (the drum
# synthesis's LABEL_SHARE); with less of either in view its answer is a guess.
TURNING_READABLE = 0.75
TURNING_CENTRE = 0.3  # a piece's centre lies within this share of the drums' pitch of its drum's
# A turning drum's window as the turning-drum network sees it: this share of the drums' pitch wide and
# of the digits' height tall (a window is 1.25 to 1.45 digits tall), around its place in the band.
WINDOW_WIDTH = 0.9
WINDOW_HEIGHT = 1.5
# Beside a window, marks smaller than this share of its digits are the unit, not digits.
UNIT_HEIGHT = 0.8
# A window is mostly dark: its ink is at least this share of its filled area.
WINDOW_SOLIDITY = 0.55
WINDOW_SOLIDITY_SINGLE = 0.7
WINDOW_RECTANGLE = 0.8
# A frame encloses something at least this share of its hole's height (a digit, not a speck in a 0).
FRAME_CONTENT = 0.08
# Seven-segment bars: longer than this many thicknesses, and filling most of their (rotated) box.
BAR_ELONGATION = 1.5
BAR_FILL = 0.6
# Closing kernel for the bars as a share of their typical thickness.
BRIDGE = 0.6
# A piece joins a display's bars up to this many of its typical segment lengths long (a segment or two
# of its digits, never a whole printed digit: that is twice a segment).
MEMBER_SIDE = 1.6
# Bars of one digit whose nearest pixels are at most this many thicknesses apart are bridged too (the
# bevelled tips of two segments meeting at a corner leave a gap a closing cannot fill); those of two
# digits are further apart (a display's digit spacing exceeds 1.2 bar thicknesses) and side by side.
JOIN_GAP = 1.2
# So many bars of one thickness make a display worth joining.
MIN_BARS = 4
# ... when they are straight: a display's bars fill most of their smallest turned rectangle (median
# over the group); pen strokes that pass for bars (1s, the tops of 7s and 5s) curve and taper, and
# bridged they join a handwritten line into one blob.
BAR_STRAIGHT = 0.59
# The halves of a seven-segment digit stacked with a gap: a stroke this thick for their height.
STACKED_THICK = 0.2
# Beside a printed number, a line of one mark narrower than this share of its height is a stroke.
LONE_STROKE = 0.4
# ... and a line of such strokes this many times as tall as the number is streaks of light or shadow,
# and one of strokes thinner than this share of the number's strokes is hairlines (an edge, a crack).
STREAK_HEIGHT = 3.0
HAIRLINE = 0.5
# Beside a printed number, beyond this share of its height, marks under LABEL_HEIGHT of it are a label.
LABEL_GAP = 0.35
LABEL_HEIGHT = 0.75
LABEL_GAP_RUN = 1.5  # ... and at least this many times the widest gap inside the number
# A display's digit without a bottom bar (4, 7) is at least this share of its neighbours' height.
SHORT_DIGIT = 0.8
# The unit after a counter, on a line of its own, starts within this many drum heights of its end ...
UNIT_REACH = 1.5
# ... or, in a counter's line, further than this many drum pitches past the last drum (a turning
# drum's piece lies within a fifth of a pitch of its drum's place, a pitch on).
UNIT_PITCHES = 1.3
# A mark with this share of its box on a digit is part of what surrounds that digit.
ON_DIGIT = 0.7
# A decimal point: a compact blob between this share of the line height and DOT_MAX, on the baseline.
DOT_MIN = 0.06
DOT_MAX = 0.4
DOT_BASELINE = 0.18
# A piece with the digit's ink above this share of its columns lies under the digit: no point.
DOT_UNDER = 0.5
# No point reaches further than this share of the line height below its baseline.
DOT_BELOW = 0.3
# Apart from its digit in the strong ink only, a point is about square (box width between this share
# of its height and its inverse): the lit segments of an LED digit are apart there too, and long.
DOT_SQUARE = 0.75
# A point found in the picture where the mask has none: only where the digits stand out from their
# ground by at least this many gray levels.
DOT_CONTRAST = 60
# A point no candidate holds is at least this share of the digits' stroke width thick.
DOT_STROKE = 0.6
# The core of a candidate's ink: all but its faintest CORE_SHARE percent.
CORE_SHARE = 50
# A dial: a round ring (box aspect within these) ...
DIAL_ASPECT = (0.75, 1.33)
# ... of thin ink (at most this share of its box) ...
DIAL_INK = 0.3
# ... holding a pointer: a stroke at least this share of the ring's size long and this elongated.
DIAL_HAND = 0.3
DIAL_HAND_ELONGATION = 2.5
HAND_HOLES = 0.2  # ... holes of at most this share of its ink
# ... or a scale: at least DIAL_TICKS notches in its hole's outline, each this share of its size deep.
DIAL_TICK = 0.05
DIAL_TICKS = 4
# A ring broken open leaves arcs and the pointer, none wider than this share of its height.
DIAL_PIECE_WIDTH = 1.6


@dataclass(frozen=True)
class DisplayFixes:
    """What was found and changed (for the debug pictures and tests)."""

    windows: tuple[tuple[int, int, int, int], ...] = ()
    frames: tuple[tuple[int, int, int, int], ...] = ()
    bars: int = 0
    bar_thickness: float = 0.0
    dots: int = 0
    dials: tuple[tuple[int, int, int, int], ...] = ()
    glowing: int = 0  # blobs of glow or glare cut back to their lit digits


@dataclass
class _Components:
    """One labelling of a mask, shared by the steps; `alive` marks what is still ink."""

    n: int
    labels: np.ndarray
    stats: np.ndarray
    alive: np.ndarray

    @classmethod
    def of(cls, binary: np.ndarray) -> _Components:
        # segment.components: OpenCV's labelling with boxes from contours (its statistics pass is slow);
        # the area column is the ink in the box, exact for the isolated pieces the prefilters look at.
        n, labels, stats = components(binary)
        alive = np.ones(n, bool)
        alive[0] = False
        return cls(n, labels, stats, alive)


def _filled(mask: np.ndarray) -> np.ndarray:
    """The mask (bool, cropped) with its holes filled."""
    h, w = mask.shape
    outside = np.ones((h + 2, w + 2), np.uint8)
    outside[1:-1, 1:-1][mask] = 0
    cv2.floodFill(outside, None, (0, 0), 2)
    return (outside != 2)[1:-1, 1:-1]


def _digits_in_window(
    ink: np.ndarray, filled: np.ndarray, min_h: float, single: bool = False
) -> np.ndarray | None:
    """The digit components of the candidate ink inside a window (bool, cropped), or None when they
    do not look like the digits of a counter (`single`: of one drum's window)."""
    n, sub, st, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    column_h = filled.sum(axis=0)
    # The window's rim, a few pixels wide: the light surround bleeds into it along the edges.
    rim = filled & ~cv2.erode(filled.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    on_rim = np.bincount(sub[rim], minlength=n)
    digits, strokes = [], 0
    keep = np.zeros(n, bool)
    for k in range(1, n):
        hx, hy, hw, hh, ha = (int(v) for v in st[k])
        local = float(column_h[hx + hw // 2])
        if hh < min_h or local <= 0:
            continue
        if on_rim[k] >= WINDOW_RIM * ha:
            continue  # a sliver along the window's edge (a drum cut by the edge has only its cut there)
        if hh >= WINDOW_SEPARATOR * local and hw <= 0.25 * hh:
            continue  # a bar from the top to the bottom of the window: a separator between drums
        if hh >= WINDOW_DIGIT_MIN * local and 0.12 <= hw / hh <= 1.3:
            digits.append((hx, hx + hw, hy, hy + hh))
            keep[k] = True
            # (Thin strokes, not a filled loop; a bold printed 0 in a drum's window fills more.)
            if ha <= (0.7 if single else 0.55) * hw * hh:
                strokes += 1
    if single:
        # One drum: its digit (or the two halves of a turning one) fills most of the window's height.
        if not digits or strokes < 1 or max(d[3] - d[2] for d in digits) < 0.5 * filled.shape[0]:
            return None
        # ... printed in strokes (the light inside of a blurred seven-segment 8 is one thick piece).
        mask = keep[sub].astype(np.uint8)
        depth = cv2.distanceTransform(np.pad(mask, 1), cv2.DIST_L2, 3)
        if 2.0 * float(depth.max()) > 0.3 * max(d[3] - d[2] for d in digits):
            return None
        return keep[sub]
    if len(digits) < 2 or strokes < 1:
        return None
    # Side by side in a row, like the digits of a counter (the two loops of an 8 are stacked).
    digits.sort()
    if not any(
        b[0] >= a[1] - 0.2 * (a[1] - a[0]) and min(a[3], b[3]) - max(a[2], b[2]) > 0.5 * (a[3] - a[2])
        for a, b in itertools.pairwise(digits)
    ):
        return None
    side_rim = filled & ~cv2.erode(filled.astype(np.uint8), np.ones((1, 7), np.uint8)).astype(bool)
    _keep_turning_pieces(st, keep, digits, np.bincount(sub[side_rim], minlength=n))
    return keep[sub]


def _keep_turning_pieces(
    st: np.ndarray, keep: np.ndarray, digits: list[tuple[int, int, int, int]], sides: np.ndarray
) -> None:
    """Mark the pieces of drums caught turning at the row's right end as digits too. A turning drum
    shows the bottom of one digit over the top of the next, each cut by the window's edge and often
    shorter than a digit-sized hole must be; `join_turning_drums` makes one candidate of them."""
    # Only in a counter's row: three digits or more of one height, evenly spaced (printed words in a
    # panel are neither).
    dh = median_of([d[3] - d[2] for d in digits])
    digits = [d for d in digits if abs(d[3] - d[2] - dh) <= REST_TOLERANCE * dh]
    if len(digits) < 3:
        return
    xs = [(d[0] + d[1]) / 2.0 for d in digits]
    steps = [b - a for a, b in itertools.pairwise(xs)]
    pitch = median_of(steps)
    if not all(0.8 * pitch <= step <= 1.25 * pitch for step in steps):
        return
    top = np.polyfit(xs, [d[2] for d in digits], 1)
    bottom = np.polyfit(xs, [d[3] for d in digits], 1)
    right = max(d[1] for d in digits)
    for k in range(1, len(st)):
        hx, hy, hw, hh = (int(v) for v in st[k, :4])
        if keep[k] or hx < right or hh < TURNING_PIECE * dh or not TURNING_PIECE * dh <= hw <= 1.3 * dh:
            continue
        if sides[k] >= WINDOW_RIM * st[k, 4]:
            continue  # the light surround bleeding in at a window's side (pieces are cut at top or bottom)
        cx = hx + hw / 2.0
        slots = (cx - xs[-1]) / max(pitch, 1.0)
        if abs(slots - round(slots)) > TURNING_CENTRE:
            continue  # not where a drum of the row stands
        reach = TURNING_REACH * dh
        if hy >= np.polyval(top, cx) - reach and hy + hh <= np.polyval(bottom, cx) + reach:
            keep[k] = True


def _window_ink(binary: np.ndarray, gray: np.ndarray | None, blob: np.ndarray,
                box: tuple[int, int, int, int], min_h: float,
                single: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
    """For a window blob: (filled region, the digits' ink inside it) in the box; None when it is no
    window. With the gray image the window is thresholded on its own (light digits on its dark); the
    global threshold, made for the surroundings, often cuts a small light digit into pieces."""
    x, y, w, h = box
    filled = _filled(blob)
    area = int(np.count_nonzero(filled))
    # (A drum's window is dark around its one digit; a blurred digit with a loop is not that solid.)
    solidity = WINDOW_SOLIDITY_SINGLE if single else WINDOW_SOLIDITY
    if area == 0 or np.count_nonzero(blob) < solidity * area:
        return None
    if single:
        # One drum's window is a rectangle (a blurred digit is not, however solid); its digit may be
        # a hole or, when the window is lighter than the face around it, a lighter patch in the ink.
        ys, xs = np.nonzero(filled)
        (_, _), (rw, rh), _ = cv2.minAreaRect(np.stack([xs, ys], axis=1).astype(np.float32))
        if area < WINDOW_RECTANGLE * (rw + 1) * (rh + 1) or gray is None:
            return None
        # Coloured drums on a dark face are lighter than the face (that is why they are ink); a
        # display's digit is darker than its glass.
        pad = max(2, round(0.2 * h))
        y0, x0 = max(0, y - pad), max(0, x - pad)
        around = np.zeros(gray[y0 : y + h + pad, x0 : x + w + pad].shape, bool)
        around[y - y0 : y - y0 + h, x - x0 : x - x0 + w] = filled
        ring = cv2.dilate(around.astype(np.uint8), np.ones((2 * pad + 1, 2 * pad + 1), np.uint8)).astype(bool)
        ring &= ~around
        if not ring.any() or np.median(gray[y : y + h, x : x + w][filled]) <= np.median(
            gray[y0 : y + h + pad, x0 : x + w + pad][ring]
        ):
            return None
    # The light digits leave holes in the window's ink (whole or in pieces): at least two of digit size.
    holes = filled & ~blob
    n_holes, _, hole_stats, _ = cv2.connectedComponentsWithStats(
        holes.astype(np.uint8), connectivity=8, ltype=cv2.CV_32S
    )
    # A window whose light digits the global threshold took for ink has no such holes: its own
    # threshold must then find a row of at least three digits (no holes to check them against),
    # inside the frame (a dark strip along the frame's edge, a desk or a shadow, is no window).
    solid = not single and (n_holes < 3 or np.count_nonzero(hole_stats[1:, 3] >= 0.5 * min_h) < 2)
    img_h, img_w = binary.shape
    if solid and (gray is None or x == 0 or y == 0 or x + w >= img_w or y + h >= img_h):
        return None
    candidates = []
    if gray is not None:
        # Away from the window's edge, where the light surround bleeds in.
        core = cv2.erode(filled.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        patch = gray[y : y + h, x : x + w]
        values = patch[core]
        if values.size >= 16:
            thr, _ = cv2.threshold(values.reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
            # The digits are the other shade than the window itself: light on a dark drum strip,
            # dark on the light glass of an LCD when the mask was made light-on-dark.
            window_light = float(patch[blob].mean()) > thr
            digits = core & ((patch <= thr) if window_light else (patch > thr))
            # ... and the minority of it. A drum is darker than its digit (the dark loops of a
            # glowing LED digit are no digit in a light window).
            if 0.03 <= np.count_nonzero(digits) / max(1, np.count_nonzero(core)) <= 0.5 and not (
                single and window_light
            ):
                candidates.append(digits)
    if solid:
        if not candidates:
            return None
        digits = _digits_in_window(candidates[0], filled, min_h)
        if digits is None or cv2.connectedComponents(digits.astype(np.uint8))[0] - 1 < 3:
            return None
        return filled, digits
    # Without gray (or when it fails): the window's holes are the light digits.
    candidates.append(filled & ~blob & (binary[y : y + h, x : x + w] == 0))
    for ink in candidates:
        if not ink.any():
            continue
        digits = _digits_in_window(ink, filled, min_h, single)
        # What is read as the digits must be (mostly) where the window has holes, not its rim.
        if digits is not None and (single or np.count_nonzero(digits & holes) >= 0.25 * digits.sum()):
            return filled, digits
    return None


def sharpen_glow(
    binary: np.ndarray,
    gray: np.ndarray | None,
    min_h: float,
    comps: _Components | None = None,
    glare: bool = True,
) -> tuple[np.ndarray, int]:
    """Cut glowing digits back to their lit cores. The glow of an LED display (or the blur of a bold
    print) is ink in the mask: a digit's loops fill up and neighbours melt into one blob, which no
    digit is: far more solid than a stroke. Inside such a blob the lit segments are the brighter
    part (in the ink's sense): thresholded on its own (Otsu), the blob keeps only those. With `glare`
    (the mask is of light marks: glare on glass is light) a lit blob far thicker than the display's
    other strokes is cut back too. Returns (mask, how many blobs were cut back)."""
    if gray is None:
        return binary, 0
    comps = comps or _Components.of(binary)
    st = comps.stats
    w, h, area = st[:, 2], st[:, 3], st[:, 4]
    # Digit-sized and larger (bold letters of a label are smaller), not a bar.
    fill = GLARE_SOLID if glare else GLOW_SOLID
    solid = np.nonzero(comps.alive & (h >= 2.5 * min_h) & (area >= fill * w * h)
                       & (w <= 4 * h) & (w >= 0.45 * h))[0]
    out = None
    cut = 0
    img_h, img_w = binary.shape
    strokes = _typical_strokes(comps, min_h) if glare and solid.size else (0.0, 0.0)
    for i in solid:
        x, y, bw, bh = (int(v) for v in st[i, :4])
        # Thick for its size: a glowing digit's strokes have swollen into each other. Or thick for the
        # display: glare on the glass has spread over a lit digit (and its neighbour), whose strokes
        # are as thin as the other digits'.
        thick = _thickness(comps, np.array([i]))[0]
        glared = bool(strokes[0]) and thick >= GLARE_THICK * strokes[0]
        glow = area[i] >= GLOW_SOLID * bw * bh and thick >= GLOW_THICK * min(bw, bh)
        if not glared and not glow:
            continue
        blob = comps.labels[y : y + bh, x : x + bw] == i
        patch = gray[y : y + bh, x : x + bw]
        # A glow ramps from the lit segment down to the dark; printed ink is one shade with a thin
        # edge (bold letters and digits of a sign are solid too, and stay).
        p10, p90 = np.percentile(patch[blob], (10, 90))
        if p90 - p10 < GLOW_SPREAD * max(float(p90), 1.0):
            continue
        pad = max(2, bh // 8)
        y0, x0 = max(0, y - pad), max(0, x - pad)
        around = gray[y0 : min(img_h, y + bh + pad), x0 : min(img_w, x + bw + pad)]
        ring = np.ones(around.shape, bool)
        ring[y - y0 : y - y0 + bh, x - x0 : x - x0 + bw] &= ~blob
        light = float(patch[blob].mean()) > float(np.median(around[ring]))
        # Glare is light on the glass: over dark ink it is paper, not ink, and a thick stroke there is
        # a bold one.
        glared = glared and light
        if not glared and not glow:
            continue
        values = patch[blob]
        thr, _ = cv2.threshold(values.reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        core = blob & ((patch > thr) if light else (patch <= thr))
        share = np.count_nonzero(core) / max(1, np.count_nonzero(blob))
        if not (GLARE_CORE if glared else GLOW_CORE[0]) <= share <= GLOW_CORE[1]:
            continue
        # The lit digits fill the blob's height (a panel with small lighter print in it is no glow);
        # under glare, the other digits' height, in one piece or in a digit's separate segments.
        if glared:
            rows = np.flatnonzero(core.any(axis=1))
            if rows.size == 0 or rows[-1] - rows[0] + 1 < 0.6 * strokes[1]:
                continue
        else:
            n, _, cst, _ = cv2.connectedComponentsWithStats(core.astype(np.uint8), connectivity=8)
            tall = cst[1:, 3] >= 0.6 * bh
            if n < 2 or cst[1:, 4][tall].sum() < 0.8 * cst[1:, 4].sum():
                continue
        if out is None:
            out = binary.copy()
        region = out[y : y + bh, x : x + bw]
        region[blob & ~core] = 0
        cut += 1
    return (binary if out is None else out), cut


def _typical_strokes(comps: _Components, min_h: float) -> tuple[float, float]:
    """(median stroke thickness, median height) of the digit-sized marks; (0, 0) when there are too
    few to tell."""
    h = comps.stats[:, 3]
    ids = np.nonzero(comps.alive & (h >= 2.5 * min_h))[0]
    if ids.size < 4:
        return 0.0, 0.0
    return float(np.median(_thickness(comps, ids))), float(np.median(h[ids]))


def _has_neighbour(st: np.ndarray, alive: np.ndarray, i: int) -> bool:
    """Is there a mark of about component i's height level with it, at most its height away?"""
    x, y, w, h = (int(v) for v in st[i, :4])
    ox, oy, ow, oh = (st[:, k] for k in range(4))
    level = np.minimum(oy + oh, y + h) - np.maximum(oy, y) >= 0.5 * np.minimum(oh, h)
    near = (ox < x + w + h) & (ox + ow > x - h)
    sized = (oh >= 0.4 * h) & (oh <= 1.5 * h)
    hits = alive & level & near & sized
    hits[i] = False
    return bool(hits.any())


def open_windows(
    binary: np.ndarray, min_h: float, comps: _Components | None = None, gray: np.ndarray | None = None
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Read the inside of dark windows holding light digits in the light-on-dark sense (see the
    module docstring): the window's ink becomes background and its digits ink."""
    comps = comps or _Components.of(binary)
    st = comps.stats
    w, h, area = st[:, 2], st[:, 3], st[:, 4]
    # A window is taller than the digits it holds, wider than tall (two digits at least), and has
    # room for them.
    maybe = np.nonzero(comps.alive & (h >= 1.2 * min_h) & (w >= 1.2 * h) & (area <= 0.97 * w * h)
                       & (area >= 0.25 * w * h))[0]
    # The window of one drum (the red drums at a counter's end stand apart from the rest, and on a
    # dark face only they are ink): taller than wide, solid, with another mark of its size beside it.
    drums = np.nonzero(comps.alive & (h >= 1.2 * min_h) & (w >= 0.4 * h) & (w < 1.2 * h)
                       & (area <= 0.97 * w * h) & (area >= 0.5 * w * h))[0]
    drums = [i for i in drums if _has_neighbour(st, comps.alive, int(i))]
    out = None
    found = []
    for i, single in itertools.chain(((i, False) for i in maybe), ((i, True) for i in drums)):
        x, y, bw, bh = (int(v) for v in st[i, :4])
        blob = comps.labels[y : y + bh, x : x + bw] == i
        res = _window_ink(binary, gray, blob, (x, y, bw, bh), min_h, single)
        if res is None:
            continue
        filled, ink = res
        if out is None:
            out = binary.copy()
        region = out[y : y + bh, x : x + bw]
        region[filled] = 0
        region[ink] = 255
        found.append((x, y, bw, bh))
    return (binary if out is None else out), found


def _is_hand(comps: _Components, j: int, size: float) -> bool:
    """Is component j a dial's pointer: a straight stroke, long for the dial, much longer than thick,
    and solid? (A counter's strip of light drums in the middle of a meter's face is long and straight
    too, but holds its windows as holes.)"""
    x, y, w, h = (int(v) for v in comps.stats[j, :4])
    blob = comps.labels[y : y + h, x : x + w] == j
    ys, xs = np.nonzero(blob)
    if ys.size < 3:
        return False
    lo, hi = np.linalg.eigvalsh(np.cov(np.stack([xs, ys]).astype(np.float64)))
    length = 4.0 * float(np.sqrt(max(hi, 0.0)))  # a uniform bar of length L has variance L²/12
    if length < DIAL_HAND * size or hi < DIAL_HAND_ELONGATION**2 * max(lo, 0.25):
        return False
    return np.count_nonzero(_filled(blob)) <= (1.0 + HAND_HOLES) * ys.size


def _ticked(holes: np.ndarray, size: float) -> bool:
    """Does the ring's hole have a scale's ticks (or a pointer that touches one) reaching in from its
    rim: several notches in the hole's outline? The hole of a 0, however round, is convex."""
    contours, _ = cv2.findContours(holes.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return False
    hole = max(contours, key=cv2.contourArea)
    if len(hole) < 8:
        return False
    hull = cv2.convexHull(hole, returnPoints=False)
    try:
        defects = cv2.convexityDefects(hole, hull)
    except cv2.error:  # a self-touching outline
        return False
    if defects is None:
        return False
    deep = defects.reshape(-1, 4)[:, 3] / 256.0 >= DIAL_TICK * size
    return int(np.count_nonzero(deep)) >= DIAL_TICKS


def remove_dials(
    binary: np.ndarray, min_h: float, comps: _Components | None = None
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Remove the small dials of a meter face (a thin round ring with a pointer inside, or with a scale's
    ticks on its inner rim) with everything inside them: read, a ring is a 0 and its pointer a 1. No
    digit holds a long stroke inside its loop (the dot in a monospace 0 is short and its 0 is not
    round) or notches around it, so handwriting and print keep theirs.

    `comps` (a labelling of `binary`) is updated: removed pieces are no longer alive."""
    comps = comps or _Components.of(binary)
    st = comps.stats
    x0, y0, w, h, area = (st[:, k] for k in range(5))
    lo, hi = DIAL_ASPECT
    maybe = np.nonzero(
        comps.alive & (h >= min_h) & (w >= lo * h) & (w <= hi * h) & (area <= DIAL_INK * w * h)
    )[0]
    out = None
    found = []
    for i in maybe:
        x, y, bw, bh = (int(v) for v in st[i, :4])
        inside = np.nonzero(
            comps.alive & (x0 > x) & (y0 > y) & (x0 + w < x + bw) & (y0 + h < y + bh)
        )[0]
        if inside.size > 12:
            continue
        blob = comps.labels[y : y + bh, x : x + bw] == i
        holes = _filled(blob) & ~blob
        if np.count_nonzero(holes) < 0.3 * bw * bh:
            continue  # not a ring around its middle
        size = float(max(bw, bh))
        if not _ticked(holes, size) and not any(
            holes[int(st[j, 1]) - y + int(st[j, 3]) // 2, int(st[j, 0]) - x + int(st[j, 2]) // 2]
            and _is_hand(comps, int(j), size)
            for j in inside
        ):
            continue
        if out is None:
            out = binary.copy()
        for j in (i, *inside.tolist()):
            jx, jy, jw, jh = (int(v) for v in st[j, :4])
            region = out[jy : jy + jh, jx : jx + jw]
            region[comps.labels[jy : jy + jh, jx : jx + jw] == j] = 0
            comps.alive[j] = False
        found.append((x, y, bw, bh))
    return (binary if out is None else out), found


def _ring(blob: np.ndarray) -> np.ndarray:
    """The pixels of a closed frame that belong to its ring: those near its outer outline. A digit
    that touches the frame from inside keeps everything but the touching stub."""
    filled = _filled(blob)
    pad = np.zeros((blob.shape[0] + 2, blob.shape[1] + 2), np.uint8)
    pad[1:-1, 1:-1] = filled
    depth = cv2.distanceTransform(pad, cv2.DIST_L2, 3)[1:-1, 1:-1]
    # The ring's own thickness: how deep its pixels lie, typically (most of the blob is ring).
    thickness = float(np.median(depth[blob])) * 2.0
    return blob & (depth <= 1.5 * thickness + 1.0)


def _encloses(blob: np.ndarray, comps: _Components, inside: np.ndarray, x: int, y: int) -> bool:
    """Does a hole of `blob` (cropped at x, y) hold one of the `inside` components of digit size?"""
    holes = _filled(blob) & ~blob
    if not holes.any():
        return False
    _, hole_labels, hole_stats, _ = cv2.connectedComponentsWithStats(
        holes.astype(np.uint8), connectivity=4, ltype=cv2.CV_32S
    )
    for j in inside:
        jx, jy, jw, jh = (int(v) for v in comps.stats[j, :4])
        # The inner component's own pixels must lie in a hole of this one.
        ys, xs = np.nonzero(comps.labels[jy : jy + jh, jx : jx + jw] == j)
        k = int(hole_labels[jy - y + ys[len(ys) // 2], jx - x + xs[len(xs) // 2]])
        if k > 0 and jh >= FRAME_CONTENT * hole_stats[k, 3]:
            return True
    return False


def _open_frame(blob: np.ndarray, stats: np.ndarray, inside: np.ndarray, area: int) -> bool:
    """A frame the camera or the lighting cut open (a U, an L): thin ink around, not through, at
    least two digit-sized components, much larger than they are, and not a straight line."""
    if inside.size < 2:
        return False
    bh, bw = blob.shape
    inner_h = float(np.median(stats[inside, 3]))
    if bh < 1.8 * inner_h or bw < 1.8 * inner_h or area > 0.3 * bh * bw:
        return False
    ys, xs = np.nonzero(blob)
    cov = np.cov(np.stack([xs, ys]).astype(np.float64))
    lo, hi = np.linalg.eigvalsh(cov)
    return bool(hi > 0 and lo / hi >= 0.04)  # spread both ways (std ratio ≥ 0.2), unlike a ruled line


def _ruled(blob: np.ndarray, digit_h: float) -> bool:
    """Thin straight lines with digits hanging on them: ruled paper, a grid, a printed box written
    into. The segmenter peels such lines off itself and keeps the digits that touch them; removing the
    blob here would take those digits along. A bezel or a meter's rim is thicker than a pen's rule or
    not straight, and nothing of a digit's size is left of it without its lines."""
    mask = blob.astype(np.uint8)
    thick = max(3, round(0.12 * digit_h))
    rules = long_thin(mask, thick, 1.3 * digit_h, 0) | long_thin(mask, thick, 1.6 * digit_h, 1)
    if not rules.any():
        return False
    mask[rules] = 0
    _, _, st = components(mask)
    x, w, h = st[1:, 0], st[1:, 2], st[1:, 3]
    # (A digit written on a rule may stand above everything else of it; the sides of a bezel cut open
    # are the blob's own left and right ends.)
    inner = (x > 0) & (x + w < mask.shape[1])
    digit = (h >= 0.6 * digit_h) & (h <= 2 * digit_h) & (w <= 2 * digit_h) & (w >= 0.35 * digit_h)
    return bool(np.any(inner & digit))


def remove_frames(
    binary: np.ndarray, min_h: float, comps: _Components | None = None
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Remove rings of ink that enclose digit-sized components (bezels, rims, window borders).

    `comps` (a labelling of `binary`) is updated: removed frames are no longer alive."""
    comps = comps or _Components.of(binary)
    st = comps.stats
    x0, y0, w, h = (st[:, k] for k in range(4))
    content = np.nonzero(comps.alive & (h >= min_h))[0]
    maybe = content[h[content] >= 1.15 * min_h]
    area = st[:, 4]
    dot_like = (area >= 0.6 * w * h) & (w >= 0.6 * h) & (w <= 1.6 * h)
    if maybe.size == 0 or content.size < 2:
        return binary, []
    out = None
    found = []
    img_h, img_w = binary.shape
    # Which content lies inside which candidate's box, all pairs at once (most candidates on a page
    # are digits holding nothing).
    m, c = maybe[:, None], content[None, :]
    holds = (
        (c != m) & (x0[c] > x0[m]) & (y0[c] > y0[m])
        & (x0[c] + w[c] < x0[m] + w[m]) & (y0[c] + h[c] < y0[m] + h[m])
    )
    for k in np.flatnonzero(holds.any(axis=1)):
        i = maybe[k]
        x, y, bw, bh = (int(v) for v in st[i, :4])
        if bw >= 0.95 * img_w and bh >= 0.95 * img_h:
            continue  # the edge of a sheet or a desk around the whole picture: the segmenter's business
        inside = content[holds[k]]
        if bh >= 1.2 * bw and dot_like[inside].all() and (h[inside] <= 0.35 * bh).all():
            continue  # a monospace 0 and the dot inside it
        blob = comps.labels[y : y + bh, x : x + bw] == i
        ink = int(np.count_nonzero(blob))
        if ink > 0.8 * bw * bh:
            continue
        closed = _encloses(blob, comps, inside, x, y)
        if not (closed or _open_frame(blob, st, inside, ink)):
            continue
        if not closed and _ruled(blob, float(np.median(h[inside]))):
            continue
        if out is None:
            out = binary.copy()
        region = out[y : y + bh, x : x + bw]
        region[_ring(blob) if closed else blob] = 0
        comps.alive[i] = False
        found.append((x, y, bw, bh))
    return (binary if out is None else out), found


def _thickness(comps: _Components, ids: np.ndarray) -> np.ndarray:
    """Stroke thickness of each component: twice its largest distance to the background."""
    out = np.zeros(ids.size, np.float32)
    for k, i in enumerate(ids.tolist()):
        x, y, w, h = comps.stats[i, :4].tolist()
        crop = np.zeros((h + 2, w + 2), np.uint8)
        crop[1:-1, 1:-1] = comps.labels[y : y + h, x : x + w] == i
        out[k] = 2.0 * float(cv2.distanceTransform(crop, cv2.DIST_L2, 3).max())
    return out


def _both_ways(ids: np.ndarray, w: np.ndarray, h: np.ndarray, length: np.ndarray) -> bool:
    """Seven-segment digits leave lying bars (a, g, d) and standing ones (b, c, e, f) of comparable
    length; a handwritten page leaves standing 1s and hardly a lying stroke of their length."""
    lying = ids[w[ids] >= 1.5 * h[ids]]
    standing = ids[h[ids] >= 1.5 * w[ids]]
    if lying.size < 2 or standing.size < 2:
        return False
    ratio = float(np.median(length[lying]) / max(float(np.median(length[standing])), 1.0))
    return 0.4 <= ratio <= 2.5


def _rect_fill(comps: _Components, i: int) -> float:
    """The share of component i's smallest turned rectangle its ink fills."""
    x, y, bw, bh = (int(v) for v in comps.stats[i, :4])
    ys, xs = np.nonzero(comps.labels[y : y + bh, x : x + bw] == i)
    (_, _), (rw, rh), _ = cv2.minAreaRect(np.stack([xs, ys], axis=1).astype(np.float32))
    return ys.size / ((rw + 1.0) * (rh + 1.0))


def _straight(comps: _Components, ids: np.ndarray) -> bool:
    """A display's bars, not pen strokes: most of them fill their turned rectangle."""
    return float(np.median([_rect_fill(comps, int(i)) for i in ids])) >= BAR_STRAIGHT


def _bar_groups(comps: _Components, min_h: float, img_h: int) -> list[tuple[np.ndarray, float]]:
    """Pieces of seven-segment digits grouped by stroke thickness: [(component ids, thickness)].

    A display is recognised by its bars: straight pieces of one thickness, at least MIN_BARS of them.
    Then every piece of that thickness joins the group (two segments the blur already merged make an
    L, not a bar) except dot-sized ones: a decimal point must stay apart. Printed words nearby have
    another stroke thickness, and a second display (a pump's price and volume) forms its own group."""
    st = comps.stats.astype(np.float64)
    w, h, area = st[:, 2], st[:, 3], st[:, 4]
    side = np.maximum(w, h)
    sized = comps.alive & (side >= 0.25 * min_h) & (side <= 3.0 * min_h + 0.5 * img_h) & (area >= 6)
    # Cheap shape test first (an upright bar's thickness is area / length), the exact one on the few left.
    rough = area / np.maximum(side, 1.0)
    pool = np.nonzero(sized & (side >= BAR_ELONGATION * rough))[0]
    if pool.size < MIN_BARS:
        return []
    thick = np.zeros(comps.n, np.float32)
    thick[pool] = _thickness(comps, pool)
    length = area / np.maximum(thick, 1.0)
    bars = pool[
        (thick[pool] >= 1.5)
        & (length[pool] >= BAR_ELONGATION * thick[pool])
        # A straight piece: its own length is about its box's longer side (upright) or diagonal (slanted).
        & (length[pool] >= BAR_FILL * side[pool])
        & (length[pool] <= 1.15 * np.hypot(w[pool], h[pool]))
    ]
    bars = bars[np.argsort(thick[bars])]
    groups: list[tuple[np.ndarray, float]] = []
    start = 0
    for k in range(1, bars.size + 1):
        if k < bars.size and thick[bars[k]] <= 1.35 * thick[bars[k - 1]] + 1.0:
            continue
        run = bars[start:k]
        if k - start >= MIN_BARS and _both_ways(run, w, h, length) and _straight(comps, run):
            group = run
            lo, hi = float(thick[group[0]]), float(thick[group[-1]])
            # The display's long bars (the upright ones, half a digit high) measure its segments:
            # printed words of that thickness nearby bring shorter strokes.
            typical = float(np.percentile(length[group], 75))
            # Two or three segments the blur joined (an L, the top of a 0) are no bar and may be too
            # compact for the pool's cheap test: every piece of the size of a segment or two counts.
            near = np.nonzero(sized & (side <= MEMBER_SIDE * typical) & (side > 1.8 * lo))[0]
            unknown = near[thick[near] == 0]
            thick[unknown] = _thickness(comps, unknown)
            members = near[
                (thick[near] >= lo / 1.2 - 1.0)
                & (thick[near] <= hi * 1.2 + 1.0)
                & (side[near] > 1.8 * thick[near])  # not a dot
            ]
            groups.append((np.union1d(members, group), float(np.median(thick[group]))))
        start = k
    return sorted(groups, key=lambda g: -g[0].size)


def _stacked_bars(comps: _Components, min_h: float) -> list[tuple[int, int, int, int]]:
    """Bridges (x0, y0, x1, y1) between the upper and lower half of a seven-segment digit standing one
    on the other with a small gap: the two bars of a 1 (too few bars on their own to count as a
    display), or the pieces the blur made of a digit's segments (the ∩ of a 7 over its lower bar).

    Halves are thick for their size (a bar's thickness is at least STACKED_THICK of its height; a
    handwritten or printed digit's stroke is thinner than that for the digit), of one thickness, and
    the gap between them is no wider than a stroke."""
    st = comps.stats
    h, area = st[:, 3], st[:, 4]
    ids = np.nonzero(comps.alive & (h >= 0.25 * min_h) & (area >= STACKED_THICK * h * h / 2))[0]
    if ids.size < 2 or ids.size > 400:
        return []
    bridges = []
    thick: dict[int, float] = {}

    def thickness(i: int) -> float:
        if i not in thick:
            thick[i] = float(_thickness(comps, np.array([i]))[0])
        return thick[i]

    def straight(i: int) -> bool:
        """A bar, upright or turned with the display: its ink fills most of its smallest turned
        rectangle, which is long for its width."""
        x, y, bw, bh = (int(v) for v in st[i, :4])
        ys, xs = np.nonzero(comps.labels[y : y + bh, x : x + bw] == i)
        (_, _), (rw, rh), _ = cv2.minAreaRect(np.stack([xs, ys], axis=1).astype(np.float32))
        long_side, short_side = max(rw, rh) + 1.0, min(rw, rh) + 1.0
        return long_side >= 1.8 * short_side and ys.size >= 0.7 * long_side * short_side

    def legs(i: int, t: float, bottom: bool) -> list[tuple[int, int]]:
        """Column runs (absolute x0, x1) of the ink along the bottom or top edge of component i."""
        x, y, bw, bh = (int(v) for v in st[i, :4])
        band = max(2, round(0.5 * t))
        rows = slice(y + bh - band, y + bh) if bottom else slice(y, y + band)
        cols = (comps.labels[rows, x : x + bw] == i).any(axis=0).astype(np.int8)
        edges = np.diff(np.concatenate([[0], cols, [0]]))
        return list(zip((x + np.nonzero(edges == 1)[0]).tolist(), (x + np.nonzero(edges == -1)[0]).tolist(),
                        strict=True))

    def matching_legs(a: int, b: int, t: float) -> bool:
        """The two legs of an upper half (∩, the top of a 0) stand on the two of a lower one (U)."""
        up, down = legs(a, t, True), legs(b, t, False)
        if len(up) != 2 or len(down) != 2:
            return False
        return all(min(u[1], d[1]) - max(u[0], d[0]) > 0 for u, d in zip(up, down, strict=True))

    def on_middle_bar(a: int, b: int, t: float) -> bool:
        """The halves of one digit meet at its middle bar (g), which spans the digit's width: one
        facing edge is flat across its piece, and the two pieces line up left and right."""
        (ax, _, aw, ah), (bx, _, bw, bh) = st[a, :4].tolist(), st[b, :4].tolist()
        slack = 0.6 * t + 0.05 * (ah + bh)
        if abs(ax - bx) > slack or abs(ax + aw - bx - bw) > slack:
            return False
        return any(x1 - x0 >= 0.7 * aw for x0, x1 in legs(a, t, True)) or any(
            x1 - x0 >= 0.7 * bw for x0, x1 in legs(b, t, False)
        )

    order = ids[np.argsort(st[ids, 1])].tolist()
    box = st[:, :4].tolist()  # (plain ints: this double loop runs on every frame)
    for a_pos, a in enumerate(order):
        ax, ay, aw, ah = box[a]
        for b in order[a_pos + 1 :]:
            bx, by, bw, bh = box[b]
            gap = by - (ay + ah)
            if gap > 0.5 * max(ah, bh):
                break  # sorted by top: the rest start even lower
            overlap = min(ax + aw, bx + bw) - max(ax, bx)
            # (A slanted display's lower bar stands a third of its width to the left.)
            apart = gap < -0.3 * min(ah, bh) or overlap < STACKED_OVERLAP * min(aw, bw)
            if apart or not 0.5 <= bh / ah <= 2.0:
                continue
            ta, tb = thickness(int(a)), thickness(int(b))
            if (
                min(ta / ah, tb / bh) < STACKED_THICK
                or max(ta, tb) > 1.4 * min(ta, tb) + 1.0
                # Apart by at most a stroke, or side by side for a stroke's height (the middle bar
                # of a 2 reaches down past the top of its lower left bar).
                or not -max(ta, tb) <= gap <= 0.8 * max(ta, tb)
                # One of them a straight standing bar, the legs of one standing on the other's, or
                # the two meeting at a middle bar, which then reaches past the top of the lower piece:
                # pen pieces a gap apart that line up (a 7 over the digit of the next line, the
                # pieces of a broken stroke) are no display halves.
                or not (
                    straight(int(a))
                    or straight(int(b))
                    or matching_legs(int(a), int(b), max(ta, tb))
                    or (gap < 0 and on_middle_bar(int(a), int(b), max(ta, tb)))
                )
            ):
                continue
            y0, y1 = min(ay + ah - 1, by), max(ay + ah, by + 1)
            bridges.append((max(ax, bx), y0, min(ax + aw, bx + bw), y1))
    return bridges


Point = tuple[int, int]


def _corner_bridges(comps: _Components, ids: np.ndarray, t: float) -> list[tuple[Point, Point]]:
    """Segments of one digit that end near each other: (point, point) pairs to draw a bridge between.

    Two pieces are of one digit when their nearest pixels are at most JOIN_GAP thicknesses apart and
    they overlap in x (the bars meeting at a digit's corner, or the two bars of a 1); pieces of two
    neighbouring digits never overlap in x, even on a slanted display."""
    st = comps.stats
    labels = comps.labels
    img_h, img_w = labels.shape
    reach = JOIN_GAP * t + 1.0
    margin = math.ceil(reach) + 1
    member = np.zeros(comps.n, bool)
    for i in ids:
        x, y, w, h = (int(v) for v in st[i, :4])
        blob = labels[y : y + h, x : x + w] == i
        # A ring (a window's rim, a whole digit with its loop) is no segment: bridged, it would join
        # what it encloses to its neighbours.
        member[i] = np.count_nonzero(_filled(blob)) <= 1.2 * np.count_nonzero(blob)
    ids = np.nonzero(member)[0]
    out = []
    for i in ids:
        x, y, w, h = (int(v) for v in st[i, :4])
        x0, y0 = max(0, x - margin), max(0, y - margin)
        x1, y1 = min(img_w, x + w + margin), min(img_h, y + h + margin)
        crop = labels[y0:y1, x0:x1]
        near = member[crop] & (crop > i)  # each pair once
        if not near.any():
            continue
        dist = cv2.distanceTransform((crop != i).astype(np.uint8), cv2.DIST_L2, 5)
        ys, xs = np.nonzero(near & (dist <= reach))
        if ys.size == 0:
            continue
        others = crop[ys, xs]
        ours_y, ours_x = np.nonzero(crop == i)
        for j in np.unique(others):
            jx, _, jw, _ = (int(v) for v in st[j, :4])
            if min(x + w, jx + jw) - max(x, jx) < -0.3 * t:
                continue  # side by side: two digits
            sel = np.nonzero(others == j)[0]
            k = sel[int(np.argmin(dist[ys[sel], xs[sel]]))]
            py, px = int(ys[k]), int(xs[k])
            q = int(np.argmin((ours_y - py) ** 2 + (ours_x - px) ** 2))
            out.append(((x0 + px, y0 + py), (x0 + int(ours_x[q]), y0 + int(ours_y[q]))))
    return out


def join_segments(
    binary: np.ndarray, min_h: float, comps: _Components | None = None
) -> tuple[np.ndarray, int, float]:
    """The mask with seven-segment bars of one digit bridged (bridges only; see the docstring).

    Returns (joined mask, number of pieces joined, thickness of the largest group)."""
    comps = comps or _Components.of(binary)
    groups = _bar_groups(comps, min_h, binary.shape[0])
    pairs = _stacked_bars(comps, min_h)
    if not groups and not pairs:
        return binary, 0, 0.0
    joined = binary.copy()
    for (x0, y0, x1, y1) in pairs:
        joined[y0:y1, x0:x1] = 255
    for ids, t in groups:
        member = np.zeros(comps.n, np.uint8)
        member[ids] = 255
        k = max(3, round(BRIDGE * t) | 1)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        # Only around the display: the closing is local, and the rest of the frame costs nothing.
        x0 = int(comps.stats[ids, 0].min()) - k
        y0 = int(comps.stats[ids, 1].min()) - k
        x1 = int((comps.stats[ids, 0] + comps.stats[ids, 2]).max()) + k
        y1 = int((comps.stats[ids, 1] + comps.stats[ids, 3]).max()) + k
        x0, y0 = max(0, x0), max(0, y0)
        bars = member[comps.labels[y0:y1, x0:x1]]
        closed = cv2.morphologyEx(bars, cv2.MORPH_CLOSE, kernel)
        region = joined[y0:y1, x0:x1]
        region |= closed
        for p, q in _corner_bridges(comps, ids, t):
            cv2.line(joined, p, q, 255, 2)
    return joined, sum(int(g[0].size) for g in groups) + 2 * len(pairs), groups[0][1] if groups else 0.0


def _baseline(line: TextLine) -> np.ndarray:
    """The line's bottom as a linear function of x (np.polyval coefficients); tilted lines stay straight."""
    glyphs = [c for c in line.candidates if c.kind == "glyph"]
    xs = np.array([c.cx for c in glyphs], np.float64)
    bottoms = np.array([c.y2 for c in glyphs], np.float64)
    if len(glyphs) >= 3 and np.ptp(xs) > 0:
        fit = np.polyfit(xs, bottoms, 1)
        # Robust to one low outlier (a descender, a merged dot): refit on the closer half.
        res = np.abs(bottoms - np.polyval(fit, xs))
        keep = res <= np.median(res) + 0.05 * line.height
        if keep.sum() >= 2 and np.ptp(xs[keep]) > 0:
            fit = np.polyfit(xs[keep], bottoms[keep], 1)
        return fit
    return np.array([0.0, float(np.median(bottoms))])


def _is_dot(box: tuple[int, int, int, int], area: int, height: float, baseline: np.ndarray) -> bool:
    x, y, w, h = box
    if not (DOT_MIN * height <= max(w, h) <= DOT_MAX * height) or not 0.45 <= w / max(h, 1) <= 2.2:
        return False
    if area < 0.45 * w * h:
        return False  # a round or square dot fills its box; a comma or a stroke end does not
    bottom = float(np.polyval(baseline, x + w / 2.0))
    return abs(y + h - bottom) <= DOT_BASELINE * height


def _piece_boxes(c: Candidate, labels: np.ndarray) -> dict[int, tuple[tuple[int, int, int, int], int]]:
    crop = labels[c.y : c.y2, c.x : c.x2]
    out = {}
    for lab in c.labels:
        ys, xs = np.nonzero(crop == lab)
        if xs.size:
            out[lab] = ((c.x + int(xs.min()), c.y + int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1),
                        int(xs.size))
    return out


def _box_of(boxes: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    x = min(b[0] for b in boxes)
    y = min(b[1] for b in boxes)
    return x, y, max(b[0] + b[2] for b in boxes) - x, max(b[1] + b[3] for b in boxes) - y


def _beside_body(labels: np.ndarray, c: Candidate, lab: int, box: tuple[int, int, int, int]) -> bool:
    """Does piece `lab` of candidate c sit beside the rest of its ink, not inside the digit's body
    (the foot of a 1, the tail of a 9)? Judged in the rows of the piece: a slanted digit's box reaches
    over the point that follows it, its ink at the baseline does not."""
    x, y, w, h = box
    others = [la for la in c.labels if la != lab]
    rows = labels[y : y + h, c.x : c.x2]
    rest = label_mask(rows, others)
    cols = np.nonzero(rest.any(axis=0))[0]
    if cols.size == 0:
        return False  # under or over the digit, not beside it
    left, right = c.x + int(cols[0]), c.x + int(cols[-1]) + 1
    if x + w - right >= 0.4 * w:
        return True
    if left - x < 0.4 * w:
        return False
    # Before the digit (a point taken in with the digit that follows it): digits lean right if at all,
    # so nothing of the digit is above a point. A piece under the digit's own ink is its bottom bar
    # (a seven-segment bar apart from the rest, sticking out left under a slanted digit).
    above = label_mask(labels[c.y : y, x : x + w], others).any(axis=0)
    return bool(above.size == 0 or above.mean() < DOT_UNDER)


def _apart_in_strong_ink(m: np.ndarray, dot: np.ndarray, c: Candidate, seeds: np.ndarray | None) -> bool:
    """Is the dot's strong ink (the seeds: well above the ink threshold) separate from the rest of
    the candidate's? The glow of an LED or the blur joins a point to its digit in the mask, but
    not in the strong ink; the foot of a printed 1 is one stroke with it in both."""
    if seeds is None:
        return False
    strong = (m & seeds[c.y : c.y2, c.x : c.x2]).astype(np.uint8)
    _, lab = cv2.connectedComponents(strong, connectivity=8)
    in_dot = set(np.unique(lab[dot & (lab > 0)]).tolist())
    in_rest = set(np.unique(lab[~dot & (lab > 0)]).tolist())
    return bool(in_dot) and not (in_dot & in_rest)


def _apart_in_core(
    m: np.ndarray, dot: np.ndarray, c: Candidate, gray: np.ndarray | None, either_side: bool = False
) -> bool:
    """Is the dot apart from the rest of the candidate in the core of its ink (its darker half, in the
    ink's own sense), along the rows it occupies? The blur that stuck a point to its digit is fainter
    than either; the foot of a printed 1 is as dark as its stem. Looks towards the rest of the
    candidate, or with `either_side` to the left and to the right of the dot (a point between two
    digits need stand apart from one of them only)."""
    if gray is None:
        return False
    patch = cv2.GaussianBlur(gray[c.y : c.y2, c.x : c.x2], (3, 3), 0).astype(np.float32)
    if patch.shape != m.shape or m.all() or not m.any() or not (dot & m).any():
        return False
    darkness = 255.0 - patch if patch[m].mean() < patch[~m].mean() else patch
    core = m & (darkness >= np.percentile(darkness[m], CORE_SHARE))
    rows = np.nonzero((dot & m).any(axis=1))[0]
    cols = np.nonzero(dot.any(axis=0))[0]
    band = core[rows[0] : rows[-1] + 1].any(axis=0)
    a, b = int(cols[0]), int(cols[-1]) + 1
    if np.count_nonzero(core[rows[0] : rows[-1] + 1, a:b]) < 0.3 * np.count_nonzero(dot & m):
        return False  # the point itself must be strong ink
    # From the dot towards the digit: a column of no core ink before the digit's core ink.
    rest_cols = np.nonzero((m & ~dot).any(axis=0))[0]
    if rest_cols.size == 0:
        return False
    rightwards, leftwards = list(range(b, band.size)), list(range(a - 1, -1, -1))
    towards_rest = rightwards if rest_cols.mean() >= b else leftwards
    scans = [rightwards, leftwards] if either_side else [towards_rest]
    return any(_gap_before_core(band, scan, max(2, (b - a) // 2)) for scan in scans)


def _gap_before_core(band: np.ndarray, scan: list[int], own: int) -> bool:
    """Going along `scan` (columns away from a dot), is there a column of no core ink (`band`) before
    the next core ink? The dot's own core may reach `own` columns past the columns taken for it."""
    k = 0
    while k < len(scan) and k < own and band[scan[k]]:
        k += 1
    gap = False
    for col in scan[k:]:
        if band[col]:
            return gap
        gap = True
    return gap


def _split_edge_dot(
    seg: Segmentation, c: Candidate, height: float, base: np.ndarray, seeds: np.ndarray | None = None,
    gray: np.ndarray | None = None,
) -> list[Candidate] | None:
    """A decimal point the blur joined to the digit beside it (a glowing LED, a small LCD): at the
    candidate's left or right end, columns with ink only near the baseline, holding a compact blob
    joined to the digit through a neck. Returns [digit, dot] with the dot relabelled, or None."""
    m = c.mask(seg.labels) > 0
    h, w = m.shape
    low = int(np.polyval(base, c.cx)) - c.y - DOT_MAX * height  # rows below this are near the baseline
    has = m.any(axis=0)
    top = np.where(has, np.argmax(m, axis=0), h)
    count = m.sum(axis=0)
    def bottom_run(side: int) -> list[int]:
        cols = range(w - 1, -1, -1) if side == 1 else range(w)
        run = []
        for col in cols:
            if has[col] and top[col] < low:
                break
            run.append(col)
        return run

    for side in (1, -1):  # right end first: a decimal point follows its digit
        run = bottom_run(side)
        if not run:
            continue
        peak = int(count[run].max())
        while run and count[run[0]] < 0.3 * peak:
            run.pop(0)  # (nearly) empty columns at the outer end
        if len(run) < DOT_MIN * height or len(run) > DOT_MAX * height + 0.15 * height:
            continue
        counts = count[run]
        if peak < DOT_MIN * height:
            continue
        # From the outer end inwards: the dot's body, then a neck (or gap) before the digit...
        body_end = 0
        while body_end < len(run) and counts[body_end] >= 0.5 * peak:
            body_end += 1
        # What is left must be a digit's width (a 1 is narrow).
        if body_end == 0 or w - len(run) < 0.1 * height:
            continue
        neck = any(counts[k] <= 0.6 * peak for k in range(body_end, len(run)))
        if not neck:
            # The blur fills the neck up to half the dot's height: past the dot's own width (about its
            # height), the first thin column is the neck.
            thin = [k for k in range(math.ceil(0.6 * peak), body_end) if counts[k] <= 0.6 * peak]
            if thin:
                body_end, neck = thin[0], True
        dot_cols = sorted(run[:body_end])
        dot_mask = np.zeros_like(m)
        dot_mask[:, dot_cols[0] : dot_cols[-1] + 1] = m[:, dot_cols[0] : dot_cols[-1] + 1]
        # ...or, stuck to the digit in the mask, apart from it in the strong ink (a glowing LED).
        by_core = not neck and not _apart_in_strong_ink(m, dot_mask, c, seeds)
        if by_core and not _apart_in_core(m, dot_mask, c, gray):
            continue
        a, b = dot_cols[0], dot_cols[-1] + 1
        rows = np.nonzero(dot_mask.any(axis=1))[0]
        box = (c.x + a, c.y + int(rows[0]), b - a, int(rows[-1] - rows[0] + 1))
        if not _is_dot(box, int(dot_mask.sum()), height, base):
            continue
        if by_core and not 0.6 <= box[2] / max(box[3], 1) <= 1.6:
            continue  # told apart only by its core: a point's own square shape (not a serif's bulb)
        label = int(seg.labels.max()) + 1
        seg.labels[c.y : c.y2, c.x : c.x2][dot_mask] = label
        rest = m & ~dot_mask
        rows_r = np.nonzero(rest.any(axis=1))[0]
        cols_r = np.nonzero(rest.any(axis=0))[0]
        digit = Candidate(c.x + int(cols_r[0]), c.y + int(rows_r[0]), int(cols_r[-1] - cols_r[0] + 1),
                          int(rows_r[-1] - rows_r[0] + 1), c.labels)
        return [digit, Candidate(*box, (label,), kind="dot")]
    return None


def _split_middle_dot(
    seg: Segmentation, c: Candidate, height: float, base: np.ndarray, seeds: np.ndarray | None = None,
    gray: np.ndarray | None = None,
) -> list[Candidate] | None:
    """Two digits and the decimal point between them, joined by the blur into one wide candidate:
    inside it, a run of columns with ink only near the baseline holding a square blob. Returns
    [left digit, dot, right digit] (the dot and the right digit relabelled), or None."""
    m = c.mask(seg.labels) > 0
    h, w = m.shape
    low = int(np.polyval(base, c.cx)) - c.y - DOT_MAX * height
    has = m.any(axis=0)
    top = np.where(has, np.argmax(m, axis=0), h)
    count = m.sum(axis=0)
    flat = ~has | (top >= low)
    edges = np.diff(np.concatenate([[0], flat.astype(np.int8), [0]]))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    for a, b in zip(starts, ends, strict=True):
        if a < 0.3 * height or w - b < 0.3 * height:
            continue  # not between two digits
        if not DOT_MIN * height <= b - a <= DOT_MAX * height + 0.15 * height:
            continue
        counts = count[a:b]
        peak = int(counts.max())
        core = np.nonzero(counts >= 0.5 * peak)[0]
        if peak < 0.12 * height or core.size == 0:
            continue
        d0, d1 = a + int(core[0]), a + int(core[-1]) + 1
        tall = peak
        if seeds is not None:
            # The glow's bridge to a neighbour adds rows to the point's columns, not to its strong ink.
            strong = np.nonzero((m & seeds[c.y : c.y2, c.x : c.x2])[:, d0:d1].any(axis=1))[0]
            if strong.size:
                tall = min(peak, int(strong[-1] - strong[0]) + 1)
        if not 0.6 <= (d1 - d0) / tall <= 1.6:
            continue
        dot_mask = np.zeros_like(m)
        dot_mask[:, d0:d1] = m[:, d0:d1]
        # Between two digits, a point apart from one of them in the core: an italic display's point
        # sits right at the foot of the digit before it, blurred into it even in the core.
        if not _apart_in_strong_ink(m, dot_mask, c, seeds) and not _apart_in_core(
            m, dot_mask, c, gray, either_side=True
        ):
            continue
        rows = np.nonzero(dot_mask.any(axis=1))[0]
        box = (c.x + d0, c.y + int(rows[0]), d1 - d0, int(rows[-1] - rows[0] + 1))
        if not _is_dot(box, int(dot_mask.sum()), height, base):
            continue
        left, right = m.copy(), m.copy()
        left[:, d0:] = False
        right[:, :d1] = False
        pieces = []
        crop = seg.labels[c.y : c.y2, c.x : c.x2]
        label = int(seg.labels.max()) + 1
        for part, kind in ((left, "glyph"), (dot_mask, "dot"), (right, "glyph")):
            rows_p = np.nonzero(part.any(axis=1))[0]
            cols_p = np.nonzero(part.any(axis=0))[0]
            if rows_p.size == 0:
                return None
            if part is left:
                labels = c.labels
            else:
                crop[part] = label
                labels = (label,)
                label += 1
            x, y = c.x + int(cols_p[0]), c.y + int(rows_p[0])
            pw, ph = int(cols_p[-1] - cols_p[0] + 1), int(rows_p[-1] - rows_p[0] + 1)
            pieces.append(Candidate(x, y, pw, ph, labels, kind=kind))
        if pieces[0].h < 0.5 * height or pieces[2].h < 0.5 * height:
            return None
        return pieces
    return None


def _split_strong_dot(
    seg: Segmentation, c: Candidate, height: float, base: np.ndarray, seeds: np.ndarray | None
) -> list[Candidate] | None:
    """A decimal point the glow joined to the slanted digit before it: the digit leans over the
    point, so no column holds the point alone, but the point is a blob of its own in the strong ink,
    right of the digit's strong ink in its rows. The mask's pixels go to the nearer of the two
    strong inks. Returns [digit, dot] with the dot relabelled, or None."""
    if seeds is None:
        return None
    m = c.mask(seg.labels) > 0
    strong = (m & seeds[c.y : c.y2, c.x : c.x2]).astype(np.uint8)
    # 4-connected: the glow's bridge may leave a diagonal pixel pair between point and digit.
    n, lab, st, _ = cv2.connectedComponentsWithStats(strong, connectivity=4, ltype=cv2.CV_32S)
    if n < 3:
        return None
    right_end = max(int(st[k, 0] + st[k, 2]) for k in range(1, n))
    for k in range(1, n):
        x, y, w, h, area = (int(v) for v in st[k])
        if x + w < right_end:
            continue  # a point ends its digit's ink
        if not DOT_SQUARE <= w / h <= 1 / DOT_SQUARE:
            continue
        if not _is_dot((c.x + x, c.y + y, w, h), area, height, base):
            continue
        rest = (lab > 0) & (lab != k)
        rows_r = np.nonzero(rest.any(axis=1))[0]
        if rows_r.size == 0 or rows_r[-1] - rows_r[0] + 1 < 0.5 * height:
            continue  # what is left must be a digit
        beside = np.nonzero(rest[y : y + h].any(axis=0))[0]
        if beside.size and x + w - (int(beside[-1]) + 1) < 0.4 * w:
            continue
        to_dot = cv2.distanceTransform((lab != k).astype(np.uint8), cv2.DIST_L2, 3)
        to_rest = cv2.distanceTransform((~rest).astype(np.uint8), cv2.DIST_L2, 3)
        dot_mask = m & (to_dot < to_rest)
        rest_mask = m & ~dot_mask
        rows_d, cols_d = np.nonzero(dot_mask.any(axis=1))[0], np.nonzero(dot_mask.any(axis=0))[0]
        rows_p, cols_p = np.nonzero(rest_mask.any(axis=1))[0], np.nonzero(rest_mask.any(axis=0))[0]
        label = int(seg.labels.max()) + 1
        seg.labels[c.y : c.y2, c.x : c.x2][dot_mask] = label
        digit = Candidate(c.x + int(cols_p[0]), c.y + int(rows_p[0]), int(cols_p[-1] - cols_p[0] + 1),
                          int(rows_p[-1] - rows_p[0] + 1), c.labels)
        dot = Candidate(c.x + int(cols_d[0]), c.y + int(rows_d[0]), int(cols_d[-1] - cols_d[0] + 1),
                        int(rows_d[-1] - rows_d[0] + 1), (label,), kind="dot")
        return [digit, dot]
    return None


def _gaps(seg: Segmentation, line: TextLine) -> list[tuple[tuple[int, int, int, int], float, np.ndarray]]:
    """Where a point may sit between two digits of a line, measured against those two (a line may
    have taken in smaller print): per gap, the window (x0, y0, x1, y1) around the baseline, the digit
    height and the baseline through the two digits' bottoms."""
    glyphs = sorted((c for c in line.candidates if c.kind == "glyph"), key=lambda c: c.x)
    img_h, img_w = seg.labels.shape
    out = []
    for g1, g2 in itertools.pairwise(glyphs):
        height = (g1.h + g2.h) / 2.0
        if g2.cx <= g1.cx or min(g1.h, g2.h) < 0.5 * height:
            continue
        slope = (g2.y2 - g1.y2) / (g2.cx - g1.cx)
        base = np.array([slope, g1.y2 - slope * g1.cx])
        # Between the digits' bodies (a slanted digit's box reaches over the point that follows it).
        x0, x1 = max(0, g1.x + int(0.75 * g1.w)), min(img_w, g2.x + int(0.25 * g2.w))
        bottom = float(np.polyval(base, (x0 + x1) / 2.0))
        y0 = max(0, int(bottom - (DOT_MAX + 2 * DOT_BASELINE) * height))
        y1 = min(img_h, int(bottom + 2 * DOT_BASELINE * height) + 1)
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            out.append(((x0, y0, x1, y1), height, base))
    return out


def _inside(ys: np.ndarray, xs: np.ndarray, w: int, h: int) -> bool:
    """Pixels of a window that keep off its edges (a blob reaching out of the gap is part of something
    bigger)."""
    return bool(xs.min() > 0 and ys.min() > 0 and xs.max() < w - 1 and ys.max() < h - 1)


def _ink_levels(seg: Segmentation, line: TextLine, gray: np.ndarray) -> tuple[float, float] | None:
    """The typical shade of the line's digits and of the ground between their strokes."""
    ink, ground = [], []
    for c in line.candidates:
        if c.kind == "glyph":
            m = c.mask(seg.labels) > 0
            patch = gray[c.y : c.y2, c.x : c.x2]
            ink.append(patch[m])
            ground.append(patch[~m])
    if not ink or not sum(g.size for g in ground):
        return None
    return float(np.median(np.concatenate(ink))), float(np.median(np.concatenate(ground)))


def _stroke(seg: Segmentation, line: TextLine) -> float:
    """The typical stroke width of a line's digits (a stroke's distance map rises evenly to half its
    width, so its 90th percentile is nearly that half)."""
    widths = []
    for c in line.candidates:
        if c.kind == "glyph":
            m = (c.mask(seg.labels) > 0).astype(np.uint8)
            dist = cv2.distanceTransform(np.pad(m, 1), cv2.DIST_L2, 3)
            widths.append(2.0 * float(np.percentile(dist[dist > 0], 90)) if dist.any() else 0.0)
    return median_of(widths) if widths else 0.0


def _lost_dot(
    seg: Segmentation, line: TextLine, claimed: set[int], seeds: np.ndarray | None, gray: np.ndarray | None
) -> Candidate | None:
    """The one point on the line's baseline between two of its digits that no candidate holds: a
    point the earlier steps dropped (taken in by a line dropped later, left outside the window the
    line was kept for) or never had in the mask (a plate thresholded on its own keeps digit-sized
    holes only, then `gray` shows it). None when there is none or more than one (a number has one
    point; marks in several gaps are dirt)."""
    gaps = _gaps(seg, line)
    # A point is about as thick as the digits' strokes; specks in the gaps are thinner.
    least = DOT_STROKE * _stroke(seg, line)
    found: list[Candidate] = []
    for (x0, y0, x1, y1), height, base in gaps:
        window = seg.labels[y0:y1, x0:x1]
        for lab in np.unique(window[window > 0]).tolist():
            if lab in claimed:
                continue
            ys, xs = np.nonzero(window == lab)
            if not _inside(ys, xs, x1 - x0, y1 - y0):
                continue
            box = (x0 + int(xs.min()), y0 + int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)
            if min(box[2:]) < least or not _is_dot(box, int(xs.size), height, base):
                continue
            if seeds is not None and not seeds[y0 + ys, x0 + xs].any():
                continue
            found.append(Candidate(*box, (int(lab),), kind="dot"))
    levels = _ink_levels(seg, line, gray) if gray is not None and not found else None
    if levels is not None and abs(levels[0] - levels[1]) >= DOT_CONTRAST:
        ink_level, ground = levels
        mid = (ink_level + ground) / 2.0
        blobs = []
        for (x0, y0, x1, y1), height, base in gaps:
            window = seg.labels[y0:y1, x0:x1]
            shade = gray[y0:y1, x0:x1]
            ink = (shade <= mid) if ink_level < ground else (shade >= mid)
            # Off the digits and the soft edge the mask left around them.
            r = max(1, round(0.03 * height))
            digits = label_mask(window, sorted(claimed)).astype(np.uint8)
            near = cv2.dilate(digits, np.ones((2 * r + 1, 2 * r + 1), np.uint8))
            ink &= near == 0
            n, lab, st, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=4)
            for k in range(1, n):
                ys, xs = np.nonzero(lab == k)
                box = (x0 + int(st[k, 0]), y0 + int(st[k, 1]), int(st[k, 2]), int(st[k, 3]))
                if min(box[2:]) < max(least, DOT_MIN * height) or not _inside(ys, xs, x1 - x0, y1 - y0):
                    continue
                if _is_dot(box, int(st[k, 4]), height, base):
                    blobs.append((box, y0 + ys, x0 + xs))
        if len(blobs) == 1:
            box, ys, xs = blobs[0]
            label = int(seg.labels.max()) + 1
            seg.labels[ys, xs] = label
            found.append(Candidate(*box, (label,), kind="dot"))
    return found[0] if len(found) == 1 else None


def place_decimal_points(
    seg: Segmentation, seeds: np.ndarray | None = None, gray: np.ndarray | None = None
) -> int:
    """Find decimal points the general segmenter merged into a digit or left as a line of their own,
    or that no candidate holds, and make them dot candidates between the digits of their line (`gray`,
    the picture the mask was made from, tells a point the blur stuck to its digit and shows one the
    mask lost). Returns how many were placed."""
    placed = 0
    lines = seg.lines
    for line in lines:
        glyphs = [c for c in line.candidates if c.kind == "glyph"]
        if len(glyphs) < 2:
            continue
        height = line.height
        base = _baseline(line)
        typical_w = float(np.median([c.w for c in glyphs]))
        last_x = max(c.x2 for c in glyphs)  # a point is followed by a digit
        new: list[Candidate] = []
        for c in line.candidates:
            if c.kind != "glyph":
                new.append(c)
                continue
            if c.h <= DOT_MAX * height and c.x_range is None:
                area = int(np.count_nonzero(c.mask(seg.labels)))
                if _is_dot((c.x, c.y, c.w, c.h), area, height, base):
                    new.append(Candidate(c.x, c.y, c.w, c.h, c.labels, kind="dot"))
                    continue
            if len(c.labels) > 1 and c.x_range is None:
                pieces = _piece_boxes(c, seg.labels)
                dot = None
                for lab, (box, area) in pieces.items():
                    rest = [b for other, (b, _) in pieces.items() if other != lab]
                    if not rest or not _is_dot(box, area, height, base):
                        continue
                    if _beside_body(seg.labels, c, lab, box):
                        dot = (lab, box)
                        break
                if dot is not None:
                    lab, box = dot
                    # A label with no pixel left in the box (peeled off as a rule) has no box either.
                    rest_labels = tuple(la for la in c.labels if la != lab and la in pieces)
                    rx, ry, rw, rh = _box_of([pieces[la][0] for la in rest_labels])
                    new.append(Candidate(rx, ry, rw, rh, rest_labels))
                    new.append(Candidate(*box, (lab,), kind="dot"))
                    continue
            if c.x_range is None and c.w >= 0.3 * height:
                cut = _split_edge_dot(seg, c, height, base, seeds, gray)
                if cut is None and c.w >= 1.3 * typical_w:
                    cut = _split_middle_dot(seg, c, height, base, seeds, gray)
                if cut is None and c.x2 < last_x:
                    cut = _split_strong_dot(seg, c, height, base, seeds)
                if cut is not None:
                    new.extend(cut)
                    continue
            new.append(c)
        line.candidates = sorted(new, key=lambda c: c.x)
    # Lines of nothing but dot-sized marks that sit on the baseline between two digits of a taller line.
    for small in list(lines):
        if any(c.h > DOT_MAX * max((t.height for t in lines), default=0) for c in small.candidates):
            continue
        for line in lines:
            if line is small or small.height > DOT_MAX * line.height:
                continue
            base = _baseline(line)
            glyphs = [c for c in line.candidates if c.kind == "glyph"]
            moved = []
            for c in small.candidates:
                area = int(np.count_nonzero(c.mask(seg.labels)))
                if not _is_dot((c.x, c.y, c.w, c.h), area, line.height, base):
                    continue
                if any(g.x2 <= c.cx for g in glyphs) and any(g.x >= c.cx for g in glyphs):
                    moved.append(Candidate(c.x, c.y, c.w, c.h, c.labels, kind="dot"))
            if moved and len(moved) == len(small.candidates):
                line.candidates = sorted(line.candidates + moved, key=lambda c: c.x)
                lines.remove(small)
                break
    claimed = {lab for line in lines for c in line.candidates for lab in c.labels}
    for line in lines:
        kinds = [c.kind for c in line.candidates]
        if kinds.count("glyph") >= 2 and "dot" not in kinds:
            lost = _lost_dot(seg, line, claimed, seeds, gray)
            if lost is not None:
                line.candidates = sorted([*line.candidates, lost], key=lambda c: c.x)
    for line in lines:
        cands = line.candidates
        base = _baseline(line) if any(c.kind == "glyph" for c in cands) else None
        # A point only between two digits, never at the end of a number, and never two in a row.
        keep = []
        for k, c in enumerate(cands):
            if c.kind == "dot":
                left = any(o.kind == "glyph" for o in cands[:k])
                right = any(o.kind == "glyph" for o in cands[k + 1 :])
                if not (left and right) or (keep and keep[-1].kind == "dot"):
                    continue
                # The segmenter takes in dot-sized marks well below a tilted line (a scribble on
                # the glass): a point sits on the baseline.
                if base is not None and c.y2 - np.polyval(base, c.cx) > DOT_BELOW * line.height:
                    continue
                placed += 1
            keep.append(c)
        line.candidates = keep
    return placed


def _line_band(line: TextLine) -> tuple[np.ndarray, np.ndarray] | None:
    """Top and bottom of a line's digits as linear functions of x, fitted on the candidates of
    typical height (separators and merged pieces stand out above and below)."""
    glyphs = [c for c in line.candidates if c.kind == "glyph" and c.h <= 1.08 * line.height]
    if len(glyphs) < 2:
        return None
    xs = np.array([c.cx for c in glyphs], np.float64)
    if np.ptp(xs) <= 0:
        return None
    top = np.polyfit(xs, [c.y for c in glyphs], 1)
    bottom = np.polyfit(xs, [c.y2 for c in glyphs], 1)
    return top, bottom


def _reassemble(
    labels: np.ndarray, c: Candidate, height: float, next_label: int
) -> tuple[list[Candidate], int]:
    """A candidate after pixels were cut out of it: its digit-sized parts, each a candidate of its own
    (with fresh label ids when it fell apart), small leftovers dropped."""
    m = c.mask(labels)
    n, sub, st, _ = cv2.connectedComponentsWithStats(m, connectivity=8, ltype=cv2.CV_32S)
    parts = [k for k in range(1, n) if st[k, 3] >= 0.4 * height]
    if not parts:
        return [], next_label
    if len(parts) == 1 and n == 2:
        k = parts[0]
        x, y, w, h = (int(v) for v in st[k, :4])
        if (x, y, w, h) == (0, 0, c.w, c.h):
            return [c], next_label
        return [Candidate(c.x + x, c.y + y, w, h, c.labels, c.kind, c.x_range)], next_label
    crop = labels[c.y : c.y2, c.x : c.x2]
    out = []
    for k in parts:
        x, y, w, h = (int(v) for v in st[k, :4])
        crop[sub == k] = next_label
        out.append(Candidate(c.x + x, c.y + y, w, h, (next_label,)))
        next_label += 1
    return out, next_label


def remove_separators(seg: Segmentation) -> int:
    """Drop the bars between the drums of a counter: thin, straight, reaching above and below the
    digits of their line, at least two in a line. They are cut out of the digits they touch.
    Returns how many bars were removed."""
    removed = 0
    for line in seg.lines:
        if sum(c.kind == "glyph" for c in line.candidates) < 3:
            continue
        height = line.height
        # A counter shows at least one separator standing free between two drums: a thin bar
        # reaching above and below the digits. Without one, straight strokes of printed digits
        # (the stem of a 1 or a 4) must not be taken for separators. (The cheap shape test first:
        # most lines have no such bar, and fitting the band costs more than the rest.)
        bars = [
            c for c in line.candidates if c.kind == "glyph" and c.w <= 0.25 * c.h and c.h >= 1.08 * height
        ]
        if not bars:
            continue
        band = _line_band(line)
        if band is None:
            continue
        top, bottom = band
        if not any(
            c.y < np.polyval(top, c.cx) - 0.03 * height and c.y2 > np.polyval(bottom, c.cx) + 0.03 * height
            for c in bars
        ):
            continue
        x0 = max(0, int(min(c.x for c in line.candidates) - 0.3 * height))
        x1 = min(seg.labels.shape[1], int(max(c.x2 for c in line.candidates) + 0.3 * height))
        ys = [np.polyval(top, x0), np.polyval(top, x1), np.polyval(bottom, x0), np.polyval(bottom, x1)]
        y0 = max(0, int(min(ys) - 0.5 * height))
        y1 = min(seg.labels.shape[0], int(max(ys) + 0.5 * height))
        if x1 - x0 < 4 or y1 - y0 < 4:
            continue
        crop = (seg.labels[y0:y1, x0:x1] > 0).astype(np.uint8)
        # Turn the line level: the bars stand perpendicular to it.
        slope = float((top[0] + bottom[0]) / 2.0)
        angle = float(np.degrees(np.arctan(slope)))
        cx, cy = (x1 - x0) / 2.0, (y1 - y0) / 2.0
        rot = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
        level = cv2.warpAffine(crop, rot, (x1 - x0, y1 - y0), flags=cv2.INTER_NEAREST)
        mid_x = (x0 + x1) / 2.0
        t = float(np.polyval(top, mid_x)) - y0
        b = float(np.polyval(bottom, mid_x)) - y0
        # After turning about the centre, the band's middle stays where it was.
        t_level, b_level = round(t - 0.04 * height), round(b + 0.04 * height)
        if t_level < 0 or b_level >= level.shape[0]:
            continue
        # Columns whose ink runs unbroken from above the digits' top to below their bottom.
        span = level[t_level : b_level + 1]
        through = span.all(axis=0)
        cols = np.nonzero(through)[0]
        if cols.size == 0:
            continue
        groups = np.split(cols, np.nonzero(np.diff(cols) > 1)[0] + 1)
        bars = [g for g in groups if g.size <= 0.2 * height]
        if len(bars) < 2:
            continue
        cut = np.zeros_like(level)
        for g in bars:
            for col in g:
                # The whole run through the band, up and down from it.
                column = level[:, col]
                a = t_level
                while a > 0 and column[a - 1]:
                    a -= 1
                z = b_level
                while z + 1 < column.size and column[z + 1]:
                    z += 1
                cut[a : z + 1, col] = 1
        cut = cv2.dilate(cut, np.ones((1, 3), np.uint8))
        inverse = cv2.invertAffineTransform(rot)
        back = cv2.warpAffine(cut, inverse, (x1 - x0, y1 - y0), flags=cv2.INTER_NEAREST)
        back = cv2.dilate(back, np.ones((3, 3), np.uint8)).astype(bool)
        seg.labels[y0:y1, x0:x1][back & (crop > 0)] = 0
        removed += len(bars)
        kept = []
        next_label = int(seg.labels.max()) + 1
        for c in line.candidates:
            if not (c.x2 > x0 and c.x < x1) or c.kind != "glyph":
                kept.append(c)
                continue
            pieces, next_label = _reassemble(seg.labels, c, height, next_label)
            kept.extend(pieces)
        line.candidates = kept
    return removed


def keep_window_lines(seg: Segmentation, windows: list[tuple[int, int, int, int]]) -> int:
    """When the picture shows a counter's window, its digits are the reading: lines outside every
    window (the small dials of the face, the unit, a serial number) are dropped, and so are the marks
    of a window's line outside it. Returns how many lines were dropped."""

    def inside(c: Candidate) -> bool:
        return any(x <= c.cx <= x + w and y <= c.y + c.h / 2 <= y + h for x, y, w, h in windows)

    def glyphs(ln: TextLine) -> int:
        return sum(c.kind == "glyph" for c in ln.candidates)

    in_window = [ln for ln in seg.lines if any(inside(c) for c in ln.candidates if c.kind == "glyph")]
    # A line outside with as many glyphs as the window's is no dial or unit: something else was taken
    # for a window (a panel's printed words), and the number may be that line.
    most = max((glyphs(ln) for ln in in_window), default=0)
    kept = [ln for ln in seg.lines if ln in in_window or glyphs(ln) >= most]
    dropped = len(seg.lines) - len(kept)
    seg.lines[:] = kept
    for ln in in_window:
        # The unit printed beside the window (m³, kWh, smaller than the drums' digits) chains into
        # the counter's line. Digits of full size outside are the window's too (red drums at its end
        # may be found as no part of it).
        digit_h = median_of([c.h for c in ln.candidates if c.kind == "glyph" and inside(c)])
        ln.candidates = [c for c in ln.candidates if inside(c) or c.h >= UNIT_HEIGHT * digit_h]
    return dropped


# A counter's line with its drums at rest: (line, band top, band bottom, drums at rest, pitch).
CounterBand = tuple[TextLine, np.ndarray, np.ndarray, list[Candidate], float]


def counter_bands(seg: Segmentation) -> list[CounterBand]:
    """The lines that are rows of a counter's drums (see `_drums_at_rest`), with their band; measured
    once for the two steps that look beyond the drums at rest (turning and coloured drums)."""
    bands = []
    for line in seg.lines:
        glyphs = sorted((c for c in line.candidates if c.kind == "glyph"), key=lambda c: c.x)
        if (rest := _drums_at_rest(glyphs, seg.labels)) is not None:
            bands.append((line, *rest))
    return bands


def join_turning_drums(seg: Segmentation, bands: list[CounterBand] | None = None) -> int:
    """Make one candidate, in the counter's line, of each drum caught turning at the counter's right end
    (the last drum, and those a carry turns with it), marked with which of its two digits shows more.

    A turning drum shows the bottom of the leaving digit cut by the window's top edge and the top of
    the entering one cut by its bottom edge: two pieces, or one when the other is too small to see.
    Segmented like ink on paper, the pieces are merged, dropped as fragments, or chained with the unit
    printed beside the window into a line of their own. Here the drum is looked for where the counter's
    evenly spaced drums put it, among all the ink there. `bands`: `counter_bands(seg)`, when measured
    already. Returns how many turning drums were found."""
    found = 0
    for line, top, bottom, at_rest, pitch in counter_bands(seg) if bands is None else bands:
        glyphs = sorted((c for c in line.candidates if c.kind == "glyph"), key=lambda c: c.x)
        owned = {lab for c in at_rest for lab in c.labels}
        drums: list[Candidate] = []
        x = at_rest[-1].cx
        while (drum := _turning_drum(seg.labels, x + pitch, pitch, top, bottom, owned)) is not None:
            drums.append(drum)
            owned |= set(drum.labels)
            x += pitch
        if not drums:
            continue
        # Only the counter's last drums turn (a carry turns a drum with all those right of it): a digit
        # standing next in the row is none, and the lower one was a handwritten digit, not a drum.
        if any(
            owned.isdisjoint(c.labels) and c.h >= UNIT_HEIGHT * line.height and 0 < c.cx - x <= 1.3 * pitch
            for c in glyphs
        ):
            continue
        for drum in drums:
            taken = set(drum.labels)
            for ln in seg.lines:
                if all(taken.isdisjoint(c.labels) for c in ln.candidates):
                    continue
                kept = [c if taken.isdisjoint(c.labels) else _without(seg.labels, c, taken)
                        for c in ln.candidates if not taken.issuperset(c.labels)]
                # What is left of another line is the unit printed beside the window, which had
                # chained with the drum's piece.
                small = all(c.h < UNIT_HEIGHT * line.height for c in kept)
                ln.candidates = [] if ln is not line and small else kept
            # What else stands in its window is of it too (a sliver of the leaving digit too small to be
            # a piece): the turning-drum network sees the whole window.
            line.candidates = sorted([*(c for c in line.candidates if not _in_window(c, drum.window)), drum],
                                     key=lambda c: c.x)
            found += 1
    seg.lines[:] = [ln for ln in seg.lines if ln.candidates]
    return found


def _in_window(c: Candidate, window: DrumWindow | None) -> bool:
    """Whether a glyph's centre lies in a drum's window."""
    if window is None or c.kind != "glyph":
        return False
    dy = c.cy - (window.cy + window.slope * (c.cx - window.cx))
    return abs(c.cx - window.cx) <= 0.5 * window.width and abs(dy) <= 0.5 * window.height


def _drums_at_rest(
    glyphs: list[Candidate], labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, list[Candidate], float] | None:
    """The band (top and bottom as linear functions of x) of a counter's drums at rest, those drums and
    their pitch: at least three glyphs lined up within REST_TOLERANCE of the band and evenly spaced, as
    drums are; None when the line is no such row (handwriting is neither that level nor that even)."""
    if len(glyphs) < 3:
        return None
    xs = np.array([c.cx for c in glyphs])
    top = _theil_sen(xs, np.array([c.y for c in glyphs], np.float64))
    bottom = _theil_sen(xs, np.array([c.y2 for c in glyphs], np.float64))
    if top is None or bottom is None:
        return None
    at_rest = [c for c in glyphs if _level(c, top, bottom)]
    if len(at_rest) < 3:
        return None
    # Evenly spaced, some drums perhaps missing in between (read as no digit at rest), but not at the
    # right end: what stands further off there is the unit printed beside the counter (the 3 of m³).
    steps = np.diff([c.cx for c in at_rest])
    if steps.min() <= 0:
        return None
    multiples = np.maximum(np.round(steps / steps.min()), 1.0)
    while len(at_rest) > 3 and multiples[len(at_rest) - 2] > 1:
        at_rest.pop()
    steps, multiples = steps[: len(at_rest) - 1], multiples[: len(at_rest) - 1]
    pitch = float(np.median(steps / multiples))
    if multiples[-1] > 1 or np.any(np.abs(steps / multiples - pitch) > 0.2 * pitch):
        return None
    # Measured again on the drums at rest alone: the median line is robust, not exact.
    xs = np.array([c.cx for c in at_rest])
    top = np.polyfit(xs, [c.y for c in at_rest], 1)
    bottom = np.polyfit(xs, [c.y2 for c in at_rest], 1)
    # The last drums may lie within the tolerance and still be turning (just started, or nearly done,
    # or half-way with the two digits' ends merged into one glyph, one above the other).
    while at_rest and (_turned(at_rest[-1].y, at_rest[-1].y2, *_band_at(top, bottom, at_rest[-1].cx))
                       or (labels is not None and _stacked(at_rest[-1], labels))):
        at_rest.pop()
    if len(at_rest) < 3:
        return None
    return top, bottom, at_rest, pitch


def _stacked(c: Candidate, labels: np.ndarray) -> bool:
    """Is glyph c pieces one above the other, no row shared: the foot of a drum's leaving digit over
    the head of its entering one? (Asked of a counter's last drums only.)"""
    if len(c.labels) < 2:
        return False
    # (Slivers of the window's edges are no piece of a digit.)
    spans = sorted((y, y + h) for (_, y, _, h), _ in _piece_boxes(c, labels).values()
                   if h >= TURNING_PIECE * c.h)
    if len(spans) < 2:
        return False
    reach = spans[0][1]
    for top, bottom in spans[1:]:
        if top >= reach:
            return True
        reach = max(reach, bottom)
    return False


def _band_at(top: np.ndarray, bottom: np.ndarray, x: float) -> tuple[float, float]:
    return float(np.polyval(top, x)), float(np.polyval(bottom, x))


def _turned(y_top: float, y_bottom: float, t: float, b: float) -> str:
    """Whether ink from y_top to y_bottom (one piece) is a drum's digit turned out of the band from t to
    b: "entering" (lower, cut by the window's bottom edge), "leaving" (higher), or ""."""
    height = b - t
    # (And it shows some of a digit inside the band: a mark beside the window's lower or upper edge is
    # no drum's.)
    if y_top - t >= TURNING_SHIFT * height and y_bottom - b >= TURNING_CUT * height:
        return "entering" if b - y_top >= TURNING_PIECE * height else ""
    if b - y_bottom >= TURNING_SHIFT * height and t - y_top >= TURNING_CUT * height:
        return "leaving" if y_bottom - t >= TURNING_PIECE * height else ""
    return ""


def _theil_sen(xs: np.ndarray, ys: np.ndarray) -> np.ndarray | None:
    """A line through (xs, ys) that a turning drum or two among them do not pull off: the median of
    the pairwise slopes, and the median intercept. As np.polyfit's (slope, intercept)."""
    i, j = np.triu_indices(len(xs), 1)
    dx = xs[j] - xs[i]
    ok = dx > 0
    if not ok.any():
        return None
    slope = float(np.median((ys[j] - ys[i])[ok] / dx[ok]))
    return np.array([slope, float(np.median(ys - slope * xs))])


def _turning_drum(
    labels: np.ndarray, x: float, pitch: float, top: np.ndarray, bottom: np.ndarray, owned: set[int]
) -> Candidate | None:
    """The drum whose centre is at column x, if it is turning: its pieces (all components inside its
    place, of a piece's size) as one candidate, or None."""
    t, b = _band_at(top, bottom, x)
    height = b - t
    img_h, img_w = labels.shape
    x0, x1 = max(0, round(x - 0.5 * pitch)), min(img_w, round(x + 0.5 * pitch))
    y0 = max(0, round(t - (TURNING_REACH + 0.1) * height))
    y1 = min(img_h, round(b + (TURNING_REACH + 0.1) * height))
    if x1 - x0 < 2 or y1 - y0 < 2 or height <= 0:
        return None
    crop = labels[y0:y1, x0:x1]
    edge = np.unique(np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]]))
    pieces = []
    for lab in np.unique(crop):
        if lab == 0 or lab in owned or lab in edge:
            continue  # (a component reaching out of the drum's place is not of it)
        ys, xs = np.nonzero(crop == lab)
        ph, pw = int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1)
        # The digit stands in the middle of its window (the window's edges show as slivers at its sides).
        centred = abs(x0 + 0.5 * float(xs.min() + xs.max()) - x) <= TURNING_CENTRE * pitch
        sized = TURNING_PIECE * height <= ph <= 1.2 * height and TURNING_PIECE * height <= pw <= 1.2 * height
        if sized and centred:
            pieces.append((int(lab), ys, xs))
    if not pieces:
        return None
    ys = np.concatenate([p[1] for p in pieces]) + y0
    xs = np.concatenate([p[2] for p in pieces]) + x0
    return _turning_candidate(ys, xs, tuple(sorted(p[0] for p in pieces)), x, pitch, top, bottom)


def _turning_candidate(ys: np.ndarray, xs: np.ndarray, labels: tuple[int, ...], x: float, pitch: float,
                       top: np.ndarray, bottom: np.ndarray) -> Candidate | None:
    """The drum at column x whose ink is at (ys, xs), if it is turning, as a candidate of `labels`."""
    t, b = _band_at(top, bottom, x)
    height = b - t
    # Level with the counter (it may be photographed tilted): the window's edges run along the band.
    slope = 0.5 * float(top[0] + bottom[0])
    rows = np.unique(np.round(ys - slope * (xs - x)).astype(int))
    first, last = int(rows[0]), int(rows[-1])
    kind = ""
    steps = np.diff(rows)
    if steps.size and steps.max() > 1 and last - first + 1 >= TURNING_TALL * height:
        k = int(np.argmax(steps))
        upper, lower = int(rows[k]) - first + 1, last - int(rows[k + 1]) + 1
        kind, shown = ("leaving", upper) if upper >= lower else ("entering", lower)
    else:
        kind, shown = _turned(first, last + 1, t, b), last - first + 1
    if not kind:
        return None
    if shown < TURNING_READABLE * height:
        kind = "between"  # neither digit shows enough of itself for the network to know it
    bx, by = int(xs.min()), int(ys.min())
    window = DrumWindow(x, 0.5 * (t + b), WINDOW_WIDTH * pitch, WINDOW_HEIGHT * height, slope)
    return Candidate(bx, by, int(xs.max()) - bx + 1, int(ys.max()) - by + 1, labels, turning=kind,
                     window=window)


def drop_counter_units(seg: Segmentation, bands: list[CounterBand]) -> int:
    """Drop the unit printed after a counter (m³, read as 1773; its 3 as a ninth drum): marks smaller
    than UNIT_HEIGHT of the drums past the counter's end. In the counter's line they stand more than
    UNIT_PITCHES of the drums' pitch past the last drum (drums, at rest or turning, follow one another
    a pitch apart). On a line of their own they start past the last drum's middle, within UNIT_REACH
    of the drums' height of its end, level with it (a turning drum's pieces are in the counter's line
    by now). Returns how many marks were dropped."""
    dropped = 0
    for line, _, _, at_rest, pitch in bands:
        drum_h = median_of([c.h for c in at_rest])
        last = at_rest[-1]
        kept = []
        for c in sorted(line.candidates, key=lambda c: c.x):
            if c.kind != "glyph" or c.cx <= last.cx:
                kept.append(c)
            elif c.cx - last.cx <= UNIT_PITCHES * pitch:
                kept.append(c)
                last = c
            elif c.h < UNIT_HEIGHT * drum_h:
                dropped += 1
            else:
                kept.append(c)
        line.candidates = kept
        end = max((c for c in kept if c.kind == "glyph"), key=lambda c: c.x2, default=last)
        for other in seg.lines:
            marks = [c for c in other.candidates if c.kind == "glyph"]
            if other is not line and marks and _unit_after(marks, end, drum_h):
                dropped += len(marks)
                other.candidates = []
    seg.lines[:] = [ln for ln in seg.lines if ln.candidates]
    return dropped


def _unit_after(marks: list[Candidate], last: Candidate, drum_h: float) -> bool:
    """Are `marks` (a line of their own) the unit printed after the counter ending in `last`?"""
    start = min(c.x for c in marks)
    return last.cx < start <= last.x2 + UNIT_REACH * drum_h and all(
        c.h < UNIT_HEIGHT * drum_h and last.y - 0.5 * drum_h <= c.cy <= last.y2 + 0.5 * drum_h for c in marks
    )


def read_coloured_drums(seg: Segmentation, gray: np.ndarray, bands: list[CounterBand] | None = None) -> int:
    """Read the counter's coloured drums (the red ones at a water meter's right end) on their own.

    On a dark face a red window is lighter than the face, so a light-on-dark mask takes the window for
    ink with its light digit: where the next drum stands there is a solid glyph out of the counter's
    band, or nothing (the window went with the frame it touches). There the gray picture is
    thresholded on its own; its lighter part, level with the drums at rest and of their height, is the
    digit (cut by the window's edges, a turning drum) and takes the glyph's place. `bands`: as for
    `join_turning_drums`. Returns how many."""
    found = 0
    for line, top, bottom, at_rest, pitch in counter_bands(seg) if bands is None else bands:
        if not line.candidates:
            continue  # (a line a turning drum took the pieces of)
        glyphs = sorted((c for c in line.candidates if c.kind == "glyph"), key=lambda c: c.x)
        x = at_rest[-1].cx + pitch
        while True:
            # (What covers the place counts too: a number's touching digits, found as one wide glyph,
            # are no window; re-read, the place's digit would be read twice.)
            here = [c for c in glyphs if abs(c.cx - x) <= 0.5 * pitch or c.x < x < c.x2]
            if len(here) > 1 or (here and here[0].turning):
                break  # (a turning drum there is read already, and the rest of the row with it)
            old = here[0] if here else None
            if old is not None and _level(old, top, bottom):
                if old.cx + pitch <= x:
                    break  # (wider than a drum: no drum)
                x = old.cx + pitch  # a drum at rest that the band's first fit left out
                continue
            if old is not None and np.count_nonzero(old.mask(seg.labels)) < WINDOW_SOLIDITY * old.w * old.h:
                break  # no solid piece of a window: a digit in pieces (a glowing LED 5), say
            # (Nothing there at all: the window went with the frame it touches, or with its neighbour.)
            digit = _lighter_digit(seg, gray, old, x, pitch, top, bottom)
            if digit is None:
                break
            kept = [c for c in line.candidates if c is not old]
            line.candidates = sorted([*kept, digit], key=lambda c: c.x)
            found += 1
            x += pitch
    return found


def _level(c: Candidate, top: np.ndarray, bottom: np.ndarray) -> bool:
    """Whether a glyph fills the counter's band as a drum at rest does. (Top, bottom and height: the two
    pieces of a turning drum may reach just as far out either way.)"""
    t, b = _band_at(top, bottom, c.cx)
    tol = REST_TOLERANCE * max(b - t, 1.0)
    return abs(c.y - t) <= tol and abs(c.y2 - b) <= tol and abs(c.h - (b - t)) <= tol


def _lighter_digit(seg: Segmentation, gray: np.ndarray, old: Candidate | None, x: float, pitch: float,
                   top: np.ndarray, bottom: np.ndarray) -> Candidate | None:
    """The light digit in the drum's place at column x, thresholded there alone, as a candidate that
    takes the place of `old` (if any) in the label image; None when none lies level with the band."""
    t, b = _band_at(top, bottom, x)
    height = b - t
    img_h, img_w = gray.shape
    x0, x1 = max(0, round(x - 0.5 * pitch)), min(img_w, round(x + 0.5 * pitch))
    y0, y1 = max(0, round(t - 0.2 * height)), min(img_h, round(b + 0.2 * height))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    patch = gray[y0:y1, x0:x1]
    _, light = cv2.threshold(patch, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if np.count_nonzero(light) > 0.5 * light.size:
        return None  # (a light window with a dark digit: not this case)
    n, sub, st, _ = cv2.connectedComponentsWithStats(light, connectivity=8, ltype=cv2.CV_32S)
    keep = np.zeros(n, bool)
    for k in range(1, n):
        hx, _, hw, _ = (int(v) for v in st[k, :4])
        centred = abs(x0 + hx + 0.5 * hw - x) <= TURNING_CENTRE * pitch
        keep[k] = centred and st[k, 3] >= TURNING_PIECE * height
    mask = keep[sub]
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    ys, xs = ys + y0, xs + x0
    lab = int(seg.labels.max()) + 1
    bx, by = int(xs.min()), int(ys.min())
    digit: Candidate | None = Candidate(bx, by, int(xs.max()) - bx + 1, int(ys.max()) - by + 1, (lab,))
    if digit.w > 1.2 * height:
        return None
    if not _level(digit, top, bottom):
        # A coloured drum caught turning: its pieces as a turning drum's, or nothing.
        digit = _turning_candidate(ys, xs, (lab,), x, pitch, top, bottom)
        if digit is None:
            return None
    # The glyph's ink in its box goes; the digit becomes a component of its own, also where the
    # window's ink was labelled with the frame it touches.
    if old is not None:
        box = seg.labels[old.y : old.y2, old.x : old.x2]
        box[label_mask(box, old.labels)] = 0
    seg.labels[y0:y1, x0:x1][mask] = lab
    return digit


def _without(labels: np.ndarray, c: Candidate, taken: set[int]) -> Candidate:
    """Candidate c without the components in `taken`, boxed anew."""
    rest = tuple(lab for lab in c.labels if lab not in taken)
    ys, xs = np.nonzero(label_mask(labels[c.y : c.y2, c.x : c.x2], rest))
    if ys.size == 0:
        return replace(c, labels=rest, splits=[])
    return replace(c, x=c.x + int(xs.min()), y=c.y + int(ys.min()), w=int(xs.max() - xs.min() + 1),
                   h=int(ys.max() - ys.min() + 1), labels=rest, splits=[])


def drop_small_labels(seg: Segmentation) -> int:
    """A printed number is of one height; what its line holds beyond a word gap and much smaller than
    it is a label or a unit (THIS SALE $, Gallons, m³), whose letters would be read as 5s and 3s.
    Handwritten digits vary too much in height to make such a run. Returns how many were dropped."""
    dropped = 0
    for line in seg.lines:
        glyphs = [c for c in line.candidates if c.kind == "glyph"]
        run = _uniform_run(glyphs)
        if run is None:
            continue
        first, last, height = run
        # A label stands further off than the number's own digits are apart: handwritten digits
        # spaced as widely as printed words are no labels.
        inner = max(b.x - a.x2 for a, b in zip(glyphs[first:last], glyphs[first + 1 : last + 1], strict=True))
        word_gap = max(LABEL_GAP * height, LABEL_GAP_RUN * inner)
        cands = sorted(line.candidates, key=lambda c: c.x)
        gone: set[int] = set()
        # Outwards from the number on either side, word by word past the first word gap: a word
        # all of whose marks are small is a label (a word with capitals of the number's height is
        # left whole to the reader's word rules).
        for side, start in ((1, glyphs[last]), (-1, glyphs[first])):
            k = next(i for i, c in enumerate(cands) if c is start)
            rest = cands[k + 1 :] if side == 1 else cands[k - 1 :: -1] if k > 0 else []
            words: list[list[Candidate]] = []
            prev = start
            for c in rest:
                gap = c.x - prev.x2 if side == 1 else prev.x - c.x2
                if gap >= word_gap:
                    words.append([])
                if words:
                    words[-1].append(c)
                prev = c
            # A small word with marks of the number's height further out sits inside a number (a
            # flat handwritten 2): labels stand at the ends.
            tall = [i for i, word in enumerate(words)
                    if any(c.kind == "glyph" and c.h >= LABEL_HEIGHT * height for c in word)]
            for word in words[tall[-1] + 1 if tall else 0 :]:
                marks = [c for c in word if c.kind == "glyph"]
                if marks and all(c.h < LABEL_HEIGHT * height for c in marks):
                    gone.update(id(c) for c in word)
        dropped += len(gone)
        line.candidates = [c for c in line.candidates if id(c) not in gone]
    return dropped


def drop_lone_marks(seg: Segmentation, bands: list[CounterBand] | None = None) -> int:
    """Beside a printed number (a uniform run of glyphs on some line), lines that are no number:

    - thin round rings only: a meter's dials whose rings the blur or the glare broke open (no hole,
      so no dial for `remove_dials`), read as 0s (a printed 0 is taller than wide, a display's 0 is
      made of thick bars); beside a counter, also with arcs of rings and pointers (see `_dials`);
    - one mark under LABEL_HEIGHT of the number: the letter left of a printed word whose other
      letters went as fragments (the O of HYDRO over a counter, read as a 0);
    - lone strokes, read as 1s: one (the edge of a bezel or a device, a streak of glare), several
      STREAK_HEIGHT times as tall as the number (reflections across a meter's glass), or hairlines
      under HAIRLINE of the number's stroke width (a device's edge broken in two, read as 11);
    - marks lying each on a drum's digit: pieces of the outline of its window.

    A number is a uniform run of glyphs, or a counter's drums at rest (`bands`: `counter_bands(seg)`;
    drums stand further apart than a run's digits). Returns how many lines were dropped."""
    numbers = []
    for line in seg.lines:
        glyphs = [c for c in line.candidates if c.kind == "glyph"]
        if (run := _uniform_run(glyphs)) is not None:
            numbers.append((run[2], glyphs[run[0] : run[1] + 1], line))
    # (Lines by identity: equal candidates would make two lines equal.)
    alive = {id(ln) for ln in seg.lines}
    counters = [(line, at_rest) for line, _, _, at_rest, _ in bands or () if id(line) in alive]
    for line, at_rest in counters:
        if not any(line is ln for _, _, ln in numbers):
            numbers.append((median_of([c.h for c in at_rest]), at_rest, line))
    if not numbers:
        return 0
    number_h, digits, _ = max(numbers, key=lambda n: n[0])
    number_stroke: float | None = None  # measured when needed: it reads pixels
    # The counters' glyphs, beyond the drums at rest: a window's outline may lie on any of them.
    whole = [[c for c in ln.candidates if c.kind == "glyph"] for ln, _ in counters]
    kept = []
    for line in seg.lines:
        glyphs = [c for c in line.candidates if c.kind == "glyph"]
        if any(line is ln for _, _, ln in numbers):
            kept.append(line)
            continue
        strokes = all(c.w < LONE_STROKE * c.h for c in glyphs)
        if len(glyphs) == 1:
            c = glyphs[0]
            if strokes or c.h < LABEL_HEIGHT * number_h:
                continue
        elif glyphs and strokes:
            if line.height >= STREAK_HEIGHT * number_h:
                continue
            if number_stroke is None:
                number_stroke = median_of([stroke_width(c.mask(seg.labels)) for c in digits])
            if all(c.w < HAIRLINE * number_stroke for c in glyphs):
                continue
        if glyphs and any(_on_digits(glyphs, number) for number in whole):
            continue
        # (The ink tests last: they read pixels.)
        if glyphs and _dials(glyphs, seg.labels, number_h, broken=bool(counters)):
            continue
        kept.append(line)
    dropped = len(seg.lines) - len(kept)
    seg.lines[:] = kept
    return dropped


def _on_digits(marks: list[Candidate], digits: list[Candidate]) -> bool:
    """Does each of `marks` lie mostly (ON_DIGIT of its box) on one of a counter's `digits`?"""

    def on(m: Candidate, d: Candidate) -> bool:
        ix, iy = _x_overlap(m, d), _y_overlap(m, d)
        return ix > 0 and iy > 0 and ix * iy >= ON_DIGIT * m.w * m.h

    return all(any(on(m, d) for d in digits) for m in marks)


def _dials(marks: list[Candidate], labels: np.ndarray, number_h: float, broken: bool) -> bool:
    """Are `marks` dials: thin ink (at most DIAL_INK of each box), round rings of the number's size or
    more? `broken` (beside a counter, on a meter's face): at least one ring, the rest arcs of rings the
    blur or the glare broke open, or the pointer, none wider than DIAL_PIECE_WIDTH of its height. (On
    a sheet, a handwritten 0 is such a ring and its neighbours such pieces.)"""
    lo, hi = DIAL_ASPECT

    def ring(c: Candidate) -> bool:
        return c.h >= LABEL_HEIGHT * number_h and lo * c.h <= c.w <= hi * c.h

    if broken:
        shapes = any(ring(c) for c in marks) and all(c.w <= DIAL_PIECE_WIDTH * c.h for c in marks)
    else:
        shapes = all(ring(c) for c in marks)
    return shapes and all(np.count_nonzero(c.mask(labels)) <= DIAL_INK * c.w * c.h for c in marks)


def _uniform_run(glyphs: list[Candidate]) -> tuple[int, int, float] | None:
    """The longest run of at least three neighbouring glyphs of one height (within 8% of their
    median) at a number's spacing: (first index, last index, median height), or None. A display's 4
    and 7 have no bottom bar: a glyph down to SHORT_DIGIT of the height counts when its top is level
    with its neighbour's."""
    best = None
    start = 0

    def fits(k: int, first: int, last: int, h: float) -> bool:
        c = glyphs[k]
        if 0.92 * h <= c.h <= 1.08 * h:
            return True
        beside = [glyphs[j] for j in (k - 1, k + 1) if first <= j <= last]
        return SHORT_DIGIT * h <= c.h < h and any(abs(c.y - n.y) <= 0.08 * h for n in beside)

    while start < len(glyphs):
        end = start
        while end + 1 < len(glyphs):
            h = median_of([c.h for c in glyphs[start : end + 2]])
            a, b = glyphs[end], glyphs[end + 1]
            if b.x - a.x2 > 0.5 * h or not all(fits(k, start, end + 1, h) for k in range(start, end + 2)):
                break
            end += 1
        if end - start + 1 >= 3 and (best is None or end - start > best[1] - best[0]):
            best = (start, end, median_of([c.h for c in glyphs[start : end + 1]]))
        start = end + 1
    return best


def segment_display(
    binary: np.ndarray,
    min_height: float,
    max_height: float,
    decimal_point: bool = False,
    seeds: np.ndarray | None = None,
    gray: np.ndarray | None = None,
    dark_on_light: bool = False,
    faint: Callable[[], np.ndarray] | None = None,
) -> tuple[Segmentation, DisplayFixes]:
    """`segment.segment` after opening windows, removing frames and joining seven-segment bars.

    `gray` (the image the mask was made from) lets a window be thresholded on its own;
    `dark_on_light`: the mask was made from dark ink on a light ground (the preprocessing's polarity);
    `faint`: gives the faint-ink pixels, which keep a pale digit without seeds (see `segment.segment`)."""
    comps = _Components.of(binary)
    work, windows = open_windows(binary, min_height, comps, gray)
    if windows:
        comps = _Components.of(work)
        if seeds is not None:
            # Seeds are the strong-ink pixels of the original polarity: inside a window they are wrong.
            seeds = seeds.copy()
            for x, y, w, h in windows:
                seeds[y : y + h, x : x + w] = work[y : y + h, x : x + w] > 0
    work, glowing = sharpen_glow(work, gray, min_height, comps, glare=not dark_on_light)
    if glowing:
        comps = _Components.of(work)
        if seeds is not None:
            seeds = seeds & (work > 0)
    work, dials = remove_dials(work, min_height, comps)
    work, frames = remove_frames(work, min_height, comps)
    if (frames or dials) and seeds is not None:
        seeds = seeds & (work > 0)
    joined, n_bars, t = join_segments(work, min_height, comps)
    # Nothing changed the mask: the segmenter reuses this labelling instead of making its own.
    labelled = (comps.n, comps.labels, comps.stats) if joined is binary else None
    seg = segment(joined, min_height, max_height, decimal_point, seeds, labelled, faint)
    if joined is not work:
        # Candidates keep the joined components' label ids, but their masks come from real ink only.
        seg.labels[work == 0] = 0
    if windows:
        keep_window_lines(seg, windows)
    remove_separators(seg)
    drop_small_labels(seg)
    # Last: what a turning drum shows is smaller than a digit, and the steps before drop such marks.
    # A counter in a dark-on-light picture shows its drums in windows; without one there, the step
    # is skipped (it costs 0.75 ms on a page of handwriting, whose lines pass its first tests).
    bands = None
    if windows or not dark_on_light:
        bands = counter_bands(seg)
        join_turning_drums(seg, bands)
        if gray is not None:
            read_coloured_drums(seg, gray, bands)
        drop_counter_units(seg, bands)
    # After the drums: a turning drum's pieces are lone small marks until joined.
    drop_lone_marks(seg, bands)
    dots = place_decimal_points(seg, seeds, gray) if decimal_point else 0
    fixes = DisplayFixes(tuple(windows), tuple(frames), n_bars, t, dots, tuple(dials), glowing)
    return seg, fixes
