"""Training crops for what MNIST lacks: printed, seven-segment and counter-drum digits, and the reject
class (letters, symbols, strokes, clutter, cut-off digits).

Every crop is rendered as ink coverage at a camera-like size (16–80 px), photographed and binarised by
`convert.synth.camera`, and normalised by `edge_digits.normalize.normalize_digit`, the function the
camera path uses, so training sees what the device will see. Crop i of (domain, seed) depends only on
(seed, domain, i): a set of n is a prefix of a set of n + k, and another seed gives a held-apart set.

    x, y = generate("printed", 20000, seed=0)      # (n, 28, 28) uint8, 255 = ink; (n,) int64
    x, y, meta = generate_with_meta("reject", 100, seed=1)

`python -m convert.synth.glyphs --sheets docs/img` writes a 10×10 contact sheet per domain.
No TensorFlow here: the training side imports this, the device never does.
"""

from __future__ import annotations

import argparse
import string
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from convert.synth import camera, drum, fonts, sevenseg, strokes
from edge_digits.normalize import normalize_digit
from edge_digits.reader import REJECT

DOMAINS = ("reject", "printed", "sevenseg", "drum")
REJECT_LABEL = REJECT  # the classifier's "not a digit" class, as the device reads it

# Letters a camera crop cannot tell from a digit when seen alone. Training them as "reject" would teach
# the network to reject real digits, so they are never rendered; the engine drops words by context.
EXCLUDED_LETTERS = {
    "O": "0", "o": "0", "Q": "0 (the tail is a pen flick on many zeros)",
    "D": "0 (a narrow D is an upright 0)",
    "I": "1", "l": "1", "i": "1 (the dot is a speck the segmenter drops)", "j": "1 (same as i)",
    "r": "1 (a small bold serif r is a stem with serifs: a printed 1)",
    "Z": "2", "z": "2",
    "S": "5", "s": "5",
    "G": "6", "b": "6",
    "B": "8",
    "g": "9", "q": "9",
}  # fmt: skip
# Symbols excluded for the same reason: "|" and "!" are a 1 once the "!" dot is dropped as a speck.
# "/" and "\" written at a 1's lean are a 1, so they only appear as strokes leaning ≥ 45° (cheque_mark).
EXCLUDED_SYMBOLS = {"|": "1", "!": "1", "/": "1 (slanted)", "\\": "1 (slanted)"}
# In the Hershey script faces a few more capitals are digit-like: the script T and J are a 7 and a 1/7.
EXCLUDED_SCRIPT = {"T": "7", "J": "7 or 1", "L": "2 (script L is a looped 2)"}
EXCLUDED = {**EXCLUDED_LETTERS, **EXCLUDED_SYMBOLS}

LETTERS = "".join(c for c in string.ascii_letters if c not in EXCLUDED_LETTERS)
SYMBOLS = "$€£%#+*:;=()[]@&?~_,.-"
HERSHEY_SYMBOLS = "".join(c for c in SYMBOLS if c.isascii())

_MAX_TRIES = 60


def _height(rng: np.random.Generator, low: float = 16.0, high: float = 80.0) -> float:
    """Glyph height in camera pixels, log-uniform: small glyphs are as common as large ones."""
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _style(rng: np.random.Generator) -> tuple[float, float]:
    """(slant, squeeze): upright or oblique; normal, condensed or a little wide."""
    slant = rng.uniform(0.08, 0.35) if rng.random() < 0.3 else rng.normal(0.0, 0.03)
    u = rng.random()
    squeeze = rng.uniform(0.55, 0.92) if u < 0.3 else rng.uniform(1.05, 1.25) if u < 0.4 else 1.0
    return float(slant), float(squeeze)


Face = tuple  # ("ttf", path, bold) or ("hershey", name, thickness_share, italic)


def choose_face(rng: np.random.Generator, script: bool = True) -> Face:
    """A random typeface: an installed font (regular or emboldened) or a Hershey face (maybe italic)."""
    families = fonts.font_families()
    if families and rng.random() < 0.65:
        family = families[int(rng.integers(len(families)))]
        bold = float(rng.uniform(0.02, 0.07)) if rng.random() < 0.25 else 0.0
        return ("ttf", family[int(rng.integers(len(family)))], bold)
    faces = list(fonts.HERSHEY) if script else [f for f in fonts.HERSHEY if f not in fonts.HERSHEY_SCRIPT]
    face = faces[int(rng.integers(len(faces)))]
    italic = face not in fonts.HERSHEY_SCRIPT and rng.random() < 0.3
    return ("hershey", face, float(rng.uniform(0.03, 0.12)), italic)


def face_name(face: Face) -> str:
    if face[0] == "ttf":
        return f"ttf:{Path(face[1]).name}" + ("+bold" if face[2] else "")
    return f"hershey:{face[1]}" + ("+italic" if face[3] else "")


def draw_glyph(face: Face, char: str, height: float) -> np.ndarray | None:
    """Coverage of `char` in `face`, a digit being about `height` px tall; None if the face lacks it."""
    if face[0] == "ttf":
        if not fonts.has_glyph(face[1], char):
            return None
        return fonts.render_ttf(face[1], char, height, round(height * face[2]))
    if not char.isascii() or (face[1] in fonts.HERSHEY_SCRIPT and char in EXCLUDED_SCRIPT):
        return None
    thickness = max(1, round(height * face[2]))
    return fonts.render_hershey(char, face[1], height, thickness, face[3])


def render_text_glyph(
    rng: np.random.Generator, char: str, height: float, script: bool = True
) -> tuple[np.ndarray, str] | None:
    """Coverage of one character in a random face, and the face's name; None if that face cannot
    draw it (the caller draws again)."""
    face = choose_face(rng, script)
    coverage = draw_glyph(face, char, height)
    return None if coverage is None else (coverage, face_name(face))


# ---------------------------------------------------------------------------------------------------
# Domains. Each sampler draws one crop's ink mask from rng, or returns None to be drawn again.

Sample = tuple[np.ndarray, int, dict]


def _printed(rng: np.random.Generator) -> Sample | None:
    digit = int(rng.integers(10))
    height = _height(rng)
    glyph = render_text_glyph(rng, str(digit), height)
    if glyph is None:
        return None
    coverage, face = glyph
    slant, squeeze = _style(rng)
    mask = camera.capture(coverage, rng, height, slant, squeeze)
    if mask is None:
        return None
    return mask, digit, {"kind": "printed", "char": str(digit), "face": face, "height": height}


def _sevenseg(rng: np.random.Generator) -> Sample | None:
    digit = int(rng.integers(10))
    # Below ~26 px the gaps a camera resolves are wider than the segments are long: scattered dots,
    # not a display. Small displays blur into solid digits, which the printed domain covers.
    height = _height(rng, 26.0, 90.0)
    coverage, info = sevenseg.render(digit, height, rng)
    # Blur no wider than half the gap, so the segments stay separate pieces in the mask.
    mask = camera.capture(coverage, rng, height, info["slant"], 1.0, blur_limit=info["gap"] / 2.5)
    if mask is None or _components(mask) < 2:
        return None
    return mask, digit, {"kind": "sevenseg", "char": str(digit), "face": info["style"], "height": height}


def _drum(rng: np.random.Generator) -> Sample | None:
    height = _height(rng)
    face = choose_face(rng, script=False)
    window = drum.render(rng, lambda c: draw_glyph(face, c, height))
    if window is None:
        return None
    coverage, label, info = window
    slant = rng.normal(0.0, 0.03)
    squeeze = rng.uniform(0.7, 1.05)
    mask = camera.capture(coverage, rng, height, slant, squeeze, min_extent=0.6)
    if mask is None:
        return None
    return (
        mask,
        label,
        {"kind": "drum", "char": str(label), "face": face_name(face), "height": height, **info},
    )


def _reject_text(rng: np.random.Generator, alphabet: str, kind: str) -> Sample | None:
    char = alphabet[int(rng.integers(len(alphabet)))]
    height = _height(rng)
    glyph = render_text_glyph(rng, char, height)
    if glyph is None:
        return None
    coverage, face = glyph
    slant, squeeze = _style(rng)
    mask = camera.capture(coverage, rng, height, slant, squeeze, keep_whole=True)
    if mask is None:
        return None
    return mask, REJECT_LABEL, {"kind": kind, "char": char, "face": face, "height": height}


def _reject_mark(
    rng: np.random.Generator, makers: dict[str, Callable[[np.random.Generator, float], np.ndarray]], kind: str
) -> Sample | None:
    names = list(makers)
    name = names[int(rng.integers(len(names)))]
    height = _height(rng)
    coverage = makers[name](rng, height)
    mask = camera.capture(coverage, rng, height, float(rng.normal(0, 0.1)), 1.0, keep_whole=kind == "stroke")
    if mask is None:
        return None
    return mask, REJECT_LABEL, {"kind": kind, "char": "", "face": name, "height": height}


# Cut-off digits whose remaining part still reads as that digit (or as a 0 or 1): not rendered.
PARTIAL_KEEPS_IDENTITY = {
    (1, "top"), (1, "bottom"), (1, "left"), (1, "right"),  # any piece of a 1 is a bar
    (7, "top"), (7, "right"), (2, "top"), (3, "right"), (4, "top"), (4, "right"),
    (9, "top"), (6, "bottom"), (8, "top"), (8, "bottom"),  # the loop alone is a 0
}  # fmt: skip
# Seven-segment pieces are straight bars: any top or right part is a 7 or a 1 (a, b, c), and so is
# the bottom of a 4, 7 or 9 (segment c, maybe d).
SEVENSEG_PARTIAL_KEEPS_IDENTITY = {(4, "bottom"), (7, "bottom"), (9, "bottom")}
_SIDES = ("top", "bottom", "left", "right")


def _reject_partial_digit(rng: np.random.Generator) -> Sample | None:
    """A digit cut by the crop edge so only 25–45 % of it is in view."""
    digit = int(rng.integers(10))
    side = int(rng.integers(4))  # which part stays in view: top, bottom, left, right
    if (digit, _SIDES[side]) in PARTIAL_KEEPS_IDENTITY:
        return None
    height = _height(rng)
    if rng.random() < 0.25:
        if (digit, _SIDES[side]) in SEVENSEG_PARTIAL_KEEPS_IDENTITY or _SIDES[side] in ("top", "right"):
            return None
        coverage, info = sevenseg.render(digit, height, rng)
        face = info["style"]
    else:
        glyph = render_text_glyph(rng, str(digit), height)
        if glyph is None:
            return None
        coverage, face = glyph
    coverage = np.array(coverage, np.float32)
    ys, xs = np.nonzero(coverage > 0.5)
    if ys.size == 0:
        return None
    keep = rng.uniform(0.25, 0.45)
    lo, hi = (int(ys.min()), int(ys.max()) + 1) if side < 2 else (int(xs.min()), int(xs.max()) + 1)
    cut = round(lo + keep * (hi - lo)) if side % 2 == 0 else round(hi - keep * (hi - lo))
    view = coverage if side < 2 else coverage.T  # a view: writing to it cuts `coverage`
    if side % 2 == 0:
        view[cut:] = 0
    else:
        view[:cut] = 0
    mask = camera.capture(coverage, rng, height, float(rng.normal(0, 0.05)), 1.0, keep_whole=True)
    if mask is None:
        return None
    meta = {"kind": "partial_digit", "char": "", "face": f"{face}:{digit}:{_SIDES[side]}", "height": height}
    return mask, REJECT_LABEL, meta


_REJECT_KINDS: tuple[tuple[float, Callable[[np.random.Generator], Sample | None]], ...] = (
    (0.36, lambda r: _reject_text(r, LETTERS, "letter")),
    (0.18, lambda r: _reject_text(r, SYMBOLS, "symbol")),
    (0.18, lambda r: _reject_mark(r, strokes.STROKES, "stroke")),
    (0.16, lambda r: _reject_mark(r, strokes.CLUTTER, "clutter")),
    (0.12, _reject_partial_digit),
)


def _reject(rng: np.random.Generator) -> Sample | None:
    weights = np.array([w for w, _ in _REJECT_KINDS])
    k = int(rng.choice(len(_REJECT_KINDS), p=weights / weights.sum()))
    # Retry within the kind, so kinds that often draw an unusable render keep their share.
    for _ in range(20):
        sample = _REJECT_KINDS[k][1](rng)
        if sample is not None:
            return sample
    return None


_SAMPLERS: dict[str, Callable[[np.random.Generator], Sample | None]] = {
    "reject": _reject,
    "printed": _printed,
    "sevenseg": _sevenseg,
    "drum": _drum,
}


# ---------------------------------------------------------------------------------------------------
# Guards: a reject crop that happens to look like a written 1 or 0 would teach the network to reject
# real ones. Thresholds were set against the MNIST test digits (see docs/glyphs.md).

ONE_ELONGATION = 0.36  # minor/major spread of the ink below this, near vertical: a stroke like a 1
ONE_MAX_LEAN_DEG = 45.0
ZERO_HOLE_SHARE = 0.18  # one hole this large inside the ink's box: a loop like a 0


def looks_like_one(x: np.ndarray) -> bool:
    """A single near-vertical bar: elongated ink whose main axis leans less than 45°."""
    m = cv2.moments(np.where(x >= 128, 1, 0).astype(np.uint8), binaryImage=True)
    if m["m00"] < 3:
        return False
    a, b, c = m["mu20"] / m["m00"], m["mu11"] / m["m00"], m["mu02"] / m["m00"]
    # Eigen-decomposition of the 2×2 covariance [[a, b], [b, c]] in closed form.
    mean, diff = (a + c) / 2, np.hypot((a - c) / 2, b)
    major, minor = mean + diff, max(mean - diff, 0.0)
    if major <= 0:
        return False
    elongation = float(np.sqrt(minor / major))
    # Main axis angle from vertical: 0 for an upright bar, 90 for a horizontal one.
    lean = abs(np.degrees(0.5 * np.arctan2(2 * b, c - a)))
    return elongation < ONE_ELONGATION and lean < ONE_MAX_LEAN_DEG


def looks_like_zero(x: np.ndarray) -> bool:
    """A loop: one hole filling a large part of the ink's box, spanning most of it both ways."""
    binary = np.where(x >= 128, 255, 0).astype(np.uint8)
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return False
    holes = [c for c, h in zip(contours, hierarchy[0], strict=True) if h[3] >= 0]
    if not holes:
        return False
    ys, xs = np.nonzero(binary)
    box_h, box_w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    big = max(holes, key=cv2.contourArea)
    _, _, hw, hh = cv2.boundingRect(big)
    share = cv2.contourArea(big) / float(box_h * box_w)
    return share >= ZERO_HOLE_SHARE and hh >= 0.45 * box_h and hw >= 0.45 * box_w


def passes_for_digit(crop: np.ndarray) -> bool:
    """A "no digit" crop that a digit could look exactly like (a bar: 1, a loop: 0). Such crops are
    never trained as rejects: that would teach the network to reject real 1s and 0s."""
    return looks_like_one(crop) or looks_like_zero(crop)


def _components(mask: np.ndarray) -> int:
    return cv2.connectedComponents(mask, connectivity=8)[0] - 1


# ---------------------------------------------------------------------------------------------------


def generate_with_meta(domain: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Like `generate`, plus one dict per crop: kind, char (the character rendered, "" for marks),
    face (font file, Hershey face or stroke maker), height (px of the render), components (connected
    pieces of the ink mask before normalisation)."""
    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {DOMAINS}, got {domain!r}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    sampler = _SAMPLERS[domain]
    key = DOMAINS.index(domain)
    # The images are tiny: OpenCV's worker threads cost more than they save (3× slower on a busy box).
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        return _generate(sampler, domain, key, n, seed)
    finally:
        cv2.setNumThreads(threads)


def _generate(
    sampler: Callable[[np.random.Generator], Sample | None], domain: str, key: int, n: int, seed: int
) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    x = np.zeros((n, 28, 28), np.uint8)
    y = np.zeros(n, np.int64)
    meta: list[dict] = []
    for i in range(n):
        rng = np.random.default_rng([seed, key, i])
        for _ in range(_MAX_TRIES):
            sample = sampler(rng)
            if sample is None:
                continue
            mask, label, info = sample
            crop = normalize_digit(mask)
            if not crop.any():
                continue
            if label == REJECT_LABEL and passes_for_digit(crop):
                continue
            break
        else:
            raise RuntimeError(f"{domain} crop {i} (seed {seed}): no usable render in {_MAX_TRIES} tries")
        x[i], y[i] = crop, label
        meta.append({**info, "components": _components(mask)})
    return x, y, meta


def generate(domain: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n crops of `domain` (one of DOMAINS): x (n, 28, 28) uint8, 255 = ink, 0 = background;
    y (n,) int64, the digit 0..9, or REJECT_LABEL (10) for "reject". Deterministic in (domain, n, seed)."""
    x, y, _ = generate_with_meta(domain, n, seed)
    return x, y


def contact_sheet(x: np.ndarray, y: np.ndarray, cols: int = 10, zoom: int = 3) -> np.ndarray:
    """Crops in a grid, each upscaled, with its label drawn small in the corner."""
    n = len(x)
    rows = (n + cols - 1) // cols
    cell = 28 * zoom + 2
    sheet = np.full((rows * cell, cols * cell), 60, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        big = cv2.resize(x[i], (28 * zoom, 28 * zoom), interpolation=cv2.INTER_NEAREST)
        sheet[r * cell + 1 : r * cell + 1 + 28 * zoom, c * cell + 1 : c * cell + 1 + 28 * zoom] = big
        text = "R" if y[i] == REJECT_LABEL else str(int(y[i]))
        cv2.putText(sheet, text, (c * cell + 3, r * cell + 12), cv2.FONT_HERSHEY_PLAIN, 0.8, 140, 1)
    return sheet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m convert.synth.glyphs", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sheets", metavar="DIR", required=True, help="write glyphs_<domain>.png here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--domains", nargs="*", default=list(DOMAINS), choices=DOMAINS)
    args = parser.parse_args(argv)
    out = Path(args.sheets)
    out.mkdir(parents=True, exist_ok=True)
    for domain in args.domains:
        x, y = generate(domain, 100, args.seed)
        path = out / f"glyphs_{domain}.png"
        tmp = path.with_suffix(".tmp.png")
        cv2.imwrite(str(tmp), contact_sheet(x, y), [cv2.IMWRITE_PNG_COMPRESSION, 9])
        tmp.replace(path)
        print(f"{path}: {path.stat().st_size} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
