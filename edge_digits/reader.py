"""The recognition engine: image → Reading (lines of digits with boxes, confidences and stage timings).

    preprocess (gray, flat light, polarity, ink mask) → segment (candidates in lines)
    → normalize (MNIST-style 28×28) → classify (all crops of the frame in one invoke) → decide

Deciding is where context comes in. A candidate much wider than its line's digits is also classified as
two or more cut pieces, and whichever reading the network is surer of wins. A crop whose best class is
"reject" is no digit: inside a digit string it becomes '?', at the edge of one it is dropped, and a word
that is mostly rejects (LITRES, TOTAL) is dropped whole, so the one letter that looks like a 1 or a 0
does not leak through. A digit under the confidence threshold is reported as '?', never guessed. A
counter's drum caught turning reads the digit leaving its window, as a counter's value is floored: the
turning-drum network (convert/turning.py), when given, reads that digit from the drum's whole window
(both pieces, where the window's edges cut them); else, or when it is unsure, the digit network's
reading of the digit that shows more decides.

Under automatic polarity a reading with an unknown digit, or without a line of NUMBER_DIGITS digits, is
read again the other way round (a display lighter than the photo around it), and the second reading
wins only as a sure number at least as long as the first.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import cv2
import numpy as np

from edge_digits.normalize import normalize_digit, window_crop
from edge_digits.preprocess import DARK_ON_LIGHT, LIGHT_ON_DARK, POLARITIES, Preprocessed, preprocess
from edge_digits.reading import UNKNOWN, Box, Digit, Line, Reading
from edge_digits.segment import Candidate, Segmentation, median_of
from edge_digits.segment_display import DisplayFixes, segment_display

log = logging.getLogger(__name__)

REJECT = 10  # the classifier's "not a digit" class
# Tokens: neighbours further apart than this share of the smaller one's height belong to different
# words (printed words sit ≥ 0.3 digit heights from the number they label).
WORD_GAP = 0.35
# A run of digits this much shorter than the line's tallest run is a printed label when it stood next to
# a reject or holds an unsure digit.
SHORT_TOKEN = 0.85
# ... and a run on a line with rejects less than this share of the height of the photo's tallest number.
PAGE_LABEL = 0.5
# At the end of a run next to a word, a glyph this much smaller than the run is a lower-case letter.
SMALL_LETTER = 0.75
# Digits of one number are never further apart than this share of their height (wider is a label).
HELD_MAX_GAP = 0.8
# Choosing between a wide candidate read whole or cut into pieces: each extra piece must pay for itself
# with this much more mean log-confidence, so a wide 0 is not read as "11".
SPLIT_PENALTY = 0.12
SPLIT_MIN_CONFIDENCE = 0.75
SPLIT_MIN_REJECTED = 0.55  # ... or this when the whole is no digit (two touching digits are rejected)
# A single digit is seldom much wider than tall: against a cut, a candidate wider than WIDE_FROM times its
# height read whole pays WIDE_PENALTY per height of extra width (two touching digits read as a wide 2 or 0)
WIDE_FROM = 1.1
WIDE_PENALTY = 1.0
WIDE_SURE = 0.97  # ... when the cut gives digits at least this sure (a wide 0 cuts into doubtful ones)
# Under automatic polarity, a reading with an unknown digit, or without a line of this many digits, is
# tried the other way round too.
NUMBER_DIGITS = 3
# The turning-drum network decides a turning drum when at least this sure; else the digit network's
# reading of it stands. On the windows of 491 held-apart turning drums it was this sure of 481, one of
# them wrong (at 0.5: 489 and 6). Its first network, which saw the digit crop instead of the window,
# was this sure of 352 of 411, 5 of them wrong.
TURNING_SURE = 0.9
# A row with a drum caught turning holds at least this many sure digits at rest.
COUNTER_DIGITS = 2


class Classifier(Protocol):
    def probabilities(self, crops: np.ndarray) -> np.ndarray: ...


@dataclass
class ReaderSettings:
    """Everything that tunes reading; the daemon's `reader:` config section maps onto it."""

    confidence_threshold: float = 0.5  # a digit less sure than this is reported as '?'
    polarity: str = "auto"  # "auto", "dark_on_light" (ink on paper) or "light_on_dark" (LED/LCD digits)
    decimal_point: bool = False  # report a dot on the baseline between digits as '.'
    min_digit_height: float = 0.01  # as a share of the image height ...
    min_digit_pixels: int = 8  # ... but never under this many pixels (smaller cannot be read)
    max_digit_height: float = 0.95  # as a share of the image height
    max_side: int = 2000  # larger images are read downscaled to this longest side (boxes stay as given)
    split_touching: bool = True  # try cutting candidates much wider than a digit into several digits
    drop_words: bool = True  # drop words that are mostly non-digits
    denoise: bool = True

    def __post_init__(self) -> None:
        if self.polarity not in POLARITIES:
            raise ValueError(f"polarity: expected one of {', '.join(POLARITIES)}, got {self.polarity!r}")
        if not 0.0 <= self.confidence_threshold <= 1.0:
            raise ValueError(f"confidence_threshold: expected 0..1, got {self.confidence_threshold}")
        if not 0.0 < self.min_digit_height < self.max_digit_height:
            raise ValueError(
                f"min_digit_height/max_digit_height: expected 0 < min < max, got "
                f"{self.min_digit_height}/{self.max_digit_height}"
            )
        if self.max_side < 32:
            raise ValueError(f"max_side: expected at least 32, got {self.max_side}")


def as_image(image: Any) -> np.ndarray | None:
    """Whatever came in → a gray or BGR uint8 array, or None when it cannot be an image.

    Cameras and files deliver uint8; other dtypes are scaled sensibly (floats 0..1 or 0..255, 16-bit
    by their range) so that the engine never fails on them."""
    try:
        a = np.asarray(image)
    except Exception:
        return None
    if a.dtype == object or a.dtype.kind not in "biuf" or a.size == 0:
        return None
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 3 and a.shape[2] not in (3, 4):
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or min(a.shape[:2]) < 1:
        return None
    if a.ndim == 3 and a.shape[2] == 4:
        a = a[:, :, :3]
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if a.dtype == np.bool_:
        return np.ascontiguousarray(a.astype(np.uint8) * 255)
    f = a.astype(np.float64)
    if not np.isfinite(f).all():
        f = np.nan_to_num(f, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(f.min()), float(f.max())
    if a.dtype.kind == "f" and lo >= 0.0 and hi <= 1.0:
        f = f * 255.0
    elif lo < 0.0 or hi > 255.0:
        # Scaled in two steps: hi - lo may not be representable for the widest floats.
        f = (f / 2 - lo / 2) * (255.0 / (hi / 2 - lo / 2)) if hi > lo else np.zeros_like(f)
    return np.ascontiguousarray(np.clip(f + 0.5, 0, 255).astype(np.uint8))


@dataclass
class _Item:
    """One decided position of a line: a digit, '?', a reject, or a decimal point."""

    box: tuple[int, int, int, int]  # working-image x, y, w, h
    kind: str  # "digit", "reject", "dot"
    value: str = UNKNOWN
    confidence: float = 0.0
    alternative: str = UNKNOWN
    alternative_confidence: float = 0.0
    held: bool = False  # a reject kept as '?' because it sits in a number (never dropped as a stray mark)
    drum: bool = False  # a counter's drum caught turning: a digit of the counter, however unsure
    guess: str = UNKNOWN  # the top digit class, also when `value` is '?' for want of confidence


# Per line, per candidate: (candidate, index of its whole crop in the batch or -1 for a dot, and for each
# way to cut it: (pieces, index of the first piece's crop)).
Slots = list[list[tuple[Candidate, int, list[tuple[list[Candidate], int]]]]]


@dataclass
class Trace:
    """What read() saw on the way: for the stage pictures, and for training on what the reader sees."""

    work: np.ndarray
    scale: float  # working image = input × scale
    pre: Preprocessed | None = None
    seg: Segmentation | None = None
    fixes: DisplayFixes | None = None  # what the display steps found (windows, frames, dials, dots)
    batch: np.ndarray | None = None  # every crop classified, (N, 28, 28) uint8
    drums: dict[int, np.ndarray] = field(default_factory=dict)  # turning drums' windows by crop index
    slots: Slots = field(default_factory=list)
    items: list[list[_Item]] = field(default_factory=list)


class DigitReader:
    """Reads every digit string in an image. One instance per classifier; not thread-safe (the
    interpreter is not)."""

    def __init__(
        self,
        classifier: Classifier,
        settings: ReaderSettings | None = None,
        turning: Classifier | None = None,
    ) -> None:
        self.classifier = classifier
        self.settings = settings or ReaderSettings()
        # The turning-drum network (convert/turning.py): the leaving digit of a drum caught turning.
        self.turning = turning

    def read(self, image: Any) -> Reading:
        return self._read(image)[0]

    def read_debug(self, image: Any) -> tuple[Reading, dict[str, np.ndarray]]:
        """The reading and the stage pictures (gray, normalized, binary, components, final)."""
        from edge_digits.debug import stage_pictures

        reading, trace = self._read(image)
        return reading, stage_pictures(image, reading, trace)

    def read_traced(self, image: Any) -> tuple[Reading, Trace | None]:
        """The reading and what led to it (None when the input is no image)."""
        return self._read(image)

    # ------------------------------------------------------------------------------------------------

    def _read(self, image: Any) -> tuple[Reading, Trace | None]:
        t0 = time.perf_counter()
        s = self.settings
        img = as_image(image)
        if img is None:
            shape = getattr(image, "shape", ())
            size = (int(shape[1]), int(shape[0])) if len(shape) >= 2 else (0, 0)
            return Reading((), size, {"total": _ms(t0)}), None
        h, w = img.shape[:2]
        scale = min(1.0, s.max_side / max(h, w))
        work = img
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            work = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        timings: dict[str, float] = {}
        if min(work.shape[:2]) < s.min_digit_pixels:
            timings["total"] = _ms(t0)
            return Reading((), (w, h), timings), Trace(work, scale)
        lines, trace = self._pass(work, scale, s.polarity, timings)
        if s.polarity == "auto" and trace.pre is not None and not _sure_number(lines, trace):
            # Which way round the marks are is decided for the whole photo. A display of the other
            # polarity than most of the photo (a light LCD on a red pump under white lettering) reads as
            # nothing or as rejects; read the other way round, it may read. That reading is taken when
            # it is a sure number at least as long as the first reading's longest line (not the same
            # number with its unsure digit lost).
            other = DARK_ON_LIGHT if trace.pre.polarity == LIGHT_ON_DARK else LIGHT_ON_DARK
            other_lines, other_trace = self._pass(work, scale, other, timings)
            if _sure_number(other_lines, other_trace) and _longest(other_lines) >= _longest(lines):
                lines, trace = other_lines, other_trace
        timings["total"] = _ms(t0)
        return Reading(tuple(lines), (w, h), timings), trace

    def _pass(self, work: np.ndarray, scale: float, polarity: str,
              timings: dict[str, float]) -> tuple[list[Line], Trace]:
        """One reading of the working image in one polarity ("auto": decided from it). The stage
        timings are added to `timings` (two passes cost both)."""
        s = self.settings
        trace = Trace(work, scale)
        wh = work.shape[0]

        def timed(stage: str, t: float) -> None:
            timings[stage] = timings.get(stage, 0.0) + _ms(t)

        t = time.perf_counter()
        pre = preprocess(work, polarity, s.denoise)
        timed("preprocess", t)
        trace.pre = pre

        t = time.perf_counter()
        min_h = max(float(s.min_digit_pixels), s.min_digit_height * wh)
        max_h = max(min_h + 1.0, s.max_digit_height * wh)
        seg, trace.fixes = segment_display(
            pre.binary, min_h, max_h, s.decimal_point, pre.seeds, pre.gray, pre.polarity != LIGHT_ON_DARK,
            pre.faint if pre.faint_level is not None else None,
        )
        timed("segment", t)
        trace.seg = seg

        t = time.perf_counter()
        crops: list[np.ndarray] = []
        slots: Slots = []

        def crop(c: Candidate) -> np.ndarray:
            return normalize_digit(c.mask(seg.labels), ink=pre.ink(c.x, c.y, c.w, c.h))

        for line in seg.lines:
            row = []
            for c in line.candidates:
                if c.kind != "glyph":
                    row.append((c, -1, []))
                    continue
                crops.append(crop(c))
                whole = len(crops) - 1
                alts = []
                if s.split_touching:
                    for pieces in c.splits:
                        first = len(crops)
                        crops.extend(crop(p) for p in pieces)
                        alts.append((pieces, first))
                row.append((c, whole, alts))
            slots.append(row)
        batch = np.stack(crops) if crops else np.zeros((0, 28, 28), np.uint8)
        trace.drums = {whole: window_crop(pre.gray, c.window) for row in slots for c, whole, _ in row
                       if c.window is not None and whole >= 0}
        timed("normalize", t)
        trace.batch, trace.slots = batch, slots

        t = time.perf_counter()
        probs = self.classifier.probabilities(batch) if len(batch) else np.zeros((0, 11), np.float32)
        floors: dict[int, np.ndarray] = {}
        if self.turning is not None and trace.drums:
            windows = np.stack(list(trace.drums.values()))
            floors = dict(zip(trace.drums, self.turning.probabilities(windows), strict=True))
        timed("classify", t)

        lines = []
        ranked = _Ranked(probs)
        decided = [_counter_drums_only(self._decide_line(row, ranked, floors)) for row in slots]
        page = _number_height(decided)
        for items, tline in zip(decided, seg.lines, strict=True):
            if s.drop_words:
                items = _drop_words(items, tline.height, page)
            trace.items.append(items)
            digits = tuple(self._digit(it, scale) for it in items)
            if digits and any(d.value != "." for d in digits):
                lines.append(Line(digits))
        return lines, trace

    def _item(self, box: tuple[int, int, int, int], r: _Ranked, k: int) -> _Item:
        top, second = r.top[k], r.second[k]
        if top >= REJECT:
            return _Item(box, "reject", UNKNOWN, r.p_top[k])
        conf = r.p_top[k]
        alt = str(second) if second < REJECT else UNKNOWN
        value = str(top) if conf >= self.settings.confidence_threshold else UNKNOWN
        return _Item(box, "digit", value, conf, alt, r.p_second[k], guess=str(top))

    def _decide_line(self, row: list, r: _Ranked, floors: dict[int, np.ndarray]) -> list[_Item]:
        """The items of one line; `floors`: the turning-drum network's output by crop index."""
        items: list[_Item] = []
        for c, whole, alts in row:
            if whole < 0:
                items.append(_Item((c.x, c.y, c.w, c.h), "dot", ".", 1.0))
                continue
            best_pieces: list[Candidate] | None = None
            best_first = whole
            best_score = r.score(whole, 1)
            wide = WIDE_PENALTY * max(0.0, c.w / max(c.h, 1) - WIDE_FROM)
            whole_rejected = r.top[whole] >= REJECT and r.p_top[whole] >= 0.9
            # A cut must give confident digits throughout: cut letters give doubtful ones. And what the
            # network calls surely no digit is not cut into strokes that mostly pass for 1s (N, W, M).
            floor = SPLIT_MIN_REJECTED if r.top[whole] >= REJECT else SPLIT_MIN_CONFIDENCE
            for pieces, first in alts:
                least = min(r.digit_conf(first, len(pieces)))
                if least < floor:
                    continue
                ones = r.top[first : first + len(pieces)].count(1)
                if whole_rejected and 3 * ones >= 2 * len(pieces):
                    continue
                score = r.score(first, len(pieces)) - SPLIT_PENALTY * (len(pieces) - 1)
                if least >= WIDE_SURE:
                    score += wide  # sure digits from a candidate too wide for one
                if score > best_score:
                    best_pieces, best_first, best_score = pieces, first, score
            if c.turning:
                box = (c.x, c.y, c.w, c.h)
                sure = self._floor_item(box, floors[whole]) if whole in floors else None
                items.append(sure or _turning_value(self._item(box, r, whole), c.turning))
            elif best_pieces is None:
                items.append(self._item((c.x, c.y, c.w, c.h), r, whole))
            else:
                for k, pc in enumerate(best_pieces):
                    items.append(self._item((pc.x, pc.y, pc.w, pc.h), r, best_first + k))
        return items

    def _floor_item(self, box: tuple[int, int, int, int], p: np.ndarray) -> _Item | None:
        """A turning drum read by the turning-drum network: the leaving digit, with the runner-up as
        the alternative; None when the network is not sure enough, and the drum is read as before."""
        top, second = (int(k) for k in np.argsort(-p)[:2])
        conf = float(p[top])
        if conf < max(TURNING_SURE, self.settings.confidence_threshold):
            return None
        return _Item(box, "digit", str(top), conf, str(second), float(p[second]), drum=True, guess=str(top))

    @staticmethod
    def _digit(it: _Item, scale: float) -> Digit:
        x, y, w, h = it.box
        if scale != 1.0:
            inv = 1.0 / scale
            x0, y0 = math.floor(x * inv), math.floor(y * inv)
            x1, y1 = math.ceil((x + w) * inv), math.ceil((y + h) * inv)
            x, y, w, h = x0, y0, x1 - x0, y1 - y0
        value = it.value if it.kind != "reject" else UNKNOWN
        return Digit(value, it.confidence, Box(x, y, w, h), it.alternative, it.alternative_confidence,
                     it.guess)


class _Ranked:
    """The classifier's output ranked once for the whole frame, as plain Python values."""

    def __init__(self, probs: np.ndarray) -> None:
        n = len(probs)
        order = np.argsort(-probs, axis=1)[:, :2] if n else np.zeros((0, 2), np.int64)
        rows = np.arange(n)
        self.top: list[int] = order[:, 0].tolist()
        self.second: list[int] = order[:, -1].tolist()
        self.p_top: list[float] = probs[rows, order[:, 0]].tolist() if n else []
        self.p_second: list[float] = probs[rows, order[:, -1]].tolist() if n else []
        best_digit = probs[:, :REJECT].max(axis=1) if n else np.zeros(0)
        # A crop scores the log-probability of its best digit class, even when "reject" is on top.
        self.log_digit: list[float] = np.log(np.maximum(best_digit, 1e-6)).tolist()

    def digit_conf(self, first: int, count: int) -> list[float]:
        """Confidence of each crop as a digit (0 for a crop the network rejects)."""
        return [p if t < REJECT else 0.0 for t, p in zip(self.top[first : first + count],
                                                        self.p_top[first : first + count], strict=True)]

    def score(self, first: int, count: int) -> float:
        """Mean digit log-probability of `count` crops from `first` on."""
        return sum(self.log_digit[first : first + count]) / count


def _turning_value(it: _Item, turning: str) -> _Item:
    """A counter drum caught turning reads the digit leaving its window, however far it has turned (a
    counter's value is floored). The network reads the digit that shows more: when that is the
    entering one, the value is the digit before it, and the entering one its alternative. Unsure, or
    with neither digit showing enough of itself to be known ("between"), it is '?' with the network's
    own two classes, the pair meter mode resolves from its history; and rejected, a '?' all the same:
    the drum is a digit of the counter, not a mark to drop."""
    if it.kind == "reject":
        return replace(it, kind="digit", value=UNKNOWN, drum=True)
    if turning == "between":
        return replace(it, value=UNKNOWN, drum=True)
    if turning != "entering" or it.value == UNKNOWN:
        return replace(it, drum=True)
    leaving = str((int(it.value) - 1) % 10)
    return replace(it, value=leaving, guess=leaving, alternative=it.value, drum=True)


def _counter_drums_only(items: list[_Item]) -> list[_Item]:
    """A drum caught turning ends a counter's row of digits. A printed word's letters are level and
    evenly spaced as drums are, and where the next drum would stand, the word's end or the face
    beside it passes for one; with no sure digit of its own beside it, it is no drum."""
    if not any(it.drum for it in items):
        return items
    if sum(it.kind == "digit" and not it.drum and it.value != UNKNOWN for it in items) >= COUNTER_DIGITS:
        return items
    return [it for it in items if not it.drum]


def _sure_number(lines: list[Line], trace: Trace) -> bool:
    """Whether a reading is a sure number: no unknown digit, and a line of at least NUMBER_DIGITS.

    A counter's drum caught turning may stay unknown: that is the drum, not the picture's polarity,
    and the other way round such a counter only gave some wrong digit a chance (8507591 as 8507592|4)."""
    return _longest(lines) >= NUMBER_DIGITS and all(
        it.drum or (it.kind != "reject" and it.value != UNKNOWN) for items in trace.items for it in items
    )


def _longest(lines: list[Line]) -> int:
    """The most digits (known or not) on one line of a reading."""
    return max((sum(d.value != "." for d in ln.digits) for ln in lines), default=0)


def _number_height(lines: list[list[_Item]]) -> float:
    """The height of the photo's tallest number: the median height of the sure digits of each line
    with at least three of them, at most (0 when no line has three)."""
    heights = [median_of([it.box[3] for it in sure]) for items in lines
               if len(sure := [it for it in items if it.kind == "digit" and it.value != UNKNOWN]) >= 3]
    return max(heights, default=0.0)


def _drop_words(items: list[_Item], height: float, page: float = 0.0) -> list[_Item]:
    """Context rules for what is not a digit (see the module docstring).

    1. The line is cut into tokens at gaps wider than a share of the neighbours' height (a printed word
       sits further from the number it labels than its letters from each other).
    2. A token of two or more glyphs of which at least half are rejects (an unsure digit counting half)
       is a word: dropped.
    3. In a token, rejects cut the digits into runs. The only reject of a token, between two runs of
       digits of one height (three or more digits together) and itself no smaller, is a digit the
       network did not know: '?'. Otherwise the rejects go; a run beside them of one or two glyphs, or
       of up to four between two of them, is a word's letters that look like digits ("TOTAL" → O,
       "Gallons" → 110); a run with two or more unsure and at least a third unsure is no number; a
       small glyph at a run's end next to a reject is a lower-case letter ("No.").
    4. A run clearly shorter than the line's tallest run or its digit height, next to a reject or
       holding an unsure digit, is a printed label or unit beside the handwritten number (labels are
       printed smaller); so is a run less than half as tall as the photo's tallest number (`page`) on
       a line with a word on it: what is left of a label (the E of LITRES read as 7 beside a display)."""
    if not items:
        return items
    gaps = [it.box[0] - (prev.box[0] + prev.box[2]) for prev, it in itertools.pairwise(items)]
    worded = any(it.kind == "reject" for it in items)  # (before a reject is held as an unknown digit)
    items = _hold_rejects_in_numbers(items, gaps)
    tokens: list[list[_Item]] = [[items[0]]]
    for k, (prev, it) in enumerate(itertools.pairwise(items)):
        gap = gaps[k]
        ref = min(prev.box[3], it.box[3]) if prev.kind != "dot" and it.kind != "dot" else height
        # Also a gap much wider than the spacing on either side of it: the end of a printed word, whose
        # letters sit closer together than the word sits to the number.
        around = min(gaps[k - 1] if k > 0 else gap, gaps[k + 1] if k + 1 < len(gaps) else gap)
        if prev.kind == "dot" or it.kind == "dot":
            # A decimal point sits in the gap between two digits, nearer one of them: the digits on
            # either side decide, at a number's spacing (a display's 1 stands at its cell's right).
            j = k if prev.kind == "dot" else k + 1
            if 0 < j < len(items) - 1:
                left, right = items[j - 1].box, items[j + 1].box
                free = right[0] - (left[0] + left[2]) - items[j].box[2]
                if gap > WORD_GAP * height and free > HELD_MAX_GAP * height:
                    tokens.append([])
                tokens[-1].append(it)
                continue
        # (Letters that touch, the T and H of THIS, say nothing of the word's spacing: a tenth of the
        # height at least.)
        if gap > WORD_GAP * ref or (gap > 0.15 * ref and gap > 3 * max(around, 0.1 * ref, 1)):
            tokens.append([])
        tokens[-1].append(it)
    runs: list[tuple[list[_Item], bool]] = []  # (items, next to a reject)
    for tok in tokens:
        glyphs = [it for it in tok if it.kind != "dot"]
        # An unsure digit counts half: it is a digit, only not a sure one (a turning drum not at all).
        bad = sum(1.0 if it.kind == "reject" else 0.5 if _unsure(it) else 0.0 for it in glyphs)
        if not glyphs or (len(glyphs) >= 2 and 2 * bad >= len(glyphs)):
            continue
        runs.extend(_runs_of(tok))
    heights = [median_of([it.box[3] for it in r if it.kind != "dot"]) for r, _ in runs]
    multi = [h for (r, _), h in zip(runs, heights, strict=True) if len(r) >= 2]
    # (Or the line's digit height: a handwritten number spaced wide is a row of one-digit runs.)
    ref_h = max([*(multi or heights), height])
    out: list[_Item] = []
    for k, ((run, bordered), h) in enumerate(zip(runs, heights, strict=True)):
        unsure = any(_unsure(it) for it in run)
        if h < SHORT_TOKEN * ref_h and (bordered or (unsure and len(run) >= 2)):
            continue
        if worded and h < PAGE_LABEL * page:
            continue
        if unsure and len(run) == 1 and not bordered and k in (0, len(runs) - 1) and not run[0].held:
            continue  # an unsure mark at either end of the line is no digit of it
        out.extend(run)
    return out


def _hold_rejects_in_numbers(items: list[_Item], gaps: list[int]) -> list[_Item]:
    """A reject of digit height right beside a string of digits, no further from it than the digits
    are from each other, is a digit the network did not know: '?', never dropped. Dropping it would
    turn "240036" with an odd 6 into a confident, plausible and wrong "24003"; a '?' makes the daemon
    refuse the frame instead. A reject with another reject close by on either side is a word's letter
    (the digit-like letters of a word count as its letters), and a printed label or unit sits further
    from the number than the digits' own spacing (the `$` of "SALE $", "kWh")."""
    n = len(items)

    def walk(k: int, side: int, ref: float) -> tuple[list[_Item], bool]:
        """The digits from k on towards `side` while they keep a digit's spacing, and whether a
        reject ends them."""
        run: list[_Item] = []
        j = k + side
        while 0 <= j < n and gaps[min(j, j - side)] <= HELD_MAX_GAP * ref:
            if items[j].kind == "reject":
                return run, True
            if items[j].kind != "digit":
                break
            run.append(items[j])
            j += side
        return run, False

    out = list(items)
    for k, it in enumerate(items):
        # An unsure digit there is held the same way (not dropped as a stray mark at the line's end).
        if it.kind != "reject" and it.value != UNKNOWN:
            continue
        ref = float(it.box[3])
        for side in (-1, 1):
            run, word = walk(k, side, ref)
            far_run, far_word = walk(k, -side, ref)
            # Two sure digits on this side, or one on each side.
            enough = len(run) >= 2 or (len(run) == 1 and len(far_run) >= 1 and not far_word)
            if word or not enough or any(d.value == UNKNOWN for d in run[:3]):
                continue
            if far_word and len(far_run) <= 2:
                continue
            digit_h = median_of([d.box[3] for d in run[:3]])
            if not 0.6 * digit_h <= it.box[3] <= 1.3 * digit_h or it.box[2] > 2.2 * digit_h:
                continue
            spacing = [gaps[min(j, j + side)] for j in range(k + side, k + side * len(run), side)]
            if not spacing:  # one digit each side: it sits between them as they would
                spacing = [gaps[min(k, k - side)]]
            normal = min(max(0.0, median_of(spacing)), 0.5 * digit_h) if spacing else 0.0
            if gaps[min(k, k + side)] > 1.5 * normal + 0.15 * digit_h:
                continue
            out[k] = replace(it, kind="digit", value=UNKNOWN, held=True)
            break
    return out


def _runs_of(tok: list[_Item]) -> list[tuple[list[_Item], bool]]:
    """Rule 3 of _drop_words on one token: its runs of digits, each with whether a reject bordered it."""
    parts: list[list[_Item]] = []  # alternating: digit runs and reject groups, each a non-empty list
    for it in tok:
        is_reject = it.kind == "reject"
        if parts and (parts[-1][0].kind == "reject") == is_reject:
            parts[-1].append(it)
        else:
            parts.append([it])
    # A lone reject inside a digit string of one height is an unknown digit (in a word there are more).
    k = 1 if sum(p[0].kind == "reject" for p in parts) == 1 else len(parts)
    while k < len(parts) - 1:
        left, mid, right = parts[k - 1], parts[k], parts[k + 1]
        if (
            mid[0].kind == "reject"
            and len(mid) == 1
            and min(_digit_count(left), _digit_count(right)) >= 1
            and _digit_count(left) + _digit_count(right) >= 3
            and _fits_between(mid[0], left, right)
        ):
            mid[0] = replace(mid[0], kind="digit", value=UNKNOWN)
            parts[k - 1 : k + 2] = [left + mid + right]
        else:
            k += 1
    out = []
    for k, part in enumerate(parts):
        if part[0].kind == "reject":
            continue
        before = k > 0 and parts[k - 1][0].kind == "reject"
        after = k + 1 < len(parts) and parts[k + 1][0].kind == "reject"
        run = list(part)
        h = median_of([it.box[3] for it in run if it.kind != "dot"] or [0])
        # Lower-case letters at the end that touches a word.
        while before and run and (run[0].kind == "dot" or run[0].box[3] < SMALL_LETTER * h):
            run.pop(0)
        while after and run and (run[-1].kind == "dot" or run[-1].box[3] < SMALL_LETTER * h):
            run.pop()
        # Dots belong between digits only.
        while run and run[0].kind == "dot":
            run.pop(0)
        while run and run[-1].kind == "dot":
            run.pop()
        n = _digit_count(run)
        if n == 0:
            continue
        unsure = sum(_unsure(it) for it in run)
        word_like = ((before or after) and n <= 2) or (before and after and n <= 4)
        if (unsure >= 2 and 3 * unsure >= n) or word_like:
            continue
        out.append((run, before or after))
    return out


def _unsure(it: _Item) -> bool:
    """An unsure digit, which the word rules count against its run; a turning drum's '?' is none: it
    stands in the counter's row, and no word has one."""
    return it.value == UNKNOWN and not it.drum


def _fits_between(it: _Item, left: list[_Item], right: list[_Item]) -> bool:
    """A reject between two runs of digits is one of them if the runs are of one height (handwriting
    varies, but not by a third) and it is no smaller than they are (a lower-case letter is)."""
    hl = median_of([i.box[3] for i in left])
    hr = median_of([i.box[3] for i in right])
    return max(hl, hr) <= 1.35 * min(hl, hr) and it.box[3] >= 0.85 * min(hl, hr)


def _digit_count(part: list[_Item]) -> int:
    return sum(it.kind == "digit" for it in part)


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0
