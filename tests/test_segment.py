"""Segmentation on ink masks composed from MNIST test digits: lines, order, rules, fragments, splits, dots."""

from __future__ import annotations

import cv2
import numpy as np

from convert.synth.scenes import Scene, make_scene, mnist_test
from edge_digits.preprocess import preprocess
from edge_digits.segment import Segmentation, TextLine, segment


def digit_mask(label: int, height: int, k: int = 0) -> np.ndarray:
    """The k-th MNIST test digit of `label`, tight, scaled to `height`, binary (bool)."""
    images, _, by_label = mnist_test()
    d = images[by_label[label][k]]
    ys, xs = np.nonzero(d > 60)
    d = d[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    w = max(2, round(d.shape[1] * height / d.shape[0]))
    return cv2.resize(d, (w, height), interpolation=cv2.INTER_LINEAR) > 110


def canvas(
    lines: list[str],
    height: int = 40,
    gap: float = 0.3,
    size: tuple[int, int] = (480, 640),
    pitch: float = 2.0,
    x0: int = 40,
    y0: int = 40,
) -> tuple[np.ndarray, list[list[tuple[int, int, int, int]]]]:
    """Ink mask (uint8, 255 = ink) with the lines written in MNIST digits, and the truth boxes."""
    img = np.zeros(size, np.uint8)
    boxes = []
    y = y0
    for li, text in enumerate(lines):
        x = x0
        row = []
        for k, ch in enumerate(text):
            m = digit_mask(int(ch), height, k=li * 10 + k)
            h, w = m.shape
            img[y : y + h, x : x + w][m] = 255
            row.append((x, y, w, h))
            x += w + int(gap * height)
        boxes.append(row)
        y += int(pitch * height)
    return img, boxes


def run(binary: np.ndarray, decimal_point: bool = False, min_height: float = 8.0) -> Segmentation:
    return segment(binary, min_height, 0.95 * binary.shape[0], decimal_point)


def centres_match(seg: Segmentation, boxes: list[list[tuple[int, int, int, int]]]) -> bool:
    """Each truth line has a segmented line with one candidate per digit, each centred in its box."""
    if len(seg.lines) != len(boxes):
        return False
    for line, row in zip(seg.lines, boxes, strict=True):
        glyphs = [c for c in line.candidates if c.kind == "glyph"]
        if len(glyphs) != len(row):
            return False
        for c, (x, y, w, h) in zip(glyphs, row, strict=True):
            if not (x <= c.cx <= x + w and y <= c.cy <= y + h):
                return False
    return True


def test_lines_are_found_top_to_bottom_and_ordered_left_to_right():
    img, boxes = canvas(["31415", "2718281", "1618"])
    seg = run(img)
    assert centres_match(seg, boxes)
    for line in seg.lines:
        xs = [c.x for c in line.candidates]
        assert xs == sorted(xs)


def test_the_same_page_at_three_scales_segments_the_same():
    for height, size in ((22, (300, 420)), (40, (480, 640)), (90, (1000, 1400))):
        img, boxes = canvas(["90210", "4711"], height=height, size=size, x0=height, y0=height)
        assert centres_match(run(img), boxes), height


def test_tilted_lines_stay_lines():
    img, _ = canvas(["12345678", "87654321"], height=36, pitch=2.2)
    m = cv2.getRotationMatrix2D((320, 240), 4.0, 1.0)
    rotated = cv2.warpAffine(img, m, (640, 480), flags=cv2.INTER_NEAREST)
    seg = run(rotated)
    assert [len(line.candidates) for line in seg.lines] == [8, 8]


def test_a_ruled_line_under_and_through_the_digits_is_taken_out():
    img, boxes = canvas(["50317", "8642"], height=40, pitch=2.5)
    for row in boxes:
        base = max(y + h for _, y, _, h in row) - 2  # touches every digit's bottom
        cv2.line(img, (0, base), (639, base + 6), 255, 2)
    cv2.line(img, (0, 20), (639, 20), 255, 1)  # and one across the page that touches nothing
    seg = run(img)
    assert centres_match(seg, boxes)


def test_a_faint_rule_s_piece_touching_a_digit_is_cut_off_it():
    """A faint rule comes out of the threshold as dashes. One touching the first digit made it a
    candidate of two digits' width (and the number was lost); the rule, found where a long dash of it
    lies, is continued across the image and the dash cut off."""
    img, boxes = canvas(["582"], height=40, gap=0.6)
    row = boxes[0]
    base = max(y + h for _, y, _, h in row) - 1
    x0, w0 = row[0][0], row[0][2]
    xa = row[-1][0] + row[-1][2] + 30

    def at(x: int) -> tuple[int, int]:  # on a rule falling 6 px across the page
        return x, round(base + 6 * (x - x0) / (639 - x0))

    cv2.line(img, at(xa), at(639), 255, 2)  # the rule where it is found
    cv2.line(img, at(x0 - 30), at(x0 + w0 // 2), 255, 2)  # a dash of it, shorter than a rule is long
    seg = run(img)
    assert centres_match(seg, boxes)
    first = seg.lines[0].candidates[0]
    assert first.x >= x0 - 3 and not first.splits, (first.x, x0)


def test_digits_in_the_cells_of_a_grid_inside_a_printed_box():
    """Squared paper: one digit per cell, touching the cell's lines here and there; a printed box around."""
    height, cell = 40, 48
    img = np.zeros((480, 640), np.uint8)
    boxes = []
    for row, text in enumerate(["3907", "62158"]):
        y0 = 48 + row * 2 * cell
        line = []
        for k, ch in enumerate(text):
            m = digit_mask(int(ch), height + 6, k=row * 10 + k)  # a little taller than the cell's inside
            h, w = m.shape
            x = 96 + k * cell + (cell - w) // 2
            y = y0 + (cell - h) // 2
            img[y : y + h, x : x + w][m] = 255
            line.append((x, y, w, h))
        boxes.append(line)
    for x in range(0, 640, cell):
        cv2.line(img, (x, 0), (x + 3, 479), 255, 1)
    for y in range(0, 480, cell):
        cv2.line(img, (0, y), (639, y + 3), 255, 1)
    cv2.rectangle(img, (70, 30), (420, 250), 255, 2)
    seg = run(img)
    assert centres_match(seg, boxes)


def test_a_detached_bar_is_merged_into_its_digit():
    img, boxes = canvas(["555"], height=60)
    x, y, w, h = boxes[0][1]
    # Cut the middle 5 between its bar and its body.
    img[y + int(0.22 * h) : y + int(0.22 * h) + 4, x : x + w] = 0
    n_parts = cv2.connectedComponents(img[y : y + h, x : x + w])[0] - 1
    assert n_parts >= 2
    seg = run(img)
    assert centres_match(seg, boxes)


def test_a_digit_broken_into_pieces_comes_back_whole():
    img, boxes = canvas(["2020"], height=60)
    x, y, w, h = boxes[0][2]
    for cut in (0.3, 0.55, 0.8):
        img[y + int(cut * h) : y + int(cut * h) + 3, x : x + w] = 0
    seg = run(img)
    assert centres_match(seg, boxes)


def test_touching_digits_get_a_split_hypothesis():
    img, _ = canvas(["4008"], height=50, gap=-0.06)
    seg = run(img)
    assert len(seg.lines) == 1
    glyphs = seg.lines[0].candidates
    assert len(glyphs) < 4  # the digits really touch
    wide = [c for c in glyphs if c.splits]
    assert wide
    # One of the hypotheses cuts the blob into pieces whose centres fall into the right digits.
    pieces_total = len(glyphs) - len(wide) + sum(min(len(p) for p in c.splits) for c in wide)
    assert pieces_total <= 4 <= len(glyphs) - len(wide) + sum(max(len(p) for p in c.splits) for c in wide)
    for c in wide:
        for pieces in c.splits:
            assert sum(p.w for p in pieces) <= c.w
            assert all(c.x <= p.x and p.x2 <= c.x2 for p in pieces)


def test_decimal_point_only_when_asked():
    img, boxes = canvas(["1234"], height=50, gap=0.5)
    x, y, w, h = boxes[0][1]
    cv2.circle(img, (x + w + 12, y + h - 4), 4, 255, -1)  # a dot on the baseline after the 2
    with_dot = run(img, decimal_point=True)
    kinds = [c.kind for c in with_dot.lines[0].candidates]
    assert kinds == ["glyph", "glyph", "dot", "glyph", "glyph"]
    without = run(img, decimal_point=False)
    assert [c.kind for c in without.lines[0].candidates] == ["glyph"] * 4


def test_specks_and_a_long_stroke_are_not_candidates():
    img, boxes = canvas(["987"], height=40)
    rng = np.random.default_rng(0)
    for _ in range(60):
        y, x = rng.integers(0, 480), rng.integers(0, 640)
        img[y, x] = 255
    cv2.line(img, (20, 300), (620, 310), 255, 3)
    seg = run(img)
    assert centres_match(seg, boxes)


def test_nothing_to_segment():
    seg = run(np.zeros((100, 100), np.uint8))
    assert seg.lines == []
    full = run(np.full((100, 100), 255, np.uint8))
    assert all(c.h <= 95 for line in full.lines for c in line.candidates)


# --- generated photo-like scenes (convert.synth.scenes), the cases the engine benchmark found ---------


def scene_segmentation(category: str, seed: int) -> tuple[Scene, Segmentation]:
    """A benchmark scene (`benchmark_set(40, s)[k]` is `make_scene(category, s * 1_000_003 + k)`),
    preprocessed and segmented the way the reader does it."""
    scene = make_scene(category, seed)
    pre = preprocess(scene.image)
    h = scene.image.shape[0]
    min_h = max(8.0, 0.01 * h)
    return scene, segment(pre.binary, min_h, 0.95 * h, False, pre.seeds)


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    iy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(0, ix) * max(0, iy)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def found(line: TextLine, box: tuple[int, int, int, int]) -> bool:
    """A candidate of the line, or a piece of one of its split hypotheses, is that digit."""
    options = [c for c in line.candidates] + [p for c in line.candidates for s in c.splits for p in s]
    return any(iou((c.x, c.y, c.w, c.h), box) >= 0.5 for c in options)


def test_a_line_stays_one_line_past_a_digit_broken_into_low_pieces():
    """A 2 broken into three pieces, the first low: the next digit was compared with that piece only,
    started a line of its own, and the rest of the line followed it ("023|346069", "23468|063");
    the two lines continue each other and are joined."""
    for seed in (14, 3 * 1_000_003 + 13):
        scene, seg = scene_segmentation("single_line", seed)
        assert len(seg.lines) == 1, seed
        assert all(found(seg.lines[0], box) for box in scene.boxes[0]), seed


def test_a_faint_rule_between_two_digits_touching_it_does_not_weld_them():
    """A light grid line (ink only through hysteresis, never strong) with a bold digit touching it on
    either side: its pixels between them looked like a stroke crossing the rule and were kept."""
    img, boxes = canvas(["4711"], height=40, gap=0.12)
    img = cv2.dilate(img, np.ones((3, 3), np.uint8))  # a bold pen
    boxes = [[(x - 1, y - 1, w + 2, h + 2) for x, y, w, h in boxes[0]]]
    strong = img > 0
    for (x, _, w, _), (x2, _, _, _) in zip(boxes[0], boxes[0][1:], strict=False):
        cv2.line(img, ((x + w + x2) // 2, 0), ((x + w + x2) // 2, 479), 255, 2)
    cv2.line(img, (0, 200), (639, 203), 255, 1)
    assert not centres_match(segment(img.copy(), 8, 456, False, None), boxes)  # the fault, without seeds
    assert centres_match(segment(img, 8, 456, False, strong), boxes)


def test_a_box_around_the_number_chained_first_does_not_cut_the_line_in_two():
    """A printed box around the digits, its lines too thick to peel off: the digits right of the box's
    middle chained onto it, and when it was dropped as too tall the line stayed cut ("34458|9691")."""
    scene, seg = scene_segmentation("single_line", 7 * 1_000_003 + 13)
    assert len(seg.lines) == 1
    assert all(found(seg.lines[0], box) for box in scene.boxes[0])


def test_a_sheet_edge_left_whole_after_rule_removal_is_no_line_of_its_own():
    """The bold right and bottom edge of a sheet on a desk, not cut by the frame and too thick to peel
    off as a rule: alone in its line and nine times the digits' height, it was read as a 1."""
    scene, seg = scene_segmentation("desk_sheet", 3 * 1_000_003 + 7)
    assert len(seg.lines) == 1
    assert all(found(seg.lines[0], box) for box in scene.boxes[0])


def test_a_last_digit_broken_in_two_beyond_the_line_end_is_kept():
    """An open 6 at the end of a line, broken into two pieces each under half the digits' height: they
    chained into a line of their own, too far past the number's end to go back to it as fragments,
    and were dropped as a small stray line."""
    scene, seg = scene_segmentation("words_and_numbers", 7 * 1_000_003 + 25)
    six = scene.boxes[2][-1]
    assert any(found(line, six) for line in seg.lines)


def test_the_bar_of_a_5_drawn_out_past_its_body_is_merged_into_it():
    """A 5 written in two strokes, the bar far out to the right over the gap after the body: it hardly
    overlaps the body, so it was dropped as a stray piece and the body read as 3 or '?'."""
    for category, seed, line, k in (("multi_line", 3 * 1_000_003 + 14, 2, 3), ("desk_sheet", 4, 0, 1)):
        scene, seg = scene_segmentation(category, seed)
        assert found(seg.lines[line], scene.boxes[line][k]), (category, seed)


def test_a_bar_standing_off_the_side_of_its_5_is_merged_into_it():
    """A 5's bar drawn after a pen lift, a little way right of its body with no column in common: it
    joins the body (BAR_GAP); the 5 without it would read as a 3 or '?'."""
    img, boxes = canvas(["5555"], height=60, gap=1.2)
    x, y, w, h = boxes[0][1]
    top = y + int(0.22 * h)
    bar = img[y:top, x : x + w].copy()
    img[y:top, x : x + w] = 0
    body_right = x + int(np.nonzero(img[y : y + h, x : x + w].any(axis=0))[0][-1]) + 1
    cols = np.nonzero(bar.any(axis=0))[0]
    bar = bar[:, cols[0] : cols[-1] + 1]
    left = body_right + int(0.06 * h)
    img[y:top, left : left + bar.shape[1]] |= bar
    seg = run(img)
    glyphs = [c for c in seg.lines[0].candidates if c.kind == "glyph"]
    assert len(seg.lines) == 1 and len(glyphs) == 4
    assert glyphs[1].x <= x + 2 and glyphs[1].x2 >= left + bar.shape[1] - 1 and glyphs[1].y <= y + 1


def test_a_dash_after_an_amount_is_not_merged_as_a_bar():
    """A dash in the middle of the line's height after the last digit stays apart from it."""
    img, boxes = canvas(["549"], height=40, gap=0.3)
    x, y, w, h = boxes[0][-1]
    img[y + h // 2 - 2 : y + h // 2 + 2, x + w - 2 : x + w + 16] = 255  # touches the 9
    img[y + h // 2 - 2 : y + h // 2 + 2, x + w - 2 : x + w] = 0  # ... but no pixel of it is the 9's
    seg = run(img)
    assert centres_match(seg, boxes)
    last = [c for c in seg.lines[0].candidates if c.kind == "glyph"][-1]
    assert last.x2 <= x + w + 1


def test_two_touching_digits_filling_a_tight_crop_are_no_frame_edge():
    """A cheque field whose 9 and 2 touch: together they span most of the crop's height and reach its
    bottom, which made them a "desk or surround cut by the frame" and dropped them (3921054 → 31054)."""
    scene, seg = scene_segmentation("cheque_field", 7 * 1_000_003 + 31)
    nine, two = scene.boxes[0][1], scene.boxes[0][2]
    centres = [(x + w / 2, y + h / 2) for x, y, w, h in (nine, two)]
    assert any(
        all(c.x <= cx <= c.x2 and c.y <= cy <= c.y2 for cx, cy in centres)
        for line in seg.lines
        for c in line.candidates
    )



def test_touching_digits_are_cut_at_the_line_s_own_digit_width():
    """"401" touching (bold pen on squared paper): cut into pieces of 0.62 line heights, the narrow 1
    never came out on its own and the three digits were read as two. (This line has too few single
    digits to measure its digit width, so the default typical width applies.)"""
    scene, seg = scene_segmentation("single_line", 7 * 1_000_003 + 26)
    four, zero, one = scene.boxes[0][1:4]
    blob = [c for c in seg.lines[0].candidates if c.x <= four[0] + 2 and c.x2 >= one[0] + one[2] - 2]
    assert blob
    assert any(
        len(pieces) == 3
        and all(iou((p.x, p.y, p.w, p.h), t) >= 0.5 for p, t in zip(pieces, (four, zero, one), strict=True))
        for pieces in blob[0].splits
    )


def test_the_top_of_a_5_broken_off_and_chained_alone_joins_its_body():
    """A 5 whose top (bar and stem) broke off the body and sits higher than the line: too tall to be a
    fragment, it was chained as a line of its own and read as '?' beside the body."""
    scene, seg = scene_segmentation("desk_sheet", 3 * 1_000_003 + 3)
    assert len(seg.lines) == 1
    assert all(found(seg.lines[0], box) for box in scene.boxes[0])


def test_a_string_of_digits_is_not_dissolved_into_a_sheet_corner():
    """Under the sheet's corner (its two edges left as one L-shaped mark twice the digits' height), a
    number of four digits was taken for the corner's fragments and dropped with it (8118 lost)."""
    scene, seg = scene_segmentation("desk_sheet", 11 * 1_000_003 + 10)
    assert len(seg.lines) == 2
    assert all(found(seg.lines[1], box) for box in scene.boxes[1])


def test_a_string_of_digits_is_not_dissolved_into_a_chain_of_fewer_marks():
    """A counter's four drums (26 px) under a glare streak chained with the unit printed beside them
    (a chain of two marks, 142 and 62 px): the four were taken for that chain's fragments and the
    counter was lost (make_meter("drum", 1011) read as "8"). Bars broken off digits still dissolve."""
    from edge_digits.segment import Candidate, _dissolve_fragment_chains

    drums = [Candidate(203 + 32 * k, 155 + 3 * k, 16, 26, (k + 1,)) for k in range(4)]
    streak = [Candidate(314, 61, 49, 142, (10,)), Candidate(344, 176, 62, 62, (11,))]
    kept, loose = _dissolve_fragment_chains([drums, streak])
    assert drums in kept and not loose
    digits = [Candidate(100 + 50 * k, 100, 30, 40, (20 + k,)) for k in range(8)]
    bars = [Candidate(105 + 100 * k, 98, 20, 6, (40 + k,)) for k in range(3)]  # the bars of three 5s
    kept, loose = _dissolve_fragment_chains([digits, bars])
    assert kept == [digits] and loose == bars


def test_a_boxed_sheet_of_five_tight_lines_segments_line_by_line():
    """Multi-line scene 20 of the benchmark: five lines of digits, some touching, inside a printed box on
    ruled paper. The segmenter alone finds every line and every digit (whole or as a split piece);
    when it reads as one blob, something before it joined the lines."""
    scene, seg = scene_segmentation("multi_line", 20)
    assert len(seg.lines) == 5
    for line, row in zip(seg.lines, scene.boxes, strict=True):
        assert all(found(line, box) for box in row)


def test_two_touching_digits_beside_a_short_1_are_cut_at_their_own_height():
    """"091": the 0 and 9 touch, the 1 is shorter. The line took its height from the 1, so the pair
    was cut into three or four pieces of a 1's line width and the whole line was read as nothing."""
    scene, seg = scene_segmentation("desk_sheet", 16)
    assert scene.lines[2] == "091"
    line = next(ln for ln in seg.lines if found(ln, scene.boxes[2][0]))
    assert all(found(line, box) for box in scene.boxes[2])
    pair = next(c for c in line.candidates if c.splits)
    assert any(len(s) == 2 for s in pair.splits)


def test_a_pale_digit_without_seeds_counts_only_where_much_of_it_is_faint_ink():
    mask = np.zeros((100, 200), np.uint8)
    mask[20:70, 40:46] = 255  # a digit-sized stroke of pale ink
    mask[20:70, 100:106] = 255  # a second one, to make a line
    mask[20:70, 140:146] = 255
    seeds = np.zeros(mask.shape, bool)  # bold print elsewhere took the seed level
    faint = np.zeros(mask.shape, bool)
    faint[20:70, 40:46] = faint[20:70, 100:106] = faint[20:70, 140:146] = True
    assert segment(mask.copy(), 20, 90, False, seeds).lines == []
    kept = segment(mask.copy(), 20, 90, False, seeds, faint=lambda: faint)
    assert [len(ln.candidates) for ln in kept.lines] == [3]
    # A pale blob only a fifth of which is faint ink is a faint mark, as without faint ink.
    faint[30:70] = False
    assert segment(mask.copy(), 20, 90, False, seeds, faint=lambda: faint).lines == []
