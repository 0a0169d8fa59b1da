"""Training crops cut by the engine itself from generated scenes with a known truth.

MNIST digits and rendered glyphs are clean; what the network meets on the device are the crops the
engine cuts out of camera pictures: strokes thinned or thickened by the stroke matching, a ruled-line
remnant on a digit, a JPEG-blurred 8, half of two touching digits, the bar of a `$`, a bezel edge. So
the training set also gets those: handwriting scenes (drawn with MNIST *training* digits, never the test
digits the benchmark uses) and meter photos are generated with seeds the benchmarks do not use, read by
the engine's own preprocessing, segmentation and cutting, and every crop is labelled from the scene's
truth boxes:

- a crop that covers one truth digit well (IoU ≥ `MATCH_IOU`) gets that digit;
- a crop that covers no digit, covers two or more (touching digits read whole), or is a small part of
  one digit (a stroke cut off by a bad split) is "not a digit" (the reject class);
- a crop that holds less than `WHOLE` of its digit (half a 0 is a C) is not labelled at all;
- so is anything cut from printed words and labels: an S, G or B in print is a 5, 6 or 8 to a
  camera, and a network taught to reject them rejected an S-like printed 5 (the glyph generator
  teaches letters as rejects, leaving those out);
- anything in between, a digit caught half-way on a counter drum, and decimal points are left out;
- so are "no digit" crops a digit could look exactly like (a bar like a 1, a loop like a 0: the I, l
  and O of LITRES and TOTAL): the engine tells those from digits by context, and teaching the network
  to reject them would teach it to reject real 1s and 0s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from convert.synth import meters, scenes
from convert.synth.glyphs import passes_for_digit
from edge_digits.reader import REJECT

if TYPE_CHECKING:
    from edge_digits.reader import DigitReader
    from edge_digits.segment import Candidate

log = logging.getLogger(__name__)

MATCH_IOU = 0.5
COVERS = 0.5
# A digit label needs this share of the digit inside the crop: half a 0 matches it with IoU 0.5 and
# looks like a C; labelled 0 it would teach the network to read a C (or half of any digit) as a 0.
WHOLE = 0.8  # a truth digit counts as covered by a crop when this share of its box lies inside it
NO_DIGIT = 0.15  # at most this share of a clutter crop may overlap a digit
# A crop this much inside one digit, covering less than PART_MAX of it, is a piece of it (a stroke cut
# off). A bigger piece of a wide digit can still show the whole digit's shape: no label.
PART_OF = 0.8
IN_PRINT = 0.3  # a crop with this share of its area on a printed word is cut from the word
PART_MAX = 0.3
# Rejects are plentiful in cluttered scenes; more than this share of the harvest would teach the
# network that doubt means "no digit".
MAX_REJECT_SHARE = 0.3
# Seeds far from the benchmark's (scenes 0…, meters 1000…, clips) so no scene is shared.
SEED_BASE = 7_000_000

Box = tuple[int, int, int, int]


class Unclassified:
    """The reader needs a classifier to finish a reading; harvesting needs only its crops."""

    def probabilities(self, crops: np.ndarray) -> np.ndarray:
        return np.full((len(crops), REJECT + 1), 1.0 / (REJECT + 1), np.float32)


@dataclass
class Harvest:
    x: np.ndarray  # (N, 28, 28) uint8
    y: np.ndarray  # (N,) int64, 0-9 or REJECT
    counts: dict[str, int]  # crops per source


def _area(b: Box) -> int:
    return max(0, b[2]) * max(0, b[3])


def _intersection(a: Box, b: Box) -> int:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def label_for(
    box: Box, truth: list[tuple[Box, str]], whole: bool, printed: Sequence[Box] = ()
) -> int | None:
    """The class a crop with `box` should get, or None when it is ambiguous. `truth`: (box, char) of
    every character of the scene ('' for a drum caught between two values: a crop touching it is
    ambiguous). `whole`: the crop is a candidate as segmented, not a piece of a cut; only then does
    covering two digits mean "touching digits, no single digit". `printed`: boxes of printed words."""
    area = _area(box)
    if area == 0:
        return None
    label = _label(box, area, truth, whole)
    if label == REJECT and any(_intersection(box, p) >= IN_PRINT * area for p in printed):
        return None
    return label


def _label(box: Box, area: int, truth: list[tuple[Box, str]], whole: bool) -> int | None:
    covered, best, best_iou, overlap = 0, None, 0.0, 0
    for tb, ch in truth:
        inter = _intersection(box, tb)
        if inter == 0:
            continue
        if ch == ".":
            continue  # a dot is no digit: a crop of it alone is a reject, a digit touching it still a digit
        if not ch:
            return None  # a drum digit half-way between two values has no one right label
        overlap = max(overlap, inter)
        if inter >= COVERS * _area(tb):
            covered += 1
        iou = inter / (area + _area(tb) - inter)
        if iou > best_iou:
            best, best_iou = (tb, ch), iou
    if best is None or overlap <= NO_DIGIT * area:
        return REJECT
    if covered >= 2:
        return REJECT if whole else None
    tb = best[0]
    inter = _intersection(box, tb)
    if best_iou >= MATCH_IOU and covered == 1 and inter >= WHOLE * _area(tb):
        return int(best[1])
    if inter >= PART_OF * area and inter < PART_MAX * _area(tb):
        return REJECT
    return None


def _truth(scene: scenes.Scene) -> list[tuple[Box, str]]:
    moving = {(t.line, t.index) for t in scene.transition}
    out = []
    for i, (text, boxes) in enumerate(zip(scene.lines, scene.boxes, strict=True)):
        for j, (ch, b) in enumerate(zip(text, boxes, strict=True)):
            out.append((b, "" if (i, j) in moving else ch))
    return out


def crops_of(reader: DigitReader, scene: scenes.Scene) -> Iterator[tuple[np.ndarray, int]]:
    """(crop, label) for every crop the engine cuts from the scene that `label_for` can name."""
    _, trace = reader.read_traced(scene.image)
    if trace is None or trace.batch is None:
        return
    inv = 1.0 / trace.scale
    truth = _truth(scene)

    def image_box(c: Candidate) -> Box:
        return (round(c.x * inv), round(c.y * inv), round(c.w * inv), round(c.h * inv))

    for row in trace.slots:
        for cand, whole, cuts in row:
            if whole < 0:
                continue
            named = [(whole, label_for(image_box(cand), truth, True, scene.printed))]
            for pieces, first in cuts:
                named += [(first + k, label_for(image_box(p), truth, False, scene.printed))
                          for k, p in enumerate(pieces)]
            for k, label in named:
                crop = trace.batch[k]
                if label is None or (label == REJECT and passes_for_digit(crop)):
                    continue
                yield crop, label


def _scene_stream(kind: str, n: int, seed: int) -> Iterable[scenes.Scene]:
    for i in range(n):
        s = SEED_BASE + seed * 100_003 + i
        if kind in scenes.CATEGORIES:
            yield scenes.make_scene(kind, s)
        else:
            yield meters.make_meter(kind, s)


def _balanced(x: list[np.ndarray], y: list[int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    ya = np.asarray(y, np.int64)
    xa = np.stack(x) if x else np.zeros((0, 28, 28), np.uint8)
    rejects = np.flatnonzero(ya == REJECT)
    digits = np.flatnonzero(ya != REJECT)
    cap = int(MAX_REJECT_SHARE / (1 - MAX_REJECT_SHARE) * len(digits))
    if len(rejects) > cap:
        rejects = rng.choice(rejects, cap, replace=False)
    keep = np.sort(np.concatenate([digits, rejects]))
    return xa[keep], ya[keep]


def harvest(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    per_kind: int,
    seed: int,
    kinds: tuple[str, ...] = scenes.CATEGORIES + meters.METER_CATEGORIES,
) -> Harvest:
    """Crops from `per_kind` scenes of every kind (scene categories and meter categories), the
    handwriting drawn from `train_images`/`train_labels` (MNIST training digits)."""
    from edge_digits.reader import DigitReader, ReaderSettings

    plain = DigitReader(Unclassified())
    # Displays and signs are read with decimal points on (as in meter mode), so a dot is never a crop.
    dotted = DigitReader(Unclassified(), ReaderSettings(decimal_point=True))
    xs: list[np.ndarray] = []
    ys: list[int] = []
    counts: dict[str, int] = {}
    rng = np.random.default_rng(seed)
    start = time.monotonic()
    with scenes.drawn_from(train_images, train_labels):
        for kind in kinds:
            reader = dotted if kind in meters.METER_CATEGORIES and kind != "drum" else plain
            kx: list[np.ndarray] = []
            ky: list[int] = []
            for scene in _scene_stream(kind, per_kind, seed):
                for crop, label in crops_of(reader, scene):
                    kx.append(crop)
                    ky.append(label)
            bx, by = _balanced(kx, ky, rng)
            xs.append(bx)
            ys.extend(by.tolist())
            counts[kind] = len(by)
            log.info("scene crops: %s: %d crops (%d rejects) from %d scenes", kind, len(by),
                     int((by == REJECT).sum()), per_kind)
    log.info("scene crops: %d in %.0f s", len(ys), time.monotonic() - start)
    x = np.concatenate(xs) if xs else np.zeros((0, 28, 28), np.uint8)
    return Harvest(x, np.asarray(ys, np.int64), counts)
