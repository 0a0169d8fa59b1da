"""From a camera image to an ink mask: grayscale, flat lighting, polarity, binarisation.

Light on a sheet is never even (gradients from a window, the soft shadow of a hand or a phone), so a
global threshold fails. The paper's own brightness is estimated on a downscaled copy (a grey closing
removes every stroke thinner than the kernel and keeps the slow light changes) and the image is divided
by it: the paper becomes flat white wherever it is, and each stroke keeps its contrast relative to the
paper right around it. The threshold is then set at half the typical stroke contrast, which keeps a
blurred stroke at its drawn width.

Light digits on a dark display are handled by inverting first; which case we face is decided by looking
at which side of the local median the strong deviations fall (ink is always the minority locally).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

DARK_ON_LIGHT = "dark_on_light"
LIGHT_ON_DARK = "light_on_dark"
POLARITIES = ("auto", DARK_ON_LIGHT, LIGHT_ON_DARK)

# The background kernel as a share of the image's shorter side: wider than the thickest stroke we
# expect (a digit filling a tenth of the frame has strokes near 2% of it) yet narrow enough to follow a
# shadow's edge.
BACKGROUND_KERNEL = 0.08
BACKGROUND_KERNEL_LONG = 0.05
# ... and never narrower than this many pixels: in a small crop (a cheque field 40-60 px high) the
# digits fill the height and their strokes are 5-8 px wide, so a kernel of a share of the side would
# close over them and take the stroke cores for paper.
MIN_KERNEL = 12.0
# A strongly coloured surface (wood, a desk mat) darker than this share of the paper is not paper either.
COLOURED_NOT_PAPER = 0.7
# Hysteresis: strokes grow from the high threshold down to this share of it.
LOW_SHARE = 0.45
# The high threshold as a share of the typical stroke contrast: half is where a blurred edge sits.
HIGH_SHARE = 0.5
# Faint ink: this share of the high threshold. A blob with no seed but a good part of it this dark is a
# stroke of a second, paler ink (pencil handwriting on a form whose bold print sets the thresholds).
FAINT_SHARE = 0.75
COLOURED = 80  # HSV saturation (0..255) from which a surface counts as coloured
# ... unless the paper is coloured too (a yellow sign) and the surface is of its hue, within this many
# of OpenCV's hue steps (0..180 round the circle): the paper in a shadow.
SAME_HUE = 10
# Pixels darker than this share of the paper's level count as grey: the hue of black ink is noise.
GREY_BELOW = 0.15
PAPER = 0.9  # background this share of the bright paper's level or brighter is the paper itself
# Work on a copy whose shorter side is about this many pixels for the background and polarity estimates.
SMALL_SIDE = 120
# Where the estimated background is darker than this share of the bright paper, it is not paper (a desk,
# the dark surround of a sheet) and nothing there is taken as dark ink.
NOT_PAPER = 0.35
# Ink this share of the typical stroke contrast or darker counts as full ink in `Preprocessed.ink`: MNIST's
# strokes are saturated through most of their width.
FULL_INK = 0.7


@dataclass(frozen=True)
class Preprocessed:
    """Stage images, all the size of the input; `binary` is what segmentation reads."""

    gray: np.ndarray  # uint8, as captured
    normalized: np.ndarray  # uint8, illumination flattened, ink dark on white whatever the polarity
    binary: np.ndarray  # uint8, 255 = ink (everything above the low threshold)
    seeds: np.ndarray  # bool, above the high threshold: a blob of `binary` is ink only if it holds a seed
    polarity: str  # DARK_ON_LIGHT or LIGHT_ON_DARK
    thresholds: tuple[int, int]  # (low, high) ink contrast (0..255 below paper white)
    ink_level: int = 255  # typical stroke-core contrast
    # Contrast above which ink is faint ink (see segment.FAINT_INK); None where no faint ink is kept:
    # pale ink is pencil on paper, pale marks on a display are its unlit segments and glow.
    faint_level: int | None = None

    def faint(self) -> np.ndarray:
        """The faint-ink pixels (bool). Made on demand: most frames have no blob that needs them."""
        level = 255 if self.faint_level is None else self.faint_level
        # contrast = 255 - normalized, so contrast > level is normalized < 255 - level.
        return self.normalized < 255 - level

    def ink(self, x: int, y: int, w: int, h: int) -> np.ndarray:
        """Ink strength in a box (uint8, 0 = paper, 255 = full ink): the flattened picture's contrast,
        scaled so that a typical stroke core saturates."""
        a = 255.0 / max(1.0, FULL_INK * self.ink_level)
        # |−a·v + 255a| = a·(255 − v), saturated to 0..255 in one pass.
        return cv2.convertScaleAbs(self.normalized[y : y + h, x : x + w], alpha=-a, beta=255.0 * a)


def to_gray(image: np.ndarray) -> np.ndarray:
    """BGR, BGRA or gray uint8 → gray uint8 (a view when already gray)."""
    if image.ndim == 2:
        return image
    channels = image.shape[2]
    if channels == 1:
        return image[:, :, 0]
    if channels == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    if channels == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return image[:, :, 0]


def _odd(n: float, minimum: int = 3) -> int:
    k = max(minimum, round(n))
    return k if k % 2 else k + 1


def _small_copy(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """Downscaled copy for the slow-varying estimates, and the factor small/full."""
    h, w = gray.shape
    f = min(1.0, SMALL_SIDE / min(h, w))
    if f >= 1.0:
        return gray, 1.0
    size = (max(1, round(w * f)), max(1, round(h * f)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA), f


def detect_polarity(small: np.ndarray, kernel: float) -> str:
    """DARK_ON_LIGHT or LIGHT_ON_DARK from a (small) gray image.

    Ink is the minority around itself: against the local mean, ink pixels deviate far to one side
    while the background around them moves only a little to the other. Whichever side carries more
    contrast beyond the typical deviation wins."""
    k = _odd(kernel, 3)
    mean = cv2.blur(small, (k, k))
    d = mean.astype(np.int16) - small.astype(np.int16)
    spread = float(np.mean(np.abs(d)))
    t = 3.0 * spread + 4.0
    dark = float(np.clip(d - t, 0, None).sum())
    light = float(np.clip(-d - t, 0, None).sum())
    return LIGHT_ON_DARK if light > dark else DARK_ON_LIGHT


def _coloured_surface(image: np.ndarray, size: tuple[int, int], kernel: float, dark: float,
                      paper: np.ndarray) -> np.ndarray:
    """Where the surface under the ink is strongly coloured (bool, at the small copy's size): a wooden
    desk, not paper. An opening of the HSV saturation removes thin coloured strokes (blue ballpoint)
    and keeps coloured areas; pixels darker than `dark` count as grey, because the hue of black ink is
    noise and bold print would survive the opening. On a coloured `paper` (bool: the bright surface; a
    yellow sign), a surface of the paper's own hue is that paper in a shadow."""
    h, w = size
    bgr = image[:, :, :3]
    if bgr.shape[:2] != (h, w):
        # Nearest is enough: the opening below averages nothing but removes thin strokes either way.
        bgr = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_NEAREST)
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    sat = np.where(hsv[:, :, 2] >= dark, hsv[:, :, 1], 0).astype(np.uint8)
    k = _odd(kernel, 3)
    opened = cv2.morphologyEx(sat, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    coloured = opened >= COLOURED
    if not coloured.any() or np.count_nonzero(coloured & paper) <= 0.5 * np.count_nonzero(paper):
        return coloured
    # OpenCV's hue runs 0..180 around the circle: the paper's hue is a circular mean.
    angle = hsv[:, :, 0].astype(np.float32) * np.float32(np.pi / 90.0)
    mean = math.atan2(float(np.sin(angle[paper]).mean()), float(np.cos(angle[paper]).mean()))
    off = np.abs(np.angle(np.exp(1j * (angle - mean))))
    return coloured & (off > SAME_HUE * np.pi / 90.0)


def estimate_background(small: np.ndarray, kernel: float) -> np.ndarray:
    """Paper brightness under dark ink, on the small copy: a closing wider than any stroke."""
    k = _odd(kernel, 3)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    return cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel)


def ink_thresholds(contrast: np.ndarray, minimum: int = 24) -> tuple[int, int, int]:
    """(low, high, typical ink) thresholds on the contrast image (0 on clean paper, growing with ink).

    Most pixels are paper, so the median and its spread below it give the noise floor (the spread
    above it may already be ink where digits fill a small crop). Above the floor lie
    stroke edges, faint textures (a security print, paper grain) and stroke cores; Otsu's split of that
    tail separates the cores, whose median is the typical ink contrast. `high` is half of it, where a
    blurred stroke's edge sits, and strokes are grown from there down to `low` (hysteresis), so a faint
    stretch of a stroke stays attached while faint marks on their own do not become ink."""
    # Every other row is plenty for a histogram and halves its cost.
    hist = cv2.calcHist([contrast[::2]], [0], None, [256], [0, 256]).ravel()
    total = hist.sum()
    if total <= 0:
        return 255, 255, 255
    cdf = np.cumsum(hist) / total
    median = int(np.searchsorted(cdf, 0.5))
    p25 = int(np.searchsorted(cdf, 0.25))
    noise = max(1.0, (median - p25) / 0.674)
    floor = int(max(minimum, median + 5.0 * noise))
    if floor >= 254:
        return 255, 255, 255
    tail = hist[floor:]
    n = tail.sum()
    if n < 1:
        return floor, floor, 255
    levels = np.arange(floor, 256, dtype=np.float64)
    # Otsu on the tail: the split maximising the between-class variance.
    w0 = np.cumsum(tail)
    m0 = np.cumsum(tail * levels)
    w1 = n - w0
    mean0 = m0 / np.maximum(w0, 1)
    mean1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mean0 - mean1) ** 2
    split = int(np.argmax(between[:-1])) if tail.size > 1 else 0
    upper = tail[split + 1 :]
    if upper.sum() < 1:
        core = floor + split
    else:
        core = floor + split + 1 + int(np.searchsorted(np.cumsum(upper), 0.5 * upper.sum()))
    high = int(np.clip(max(floor, int(HIGH_SHARE * core)), 1, 254))
    low = int(np.clip(max(floor, int(LOW_SHARE * high)), 1, high))
    return low, high, core


def preprocess(image: np.ndarray, polarity: str = "auto", denoise: bool = True) -> Preprocessed:
    """BGR/gray uint8 image → gray, flattened and binary images (ink = 255) and the polarity used."""
    if polarity not in POLARITIES:
        raise ValueError(f"polarity must be one of {POLARITIES}, got {polarity!r}")
    gray = to_gray(image)
    if not gray.flags.c_contiguous:
        gray = np.ascontiguousarray(gray)
    h, w = gray.shape
    small, f = _small_copy(gray)
    # Wider than the thickest stroke: a share of the shorter side for photos, of the longer side for a
    # thin strip (a cheque field whose digits fill its height).
    kernel = max(BACKGROUND_KERNEL * min(h, w), BACKGROUND_KERNEL_LONG * max(h, w), MIN_KERNEL) * f
    if polarity == "auto":
        polarity = detect_polarity(small, kernel)
    work = gray
    if polarity == LIGHT_ON_DARK:
        work = cv2.bitwise_not(gray)
        small = cv2.bitwise_not(small)
    if denoise:
        # A 3×3 Gaussian takes the sensor grain off without erasing a 2-px stroke.
        work = cv2.GaussianBlur(work, (3, 3), 0)
    bg_small = estimate_background(small, kernel)
    hist = cv2.calcHist([bg_small], [0], None, [256], [0, 256]).ravel()
    paper_level = float(np.searchsorted(np.cumsum(hist), 0.95 * bg_small.size))
    not_paper = bg_small < max(1.0, NOT_PAPER * paper_level)
    darker = bg_small < COLOURED_NOT_PAPER * paper_level
    if image.ndim == 3 and image.shape[2] >= 3 and darker.any():
        not_paper |= darker & _coloured_surface(image, small.shape, kernel, GREY_BELOW * paper_level,
                                                  bg_small >= PAPER * paper_level)
    if not_paper.any():
        # One small pixel more: the blurred border between paper and desk is no ink either.
        not_paper = cv2.dilate(not_paper.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        # A background of 1 saturates the division to white: what is not paper holds no dark ink.
        bg_small[not_paper] = 1
    bg = bg_small if f >= 1.0 else cv2.resize(bg_small, (w, h), interpolation=cv2.INTER_LINEAR)
    # normalized = 255·work/bg: paper → 255 wherever the light falls, ink keeps its relative darkness.
    normalized = cv2.divide(work, bg, scale=255)
    contrast = cv2.bitwise_not(normalized)
    low, high, core = ink_thresholds(contrast)
    _, binary = cv2.threshold(contrast, low, 255, cv2.THRESH_BINARY)
    seeds = contrast > high
    faint_level = int(FAINT_SHARE * high) if polarity == DARK_ON_LIGHT else None
    return Preprocessed(gray=gray, normalized=normalized, binary=binary, seeds=seeds, polarity=polarity,
                        thresholds=(low, high), ink_level=core, faint_level=faint_level)
