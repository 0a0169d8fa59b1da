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
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

# A blob with no seed is ink all the same when at least this share of it is faint ink (preprocess).
FAINT_INK = 0.4
# Relative to the height H of the line a component sits in.
FRAGMENT_MAX = 0.55  # below this a component is a piece of a digit or a mark, not a digit itself
FULL_ORPHAN = 0.8  # a lone loose piece at least this tall is a digit of its own
LOOSE_REACH = 1.0  # loose pieces this far beyond a line's ends may belong to it (a broken last digit)
MERGED_MAX = 1.45  # a digit with its merged fragments is never taller than this
OVERLAPPED = 0.6  # neighbours overlapping by this share of the narrower one are merged ...
OVERLAPPED_WIDTH = 0.4  # ... when it is at least this wide (a share of the line's height)
TOO_TALL = 1.7  # a candidate this much taller than its line is a border, a rule or clutter
NUMBER_MARKS = 3  # ... unless it is one of this many such candidates in a row (a number)
LONE_TALL = 2.5  # a mark alone in its line this much taller than the page's strings of digits is clutter
BAR_ELONGATION = 1.5  # a loose piece this much wider than high is a bar ...
BAR_REACH = 1.6  # ... and joins a digit it overlaps or touches while together no wider than this (heights)
BAR_GAP = 0.12  # ... or stands this far (heights) off its side: a 5's bar drawn after a pen lift
BAR_TOP = 0.3  # ... and it lies at the top of the line (a dash after an amount sits in the middle)
DOT_MAX = 0.38  # a decimal point is at most this tall and wide
SPLIT_FROM = 1.0  # a candidate wider than this is considered as touching digits too
SPLIT_WIDER = 1.3  # ... when also this much wider than the line's single digits
SINGLE_MAX = 0.92  # ... and one narrower than this measures the line's single digits' width
# Cutting touching digits apart: piece widths in line heights (a 1 is narrow), and how much a width
# away from the typical one costs against a cut through one full column of ink. The typical width is
# the median width of the line's single digits (writers differ: narrow digits cut into too few pieces
# of a fixed width), or TYPICAL_PIECE when the line has too few of them.
MIN_PIECE = 0.15
MAX_PIECE = 1.15
TYPICAL_PIECE = 0.6
# The measured width is held to this range: a line of printed letters (i, l, t) measures narrower, and
# cut at that width its wide letters came apart into strokes read as 1s.
DIGIT_W_MIN = 0.5
DIGIT_W_MAX = 0.8
WIDTH_WEIGHT = 1.5
SECOND_CUT = 0.5  # a second way to cut is classified too when it costs at most this much more
DASH_MIN = 0.35  # a rule's dash sticking out of a digit this far (digit heights) is cut off it
DASH_SLACK = 2.0  # px added to each side of a rule's band where it is continued (see _trim_rule_dashes)
# Chaining into lines: neighbours at most this many (larger) heights apart, centres within this share.
LINE_GAP = 3.0
LINE_CENTRE = 0.55
LINE_HEIGHT_RATIO = 2.3


@dataclass(frozen=True)
class DrumWindow:
    """Where a counter's drum window stands (working-image pixels): its centre, its size along and
    across the counter, and the counter's slope (dy/dx) in the photo."""

    cx: float
    cy: float
    width: float
    height: float
    slope: float


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
    # A counter's drum caught turning (segment_display.join_turning_drums): which of the two digits in
    # its window shows more, "leaving" (the upper piece) or "entering" (the lower one), or "between"
    # when neither shows enough of itself to be read; "" at rest.
    turning: str = ""
    window: DrumWindow | None = None  # a turning drum's whole window, for the turning-drum network

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
        return label_mask(labels[self.y : self.y2, self.x : self.x2], self.labels).view(np.uint8) * 255


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


def label_mask(labels: np.ndarray, wanted: tuple[int, ...] | list[int]) -> np.ndarray:
    """Where `labels` holds one of `wanted` (bool). A few comparisons cost a tenth of np.isin, which
    sorts; a candidate has a handful of components."""
    if len(wanted) > 8:
        return np.isin(labels, wanted)
    m = labels == wanted[0] if wanted else np.zeros(labels.shape, bool)
    for lab in wanted[1:]:
        m |= labels == lab
    return m


def median_of(values) -> float:
    """Median of a short list (numpy's costs more than the sorting for a handful of values)."""
    v = sorted(float(x) for x in values)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


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


def components(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """8-connected components: (n, labels, stats) like cv2.connectedComponentsWithStats, except
    that the area column counts the ink in the component's box (its own plus any other component's
    reaching in), which is all the size filters need.

    OpenCV's statistics pass visits every pixel of the frame, background included, and costs three to
    six times the labelling itself on a 640×480 page; the boxes come much cheaper from the outer
    contours (one per component, at the top level of a two-level contour tree)."""
    n, labels = cv2.connectedComponentsWithAlgorithm(mask, 8, cv2.CV_32S, cv2.CCL_GRANA)
    stats = np.zeros((n, 5), np.int32)
    stats[0] = (0, 0, mask.shape[1], mask.shape[0], 0)
    if n <= 1:
        return n, labels, stats
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    top = np.flatnonzero(hierarchy[0][:, 3] < 0)
    first = np.array([contours[i][0, 0] for i in top])
    ids = labels[first[:, 1], first[:, 0]]
    rects = np.array([cv2.boundingRect(contours[i]) for i in top], np.int32).reshape(-1, 4)
    stats[ids, :4] = rects
    for i, (x, y, w, h) in zip(ids.tolist(), rects.tolist(), strict=True):
        stats[i, 4] = cv2.countNonZero(mask[y : y + h, x : x + w])
    return n, labels, stats


# --- ruled lines and borders ------------------------------------------------------------------------


def long_thin(
    mask: np.ndarray,
    thick: int,
    length: float,
    axis: int,
    strong: np.ndarray | None = None,
    faint: np.ndarray | None = None,
    found: list[Rule] | None = None,
) -> np.ndarray:
    """Pixels of `mask` (uint8 0/1) that belong to long straight thin lines.

    A line is found as an 8-connected piece of thin pixels (no more than `thick` of ink in a row across
    it; axis 0: a horizontal line is thin vertically) longer than `length`, and fitted with a straight
    line. Everything in its band along the whole fitted line goes, so the bits of a grid line between two
    rows of digits and the stub where a digit touches the line go with it, except where a stroke crosses
    the line (ink on both sides of the band). With `strong` (bool, the strong-ink pixels of the same
    crop) and `faint` (bool, same shape), the crossings that are not strong ink are marked in `faint`:
    a faint rule between two digits touching it from either side is no stroke, and kept it would weld
    them together. (They are not removed at once: where two faint rules of a grid cross, the second
    must still be found whole.) Each line found is appended to `found`, in the crop's coordinates."""
    kernel = np.ones((thick + 1, 1) if axis == 0 else (1, thick + 1), np.uint8)
    thin = cv2.subtract(mask, cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel))
    n, lab, stats = components(thin)
    out = np.zeros(mask.shape, bool)
    if n <= 1:
        return out
    extent = stats[:, 2] if axis == 0 else stats[:, 3]
    long_ids = np.nonzero(extent >= length)[0]
    long_ids = long_ids[long_ids > 0]
    if long_ids.size == 0:
        return out
    ys, xs = np.nonzero(thin)
    pts_lab = lab[ys, xs]
    mys, mxs = np.nonzero(mask)
    for k in long_ids:
        sel = pts_lab == k
        pts = np.stack([xs[sel], ys[sel]], axis=1).astype(np.float32)
        vx, vy, x0, y0 = (float(v) for v in cv2.fitLine(pts, cv2.DIST_L2, 0, 0.01, 0.01).ravel())
        half = max(1.0, sel.sum() / max(1, int(extent[k]))) / 2.0 + 1.0
        if found is not None:
            found.append(Rule(vx, vy, x0, y0, half))
        crossed, bx, by = _rule_band(mask, mxs, mys, Rule(vx, vy, x0, y0, half))
        out[by[~crossed], bx[~crossed]] = True
        if strong is not None and faint is not None:
            weak = crossed & ~strong[by, bx]
            faint[by[weak], bx[weak]] = True
    return out


@dataclass(frozen=True)
class Rule:
    """A straight line fitted to a rule: direction (vx, vy), a point (x0, y0), half its band's width."""

    vx: float
    vy: float
    x0: float
    y0: float
    half: float

    def moved(self, dx: int, dy: int) -> Rule:
        return replace(self, x0=self.x0 + dx, y0=self.y0 + dy)


def _rule_band(mask: np.ndarray, mxs: np.ndarray, mys: np.ndarray, rule: Rule) -> tuple[np.ndarray, ...]:
    """The ink pixels (mxs, mys) of `mask` in the rule's band, and which of them a stroke crosses (ink
    on both sides of the band): (crossed, xs, ys)."""
    h, w = mask.shape
    vx, vy, x0, y0, half = rule.vx, rule.vy, rule.x0, rule.y0, rule.half
    # Signed distance from the line along its normal (vy, -vx).
    d = (mxs - x0) * vy - (mys - y0) * vx
    band = np.abs(d) <= half
    bx, by, bd = mxs[band], mys[band], d[band]
    step = half + 2.0
    ax = np.rint(bx + vy * (step - bd)).astype(int)
    ay = np.rint(by - vx * (step - bd)).astype(int)
    cx = np.rint(bx - vy * (step + bd)).astype(int)
    cy = np.rint(by + vx * (step + bd)).astype(int)
    ok_a = (ax >= 0) & (ax < w) & (ay >= 0) & (ay < h)
    ok_c = (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h)
    side_a = np.zeros(bx.size, bool)
    side_c = np.zeros(bx.size, bool)
    side_a[ok_a] = mask[ay[ok_a], ax[ok_a]] > 0
    side_c[ok_c] = mask[cy[ok_c], cx[ok_c]] > 0
    return side_a & side_c, bx, by


def _strip_rules(
    labels: np.ndarray,
    stats: np.ndarray,
    idx: np.ndarray,
    typical: float | None,
    min_height: float,
    seeds: np.ndarray | None = None,
) -> tuple[list[tuple[int, int, int, int, int, np.ndarray]], list[int], list[Rule]]:
    """Take ruled lines, grid lines, borders and sheet edges out of the components `idx`.

    `typical` is the height of the image's free-standing marks, or None when every mark hangs on a
    rule; then the digits' height is measured on what the horizontal rules leave behind, before any
    vertical stroke is judged long. Returns the pieces that remain, as (x, y, w, h, area, mask), and the
    ids of the components they came from, which are cleared from `labels`; the caller gives the pieces
    new labels. Also returns the horizontal rules found, in the image's coordinates."""
    pieces = []
    stripped = []
    found: list[Rule] = []
    for i in idx:
        x, y, w, h = (int(v) for v in stats[i, :4])
        crop = labels[y : y + h, x : x + w]
        mask = (crop == i).astype(np.uint8)
        strong = seeds[y : y + h, x : x + w] if seeds is not None else None
        faint = np.zeros(mask.shape, bool) if strong is not None else None
        # Horizontal, vertical, horizontal again: where lines cross, each is thick across the other, so a
        # grid only comes apart in full once the first family is gone.
        cleaned = mask.copy()
        local = typical if typical is not None else 3.0 * min_height
        for step, (axis, factor) in enumerate(((0, 1.3), (1, 1.6), (0, 1.3))):
            fitted: list[Rule] = []
            thick = max(3, round(0.12 * local))
            rules = long_thin(cleaned, thick, factor * local, axis, strong, faint, fitted)
            found.extend(r.moved(x, y) for r in fitted if axis == 0)
            if rules.any():
                cleaned[rules] = 0
            if typical is None and step == 0:
                n, _, sub_stats = components(cleaned)
                ws, hs = sub_stats[1:, 2], sub_stats[1:, 3]
                # Thin verticals may be the other family of rules, and digits may still hang on it:
                # the lower quartile of the rest is a digit's height.
                hs = np.sort(hs[(hs >= min_height) & (hs <= 0.9 * h) & (hs < 5 * ws)])
                if hs.size:
                    local = max(local, float(hs[(hs.size - 1) // 4]))
        if faint is not None:
            cleaned[faint] = 0
        if np.array_equal(cleaned, mask):
            continue
        crop[mask > 0] = 0
        stripped.append(int(i))
        removed = mask > cleaned
        n, sub, sub_stats = components(cleaned)
        for k in range(1, n):
            sx, sy, sw, sh, sa = (int(v) for v in sub_stats[k])
            if _connector(removed, sx, sy, sw, sh):
                continue
            pieces.append((x + sx, y + sy, sw, sh, sa, sub[sy : sy + sh, sx : sx + sw] == k))
    return pieces, stripped, found


def _trim_rule_dashes(labels: np.ndarray, stats: np.ndarray, idx: np.ndarray, rules: list[Rule],
                      ref: float) -> None:
    """A faint rule comes out of the threshold as dashes, each too short to be found as a rule; a dash
    touching a digit widens it by a tail that makes it look like two touching digits. Where a rule was
    found, the uncrossed ink of other components in its band, continued across the image, is cut off
    where it sticks out beyond the rest of the component by DASH_MIN × `ref` (the image's typical mark
    height) or more; `stats` is updated in place."""
    x, y, w, h = (stats[idx, k].astype(np.float64) for k in range(4))
    for rule in rules:
        # Continued far from where it was fitted, the line may be off by a pixel or two.
        wide = replace(rule, half=rule.half + DASH_SLACK)
        slope = rule.vy / rule.vx
        ya = rule.y0 + (x - rule.x0) * slope
        yb = rule.y0 + (x + w - rule.x0) * slope
        near = (np.maximum(ya, yb) + wide.half >= y) & (np.minimum(ya, yb) - wide.half <= y + h)
        for i in idx[near]:
            cx, cy, cw, ch = (int(v) for v in stats[i, :4])
            crop = labels[cy : cy + ch, cx : cx + cw]
            mask = crop == i
            mys, mxs = np.nonzero(mask)
            crossed, bx, by = _rule_band(mask.view(np.uint8), mxs, mys, wide.moved(-cx, -cy))
            off = np.zeros(mask.shape, bool)
            off[by[~crossed], bx[~crossed]] = True
            cols = np.flatnonzero((mask & ~off).any(axis=0))
            if cols.size == 0:
                continue  # a dash alone
            off[:, cols[0] : cols[-1] + 1] = False
            if np.count_nonzero(off.any(axis=0)) < DASH_MIN * ref:
                continue
            crop[off] = 0
            ys, xs = np.nonzero(crop == i)
            x0, y0 = int(xs.min()), int(ys.min())
            stats[i] = (cx + x0, cy + y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1, ys.size)


def _connector(removed: np.ndarray, x: int, y: int, w: int, h: int) -> bool:
    """A thin piece that ran from one removed rule to another (the side of a printed box, a grid bar
    between two crossings): rule pixels touch both its ends."""
    if h >= 4 * w:
        before, after = removed[max(0, y - 3) : y, x : x + w], removed[y + h : y + h + 3, x : x + w]
    elif w >= 4 * h:
        before, after = removed[y : y + h, max(0, x - 3) : x], removed[y : y + h, x + w : x + w + 3]
    else:
        return False
    return bool(before.any() and after.any())


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


def _join_continuing(lines: list[TextLine]) -> list[TextLine]:
    """Join a line to the one it continues: a line that starts where another ends, at its height and
    on its band, is the same line, cut in two where a chain ran through a member dropped since (a box
    around the number, taller than the digits, chained first and then dropped as too tall)."""
    out: list[TextLine] = []
    for t in sorted(lines, key=lambda t: t.candidates[0].x):
        first = t.candidates[0]
        for a in out:
            last = a.candidates[-1]
            h = max(a.height, t.height)
            if (
                max(a.height, t.height) <= 1.5 * min(a.height, t.height)
                and last.x2 - 0.2 * h <= first.x <= last.x2 + LINE_GAP * h
                and abs(first.cy - last.cy) <= LINE_CENTRE * h
            ):
                a.candidates = a.candidates + t.candidates
                a.height = _line_height(a.candidates)
                break
        else:
            out.append(t)
    return out


def _adopt_lone_pieces(lines: list[TextLine]) -> list[TextLine]:
    """A line of one mark standing right on or under a digit of another line, over the same columns,
    is a piece of that digit (the top of a 5 broken off its body, too tall to count as a fragment,
    chained alone since it sits higher than the line): it joins the digit while together they stay
    no taller than a digit with its fragments."""
    strings = [t for t in lines if len(t.candidates) > 1]
    out = []
    for t in lines:
        f = t.candidates[0]
        host = None
        if len(t.candidates) == 1 and f.kind == "glyph":
            for s in strings:
                for k, c in enumerate(s.candidates):
                    gap = max(c.y, f.y) - min(c.y2, f.y2)
                    if (
                        c.kind == "glyph"
                        and _x_overlap(c, f) >= 0.5 * min(c.w, f.w)
                        and gap <= 0.1 * s.height
                        and max(c.y2, f.y2) - min(c.y, f.y) <= MERGED_MAX * s.height
                    ):
                        host = (s, k)
                        break
                if host:
                    break
        if host is None:
            out.append(t)
        else:
            s, k = host
            s.candidates[k] = _union([s.candidates[k], f])
    return out


def _is_number(cands: list[Candidate]) -> bool:
    """At least NUMBER_MARKS marks of one height (within 20%), each next to the one before it."""
    if len(cands) < NUMBER_MARKS:
        return False
    hs = [c.h for c in cands]
    if max(hs) > 1.2 * min(hs):
        return False
    return all(b.x - a.x2 <= 0.5 * max(a.h, b.h) for a, b in itertools.pairwise(cands))


def _number_row(stats: np.ndarray, ids_mask: np.ndarray) -> np.ndarray:
    """The components among `ids_mask` that chain into a line (`_chain_lines`) of NUMBER_MARKS or more
    side by side, of one height (`_is_number`): the digits of a number, however tall."""
    ids = np.nonzero(ids_mask)[0]
    if ids.size < NUMBER_MARKS:
        return np.zeros(0, np.int64)
    cands = [Candidate(*(int(v) for v in stats[i, :4]), (int(i),)) for i in ids]
    return np.array([c.labels[0] for row in _chain_lines(cands) if _is_number(row) for c in row], np.int64)


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
        """Inside the band of the taller line, next to (or over) one of its members; beyond the ends of
        a string of digits as far as loose pieces may join it (a broken last digit)."""
        reach = LOOSE_REACH if len(big) > 1 else 0.5
        if c.x2 < big[0].x - reach * hj or c.x > big[-1].x2 + reach * hj:
            return False
        near = min(big, key=lambda b: abs(b.cx - c.cx))
        return c.y2 >= near.y - 0.5 * hj and c.y <= near.y2 + 0.5 * hj

    for i in order:
        ch, hi = chains[i], heights[i]
        inside: int | None = None
        for j in kept:
            # A string of three or more marks is not the pieces of fewer marks (of a sheet's corner, or
            # of a unit printed beside a counter and chained with a glare streak across the glass).
            if len(ch) >= 3 and len(chains[j]) < len(ch):
                continue
            if hi < 0.6 * heights[j] and 2 * sum(within(c, chains[j], heights[j]) for c in ch) >= len(ch):
                inside = j
                break
        if inside is not None:
            # A member of the taller line's digit height is one of its digits, chained with the pieces
            # of its neighbour (an LCD 6 with the two halves of the 0 beside it): loose, it would be
            # too far from the rest of the line to join it.
            big, hj = chains[inside], heights[inside]
            # Its pieces that lie by the line extend the line: a 1 written before a 5 broken into bar
            # and body stands a whole digit beyond the line's first whole digit.
            extended = sorted(big + [c for c in ch if c.h < FULL_ORPHAN * hj and within(c, big, hj)],
                              key=lambda c: c.x)
            whole = [c for c in ch if c.h >= FULL_ORPHAN * hj and within(c, extended, hj)]
            loose.extend(c for c in ch if not any(c is w for w in whole))
            if whole:
                chains[inside] = sorted(big + whole, key=lambda c: c.x)
        else:
            kept.append(i)
    return [chains[i] for i in sorted(kept)], loose


Linear = tuple[float, float]  # (slope, intercept): y = slope·x + intercept


def _fit(xs: list[float], ys: list[float]) -> Linear:
    """Least-squares line through a handful of points (cheaper than numpy's fit for so few)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return slope, my - slope * mx


def _at(f: Linear, x: float) -> float:
    return f[0] * x + f[1]


def _band(line: list[Candidate]) -> tuple[Linear, Linear]:
    """Top and bottom of the line as linear functions of x; a tilted or perspective-skewed line keeps a
    straight band."""
    xs = [c.cx for c in line]
    tops = [float(c.y) for c in line]
    bottoms = [float(c.y2) for c in line]
    if len(line) >= 3 and max(xs) > min(xs):
        return _fit(xs, tops), _fit(xs, bottoms)
    return (0.0, median_of(tops)), (0.0, median_of(bottoms))


def _merge_overlapping(line: list[Candidate], height: float) -> list[Candidate]:
    """Merge neighbours that overlap horizontally and together are no taller than one digit: the two
    halves of a broken digit."""
    out: list[Candidate] = []
    for c in line:
        if out:
            p = out[-1]
            ov = _x_overlap(p, c)
            union_h = max(p.y2, c.y2) - min(p.y, c.y)
            stacked = _y_overlap(p, c) <= 0.25 * min(p.h, c.h)  # one above the other
            union_w = max(p.x2, c.x2) - min(p.x, c.x)
            # A number beside a label of smaller print is taller than the line the label's letters
            # make: the taller piece tells the size of its digit.
            ref = max(height, p.h, c.h)
            if union_h <= MERGED_MAX * ref and (
                # one above the other: the halves of a digit broken across
                (stacked and ov >= 0.5 * min(p.w, c.w) and min(p.h, c.h) <= 0.8 * ref)
                # a short piece against a tall one: a loop cut off its stem by a rule running through
                or (min(p.h, c.h) <= 0.7 * ref and ov >= -0.1 * ref and union_w <= ref)
                # a piece lying mostly over its neighbour: part of a digit whose other part touches the
                # next digit; read apart, the same ink would be read twice (cutting the union sorts it
                # out). Not a 1: its bar may stand under a slanted neighbour's overhang.
                or (ov >= OVERLAPPED * min(p.w, c.w) and min(p.w, c.w) >= OVERLAPPED_WIDTH * ref)
            ):
                out[-1] = _union([p, c])
                continue
        out.append(c)
    return out


def _cut_options(
    proj: np.ndarray, n_max: int, height: float, typical: float
) -> list[tuple[float, list[int]]]:
    """Ways to cut a blob into 2..n_max digits, as (cost, cut columns): through little ink, into
    pieces of plausible digit widths (`typical`, in line heights, costs nothing). Dynamic programming
    over the columns, vectorised per cut: the best placement of the k-th cut at every column does not
    depend on how many cuts follow."""
    w = proj.size
    lo, hi = max(1, int(MIN_PIECE * height)), max(2, int(MAX_PIECE * height))
    if w < 2 * lo:
        return []
    ink = np.append(proj / max(float(proj.max()), 1.0), 0.0)
    widths = np.arange(lo, hi + 1)
    width_cost = WIDTH_WEIGHT * (widths / height - typical) ** 2
    cols = np.arange(w + 1)
    starts = cols[:, None] - widths[None, :]  # start of the piece that ends at each column
    valid = starts >= 0
    starts = np.where(valid, starts, 0)
    cost = np.full(w + 1, np.inf)
    cost[0] = 0.0
    backs = []
    options = []
    for _ in range(1, n_max):
        total = np.where(valid, cost[starts] + width_cost[None, :], np.inf)
        j = np.argmin(total, axis=1)
        best = total[cols, j]
        backs.append(starts[cols, j])
        cost = best + ink  # the k-th cut at each column
        cost[w] = np.inf  # a cut at the very end is no cut
        # Close with a last piece to the end: n = k + 1 pieces.
        last = w - widths
        ok = last >= 0
        if not ok.any():
            break
        final = np.where(ok, cost[np.where(ok, last, 0)] + width_cost, np.inf)
        m = int(np.argmin(final))
        if np.isfinite(final[m]):
            cuts = [int(last[m])]
            for back in reversed(backs[1:]):
                cuts.append(int(back[cuts[-1]]))
            options.append((float(final[m]), sorted(cuts)))
    return options


def _split_hypotheses(
    c: Candidate, labels: np.ndarray, digit_w: float, height: float
) -> list[list[Candidate]]:
    """Ways to cut a too-wide candidate into several digits, through little ink and into pieces of
    digit width; only the two cheapest are kept (each hypothesis costs crops to classify)."""
    mask = c.mask(labels) > 0
    proj = mask.sum(axis=0).astype(np.float64)
    n_max = min(8, math.ceil(c.w / (0.4 * height)) + 1)
    out = []
    options = sorted(_cut_options(proj, n_max, height, digit_w / height))
    # The cheapest cut, and the runner-up only when it is nearly as good.
    options = options[:1] + [o for o in options[1:2] if o[0] <= options[0][0] + SECOND_CUT]
    for _, cuts in options:
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
    labelled: tuple[int, np.ndarray, np.ndarray] | None = None,
    faint: Callable[[], np.ndarray] | None = None,
) -> Segmentation:
    """Ink mask (uint8, 255 = ink) → lines of digit candidates.

    `min_height`/`max_height` bound a digit's height in pixels of this image. With `seeds` (bool, the
    strong-ink pixels), a blob of the mask counts only if it holds one (hysteresis thresholding), or,
    with `faint` (giving the faint-ink pixels, bool; called only when a blob needs them), if it is
    digit-sized and FAINT_INK of it is faint ink.
    `labelled` is `components(binary)`'s (n, labels, stats) when the caller has it already; its labels
    are changed in place."""
    n, labels, stats = labelled if labelled is not None else components(binary)
    img_h, img_w = binary.shape
    if n <= 1:
        return Segmentation(labels, [], 0)
    w, h, area = stats[:, 2], stats[:, 3], stats[:, 4]
    speck = max(3.0, (0.12 * min_height) ** 2)
    keep = area >= speck
    if seeds is not None:
        seeded = np.bincount(labels[seeds], minlength=n) > 0
        # A digit-sized blob of a paler ink than the photo's strongest (pencil beside bold print) holds
        # no seed, yet much of it is well above the faint marks the seeds keep out.
        pale = ~seeded & keep & (h >= min_height) & (h <= max_height)
        if faint is not None and pale.any():
            seeded |= pale & (np.bincount(labels[faint()], minlength=n) >= FAINT_INK * area)
        keep &= seeded
    keep[0] = False
    # Long thin things (rules, a grid, borders, a sheet edge) may carry digits: strip them off first.
    # Whether a thing is long is judged against the typical height of the marks in the image.
    tall = h[keep & (h >= min_height) & (h <= max_height) & (w <= 0.5 * img_w)]
    # When (almost) everything hangs together, digits written on a grid or a rule, there is nothing
    # to measure here: the rules' remains are measured instead (see _strip_rules).
    typical = float(np.median(tall)) if tall.size >= 3 else None
    ref = typical if typical is not None else 3.0 * min_height
    long_h = (w >= 3 * np.maximum(h, 1)) & (w >= max(1.3 * ref, 0.08 * img_w))
    long_v = (h >= 3 * np.maximum(w, 1)) & (h >= max(1.6 * ref, 3 * min_height))
    sparse = area < 0.06 * w * np.maximum(h, 1)
    huge = (h > max_height) | (w > 0.4 * img_w) | ((h > 0.4 * img_h) & sparse) | (h > 2.5 * ref)
    # Measured against small print (a meter's labels), a display's big digits are tall and its 1 is a
    # long bar; stripped as rules, a seven-segment digit would lose its bars. A row of them is a number.
    big = keep & (huge | long_v) & (h <= max_height) & (w <= 0.4 * img_w) & ~sparse & (w >= 0.1 * h)
    to_strip = np.setdiff1d(np.nonzero(keep & (long_h | long_v | huge))[0], _number_row(stats, big))
    if to_strip.size:
        pieces, stripped, rules = _strip_rules(labels, stats, to_strip, typical, min_height, seeds)
        if pieces:
            new_stats = np.zeros((len(pieces), 5), np.int32)
            for k, (px, py, pw, ph, pa, pmask) in enumerate(pieces):
                labels[py : py + ph, px : px + pw][pmask] = n + k
                new_stats[k] = (px, py, pw, ph, pa)
            stats = np.vstack([stats, new_stats])
            keep = np.concatenate([keep, new_stats[:, 4] >= speck])
        # A component with no rule in it keeps its label and is judged like any other.
        keep[stripped] = False
        if rules:
            # (The pieces just cut off the rules have their bands removed already.)
            _trim_rule_dashes(labels, stats, np.flatnonzero(keep[:n]), rules, ref)
    x, y, w, h = stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3]
    # What is cut by the frame and long and thin is the edge of a sheet or of a display, not a digit.
    at_border = (x == 0) | (y == 0) | (x + w >= img_w) | (y + h >= img_h)
    edge = at_border & (np.maximum(w, h) >= 4 * np.maximum(np.minimum(w, h), 1))
    # Cut by the frame and spanning most of it: the desk, a sheet's dark surround, a bezel. (Spanning
    # most of the height and cut at the top or the bottom only, it may be two touching digits in a tight
    # crop such as a cheque field: it must run off a side, or span the whole height, to count.)
    sides = (x == 0) | (x + w >= img_w) | ((y == 0) & (y + h >= img_h))
    edge |= (sides & (h >= 0.8 * img_h)) | (at_border & (w >= 0.5 * img_w))
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
        tall = []
        for c in chain:
            if c.h < FRAGMENT_MAX * height:
                loose.append(c)
            elif c.h > TOO_TALL * height:
                tall.append(c)
            else:
                members.append(c)
        if members:
            height = _line_height(members)
            lines.append(TextLine(members, height))
        if _is_number(tall):
            # A number beside a label of smaller print (THIS SALE $ 558) chains with the label, whose
            # letters outnumber its digits and set the line's height: it is a line of its own.
            lines.append(TextLine(tall, _line_height(tall)))
        else:
            dropped.extend((c.x, c.y, c.w, c.h) for c in tall)
    lines = _join_continuing(lines)
    _attach_loose(lines, loose, decimal_point)
    lines = _adopt_lone_pieces(lines)
    for line in lines:
        line.candidates = _merge_overlapping(sorted(line.candidates, key=lambda c: c.x), line.height)
        glyphs = [c for c in line.candidates if c.kind == "glyph"]
        narrow = [c.w for c in glyphs if c.w < SINGLE_MAX * line.height]
        measured = median_of(narrow) if len(narrow) >= 2 else None
        for c in glyphs:
            # A line of few marks may take its height from a short one (a 1 beside two touching
            # digits): the touching digits are as tall as they are.
            height = max(line.height, min(c.h, MERGED_MAX * line.height))
            digit_w = measured if measured is not None else TYPICAL_PIECE * height
            digit_w = min(max(digit_w, DIGIT_W_MIN * height), DIGIT_W_MAX * height)
            if c.w > SPLIT_FROM * height and c.w > SPLIT_WIDER * digit_w:
                c.splits = _split_hypotheses(c, labels, digit_w, height)
    lines = _drop_stray_strokes(lines, dropped, (img_w, img_h))
    lines.sort(key=lambda t: (median_of([c.cy for c in t.candidates]), t.candidates[0].x))
    return Segmentation(labels, lines, n - 1, dropped)


def _drop_stray_strokes(
    lines: list[TextLine], dropped: list[tuple[int, int, int, int]], size: tuple[int, int]
) -> list[TextLine]:
    """A lone thin stroke on a page that has strings of digits is what is left of a rule or an edge
    (where two lines ran together, where a sheet meets the desk), not a 1; a lone mark much smaller
    than those strings is a speck or a dash, and one much taller is the rest of a sheet's edge or a
    shadow's; a lone mark cut by the frame is the corner of something or a digit only partly in view."""
    heights = [t.height for t in lines if len(t.candidates) > 1]
    if not heights:
        return lines
    ref = median_of(heights)
    out = []
    for t in lines:
        c = t.candidates[0]
        thin = c.h >= 4 * c.w or c.w >= 4 * c.h
        cut = c.x <= 0 or c.y <= 0 or c.x2 >= size[0] or c.y2 >= size[1]
        if len(t.candidates) == 1 and (thin or cut or c.h < 0.6 * ref or c.h > LONE_TALL * ref):
            dropped.append((c.x, c.y, c.w, c.h))
        else:
            out.append(t)
    return out


def _attach_loose(lines: list[TextLine], loose: list[Candidate], decimal_point: bool) -> None:
    """Merge fragments into the candidate they overlap, turn baseline dots into decimal points, and
    drop every other small mark."""
    if not lines or not loose:
        return
    bands = [_band(t.candidates) for t in lines]
    spans = [(min(c.x for c in t.candidates), max(c.x2 for c in t.candidates)) for t in lines]
    dots: dict[int, list[Candidate]] = {}
    frags: dict[int, list[tuple[int, Candidate]]] = {}  # line → (host candidate, fragment)
    orphans: dict[int, list[Candidate]] = {}
    for f in loose:
        best, best_d = None, None
        for li, (line, (top, bottom), (x0, x1)) in enumerate(zip(lines, bands, spans, strict=True)):
            hgt = line.height
            if f.x2 < x0 - LOOSE_REACH * hgt or f.x > x1 + LOOSE_REACH * hgt:
                continue
            t = _at(top, f.cx)
            b = _at(bottom, f.cx)
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
        best_ov = -math.inf
        # A top bar may overlap its digit by little, or not at all: the bar of a 5 drawn far out to the
        # right, over the gap after the body, or begun beyond the body's end after a pen lift. (Not a
        # lying piece lower in the line: a dash, or what is left of a rule.)
        t = _at(bands[best][0], f.cx)
        b = _at(bands[best][1], f.cx)
        bar = f.w >= BAR_ELONGATION * f.h and f.cy < t + BAR_TOP * (b - t)
        for k, c in enumerate(line.candidates):
            ov = _x_overlap(c, f)
            if ov > best_ov and (
                ov >= 0.4 * min(f.w, c.w)
                or (bar and ov >= -BAR_GAP * hgt and max(c.x2, f.x2) - min(c.x, f.x) <= BAR_REACH * hgt)
            ):
                host, best_ov = k, ov
        if host is not None and _union([line.candidates[host], f]).h <= MERGED_MAX * hgt:
            frags.setdefault(best, []).append((host, f))
            continue
        if (
            decimal_point
            and f.h <= DOT_MAX * hgt
            and f.w <= DOT_MAX * hgt
            and 0.4 <= f.w / max(f.h, 1) <= 2.5
            and f.y2 >= b - 0.3 * hgt
            and f.cy > t + 0.6 * (b - t)
        ):
            dots.setdefault(best, []).append(f)
        else:
            orphans.setdefault(best, []).append(f)
    for li, ds in dots.items():
        # A seven-segment digit whose lower bar stands apart (a 1's, a 7's) looks like a decimal point
        # there; with the rest of the digit right over it, the two reach a digit's height (below).
        ups = orphans.get(li)
        if not ups:
            continue
        for d in [d for d in ds if any(u.y2 <= d.y and _x_overlap(u, d) >= 0.5 * min(u.w, d.w) for u in ups)]:
            ds.remove(d)
            ups.append(d)
    for li, fs in orphans.items():
        # Pieces of one digit that is broken all over (a faint pencil stroke): overlapping pieces that
        # together reach digit height are a candidate of their own.
        hgt = lines[li].height
        groups: list[list[Candidate]] = []
        for f in sorted(fs, key=lambda c: c.x):
            if groups and f.x <= max(g.x2 for g in groups[-1]):
                groups[-1].append(f)
            else:
                groups.append([f])
        for g in groups:
            u = _union(g)
            # A lone piece of full digit height is a digit that came here with a chain of fragments.
            low = FRAGMENT_MAX if len(g) > 1 else FULL_ORPHAN
            if low * hgt <= u.h <= MERGED_MAX * hgt and u.w <= 1.2 * hgt:
                lines[li].candidates.append(u)
    for li, hosted in frags.items():
        cands = lines[li].candidates
        for k, f in hosted:
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
