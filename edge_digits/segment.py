"""From an ink mask to digit candidates grouped into text lines.

Every size judgement is made relative to something measured in the image: the working image's height
for the first coarse cut, then the median height of the line a component sits in. That way the same
rules hold for 20-px digits in a sheet photo and for a 50-px cheque field filled by its digits.

Order of work:
1. connected components with statistics; specks go at once (vectorised);
2. ruled lines and borders are peeled off the components they touch (a long thin run at a consistent
   slope), so digits written on a line come back as components of their own;
3. components of digit height are chained left to right into lines by vertical overlap;
4. per line: smaller pieces that overlap a candidate horizontally are merged into it (the detached bar
   of a 5, a broken stroke), pieces far too tall are dropped, small dots on the baseline between digits
   become decimal points, and candidates much wider than the line's digits get split hypotheses cut at
   column-projection minima (the reader lets the classifier choose between whole and split).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import cv2
import numpy as np

# Relative to the height H of the line a component sits in.
FRAGMENT_MAX = 0.55  # below this a component is a piece of a digit or a mark, not a digit itself
MERGED_MAX = 1.45  # a digit with its merged fragments is never taller than this
TOO_TALL = 1.7  # a candidate this much taller than its line is a border, a rule or clutter
DOT_MAX = 0.38  # a decimal point is at most this tall and wide
SPLIT_FROM = 0.92  # a candidate wider than this is considered as touching digits too
# Chaining into lines: neighbours at most this many (larger) heights apart, centres within this share.
LINE_GAP = 3.0
LINE_CENTRE = 0.55
LINE_HEIGHT_RATIO = 2.3


@dataclass
class Candidate:
    """One thing to classify: a set of components (label ids), optionally restricted to a column range."""

    x: int
    y: int
    w: int
    h: int
    labels: tuple[int, ...]
    kind: str = "glyph"  # "glyph" (goes to the classifier) or "dot" (a decimal point)
    x_range: tuple[int, int] | None = None  # columns [a, b) of the label image when cut from a blob
    # Alternative segmentations of this candidate as several digits (touching digits).
    splits: list[list[Candidate]] = field(default_factory=list)

    @property
    def x2(self) -> int:
        return self.x + self.w

    @property
    def y2(self) -> int:
        return self.y + self.h

    @property
    def cx(self) -> float:
        return self.x + self.w / 2.0

    @property
    def cy(self) -> float:
        return self.y + self.h / 2.0

    def mask(self, labels: np.ndarray) -> np.ndarray:
        """The candidate's ink mask cropped to its box (uint8, 255 = ink)."""
        crop = labels[self.y : self.y2, self.x : self.x2]
        m = crop == self.labels[0] if len(self.labels) == 1 else np.isin(crop, self.labels)
        return m.astype(np.uint8) * 255


@dataclass
class TextLine:
    """Candidates ordered left to right and the line's typical digit height in pixels."""

    candidates: list[Candidate]
    height: float


@dataclass
class Segmentation:
    labels: np.ndarray  # int32 component labels after rule removal (0 = background)
    lines: list[TextLine]
    n_components: int  # components before any filtering (for the debug picture)
    dropped: list[tuple[int, int, int, int]] = field(default_factory=list)  # boxes of rejected blobs


def _union(cands: list[Candidate]) -> Candidate:
    x = min(c.x for c in cands)
    y = min(c.y for c in cands)
    x2 = max(c.x2 for c in cands)
    y2 = max(c.y2 for c in cands)
    labels = tuple(sorted({lab for c in cands for lab in c.labels}))
    return Candidate(x, y, x2 - x, y2 - y, labels)


def _x_overlap(a: Candidate, b: Candidate) -> int:
    return min(a.x2, b.x2) - max(a.x, b.x)


def _y_overlap(a: Candidate, b: Candidate) -> int:
    return min(a.y2, b.y2) - max(a.y, b.y)


# --- ruled lines and borders ------------------------------------------------------------------------


def _thin_run_line(mask: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Find a long straight thin horizontal run in a component mask (bool, h×w).

    Returns (fitted row per column, thickness) or None. Columns holding a single short run are where
    only the rule is; their centres must lie on one straight line over most of the width."""
    h, w = mask.shape
    if w < 8:
        return None
    count = mask.sum(axis=0)
    has = count > 0
    first = np.argmax(mask, axis=0)
    last = h - 1 - np.argmax(mask[::-1], axis=0)
    run = last - first + 1
    max_thick = max(3, int(0.2 * h)) if h > 12 else h
    thin = has & (run == count) & (count <= max_thick)
    if thin.sum() < 0.35 * w:
        return None
    xs = np.nonzero(thin)[0].astype(np.float64)
    ys = (first[thin] + last[thin]) / 2.0
    for _ in range(3):
        if xs.size < 2:
            return None
        a, b = np.polyfit(xs, ys, 1)
        res = np.abs(ys - (a * xs + b))
        keep = res <= max(1.5, float(np.median(count[thin])))
        if keep.all():
            break
        xs, ys = xs[keep], ys[keep]
    if xs.size < 0.3 * w or (xs.max() - xs.min()) < 0.6 * w:
        return None
    thickness = float(np.median(count[xs.astype(int)]))
    return a * np.arange(w) + b, thickness


def _peel_rule(mask: np.ndarray) -> np.ndarray | None:
    """Remove a horizontal rule from a component mask (bool); None when there is none.

    Pixels of the rule's band stay where a stroke crosses it (ink just above and just below)."""
    found = _thin_run_line(mask)
    if found is None:
        return None
    rows, thickness = found
    h, w = mask.shape
    half = thickness / 2.0 + 1.0
    top = np.clip(np.floor(rows - half), 0, h - 1).astype(int)
    bottom = np.clip(np.ceil(rows + half), 0, h - 1).astype(int)
    r = np.arange(h)[:, None]
    band = (r >= top[None, :]) & (r <= bottom[None, :])
    cols = np.arange(w)
    above = mask[np.clip(top - 1, 0, h - 1), cols] & (top > 0)
    below = mask[np.clip(bottom + 1, 0, h - 1), cols] & (bottom < h - 1)
    crossing = above & below
    out = mask & ~(band & ~crossing[None, :])
    return out


def _remove_rules(labels: np.ndarray, stats: np.ndarray, idx: np.ndarray, next_label: int) -> int:
    """Peel rules (horizontal, then vertical) off the components `idx`, relabelling what remains in
    place. Returns the next free label."""
    for i in idx:
        x, y, w, h = (int(v) for v in stats[i, :4])
        crop = labels[y : y + h, x : x + w]
        mask = crop == i
        cleaned = mask
        horizontal = w >= h
        for orientation in ((True, False) if horizontal else (False, True)):
            m = cleaned if orientation else cleaned.T
            peeled = _peel_rule(m)
            if peeled is not None:
                cleaned = peeled if orientation else peeled.T
        if cleaned is mask:
            continue
        crop[mask] = 0
        n, sub = cv2.connectedComponents(cleaned.astype(np.uint8), connectivity=8)
        if n > 1:
            sel = sub > 0
            crop[sel] = sub[sel] + (next_label - 1)
            next_label += n - 1
    return next_label


# --- lines ------------------------------------------------------------------------------------------


def _chain_lines(cands: list[Candidate]) -> list[list[Candidate]]:
    """Chain candidates (of digit height) left to right into lines by vertical overlap."""
    lines: list[list[Candidate]] = []
    for c in sorted(cands, key=lambda c: c.x):
        best, best_cost = None, None
        for line in lines:
            last = line[-1]
            hmax = max(c.h, last.h)
            if max(c.h, last.h) > LINE_HEIGHT_RATIO * min(c.h, last.h):
                continue
            gap = c.x - last.x2
            if gap > LINE_GAP * hmax:
                continue
            dy = abs(c.cy - last.cy)
            if dy > LINE_CENTRE * hmax:
                continue
            cost = dy / hmax + max(gap, 0) / (4.0 * LINE_GAP * hmax)
            if best_cost is None or cost < best_cost:
                best, best_cost = line, cost
        if best is None:
            lines.append([c])
        else:
            best.append(c)
    return lines


def _line_height(cands: list[Candidate]) -> float:
    """The digit height of a line: the upper quartile of its members' heights, because a printed label
    chained into the line is shorter than the handwritten digits beside it and may outnumber them."""
    hs = sorted(c.h for c in cands)
    return float(hs[(3 * (len(hs) - 1)) // 4])


def _dissolve_fragment_chains(chains: list[list[Candidate]]) -> tuple[list[list[Candidate]], list[Candidate]]:
    """A chain of pieces far shorter than the line they sit in (the bars of 5s, broken strokes) is no
    line of its own: its members go back to the loose pieces, to be merged into that line's digits."""
    heights = [_line_height(ch) for ch in chains]
    order = sorted(range(len(chains)), key=lambda i: -heights[i])
    kept: list[int] = []
    loose: list[Candidate] = []

    def within(c: Candidate, big: list[Candidate], hj: float) -> bool:
        return any(
            _x_overlap(c, b) > 0 and c.y2 >= b.y - 0.5 * hj and c.y <= b.y2 + 0.5 * hj for b in big
        )

    for i in order:
        ch, hi = chains[i], heights[i]
        inside = False
        for j in kept:
            if hi < 0.6 * heights[j] and 2 * sum(within(c, chains[j], heights[j]) for c in ch) >= len(ch):
                inside = True
                break
        if inside:
            loose.extend(ch)
        else:
            kept.append(i)
    return [chains[i] for i in sorted(kept)], loose


def _band(line: list[Candidate]) -> tuple[np.ndarray, np.ndarray]:
    """Top and bottom of the line as linear functions of x (coefficients for np.polyval); a tilted
    or perspective-skewed line keeps a straight band."""
    xs = np.array([c.cx for c in line])
    tops = np.array([c.y for c in line], np.float64)
    bottoms = np.array([c.y2 for c in line], np.float64)
    if len(line) >= 3 and np.ptp(xs) > 0:
        return np.polyfit(xs, tops, 1), np.polyfit(xs, bottoms, 1)
    return np.array([0.0, np.median(tops)]), np.array([0.0, np.median(bottoms)])


def _merge_overlapping(line: list[Candidate], height: float) -> list[Candidate]:
    """Merge neighbours that overlap horizontally and together are no taller than one digit: the two
    halves of a broken digit."""
    out: list[Candidate] = []
    for c in line:
        if out:
            p = out[-1]
            ov = _x_overlap(p, c)
            union_h = max(p.y2, c.y2) - min(p.y, c.y)
            if (
                ov >= 0.6 * min(p.w, c.w)
                and union_h <= MERGED_MAX * height
                and min(p.h, c.h) <= 0.8 * height
                and _y_overlap(p, c) <= 0.25 * min(p.h, c.h)
            ):
                out[-1] = _union([p, c])
                continue
        out.append(c)
    return out


def _split_hypotheses(
    c: Candidate, labels: np.ndarray, digit_w: float, height: float
) -> list[list[Candidate]]:
    """Ways to cut a too-wide candidate into 2..n digits at minima of its column projection."""
    mask = c.mask(labels) > 0
    proj = mask.sum(axis=0).astype(np.float64)
    out = []
    n_max = int(np.clip(round(c.w / max(digit_w, 1.0)) + 1, 2, 8))
    for n in range(2, n_max + 1):
        step = c.w / n
        if step < 0.25 * height:
            break
        cuts = []
        for k in range(1, n):
            centre = k * step
            lo = int(max(1, centre - 0.35 * step))
            hi = int(min(c.w - 1, centre + 0.35 * step))
            if hi <= lo:
                cuts = []
                break
            window = proj[lo:hi]
            # Lowest ink, then nearest to the even spacing.
            dist = np.abs(np.arange(lo, hi) - centre) / max(step, 1.0)
            cuts.append(lo + int(np.argmin(window + 0.5 * window.max() * dist)))
        if not cuts:
            continue
        bounds = [0, *cuts, c.w]
        pieces = []
        for a, b in itertools.pairwise(bounds):
            sub = mask[:, a:b]
            rows = np.nonzero(sub.any(axis=1))[0]
            cols = np.nonzero(sub.any(axis=0))[0]
            if rows.size == 0:
                pieces = []
                break
            pieces.append(
                Candidate(
                    c.x + a + int(cols[0]),
                    c.y + int(rows[0]),
                    int(cols[-1] - cols[0] + 1),
                    int(rows[-1] - rows[0] + 1),
                    c.labels,
                    x_range=(c.x + a, c.x + b),
                )
            )
        if pieces:
            out.append(pieces)
    return out


def segment(
    binary: np.ndarray,
    min_height: float,
    max_height: float,
    decimal_point: bool = False,
    seeds: np.ndarray | None = None,
) -> Segmentation:
    """Ink mask (uint8, 255 = ink) → lines of digit candidates.

    `min_height`/`max_height` bound a digit's height in pixels of this image. With `seeds` (bool, the
    strong-ink pixels), a blob of the mask counts only if it holds one (hysteresis thresholding)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8, ltype=cv2.CV_32S)
    img_h, img_w = binary.shape
    if n <= 1:
        return Segmentation(labels, [], 0)
    w, h, area = stats[:, 2], stats[:, 3], stats[:, 4]
    speck = max(3.0, (0.12 * min_height) ** 2)
    keep = area >= speck
    if seeds is not None:
        keep &= np.bincount(labels[seeds], minlength=n) > 0
    keep[0] = False
    # Long thin things (rules, borders, a sheet edge) may carry digits: peel the rule off first.
    long_h = (w >= 3 * np.maximum(h, 1)) & (w >= max(2.5 * min_height, 0.08 * img_w))
    # A vertical rule is only told from a 1 by its length next to the other marks of the image.
    tall = h[keep & (h >= min_height)]
    typical = float(np.median(tall)) if tall.size else max_height
    long_v = (h >= 3 * np.maximum(w, 1)) & (h >= max(2.5 * typical, 3 * min_height))
    sparse = area < 0.06 * w * np.maximum(h, 1)
    huge = (h > max_height) | (w > 0.4 * img_w) | ((h > 0.4 * img_h) & sparse)
    to_peel = np.nonzero(keep & (long_h | long_v | huge))[0]
    if to_peel.size:
        next_label = _remove_rules(labels, stats, to_peel, n)
        if next_label > n:
            extra = np.arange(n, next_label)
            # Statistics of the new pieces only, from their bounding boxes in the label image.
            new_stats = np.zeros((next_label - n, 5), np.int32)
            for i in to_peel:
                x, y, ww, hh = (int(v) for v in stats[i, :4])
                crop = labels[y : y + hh, x : x + ww]
                present = np.unique(crop[crop >= n])
                for lab in present:
                    ys, xs = np.nonzero(crop == lab)
                    new_stats[lab - n] = (x + xs.min(), y + ys.min(), np.ptp(xs) + 1, np.ptp(ys) + 1, xs.size)
            stats = np.vstack([stats, new_stats])
            keep = np.concatenate([keep, new_stats[:, 4] >= speck])
            del extra
        keep[to_peel] = False
    x, y, w, h = stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3]
    # What is cut by the frame and long and thin is the edge of a sheet or of a display, not a digit.
    at_border = (x == 0) | (y == 0) | (x + w >= img_w) | (y + h >= img_h)
    edge = at_border & (np.maximum(w, h) >= 4 * np.maximum(np.minimum(w, h), 1))
    bad = keep & ((h > max_height) | edge)
    dropped = [tuple(int(v) for v in stats[i, :4]) for i in np.nonzero(bad)[0]]
    keep &= ~bad
    idx = np.nonzero(keep)[0]
    cands = [Candidate(*(int(v) for v in stats[i, :4]), (int(i),)) for i in idx]
    core = [c for c in cands if c.h >= min_height]
    small = [c for c in cands if c.h < min_height]
    chains, loose = _dissolve_fragment_chains(_chain_lines(core))
    loose.extend(small)
    lines: list[TextLine] = []
    for chain in chains:
        height = _line_height(chain)
        members = []
        for c in chain:
            if c.h < FRAGMENT_MAX * height:
                loose.append(c)
            elif c.h > TOO_TALL * height:
                dropped.append((c.x, c.y, c.w, c.h))
            else:
                members.append(c)
        if members:
            height = _line_height(members)
            lines.append(TextLine(members, height))
    _attach_loose(lines, loose, decimal_point)
    for line in lines:
        line.candidates = _merge_overlapping(sorted(line.candidates, key=lambda c: c.x), line.height)
        glyphs = [c for c in line.candidates if c.kind == "glyph"]
        narrow = [c.w for c in glyphs if c.w < SPLIT_FROM * line.height]
        digit_w = float(np.median(narrow)) if len(narrow) >= 2 else 0.6 * line.height
        digit_w = float(np.clip(digit_w, 0.45 * line.height, 0.8 * line.height))
        for c in glyphs:
            if c.w > SPLIT_FROM * line.height and c.w > 1.3 * digit_w:
                c.splits = _split_hypotheses(c, labels, digit_w, line.height)
    lines.sort(key=lambda t: (np.median([c.cy for c in t.candidates]), t.candidates[0].x))
    return Segmentation(labels, lines, n - 1, dropped)


def _attach_loose(lines: list[TextLine], loose: list[Candidate], decimal_point: bool) -> None:
    """Merge fragments into the candidate they overlap, turn baseline dots into decimal points, and
    drop every other small mark."""
    if not lines or not loose:
        return
    bands = [_band(t.candidates) for t in lines]
    spans = [(min(c.x for c in t.candidates), max(c.x2 for c in t.candidates)) for t in lines]
    dots: dict[int, list[Candidate]] = {}
    frags: dict[int, list[Candidate]] = {}
    for f in loose:
        best, best_d = None, None
        for li, (line, (top, bottom), (x0, x1)) in enumerate(zip(lines, bands, spans, strict=True)):
            hgt = line.height
            if f.x2 < x0 - 0.6 * hgt or f.x > x1 + 0.6 * hgt:
                continue
            t = float(np.polyval(top, f.cx))
            b = float(np.polyval(bottom, f.cx))
            if f.y2 < t - 0.45 * hgt or f.y > b + 0.3 * hgt or f.h > MERGED_MAX * hgt:
                continue
            d = abs(f.cy - (t + b) / 2.0) / hgt
            if best_d is None or d < best_d:
                best, best_d = li, d
        if best is None:
            continue
        line = lines[best]
        hgt = line.height
        host = None
        best_ov = 0.0
        for c in line.candidates:
            ov = _x_overlap(c, f)
            if ov > best_ov and ov >= 0.4 * min(f.w, c.w):
                host, best_ov = c, ov
        if host is not None:
            merged = _union([host, f])
            if merged.h <= MERGED_MAX * hgt:
                frags.setdefault(best, []).append(f)
                continue
        t = float(np.polyval(bands[best][0], f.cx))
        b = float(np.polyval(bands[best][1], f.cx))
        if (
            decimal_point
            and f.h <= DOT_MAX * hgt
            and f.w <= DOT_MAX * hgt
            and 0.4 <= f.w / max(f.h, 1) <= 2.5
            and f.y2 >= b - 0.3 * hgt
            and f.cy > t + 0.6 * (b - t)
        ):
            dots.setdefault(best, []).append(f)
    for li, fs in frags.items():
        cands = lines[li].candidates
        for f in fs:
            overlaps = [(_x_overlap(c, f), k) for k, c in enumerate(cands)]
            ov, k = max(overlaps)
            if ov > 0:
                merged = _union([cands[k], f])
                if merged.h <= MERGED_MAX * lines[li].height:
                    cands[k] = merged
    for li, ds in dots.items():
        cands = sorted(lines[li].candidates, key=lambda c: c.x)
        for d in ds:
            left = [c for c in cands if c.kind == "glyph" and c.x2 <= d.cx]
            right = [c for c in cands if c.kind == "glyph" and c.x >= d.cx]
            if left and right:
                d.kind = "dot"
                cands.append(d)
        lines[li].candidates = sorted(cands, key=lambda c: c.x)
