"""What a camera and its binarisation do to a rendered glyph, ending in the ink mask a segmenter hands on.

A glyph is rendered as ink *coverage* (float32, 0 = paper, 1 = full ink) at a camera-like resolution.
`capture` warps it (slant, squeeze, rotation, perspective), makes the stroke uneven, turns it into a
gray photo (paper and ink levels, a light gradient), blurs, adds sensor noise and JPEG artifacts, and
thresholds it again the way the runtime's binarisation would. Everything random comes from the caller's
`numpy.random.Generator`, so a crop is a pure function of its seed.
"""

from __future__ import annotations

import cv2
import numpy as np

# Components smaller than this share of the largest one are specks the runtime segmenter drops.
SPECK_SHARE = 0.04


def _linear_part(rng: np.random.Generator, slant: float, squeeze: float) -> np.ndarray:
    """2×2 map: squeeze x, slant (top leans right for slant > 0), then a small camera roll."""
    angle = np.deg2rad(float(np.clip(rng.normal(0.0, 3.0), -8.0, 8.0)))
    c, s = np.cos(angle), np.sin(angle)
    rotate = np.array([[c, -s], [s, c]])
    shear = np.array([[1.0, -slant], [0.0, 1.0]])  # image y grows downwards: x -= slant·y leans top right
    scale = np.array([[squeeze, 0.0], [0.0, 1.0]])
    return rotate @ shear @ scale


def warp(
    coverage: np.ndarray, rng: np.random.Generator, slant: float = 0.0, squeeze: float = 1.0
) -> np.ndarray:
    """Apply style (slant, squeeze) and camera geometry (roll, mild perspective) in one resampling."""
    h, w = coverage.shape
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    centred = src - np.array([w / 2.0, h / 2.0], np.float32)
    dst = centred @ _linear_part(rng, slant, squeeze).T
    size = float(max(h, w))
    # Perspective: each corner moves independently by a few percent of the glyph size.
    dst = dst + rng.uniform(-0.035, 0.035, size=(4, 2)) * size
    margin = 3 + int(0.12 * size)
    dst = dst - dst.min(axis=0) + margin
    out_w = int(np.ceil(dst[:, 0].max())) + margin
    out_h = int(np.ceil(dst[:, 1].max())) + margin
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    return cv2.warpPerspective(coverage, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=0.0)


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], low: float) -> np.ndarray:
    """Slowly varying values in [low, 1]: pen pressure, ink wear, uneven light on a segment."""
    cells = rng.uniform(low, 1.0, size=(3, 3)).astype(np.float32)
    return cv2.resize(cells, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC).clip(low, 1.0)


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of the non-zero pixels, or None."""
    x, y, w, h = cv2.boundingRect(mask.astype(np.uint8, copy=False))
    if w == 0 or h == 0:
        return None
    return y, y + h, x, x + w


def drop_specks(mask: np.ndarray, share: float = SPECK_SHARE) -> np.ndarray:
    """Keep the components a segmenter would group into one candidate, drop noise specks."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 2:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(count, bool)
    keep[1:] = areas >= max(3, share * areas.max())
    return np.where(keep[labels], 255, 0).astype(np.uint8)


def photograph(
    ink: np.ndarray, rng: np.random.Generator, height: float, blur_limit: float | None = None
) -> np.ndarray:
    """Coverage (already warped) → degraded gray photo → binarised ink mask (uint8 0/255)."""
    paper = rng.uniform(130.0, 245.0)
    dark = rng.uniform(0.0, max(1.0, paper - 80.0))
    h, w = ink.shape
    # A light gradient across the crop: the threshold below does not know about it, so one side's
    # strokes come out thinner, as with a global threshold on a real photo.
    direction = rng.uniform(0, 2 * np.pi)
    strength = rng.uniform(0.0, 0.25)
    ramp_x = np.linspace(-0.5, 0.5, w, dtype=np.float32) * np.float32(strength * np.cos(direction))
    ramp_y = np.linspace(-0.5, 0.5, h, dtype=np.float32) * np.float32(strength * np.sin(direction))
    light = 1.0 + ramp_y[:, None] + ramp_x[None, :]
    ink = ink * _smooth_field(rng, ink.shape, float(rng.uniform(0.55, 1.0)))
    gray = (np.float32(paper) - np.float32(paper - dark) * ink) * light
    sigma = rng.uniform(0.0, 1.0) * min(1.4, 0.04 * height)
    if blur_limit is not None:
        sigma = min(sigma, blur_limit)
    if sigma > 0.25:
        gray = cv2.GaussianBlur(gray, (0, 0), sigma)
    noise = rng.uniform(0.0, 9.0)
    gray += rng.standard_normal(gray.shape, dtype=np.float32) * np.float32(noise)
    gray8 = gray.clip(0, 255, out=gray).astype(np.uint8)
    if rng.random() < 0.5:
        quality = int(rng.integers(30, 96))
        ok, buf = cv2.imencode(".jpg", gray8, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            gray8 = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    if rng.random() < 0.5:
        _, mask = cv2.threshold(gray8, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    else:
        # A binariser that knows paper and ink levels and cuts somewhere between them.
        level = dark + rng.uniform(0.35, 0.65) * (paper - dark)
        mask = np.where(gray8 < level, 255, 0).astype(np.uint8)
    return drop_specks(mask)


def capture(
    coverage: np.ndarray,
    rng: np.random.Generator,
    height: float,
    slant: float = 0.0,
    squeeze: float = 1.0,
    blur_limit: float | None = None,
    min_extent: float = 0.75,
    keep_whole: bool = False,
) -> np.ndarray | None:
    """Render → camera → binarisation. Returns the ink mask, or None when the shot lost the glyph
    (no ink, or the ink that survived spans less than `min_extent` of the clean glyph's box: the crop
    would then be a fragment labelled as a whole glyph). `keep_whole` also refuses a mask in more
    pieces than the clean render: a letter whose bowl broke off can leave a stroke that reads as a 1."""
    warped = warp(coverage.astype(np.float32), rng, slant, squeeze)
    clean = _bbox(warped > 0.5)
    mask = photograph(warped, rng, height, blur_limit)
    got = _bbox(mask)
    if clean is None or got is None:
        return None
    clean_h, clean_w = clean[1] - clean[0], clean[3] - clean[2]
    got_h, got_w = got[1] - got[0], got[3] - got[2]
    if got_h < min_extent * clean_h or got_w < min_extent * clean_w:
        return None
    # A pale glyph on a noisy background can binarise into a slab: reject what is far bigger than the glyph.
    if got_h > clean_h + 0.3 * height + 4 or got_w > clean_w + 0.3 * height + 4:
        return None
    # Ink lost to a light threshold (strokes in crumbs) or gained from noise in a counter: the crop no
    # longer shows the glyph it would be labelled with.
    clean_ink = np.count_nonzero(warped > 0.5)
    if not 0.4 * clean_ink <= np.count_nonzero(mask) <= 2.2 * clean_ink + 0.02 * height**2:
        return None
    pieces, clean_pieces = _pieces(mask), _pieces(np.where(warped > 0.2, 255, 0).astype(np.uint8))
    if pieces > clean_pieces + (0 if keep_whole else 2):
        return None
    return mask


def _pieces(mask: np.ndarray) -> int:
    return cv2.connectedComponents(mask, connectivity=8)[0] - 1
