"""Turn a digit's ink mask into a 28×28 image the way MNIST was made.

MNIST digits were fitted into a 20×20 box keeping their aspect ratio, anti-aliased, and then placed in
a 28×28 field so that their centre of mass sits at the centre. A camera crop must look the same to the
network, including stroke weight: a thin pen on a large digit shrinks to a faint hairline at 20 px, and a
marker on a small digit becomes a blob, so strokes are brought to MNIST's weight before scaling.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from edge_digits.segment import DrumWindow

SIZE = 28
FIT = 20
# Stroke width that gives back MNIST's own weight (≈2.25 px when binarised at 128) after scaling,
# measured by renormalising the MNIST test digits.
MNIST_STROKE = 2.4
# Pixels around the mask whose grey level still counts: a blurred stroke's soft edge.
INK_REACH = 1
# Mean ink strength (0..255) under the mask from which the grey levels describe the mask's strokes.
INK_AGREES = 128
# ... and the most the ground around the strokes may hold, as a share of that.
GROUND_SHARE = 0.5
# A traced outline's length per boundary pixel on digit strokes (median over the benchmark frames).
BOUNDARY_STEP = 1.16
_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def stroke_width(mask: np.ndarray) -> float:
    """Estimate stroke width in pixels: for a long thin stroke, area ≈ length × width and the outline
    is about twice the length, so width ≈ 2·area/perimeter. The perimeter is counted as the mask's
    boundary pixels (those an erosion removes), which a traced contour, counting its diagonal steps as
    √2, measures BOUNDARY_STEP times longer on digit strokes; tracing it took 15 µs a crop against 9."""
    if mask.dtype != np.uint8:
        mask = (mask > 0).astype(np.uint8)
    area = cv2.countNonZero(mask)
    if area == 0:
        return 0.0
    inner = cv2.erode(mask, _CROSS, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    boundary = area - cv2.countNonZero(inner)
    if boundary <= 0:
        return 1.0
    return max(1.0, 2.0 * area / (BOUNDARY_STEP * boundary))


@functools.lru_cache(maxsize=64)
def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _adjust_stroke(
    mask: np.ndarray, values: np.ndarray | None, scale: float, target: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """Dilate or erode (the mask, and the grey values with it) so that the stroke, once scaled, is
    about `target` px wide."""
    width = stroke_width(mask)
    wanted = target / scale  # stroke width wanted in the crop's own pixels
    delta = round((wanted - width) / 2.0)
    if delta == 0:
        return mask, values
    if delta < 0:
        # Never thin a stroke away entirely: keep at least a third of it.
        delta = max(delta, -int(width // 3))
        if delta == 0:
            return mask, values
    k = _disc(abs(delta))
    morph = cv2.dilate if delta > 0 else cv2.erode
    out = morph(mask, k)
    if not cv2.countNonZero(out):
        return mask, values
    return out, (None if values is None else morph(values, k))


def _ink_describes(ink: np.ndarray, binary: np.ndarray, reach: np.ndarray) -> bool:
    """Whether `ink` shows the mask's strokes as ink on clear ground. A mask cut by a threshold of its
    own (light drums behind dark glass, read in the window's polarity) may be weak ink in the page's
    terms, or lie in ink darker than itself; then the mask's flat white is all there is."""
    inside = cv2.mean(ink, binary)[0]
    if inside < INK_AGREES:
        return False
    around = cv2.bitwise_not(reach)
    return not cv2.countNonZero(around) or cv2.mean(ink, around)[0] <= inside * GROUND_SHARE


def normalize_digit(
    mask: np.ndarray, stroke: float | None = MNIST_STROKE, ink: np.ndarray | None = None
) -> np.ndarray:
    """Ink mask (2-D uint8, 0 background, >0 ink; any size) → 28×28 uint8, 255 = full ink.

    `ink` (uint8, the mask's shape, 255 = full ink; see `Preprocessed.ink`) gives the crop the grey
    levels of the picture within one pixel of the mask instead of the mask's flat white: MNIST's
    strokes are anti-aliased with soft edges, and a faint stretch of a stroke stays fainter than the rest.
    `stroke=None` keeps the stroke as drawn (used for shapes whose weight carries meaning)."""
    out = np.zeros((SIZE, SIZE), np.uint8)
    if mask.ndim != 2 or mask.size == 0:
        return out
    # (Written for speed, one crop per digit per frame: OpenCV calls instead of numpy passes.)
    if mask.dtype == np.bool_:
        mask = mask.view(np.uint8)
    if mask.dtype == np.uint8:
        binary = cv2.threshold(mask, 0, 255, cv2.THRESH_BINARY)[1]
    else:
        binary = np.where(mask > 0, 255, 0).astype(np.uint8)
    if not cv2.countNonZero(binary):
        return out
    values = None  # grey levels, when given; else the mask itself is scaled
    if ink is not None and ink.shape == binary.shape:
        reach = cv2.dilate(binary, _disc(INK_REACH))
        if _ink_describes(ink, binary, reach):
            values = cv2.bitwise_and(ink, reach)
    x, y, w, h = cv2.boundingRect(binary)
    binary = binary[y : y + h, x : x + w]
    if values is not None:
        values = values[y : y + h, x : x + w]
    scale = FIT / max(h, w)
    if stroke is not None:
        pad = max(2, round(stroke / scale))
        binary = cv2.copyMakeBorder(binary, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        if values is not None:
            values = cv2.copyMakeBorder(values, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        binary, values = _adjust_stroke(binary, values, scale, stroke)
        x, y, w, h = cv2.boundingRect(binary)
        binary = binary[y : y + h, x : x + w]
        if values is not None:
            values = values[y : y + h, x : x + w]
        scale = FIT / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(binary if values is None else values, (nw, nh), interpolation=interp)
    m = cv2.moments(small, binaryImage=False)
    if m["m00"] > 0:
        cx, cy = m["m10"] / m["m00"], m["m01"] / m["m00"]
    else:
        cx, cy = (nw - 1) / 2.0, (nh - 1) / 2.0
    # Integer placement as MNIST did; clamp so the 20-px box never leaves the field.
    x0 = min(max(round(SIZE / 2 - 0.5 - cx), 0), SIZE - nw)
    y0 = min(max(round(SIZE / 2 - 0.5 - cy), 0), SIZE - nh)
    out[y0 : y0 + nh, x0 : x0 + nw] = small
    return out


def normalize_batch(masks: list[np.ndarray], stroke: float | None = MNIST_STROKE) -> np.ndarray:
    """Several ink masks → (N, 28, 28) uint8."""
    if not masks:
        return np.zeros((0, SIZE, SIZE), np.uint8)
    return np.stack([normalize_digit(m, stroke) for m in masks])


def window_crop(gray: np.ndarray, window: DrumWindow) -> np.ndarray:
    """A counter's drum window in the gray picture → 28×28 uint8, turned level with the counter and
    stretched from its 5th to its 95th percentile, so that its light digits are near 255: what the
    turning-drum network reads. Unlike a digit's crop it keeps where the window's edges cut the two
    digits of a turning drum, and the smaller piece a digit crop loses."""
    norm = math.hypot(1.0, window.slope)
    c, s = 1.0 / norm, window.slope / norm
    hw, hh = 0.5 * window.width, 0.5 * window.height
    x, y = window.cx, window.cy
    corners = np.float32([
        (x - c * hw + s * hh, y - s * hw - c * hh),  # top left
        (x + c * hw + s * hh, y + s * hw - c * hh),  # top right
        (x - c * hw - s * hh, y - s * hw + c * hh),  # bottom left
    ])
    square = np.float32([(0, 0), (SIZE, 0), (0, SIZE)])
    crop = cv2.warpAffine(gray, cv2.getAffineTransform(corners, square), (SIZE, SIZE),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    lo, hi = np.percentile(crop, (5, 95))
    scaled = (crop.astype(np.float32) - float(lo)) * (255.0 / max(float(hi - lo), 1.0))
    return np.clip(scaled, 0, 255).astype(np.uint8)
