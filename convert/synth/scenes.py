"""Photo-like test scenes of handwritten digit strings, built from the committed MNIST test digits.

The engine benchmark and the tests need camera pictures with a known truth. Real photos cannot be
committed in bulk, so this module composes them: MNIST test digits are laid out as lines on a sheet of
paper, written in ink of a chosen colour, and the sheet is then "photographed": slight rotation and
perspective, uneven light and shadows, blur, sensor noise and JPEG compression. Distractors that break
naive pipelines (ruled lines, a sheet edge, a smudge, a desk around the sheet, a patterned cheque
background, printed words) are part of the categories.

Everything is a pure function of (category, seed): the same seed gives the same image bytes.
Scenes draw the MNIST *test* digits, so the benchmark never meets the training data; training scenes
(`convert.scene_crops`) draw training digits through `drawn_from`.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gzip
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

CATEGORIES = ("single_line", "multi_line", "cheque_field", "desk_sheet", "words_and_numbers")

DATA_DIR = Path(__file__).resolve().parents[2] / "tests" / "data"
IMAGES_FILE = DATA_DIR / "t10k-images.idx3-ubyte.gz"
LABELS_FILE = DATA_DIR / "t10k-labels.idx1-ubyte.gz"

# A pixel of the composited ink counts towards a digit's truth box from this coverage on: about where a
# binarisation of the photo would still call it ink.
BOX_COVERAGE = 0.35

WORDS = ("LITRES", "TOTAL", "Gallons", "THIS SALE $", "kWh", "No.", "DATE")
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSansCondensed.ttf",
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSansMono.ttf",
)

Box = tuple[int, int, int, int]


@dataclass
class Transition:
    """A counter drum caught between two digits: the drum at `index` of line `line` shows `current`
    rolling out and `next` rolling in, `fraction` (0..1) of the way. The truth text keeps `current`."""

    line: int
    index: int
    current: str
    next: str
    fraction: float


@dataclass
class Scene:
    image: np.ndarray  # BGR uint8
    lines: list[str]  # truth, top to bottom, digits only ('.' only where a meter shows a decimal point)
    boxes: list[list[Box]]  # per line, per character: tight ink box (x, y, w, h) in image coordinates
    category: str
    transition: list[Transition] = field(default_factory=list)
    # Printed words and labels (x, y, w, h), no truth of their own: a crop cut from them is neither a
    # digit nor a sure "not a digit" (an S or a B looks like a 5 or an 8), so scene_crops skips it.
    printed: list[Box] = field(default_factory=list)

    @property
    def text(self) -> str:
        """Lines joined with '|', the way `Reading.text` joins them."""
        return "|".join(self.lines)


# --------------------------------------------------------------------------------------------- MNIST


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    try:
        raw = gzip.decompress(path.read_bytes())
    except OSError as exc:
        raise FileNotFoundError(f"{path}: cannot read the MNIST test file ({exc})") from exc
    header = np.frombuffer(raw, dtype=">u4", count=1 + ndim)
    if int(header[0]) != magic:
        raise ValueError(f"{path}: expected IDX magic {magic}, found {int(header[0])}")
    shape = tuple(int(n) for n in header[1:])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 * (1 + ndim))
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: expected {int(np.prod(shape))} values after the header, found {data.size}")
    return data.reshape(shape)


DigitPool = tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]


def _pool_of(images: np.ndarray, labels: np.ndarray, where: str) -> DigitPool:
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{where}: expected (N, 28, 28) images and N labels, got {images.shape}, {labels.shape}"
        )
    by_label = tuple(np.flatnonzero(labels == d) for d in range(10))
    if any(idx.size == 0 for idx in by_label):
        raise ValueError(f"{where}: every digit 0-9 needs at least one image")
    return images, labels, by_label


@functools.lru_cache(maxsize=1)
def mnist_test() -> DigitPool:
    """(images (N, 28, 28) uint8 255=ink, labels (N,), indices of each digit class)."""
    return _pool_of(_read_idx(IMAGES_FILE, 2051, 3), _read_idx(LABELS_FILE, 2049, 1), str(IMAGES_FILE))


# Scenes for the benchmark and the tests draw MNIST *test* digits; scenes made to train on must draw
# training digits instead (`drawn_from`), or the benchmark would measure digits the network has seen.
_POOL: contextvars.ContextVar[DigitPool | None] = contextvars.ContextVar("digit_pool", default=None)


def _active_pool() -> DigitPool:
    return _POOL.get() or mnist_test()


@contextlib.contextmanager
def drawn_from(images: np.ndarray, labels: np.ndarray) -> Iterator[None]:
    """Scenes made inside this block draw their digits from `images`/`labels` instead of MNIST test."""
    token = _POOL.set(_pool_of(images, labels, "drawn_from"))
    try:
        yield
    finally:
        _POOL.reset(token)


# ------------------------------------------------------------------------------------------- glyphs


@dataclass
class _Glyph:
    """One digit as drawn by the writer, in units of the line's digit height h."""

    char: str
    source: np.ndarray  # float32 0..1, tight crop (slant applied) at MNIST resolution
    stroke: float  # the source's stroke width in its own pixels
    height: float  # × h
    dy: float  # × h, vertical offset from the line's top
    gap: float  # × h, space to the next glyph's tight box (negative: touching/overlapping)

    @property
    def aspect(self) -> float:
        return self.source.shape[1] / self.source.shape[0]


def _tight(a: np.ndarray, level: float = 0.0) -> np.ndarray:
    ys, xs = np.nonzero(a > level)
    if ys.size == 0:
        return a
    return a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _stroke_width(a: np.ndarray) -> float:
    """Stroke width of a digit: for a long thin stroke, area ≈ length × width and the outline is about
    twice the length."""
    mask = (a > 0.5).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return float(max(1.0, 2.0 * float(a.sum()) / perimeter)) if perimeter > 0 else 2.5


@functools.lru_cache(maxsize=10)
def _typical_pool(digit: int) -> np.ndarray:
    """The MNIST test digits of a class most like the class average (top 30% by correlation): clips
    that show one rendering for many frames use these, so a clip does not hinge on one odd sample."""
    images, _, by_label = mnist_test()  # clips are test material: always the test digits
    idx = by_label[digit]
    flat = images[idx].reshape(len(idx), -1).astype(np.float32)
    flat -= flat.mean(axis=1, keepdims=True)
    flat /= np.linalg.norm(flat, axis=1, keepdims=True) + 1e-6
    mean = flat.mean(axis=0)
    score = flat @ (mean / (np.linalg.norm(mean) + 1e-6))
    return idx[np.argsort(-score)[: max(1, int(0.3 * len(idx)))]]


def _mnist_source(rng: np.random.Generator, digit: int, slant: float, typical: bool = False) -> np.ndarray:
    if typical:
        images, _, _ = mnist_test()
        idx = int(rng.choice(_typical_pool(digit)))
    else:
        images, _, by_label = _active_pool()
        idx = int(rng.choice(by_label[digit]))
    src = images[idx].astype(np.float32) / 255.0
    if abs(slant) > 1e-3:
        pad = 8
        src = cv2.copyMakeBorder(src, 0, 0, pad, pad, cv2.BORDER_CONSTANT, value=0.0)
        shear = np.float32([[1.0, -slant, slant * 14.0], [0.0, 1.0, 0.0]])
        src = cv2.warpAffine(src, shear, (src.shape[1], src.shape[0]), flags=cv2.INTER_LINEAR)
    return _tight(src, 0.02)


GAP_MODES = {
    # Gaps between tight digit boxes, in digit heights. "touching" overlaps the boxes by a hair so the
    # strokes of neighbours really merge in places, as in quick handwriting.
    "touching": (-0.05, 0.0),
    "tight": (0.0, 0.07),
    "normal": (0.07, 0.25),
    "wide": (0.25, 0.5),
}


def _writer_glyphs(rng: np.random.Generator, text: str, gap_mode: str, typical: bool = False) -> list[_Glyph]:
    lo, hi = GAP_MODES[gap_mode]
    slant = float(rng.uniform(-0.18, 0.18))
    glyphs = []
    for ch in text:
        glyphs.append(
            _Glyph(
                char=ch,
                source=(src := _mnist_source(rng, int(ch), slant + float(rng.normal(0, 0.04)), typical)),
                stroke=_stroke_width(src),
                height=float(rng.uniform(0.9, 1.08)),
                dy=float(rng.normal(0, 0.035)),
                gap=float(rng.uniform(lo, hi)),
            )
        )
    return glyphs


def _rel_width(glyphs: list[_Glyph]) -> float:
    """Line width in digit heights (for fitting the line into the page before rendering)."""
    return sum(g.aspect * g.height for g in glyphs) + sum(g.gap for g in glyphs[:-1])


# A digit is blotted when more than BLOT_SHARE of its ink lies further than BLOT_REACH stroke half-widths
# (plus a pixel) from its centre line, or more than BLOT_SHARE_MNIST further than BLOT_REACH_MNIST pixels
# of its MNIST original (a thick marker's 9 whose head is a blob hardly wider than its stem). About 3%
# of the MNIST test digits are, at 30-100 px; around those bars the digits' centre lines still show
# them (40 looked at on either side).
BLOT_REACH = 1.5
BLOT_SHARE = 0.04
BLOT_REACH_MNIST = 2.5
BLOT_SHARE_MNIST = 0.08


def _render_glyph(source: np.ndarray, stroke: float, height_px: float, pen: float) -> np.ndarray:
    """Scale a digit to `height_px` and give it the writer's pen width (`pen` × height)."""
    h = max(6, round(height_px))
    w = max(2, round(source.shape[1] * h / source.shape[0]))
    scale = h / source.shape[0]
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    pad = 3
    src = cv2.copyMakeBorder(source, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0.0)
    g = cv2.resize(src, (w + 2, h + 2), interpolation=interp)
    g = cv2.copyMakeBorder(g, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0.0)
    g = np.clip(g, 0.0, 1.0)
    # MNIST strokes are ~12% of the digit height: a felt marker. Writers at large sizes mostly use pens.
    # A thinner pen is drawn along the digit's centre line (eroding MNIST's uneven strokes would wipe
    # out their fainter parts); a thicker one dilates the digit.
    scaled = stroke * scale
    pen_px = max(1.6, pen * h)
    if pen_px < 0.75 * scaled:
        # A blotted loop (a thick 0, the eye of a 6) is a hole only at a higher ink level; keep it open,
        # or the centre line of a 0 becomes a C.
        mask = (g > 0.5) & ~_holes(g > 0.75) & ~_holes(g > 0.9)
        skeleton = _skeleton(_drop_specks(mask))
        if skeleton.any():
            dist = cv2.distanceTransform((~skeleton).astype(np.uint8), cv2.DIST_L2, 5)
            if not _blotted(g > 0.5, skeleton, dist, scale):
                return np.clip(pen_px / 2.0 + 0.5 - dist, 0.0, 1.0).astype(np.float32)
    r = round((pen_px - scaled) / 2.0)
    if r >= 1:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        g = cv2.dilate(g, k)
    if scale > 1.6:
        # An upscaled MNIST digit has edges as soft as the scale factor; real ink has crisp edges that
        # the camera softens afterwards (blur is added later for the whole image).
        g = np.clip((g - 0.3) / 0.4, 0.0, 1.0)
        g = g * g * (3.0 - 2.0 * g)
    return g.astype(np.float32)


def _blotted(ink: np.ndarray, skeleton: np.ndarray, dist: np.ndarray, scale: float) -> bool:
    """Whether the centre line leaves out a part of the digit: a loop filled with ink (the eye of a 6,
    the head of a 9, the top of a 3) thins to a single line, and a 6 drawn along it is an L. Such a
    digit keeps its own shape (drawn as with a marker), or its picture would no longer show its label.
    `dist` is each pixel's distance to the centre line, `scale` the size of an MNIST pixel."""
    inside = cv2.distanceTransform(ink.astype(np.uint8), cv2.DIST_L2, 5)
    half = float(np.median(inside[skeleton]))  # the typical stroke's half width
    far = dist[ink]
    return bool(
        (far > BLOT_REACH * half + 1.0).mean() > BLOT_SHARE
        or (far > BLOT_REACH_MNIST * scale).mean() > BLOT_SHARE_MNIST
    )


def _holes(mask: np.ndarray) -> np.ndarray:
    """Pixels of the background enclosed by the shape."""
    n, labels = cv2.connectedComponents((~mask).astype(np.uint8), connectivity=4)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    enclosed = np.setdiff1d(np.arange(1, n), border)
    return np.isin(labels, enclosed)


def _drop_specks(mask: np.ndarray) -> np.ndarray:
    """Without MNIST's faint, detached specks: drawn along their centre line they would become dots."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= 0.08 * areas.max()) + 1
    return np.isin(labels, keep)


def _skeleton(mask: np.ndarray) -> np.ndarray:
    """One-pixel centre line of a binary shape (Zhang–Suen thinning)."""
    img = np.pad(mask.astype(np.uint8), 1)
    changed = True
    while changed:
        changed = False
        for step in (0, 1):
            c = img[1:-1, 1:-1]
            p2, p3, p4 = img[:-2, 1:-1], img[:-2, 2:], img[1:-1, 2:]
            p5, p6, p7 = img[2:, 2:], img[2:, 1:-1], img[2:, :-2]
            p8, p9 = img[1:-1, :-2], img[:-2, :-2]
            ring = (p2, p3, p4, p5, p6, p7, p8, p9, p2)
            neighbours = sum(ring[:8])
            transitions = sum((ring[i] == 0) & (ring[i + 1] == 1) for i in range(8))
            if step == 0:
                keep = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
            else:
                keep = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            remove = (c == 1) & (neighbours >= 2) & (neighbours <= 6) & (transitions == 1) & keep
            if remove.any():
                c[remove] = 0
                changed = True
    return img[1:-1, 1:-1].astype(bool)


def _pen_for(rng: np.random.Generator, height_px: float) -> float:
    """Stroke width as a fraction of digit height: fine pen to marker, never under ~1.6 px."""
    width_px = float(rng.uniform(1.8, 4.5)) if rng.random() < 0.75 else float(rng.uniform(4.0, 9.0))
    return float(np.clip(width_px / max(height_px, 1.0), 0.05, 0.16))


# ------------------------------------------------------------------------------------------ layers


class _Page:
    """The sheet in its own (flat) coordinates, before the camera looks at it."""

    def __init__(
        self, width: int, height: int, paper_bgr: np.ndarray, rng: np.random.Generator | None
    ) -> None:
        """`rng=None` leaves the page flat (the caller paints its own background)."""
        self.width = width
        self.height = height
        self.rgb = np.empty((height, width, 3), np.float32)
        self.rgb[:] = paper_bgr
        if rng is not None:
            self._texture(rng)
        self.digit_points: list[list[np.ndarray]] = []  # per line, per digit: (N, 2) ink pixel coords
        self.lines: list[str] = []
        self.printed: list[tuple[float, float, float, float]] = []  # x0, y0, x1, y1 of printed words

    def _texture(self, rng: np.random.Generator) -> None:
        h, w = self.height, self.width
        coarse = cv2.resize(rng.standard_normal((max(2, h // 60), max(2, w // 60)), np.float32), (w, h))
        fine = cv2.GaussianBlur(rng.standard_normal((h, w), np.float32), (0, 0), 0.8)
        tex = 1.0 + 0.012 * coarse + 0.012 * fine
        self.rgb *= tex[..., None]

    def blend(self, alpha: np.ndarray, colour: np.ndarray, x: int = 0, y: int = 0) -> None:
        """Lay `colour` over the page with coverage `alpha` (2-D, 0..1) at (x, y)."""
        h, w = alpha.shape
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, self.width), min(y + h, self.height)
        if x1 <= x0 or y1 <= y0:
            return
        a = alpha[y0 - y : y1 - y, x0 - x : x1 - x, None]
        region = self.rgb[y0:y1, x0:x1]
        region *= 1.0 - a
        region += a * colour

    def print_word(self, alpha: np.ndarray, colour: np.ndarray, x: int, y: int) -> None:
        """`blend` for a printed word or label (from `_printed_word`): its place is recorded."""
        self.blend(alpha, colour, x, y)
        self.printed.append((x, y, x + alpha.shape[1], y + alpha.shape[0]))

    def write_line(
        self, glyphs: list[_Glyph], x: float, y: float, h: float, pen: float, ink: np.ndarray, strength: float
    ) -> None:
        coverage = []
        cx = x
        for g in glyphs:
            patch = _render_glyph(g.source, g.stroke, g.height * h, pen) * strength
            pad = 3
            gx = round(cx) - pad - 1
            gy = round(y + (g.dy + (1.0 - g.height) * 0.6) * h) - pad - 1
            coverage.append((patch, gx, gy))
            cx += (patch.shape[1] - 2 * pad - 2) + g.gap * h
        # Digits are written one over the other where they touch: coverage adds, ink colour stays.
        x0 = min(gx for _, gx, _ in coverage)
        y0 = min(gy for _, _, gy in coverage)
        x1 = max(gx + p.shape[1] for p, gx, _ in coverage)
        y1 = max(gy + p.shape[0] for p, _, gy in coverage)
        line_alpha = np.zeros((y1 - y0, x1 - x0), np.float32)
        points = []
        for patch, gx, gy in coverage:
            sub = line_alpha[gy - y0 : gy - y0 + patch.shape[0], gx - x0 : gx - x0 + patch.shape[1]]
            np.maximum(sub, patch, out=sub)
            ys, xs = np.nonzero(patch >= BOX_COVERAGE * strength)
            points.append(np.stack([xs + gx, ys + gy], axis=1).astype(np.float32))
        self.blend(line_alpha, ink, x0, y0)
        self.digit_points.append(points)
        self.lines.append("".join(g.char for g in glyphs))


def _paper_colour(rng: np.random.Generator) -> np.ndarray:
    kind = rng.choice(["white", "cream", "grey", "bluish"], p=[0.45, 0.25, 0.2, 0.1])
    base = {
        "white": (238, 240, 242),
        "cream": (205, 232, 243),
        "grey": (212, 214, 214),
        "bluish": (240, 228, 220),
    }[kind]
    return np.array(base, np.float32) + rng.normal(0, 4, 3).astype(np.float32)


def _ink_colour(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """(BGR ink colour, opacity): blue ballpoint, black pen/marker, grey pencil."""
    kind = rng.choice(["blue", "black", "grey"], p=[0.4, 0.4, 0.2])
    if kind == "blue":
        colour = (rng.uniform(110, 170), rng.uniform(35, 80), rng.uniform(10, 45))
        return np.array(colour, np.float32), float(rng.uniform(0.85, 1.0))
    if kind == "black":
        v = rng.uniform(15, 45)
        return np.array((v, v, v + rng.uniform(0, 8)), np.float32), float(rng.uniform(0.9, 1.0))
    v = rng.uniform(70, 105)
    return np.array((v, v, v), np.float32), float(rng.uniform(0.75, 0.92))


def _ruled_lines(
    page: _Page, rng: np.random.Generator, pitch: float, phase: float, grid: bool = False, margin: bool = True
) -> None:
    colour = np.array(rng.choice([(225, 190, 150), (200, 200, 200), (210, 170, 140)]), np.float32)
    colour = colour * page.rgb.mean() / 235.0
    alpha = np.zeros((page.height, page.width), np.float32)
    strength = float(rng.uniform(0.35, 0.7))
    thick = 1 if pitch < 40 or rng.random() < 0.6 else 2
    y = phase % pitch
    while y < page.height:
        cv2.line(alpha, (0, int(y)), (page.width, int(y)), strength, thick, cv2.LINE_AA)
        y += pitch
    if grid:
        x = float(rng.uniform(0, pitch))
        while x < page.width:
            cv2.line(alpha, (int(x), 0), (int(x), page.height), strength, thick, cv2.LINE_AA)
            x += pitch
    page.blend(alpha, colour)
    if margin and not grid and rng.random() < 0.4:
        mx = int(page.width * rng.uniform(0.1, 0.16))
        red = np.zeros_like(alpha)
        cv2.line(red, (mx, 0), (mx, page.height), 0.6, 2, cv2.LINE_AA)
        page.blend(red, np.array((110, 110, 215), np.float32))


def _smudge(page: _Page, rng: np.random.Generator, x: float, y: float, size: float) -> None:
    axes = (max(3, int(size * rng.uniform(0.4, 1.0))), max(2, int(size * rng.uniform(0.15, 0.45))))
    half = int(axes[0] + size * 0.75) + 2
    alpha = np.zeros((2 * half, 2 * half), np.float32)
    cv2.ellipse(alpha, (half, half), axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), size * 0.25) * float(rng.uniform(0.12, 0.3))
    page.blend(alpha, np.array((80, 85, 95), np.float32), int(x) - half, int(y) - half)


def _specks(page: _Page, rng: np.random.Generator, count: int) -> None:
    alpha = np.zeros((page.height, page.width), np.float32)
    for _ in range(count):
        cv2.circle(
            alpha,
            (int(rng.uniform(0, page.width)), int(rng.uniform(0, page.height))),
            int(rng.integers(0, 2)),
            float(rng.uniform(0.3, 0.7)),
            -1,
            cv2.LINE_AA,
        )
    page.blend(alpha, np.array((60, 60, 60), np.float32))


def _frame_box(page: _Page, rng: np.random.Generator, x0: float, y0: float, x1: float, y1: float) -> None:
    """A printed rectangle around the writing field (a form box)."""
    w, h = int(x1 - x0), int(y1 - y0)
    alpha = np.zeros((h + 5, w + 5), np.float32)
    cv2.rectangle(alpha, (2, 2), (w + 2, h + 2), float(rng.uniform(0.5, 0.9)), 1 + int(rng.random() < 0.5))
    page.blend(alpha, np.array((60, 60, 60), np.float32), int(x0) - 2, int(y0) - 2)


# ------------------------------------------------------------------------------------------ camera


def _camera_homography(
    rng: np.random.Generator,
    out_w: int,
    out_h: int,
    page_origin: tuple[float, float],
    max_deg: float = 4.0,
    perspective: float = 0.03,
) -> np.ndarray:
    """Page → image homography: the image rectangle seen on the page, rotated and in slight perspective."""
    ox, oy = page_origin
    theta = math.radians(float(rng.uniform(-max_deg, max_deg)))
    c, s = math.cos(theta), math.sin(theta)
    cx, cy = out_w / 2.0, out_h / 2.0
    corners = np.float32([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]])
    on_page = []
    for px, py in corners:
        dx, dy = px - cx, py - cy
        jitter = rng.uniform(-perspective, perspective, 2) * (out_w, out_h)
        on_page.append((ox + cx + c * dx - s * dy + jitter[0], oy + cy + s * dx + c * dy + jitter[1]))
    return cv2.getPerspectiveTransform(np.float32(on_page), corners)


def _project_boxes(page: _Page, m: np.ndarray) -> list[list[Box]]:
    boxes = []
    for line in page.digit_points:
        line_boxes = []
        for pts in line:
            if pts.size == 0:
                line_boxes.append((0, 0, 0, 0))
                continue
            q = cv2.perspectiveTransform(pts.reshape(-1, 1, 2), m).reshape(-1, 2)
            x0, y0 = np.floor(q.min(axis=0)).astype(int)
            x1, y1 = np.ceil(q.max(axis=0)).astype(int)
            line_boxes.append((int(x0), int(y0), int(x1 - x0) + 1, int(y1 - y0) + 1))
        boxes.append(line_boxes)
    return boxes


def project_printed(page: _Page, m: np.ndarray) -> list[Box]:
    """The printed words' boxes in frame coordinates (the bounding box of each projected rectangle)."""
    out = []
    for x0, y0, x1, y1 in page.printed:
        corners = np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]).reshape(-1, 1, 2)
        q = cv2.perspectiveTransform(corners, m).reshape(-1, 2)
        (bx0, by0), (bx1, by1) = np.floor(q.min(axis=0)), np.ceil(q.max(axis=0))
        out.append((int(bx0), int(by0), int(bx1 - bx0), int(by1 - by0)))
    return out


def _lighting(rng: np.random.Generator, h: int, w: int, shadow: bool = True) -> np.ndarray:
    """A multiplicative light field: gradient, vignetting and (sometimes) a soft shadow.

    Light varies slowly, so it is computed on a 1/8 grid and interpolated up."""
    f = 8
    sh, sw = max(2, h // f), max(2, w // f)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    angle = float(rng.uniform(0, 2 * math.pi))
    ramp = (xx * math.cos(angle) + yy * math.sin(angle)) / float(
        sw * abs(math.cos(angle)) + sh * abs(math.sin(angle))
    )
    ramp -= ramp.min()
    light = 1.0 - float(rng.uniform(0.0, 0.4)) * ramp
    r2 = ((xx - sw / 2) / (sw / 2)) ** 2 + ((yy - sh / 2) / (sh / 2)) ** 2
    light *= 1.0 - float(rng.uniform(0.0, 0.15)) * r2 / 2.0
    if shadow and rng.random() < 0.55:
        # A hand/phone shadow: a blurred polygon entering from one side.
        mask = np.zeros((sh, sw), np.float32)
        pts = _shadow_polygon(rng, sw, sh, int(rng.integers(4)))
        cv2.fillPoly(mask, [pts], 1.0, cv2.LINE_AA)
        mask = cv2.GaussianBlur(mask, (0, 0), max(sh, sw) * float(rng.uniform(0.02, 0.06)))
        light *= 1.0 - float(rng.uniform(0.25, 0.5)) * mask
    light *= float(rng.uniform(0.85, 1.08))
    return cv2.resize(light, (w, h), interpolation=cv2.INTER_LINEAR)


def _shadow_polygon(rng: np.random.Generator, w: int, h: int, side: int) -> np.ndarray:
    depth = float(rng.uniform(0.15, 0.5))
    if side == 0:  # from the left
        a, b = rng.uniform(0, h, 2)
        pts = [(0, 0), (depth * w * rng.uniform(0.5, 1.5), a), (depth * w * rng.uniform(0.5, 1.5), b), (0, h)]
    elif side == 1:  # from the right
        a, b = rng.uniform(0, h, 2)
        pts = [(w, 0), (w - depth * w, a), (w - depth * w * rng.uniform(0.5, 1.5), b), (w, h)]
    elif side == 2:  # from the top
        a, b = rng.uniform(0, w, 2)
        pts = [(0, 0), (a, depth * h), (b, depth * h * rng.uniform(0.5, 1.5)), (w, 0)]
    else:  # from the bottom
        a, b = rng.uniform(0, w, 2)
        pts = [(0, h), (a, h - depth * h), (b, h - depth * h * rng.uniform(0.5, 1.5)), (w, h)]
    return np.array(pts, np.int32)


def _sensor(rng: np.random.Generator, img: np.ndarray, blur: float, noise: float, quality: int) -> np.ndarray:
    """Lens blur, sensor noise (stronger in the dark), 8-bit quantisation and JPEG."""
    if blur > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    if noise > 0:
        shot = rng.standard_normal(img.shape[:2], np.float32)[..., None]
        chroma = 0.35 * rng.standard_normal(img.shape, np.float32)
        img = img + noise * (shot + chroma) * (0.6 + 0.4 * (1.0 - img / 255.0))
    out = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("cv2.imencode failed for a generated scene")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def _camera_params(rng: np.random.Generator, digit_h: float) -> tuple[float, float, int]:
    """(blur sigma, noise sigma, JPEG quality): small digits get at most a little blur, as a focused
    camera would give them; a 20 px digit is still legible, a 100 px one may be quite soft."""
    blur = float(rng.uniform(0.0, 1.0)) * min(1.6, 0.35 + 0.012 * digit_h)
    noise = float(rng.uniform(1.0, 6.0))
    quality = int(rng.integers(55, 93))
    return blur, noise, quality


# ----------------------------------------------------------------------------------------- scenes


def _frame_size(rng: np.random.Generator) -> tuple[int, int]:
    return (1280, 720) if rng.random() < 0.2 else (640, 480)


def _digits(rng: np.random.Generator, lo: int = 3, hi: int = 9) -> str:
    n = int(rng.integers(lo, hi + 1))
    return "".join(str(int(d)) for d in rng.integers(0, 10, n))


def _gap_mode(rng: np.random.Generator) -> str:
    return str(rng.choice(list(GAP_MODES), p=[0.15, 0.3, 0.4, 0.15]))


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _finish(
    rng: np.random.Generator,
    page: _Page,
    m: np.ndarray,
    out_w: int,
    out_h: int,
    digit_h: float,
    category: str,
    background: np.ndarray | None = None,
    page_mask: np.ndarray | None = None,
) -> Scene:
    """Photograph the page: warp it into the frame, light it, and pass it through the camera."""
    img = cv2.warpPerspective(
        page.rgb, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    if background is not None and page_mask is not None:
        mask = cv2.warpPerspective(page_mask, m, (out_w, out_h), flags=cv2.INTER_LINEAR)[..., None]
        img = img * mask + background * (1.0 - mask)
    img = img * _lighting(rng, out_h, out_w)[..., None]
    blur, noise, quality = _camera_params(rng, digit_h)
    image = _sensor(rng, img, blur, noise, quality)
    boxes = _project_boxes(page, m)
    order = sorted(range(len(page.lines)), key=lambda i: _line_centre_y(boxes[i]))
    return Scene(
        image, [page.lines[i] for i in order], [boxes[i] for i in order], category,
        printed=project_printed(page, m),
    )


def _line_centre_y(boxes: list[Box]) -> float:
    return float(np.mean([y + h / 2 for _, y, _, h in boxes]))


def _sheet_scene(rng: np.random.Generator, category: str, n_lines: int) -> Scene:
    """Handwritten lines on a sheet filling the frame (single_line / multi_line)."""
    out_w, out_h = _frame_size(rng)
    pad = int(0.15 * max(out_w, out_h))
    page = _Page(out_w + 2 * pad, out_h + 2 * pad, _paper_colour(rng), rng)
    ink, strength = _ink_colour(rng)
    scale = out_h / 480.0

    texts = [_digits(rng) for _ in range(n_lines)]
    glyph_lines = [_writer_glyphs(rng, t, _gap_mode(rng)) for t in texts]
    margin_x, margin_y = 0.09 * out_w, 0.1 * out_h
    avail_w, avail_h = out_w - 2 * margin_x, out_h - 2 * margin_y
    pitch_factor = float(rng.uniform(1.4, 2.2))
    if n_lines == 1:
        wanted = _log_uniform(rng, 20, 110) * scale
        block = 1.0
    else:
        wanted = _log_uniform(rng, 20, 75) * scale
        block = 1.0 + pitch_factor * (n_lines - 1)
    max_w = max(_rel_width(g) for g in glyph_lines)
    h = min(wanted, avail_w / max_w, avail_h / (block + 0.1))
    pitch = pitch_factor * h

    top = page.height / 2 - block * h / 2 + float(rng.uniform(-0.5, 0.5)) * max(0.0, avail_h - block * h)
    left_align = n_lines > 1 and rng.random() < 0.6
    x_common = pad + margin_x + float(rng.uniform(0, 1)) * max(0.0, avail_w - max_w * h)
    pen = _pen_for(rng, h)
    if rng.random() < 0.45:
        _ruled_lines(
            page,
            rng,
            pitch if n_lines > 1 else h * float(rng.uniform(1.3, 1.8)),
            top + h * 1.05,
            grid=rng.random() < 0.25,
        )
    if rng.random() < 0.2:
        _frame_box(
            page,
            rng,
            pad + margin_x * 0.4,
            top - 0.4 * h,
            pad + out_w - margin_x * 0.4,
            top + block * h + 0.3 * h,
        )
    for i, glyphs in enumerate(glyph_lines):
        width = _rel_width(glyphs) * h
        if left_align:
            x = x_common + float(rng.uniform(-0.1, 0.1)) * h
        else:
            x = pad + margin_x + float(rng.uniform(0, 1)) * max(0.0, avail_w - width)
        page.write_line(glyphs, x, top + i * pitch, h, pen, ink, strength)
    _distractors(page, rng, pad, out_w, out_h, h)
    m = _camera_homography(rng, out_w, out_h, (pad, pad))
    background = page_mask = None
    if rng.random() < 0.3:
        # The sheet ends inside the frame on one side: a strip of table beyond the paper edge.
        background = _desk_texture(rng, out_h, out_w)
        page_mask = _sheet_edge_mask(rng, page, pad, out_w, out_h, margin_x * 0.5, margin_y * 0.5)
    return _finish(rng, page, m, out_w, out_h, h, category, background, page_mask)


def _sheet_edge_mask(
    rng: np.random.Generator, page: _Page, pad: int, out_w: int, out_h: int, mx: float, my: float
) -> np.ndarray:
    """A page mask whose edge runs through the margin on one side (not through the writing)."""
    mask = np.ones((page.height, page.width), np.float32)
    side = int(rng.integers(4))
    if side == 0:
        mask[:, : int(pad + rng.uniform(0.2, 0.9) * mx)] = 0
    elif side == 1:
        mask[:, int(pad + out_w - rng.uniform(0.2, 0.9) * mx) :] = 0
    elif side == 2:
        mask[: int(pad + rng.uniform(0.2, 0.9) * my), :] = 0
    else:
        mask[int(pad + out_h - rng.uniform(0.2, 0.9) * my) :, :] = 0
    return mask


def _distractors(page: _Page, rng: np.random.Generator, pad: int, out_w: int, out_h: int, h: float) -> None:
    if rng.random() < 0.35:
        _smudge(
            page,
            rng,
            pad + rng.uniform(0.1, 0.9) * out_w,
            pad + rng.uniform(0.1, 0.9) * out_h,
            float(rng.uniform(0.5, 1.5)) * max(h, 30),
        )
    if rng.random() < 0.3:
        _specks(page, rng, int(rng.integers(1, 8)))


def _desk_texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Wood grain, a dark laminate or a grey fabric-like surface (float BGR)."""
    kind = rng.choice(["wood", "dark", "grey"], p=[0.5, 0.3, 0.2])
    if kind == "wood":
        grain = cv2.resize(
            rng.normal(0, 1, (max(2, h // 3), 6)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC
        )
        rings = np.sin(np.linspace(0, float(rng.uniform(15, 40)), h, dtype=np.float32)[:, None] + 2.5 * grain)
        fine = cv2.GaussianBlur(rng.standard_normal((h, w), np.float32), (0, 0), 1.0)
        base = np.array((rng.uniform(40, 70), rng.uniform(75, 110), rng.uniform(120, 165)), np.float32)
        tex = base * (1.0 + 0.14 * rings + 0.05 * fine)[..., None]
        if rng.random() < 0.5:
            tex = cv2.rotate(cv2.resize(tex, (h, w)), cv2.ROTATE_90_CLOCKWISE)
        return tex
    fine = cv2.GaussianBlur(rng.standard_normal((h, w), np.float32), (0, 0), 1.2)
    coarse = cv2.resize(rng.normal(0, 1, (max(2, h // 50), max(2, w // 50))).astype(np.float32), (w, h))
    v = rng.uniform(25, 55) if kind == "dark" else rng.uniform(90, 140)
    base = np.array((v, v * rng.uniform(0.95, 1.05), v * rng.uniform(0.95, 1.1)), np.float32)
    return base * (1.0 + 0.06 * fine + 0.05 * coarse)[..., None]


def _desk_sheet(rng: np.random.Generator) -> Scene:
    """A sheet lying on a desk, its edge and the desk in view; the digits sit on the sheet, some of them
    close to its edge."""
    out_w, out_h = _frame_size(rng)
    scale = out_h / 480.0
    # The sheet in its own coordinates; the camera sees a part of it plus desk on one or two sides.
    sheet_w, sheet_h = int(out_w * rng.uniform(0.75, 1.1)), int(out_h * rng.uniform(0.7, 1.1))
    page = _Page(sheet_w, sheet_h, _paper_colour(rng), rng)
    ink, strength = _ink_colour(rng)
    n_lines = int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2]))
    texts = [_digits(rng) for _ in range(n_lines)]
    glyph_lines = [_writer_glyphs(rng, t, _gap_mode(rng)) for t in texts]
    pitch_factor = float(rng.uniform(1.4, 2.0))
    block = 1.0 + pitch_factor * (n_lines - 1)
    # Where the sheet sits in the frame: shifted so that one or two of its edges are inside.
    shift_x = float(rng.uniform(-0.25, 0.25)) * out_w
    shift_y = float(rng.uniform(-0.25, 0.25)) * out_h
    cx, cy = out_w / 2 + shift_x, out_h / 2 + shift_y
    # Visible part of the sheet (in sheet coords, before rotation), shrunk for safety margins.
    vis_x0 = max(0.0, sheet_w / 2 - cx) + 0.06 * out_w
    vis_x1 = min(float(sheet_w), sheet_w / 2 + (out_w - cx)) - 0.06 * out_w
    vis_y0 = max(0.0, sheet_h / 2 - cy) + 0.07 * out_h
    vis_y1 = min(float(sheet_h), sheet_h / 2 + (out_h - cy)) - 0.07 * out_h
    avail_w, avail_h = vis_x1 - vis_x0, vis_y1 - vis_y0
    wanted = _log_uniform(rng, 20, 90 if n_lines == 1 else 60) * scale
    max_w = max(_rel_width(g) for g in glyph_lines)
    h = min(wanted, avail_w / max_w, avail_h / (block + 0.1))
    top = vis_y0 + float(rng.uniform(0, 1)) * max(0.0, avail_h - block * h)
    pen = _pen_for(rng, h)
    if rng.random() < 0.3:
        _ruled_lines(page, rng, pitch_factor * h, top + 1.05 * h, margin=False)
    for i, glyphs in enumerate(glyph_lines):
        width = _rel_width(glyphs) * h
        x = vis_x0 + float(rng.uniform(0, 1)) * max(0.0, avail_w - width)
        page.write_line(glyphs, x, top + i * pitch_factor * h, h, pen, ink, strength)
    if rng.random() < 0.3:
        _smudge(
            page,
            rng,
            rng.uniform(0, sheet_w),
            rng.uniform(0, sheet_h),
            float(rng.uniform(0.5, 1.5)) * max(h, 30),
        )
    # Sheet → image: rotate about its centre, move to (cx, cy), slight perspective.
    theta = math.radians(float(rng.uniform(-4, 4)))
    c, s = math.cos(theta), math.sin(theta)
    src = np.float32([[0, 0], [sheet_w, 0], [sheet_w, sheet_h], [0, sheet_h]])
    dst = []
    for px, py in src:
        dx, dy = px - sheet_w / 2, py - sheet_h / 2
        j = rng.uniform(-0.025, 0.025, 2) * (out_w, out_h)
        dst.append((cx + c * dx - s * dy + j[0], cy + s * dx + c * dy + j[1]))
    m = cv2.getPerspectiveTransform(src, np.float32(dst))
    desk = _desk_texture(rng, out_h, out_w)
    # The sheet casts a thin shadow on the desk, and its edge is slightly lifted.
    shadow = cv2.warpPerspective(np.ones((sheet_h, sheet_w), np.float32), m, (out_w, out_h))
    off = np.float32([[1, 0, rng.uniform(2, 6) * scale], [0, 1, rng.uniform(2, 6) * scale]])
    shadow = cv2.GaussianBlur(cv2.warpAffine(shadow, off, (out_w, out_h)), (0, 0), 4 * scale)
    desk = desk * (1.0 - 0.45 * shadow)[..., None]
    page_mask = np.ones((sheet_h, sheet_w), np.float32)
    return _finish(rng, page, m, out_w, out_h, h, "desk_sheet", desk, page_mask)


def _guilloche(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Security-paper background: pale tint with fine interfering wave lines (float BGR)."""
    base = np.array(
        rng.choice([(220, 235, 225), (235, 225, 230), (240, 232, 215), (215, 230, 240)]), np.float32
    )
    base = base + rng.normal(0, 4, 3).astype(np.float32)
    line_col = base * float(rng.uniform(0.72, 0.85))
    alpha = np.zeros((h * 2, w * 2), np.float32)  # drawn at 2× and downscaled: finer, anti-aliased
    xs = np.arange(0, w * 2, 2, dtype=np.float32)
    families = int(rng.integers(2, 4))
    for _ in range(families):
        amp = float(rng.uniform(0.15, 0.6)) * h * 2
        period = float(rng.uniform(0.6, 2.5)) * h * 2
        spacing = float(rng.uniform(3, 7)) * 2
        phase = float(rng.uniform(0, 2 * math.pi))
        for off in np.arange(-amp, h * 2 + amp, spacing):
            ys = off + amp * np.sin(xs / period * 2 * math.pi + phase + off * 0.01)
            pts = np.stack([xs, ys], axis=1).astype(np.int32)
            cv2.polylines(alpha, [pts], False, 1.0, 1, cv2.LINE_AA)
    alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_AREA) * float(rng.uniform(0.5, 0.9))
    img = np.empty((h, w, 3), np.float32)
    img[:] = base
    return img * (1.0 - alpha[..., None]) + line_col * alpha[..., None]


def _cheque_field(rng: np.random.Generator) -> Scene:
    """A small, tightly cropped amount field (35–60 px high) on a patterned background."""
    out_h = int(rng.integers(35, 61))
    text = _digits(rng)
    glyphs = _writer_glyphs(rng, text, str(rng.choice(["touching", "tight", "normal"], p=[0.25, 0.4, 0.35])))
    h = out_h * float(rng.uniform(0.55, 0.72))
    width = _rel_width(glyphs) * h
    lead = int(rng.uniform(0.3, 1.5) * h)
    tail = int(rng.uniform(0.3, 1.5) * h)
    dash = rng.random() < 0.3
    out_w = int(lead + width + tail + (0.8 * h if dash else 0))
    pad = 8
    page = _Page(out_w + 2 * pad, out_h + 2 * pad, np.zeros(3, np.float32), rng)
    page.rgb[:] = cv2.copyMakeBorder(_guilloche(rng, out_h, out_w), pad, pad, pad, pad, cv2.BORDER_REFLECT)
    if rng.random() < 0.6:  # the printed field border / baseline
        alpha = np.zeros((page.height, page.width), np.float32)
        by = int(pad + out_h * rng.uniform(0.82, 0.95))
        cv2.line(alpha, (0, by), (page.width, by), float(rng.uniform(0.4, 0.8)), 1, cv2.LINE_AA)
        page.blend(alpha, np.array((90, 80, 70), np.float32))
    ink, strength = _ink_colour(rng)
    pen = _pen_for(rng, h)
    y = pad + (out_h - h) / 2 + float(rng.uniform(-0.08, 0.08)) * h
    x = pad + lead
    page.write_line(glyphs, x, y, h, pen, ink, strength)
    if dash:
        # The stroke written after an amount so nothing can be added: must not become a digit.
        alpha = np.zeros((page.height, page.width), np.float32)
        x0 = int(x + width + 0.15 * h)
        ym = int(y + h * rng.uniform(0.45, 0.6))
        cv2.line(
            alpha,
            (x0, ym),
            (x0 + int(0.55 * h), ym - int(rng.uniform(-0.05, 0.1) * h)),
            strength,
            max(1, round(pen * h)),
            cv2.LINE_AA,
        )
        page.blend(alpha, ink)
    m = _camera_homography(rng, out_w, out_h, (pad, pad), max_deg=2.0, perspective=0.01)
    return _finish(rng, page, m, out_w, out_h, h, "cheque_field")


def _font(size_px: int, font_index: int):
    from PIL import ImageFont

    path = FONT_DIR / FONT_FILES[font_index % len(FONT_FILES)]
    if path.exists():
        return ImageFont.truetype(str(path), size_px)
    return ImageFont.load_default(size_px)


def _printed_word(word: str, cap_height: float, font_index: int) -> np.ndarray:
    """A printed word as coverage (float 0..1), its capital letters `cap_height` px high."""
    from PIL import Image, ImageDraw

    size = max(8, round(cap_height / 0.73))
    font = _font(size, font_index)
    left, top, right, bottom = font.getbbox(word)
    canvas = Image.new("L", (right - left + 4, bottom - top + 4), 0)
    ImageDraw.Draw(canvas).text((2 - left, 2 - top), word, fill=255, font=font)
    return np.asarray(canvas, np.float32) / 255.0


def _words_and_numbers(rng: np.random.Generator) -> Scene:
    """A printed form or receipt: printed labels and units next to handwritten numbers; the truth is only
    the digit strings."""
    out_w, out_h = _frame_size(rng)
    pad = int(0.15 * max(out_w, out_h))
    page = _Page(out_w + 2 * pad, out_h + 2 * pad, _paper_colour(rng), rng)
    ink, strength = _ink_colour(rng)
    scale = out_h / 480.0
    n_lines = int(rng.integers(1, 4))
    header = rng.random() < 0.4
    rows = []
    for _ in range(n_lines):
        word = str(rng.choice(WORDS))
        text = _digits(rng, 3, 6 if word == "DATE" else 7)
        after = word in ("kWh", "Gallons") and rng.random() < 0.7
        rows.append((word, text, after, _writer_glyphs(rng, text, _gap_mode(rng))))
    margin_x, margin_y = 0.08 * out_w, 0.1 * out_h
    avail_w, avail_h = out_w - 2 * margin_x, out_h - 2 * margin_y
    font_index = int(rng.integers(len(FONT_FILES)))
    cap_ratio = float(rng.uniform(0.45, 0.8))
    gaps = [float(rng.uniform(0.3, 0.9)) for _ in rows]
    # Label widths in digit heights, measured on a 100 px rendering of the chosen font.
    label_rel = [_printed_word(w, 100.0, font_index).shape[1] / 100.0 * cap_ratio for w, *_ in rows]
    max_w = max(_rel_width(g) + lr + gp for (*_, g), lr, gp in zip(rows, label_rel, gaps, strict=True))
    pitch_factor = float(rng.uniform(1.5, 2.2))
    block = 1.0 + pitch_factor * (n_lines - 1 + (1 if header else 0))
    h = min(_log_uniform(rng, 22, 80) * scale, avail_w / max_w, avail_h / (block + 0.1))
    top = pad + margin_y + float(rng.uniform(0, 1)) * max(0.0, avail_h - block * h)
    pen = _pen_for(rng, h)
    print_col = np.array((40, 40, 40), np.float32) + rng.normal(0, 8, 3).astype(np.float32)
    if rng.random() < 0.3:
        print_col = np.array((120, 60, 30), np.float32)  # a blue printed form
    cap = h * cap_ratio
    y = top
    x_left = pad + margin_x + float(rng.uniform(0, 1)) * max(0.0, avail_w - max_w * h)
    if header:
        title = str(rng.choice(["RECEIPT", "METER READING", "Pump", "Customer copy"]))
        label = _printed_word(title, cap, font_index)
        label = label[:, : max(1, int(pad + margin_x + avail_w - x_left))]  # a long title may run off
        page.print_word(label, print_col, int(x_left), int(y + h - label.shape[0]))
        y += pitch_factor * h
    for (word, _text, after, glyphs), gap_rel in zip(rows, gaps, strict=True):
        label = _printed_word(word, cap, font_index)
        gap = h * gap_rel
        width = _rel_width(glyphs) * h
        baseline = y + h
        if after:
            page.write_line(glyphs, x_left, y, h, pen, ink, strength)
            lx = int(x_left + width + gap)
        else:
            lx = int(x_left)
            page.write_line(glyphs, x_left + label.shape[1] + gap, y, h, pen, ink, strength)
        page.print_word(label, print_col, lx, int(baseline - label.shape[0] + rng.uniform(-0.05, 0.1) * h))
        if rng.random() < 0.5:  # the dotted/underlined writing field of a form
            alpha = np.zeros((page.height, page.width), np.float32)
            ly = int(baseline + 0.12 * h)
            cv2.line(
                alpha,
                (int(x_left), ly),
                (int(x_left + width + label.shape[1] + 2 * gap), ly),
                0.5,
                1,
                cv2.LINE_AA,
            )
            page.blend(alpha, print_col)
        y += pitch_factor * h
    _distractors(page, rng, pad, out_w, out_h, h)
    m = _camera_homography(rng, out_w, out_h, (pad, pad))
    return _finish(rng, page, m, out_w, out_h, h, "words_and_numbers")


def _valid(scene: Scene) -> bool:
    """Every truth digit fully inside the frame: a layout that pushed one out is redrawn."""
    h, w = scene.image.shape[:2]
    if not scene.lines or any(len(t) != len(b) for t, b in zip(scene.lines, scene.boxes, strict=True)):
        return False
    return all(
        x >= 1 and y >= 1 and x + bw <= w - 1 and y + bh <= h - 1 and bw > 0 and bh > 0
        for line in scene.boxes
        for x, y, bw, bh in line
    )


_BUILDERS = {
    "single_line": lambda rng: _sheet_scene(rng, "single_line", 1),
    "multi_line": lambda rng: _sheet_scene(rng, "multi_line", int(rng.integers(2, 6))),
    "cheque_field": lambda rng: _cheque_field(rng),
    "desk_sheet": lambda rng: _desk_sheet(rng),
    "words_and_numbers": lambda rng: _words_and_numbers(rng),
}


def make_scene(category: str, seed: int) -> Scene:
    """One scene of `category` (see CATEGORIES); a pure function of (category, seed)."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown scene category {category!r}; expected one of {', '.join(CATEGORIES)}")
    for attempt in range(20):
        rng = np.random.default_rng([int(seed), CATEGORIES.index(category), 0x5CE4E, attempt])
        scene = _BUILDERS[category](rng)
        if _valid(scene):
            return scene
    raise RuntimeError(f"could not lay out a {category} scene for seed {seed}")


def benchmark_set(n_per_category: int, seed: int = 0) -> list[Scene]:
    """`n_per_category` scenes of every category, in CATEGORIES order; deterministic in `seed`."""
    return [make_scene(cat, seed * 1_000_003 + i) for cat in CATEGORIES for i in range(n_per_category)]


def frame_640(seed: int) -> tuple[np.ndarray, str]:
    """A 640×480 frame with 6–10 digits on one or two lines (speed benchmark); returns (image, text)."""
    rng = np.random.default_rng([int(seed), 0xF640])
    out_w, out_h = 640, 480
    total = int(rng.integers(6, 11))
    n_lines = 1 if total < 8 or rng.random() < 0.5 else 2
    split = [total] if n_lines == 1 else [total // 2, total - total // 2]
    pad = 96
    page = _Page(out_w + 2 * pad, out_h + 2 * pad, _paper_colour(rng), rng)
    ink, strength = _ink_colour(rng)
    glyph_lines = [
        _writer_glyphs(rng, _digits(rng, n, n), str(rng.choice(["tight", "normal"]))) for n in split
    ]
    max_w = max(_rel_width(g) for g in glyph_lines)
    pitch = 1.8
    block = 1.0 + pitch * (n_lines - 1)
    h = min(_log_uniform(rng, 30, 70), 0.8 * out_w / max_w, 0.75 * out_h / block)
    top = pad + (out_h - block * h) / 2
    pen = _pen_for(rng, h)
    for i, glyphs in enumerate(glyph_lines):
        x = pad + (out_w - _rel_width(glyphs) * h) / 2
        page.write_line(glyphs, x, top + i * pitch * h, h, pen, ink, strength)
    m = _camera_homography(rng, out_w, out_h, (pad, pad), max_deg=3.0, perspective=0.02)
    scene = _finish(rng, page, m, out_w, out_h, h, "frame_640")
    return scene.image, scene.text
