"""The synthetic test-image generators: deterministic, truthful, the sizes they promise."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from convert.synth import scenes
from convert.synth.clips import image_folder, meter_clip, number_clip
from convert.synth.meters import METER_CATEGORIES, make_meter
from convert.synth.scenes import CATEGORIES, Scene, benchmark_set, frame_640, make_scene

SEEDS = (0, 1, 2, 3)
# Touching handwriting overlaps its neighbour's box by a pixel or two (after rotation up to ~3 px).
MAX_X_OVERLAP = 4


def check_truth(scene: Scene, allow_point: bool = False) -> None:
    h, w = scene.image.shape[:2]
    assert scene.image.dtype == np.uint8 and scene.image.ndim == 3 and scene.image.shape[2] == 3
    assert scene.lines, "a scene without a truth line"
    assert len(scene.lines) == len(scene.boxes)
    pattern = r"[0-9.]+" if allow_point else r"[0-9]+"
    for text, boxes in zip(scene.lines, scene.boxes, strict=True):
        assert re.fullmatch(pattern, text), text
        assert len(boxes) == len(text)
        for x, y, bw, bh in boxes:
            assert bw > 0 and bh > 0
            assert x >= 0 and x + bw <= w and y >= 0 and y + bh <= h, (x, y, bw, bh, w, h)
        for (x0, _, w0, _), (x1, _, w1, _) in itertools.pairwise(boxes):
            assert x0 + w0 / 2 < x1 + w1 / 2, "boxes out of reading order"
            assert x0 + w0 - x1 <= MAX_X_OVERLAP, f"boxes overlap by {x0 + w0 - x1} px in x"
    centres = [np.mean([y + bh / 2 for _, y, _, bh in b]) for b in scene.boxes]
    assert centres == sorted(centres), "lines not top to bottom"


def test_mnist_reader_reads_the_committed_test_set() -> None:
    images, labels, by_label = scenes.mnist_test()
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert sum(len(ix) for ix in by_label) == 10000
    # The first MNIST test digit is the well-known 7.
    assert labels[0] == 7 and images[0].max() == 255


@pytest.mark.parametrize("category", CATEGORIES)
def test_same_seed_gives_identical_bytes(category: str) -> None:
    a, b = make_scene(category, 7), make_scene(category, 7)
    assert a.image.tobytes() == b.image.tobytes()
    assert a.lines == b.lines and a.boxes == b.boxes
    c = make_scene(category, 8)
    assert c.image.tobytes() != a.image.tobytes()


@pytest.mark.parametrize("category", CATEGORIES)
def test_truth_formats_and_sizes(category: str) -> None:
    for seed in SEEDS:
        scene = make_scene(category, seed)
        assert scene.category == category
        check_truth(scene)
        for text in scene.lines:
            assert 3 <= len(text) <= 9
        h, w = scene.image.shape[:2]
        if category == "cheque_field":
            assert 35 <= h <= 60 and w > h
        else:
            assert (w, h) in ((640, 480), (1280, 720))
        if category == "single_line":
            assert len(scene.lines) == 1
        if category == "multi_line":
            assert 2 <= len(scene.lines) <= 5


def test_digit_heights_cover_the_stated_range() -> None:
    heights = [
        float(np.median([bh for _, _, _, bh in make_scene("single_line", s).boxes[0]])) for s in range(6)
    ]
    assert min(heights) < 35 and max(heights) > 60


def test_digits_are_dark_ink_inside_their_boxes() -> None:
    """The box marks real ink: its darkest pixels are much darker than the paper around the line."""
    scene = make_scene("single_line", 3)
    gray = scene.image.min(axis=2).astype(float)
    paper = float(np.median(gray))
    for x, y, w, h in scene.boxes[0]:
        assert gray[y : y + h, x : x + w].min() < paper - 40


def _covered(source: np.ndarray, glyph: np.ndarray, reach: float = 2.0) -> float:
    """Share of the MNIST digit's ink (in its own pixels) within `reach` of the rendered ink."""
    pad = 4  # _render_glyph's 1-px frame and 3-px margin
    size = (source.shape[1], source.shape[0])
    drawn = cv2.resize(glyph[pad:-pad, pad:-pad], size, interpolation=cv2.INTER_AREA)
    dist = cv2.distanceTransform((drawn <= 0.15).astype(np.uint8), cv2.DIST_L2, 3)
    return float((dist[source > 0.5] <= reach).mean())


@pytest.mark.parametrize("index", [2548, 7925, 5938, 8104])  # a 9 and three 6s blotted with ink
def test_a_thin_pen_keeps_a_blotted_digit_whole(index: int) -> None:
    """Drawn along its centre line, a 6 whose eye is filled with ink became an L and a 9 with a blob
    head a 1, under the truth 6 and 9. Such digits keep their own shape."""
    images, labels, _ = scenes.mnist_test()
    source = scenes._tight(images[index].astype(np.float32) / 255.0, 0.02)
    glyph = scenes._render_glyph(source, scenes._stroke_width(source), 60.0, 2.5 / 60.0)
    assert _covered(source, glyph) > 0.95, f"MNIST test digit {index} ({labels[index]}) lost a part"


def test_a_thin_pen_still_draws_a_plain_digit_thin() -> None:
    images, _, _ = scenes.mnist_test()
    source = scenes._tight(images[0].astype(np.float32) / 255.0, 0.02)  # a 7 of even strokes
    glyph = scenes._render_glyph(source, scenes._stroke_width(source), 60.0, 2.5 / 60.0)
    inside = cv2.distanceTransform((glyph > 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    assert inside.max() <= 2.0, "a 2.5 px pen drew a stroke wider than 4 px"
    assert _covered(source, glyph) > 0.9


def test_benchmark_set_is_every_category_in_order() -> None:
    cats = [s.category for s in benchmark_set(1, seed=5)]
    assert cats == list(CATEGORIES)


def test_unknown_category_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown scene category"):
        make_scene("poster", 0)


def test_frame_640() -> None:
    image, text = frame_640(3)
    assert image.shape == (480, 640, 3)
    digits = text.replace("|", "")
    assert digits.isdigit() and 6 <= len(digits) <= 10 and text.count("|") <= 1
    again, text2 = frame_640(3)
    assert again.tobytes() == image.tobytes() and text2 == text


# ------------------------------------------------------------------------------------------ meters


@pytest.mark.parametrize("category", METER_CATEGORIES)
def test_meter_photos_are_deterministic_and_truthful(category: str) -> None:
    for seed in (0, 1):
        scene = make_meter(category, seed)
        assert scene.category == category
        check_truth(scene, allow_point=True)
        h, w = scene.image.shape[:2]
        assert (w, h) in ((640, 480), (1280, 720), (2048, 1152))
        for text in scene.lines:
            assert text.count(".") <= 1 and 1 <= len(text.replace(".", "")) <= 9
    again = make_meter(category, 1)
    assert again.image.tobytes() == scene.image.tobytes() and again.lines == scene.lines


def test_meter_value_is_the_truth_and_the_layout_stays() -> None:
    a = make_meter("lcd", 4, "12.34")
    b = make_meter("lcd", 4, "56.78")
    assert a.lines == ["12.34"] and b.lines == ["56.78"]
    assert a.image.shape == b.image.shape
    # Same device at the same place: the decimal point does not move, the digit cells line up.
    pa, pb = a.boxes[0][2], b.boxes[0][2]
    assert max(abs(u - v) for u, v in zip(pa, pb, strict=True)) <= 2
    for (xa, _, wa, _), (xb, _, wb, _) in zip(a.boxes[0], b.boxes[0], strict=True):
        assert abs((xa + wa) - (xb + wb)) <= 0.25 * max(wa, wb, 20)  # segments end at the cell's right
    # The decimal point is a small mark between digits.
    digit = a.boxes[0][1]
    assert pa[2] * pa[3] < 0.3 * digit[2] * digit[3]


def test_drum_in_transition_keeps_the_shown_value() -> None:
    still = make_meter("drum", 2, "0012349", roll=0.0, frame=(640, 480))
    rolling = make_meter("drum", 2, "0012349", roll=0.5, frame=(640, 480))
    assert still.lines == rolling.lines == ["0012349"]
    assert still.transition == []
    # 9 rolling to 0 carries: the drum before it rolls too.
    assert [(t.index, t.current, t.next) for t in rolling.transition] == [(5, "4", "5"), (6, "9", "0")]
    heights = sorted(h for _, _, _, h in still.boxes[0])
    assert 15 <= heights[len(heights) // 2] <= 45  # 20–30 px digits, taller boxes when tilted


def test_bad_meter_arguments_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown meter category"):
        make_meter("dial", 0)
    with pytest.raises(ValueError, match="meter value"):
        make_meter("lcd", 0, "12a4")
    with pytest.raises(ValueError, match="meter value"):
        make_meter("drum", 0, "12.5")


# ------------------------------------------------------------------------------------------- clips


def read_all(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), path
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def test_number_clip_reads_back_frame_exact(tmp_path: Path) -> None:
    clip = number_clip(tmp_path / "number.avi", seed=3, fps=10, seconds=12)
    frames = read_all(clip.path)
    assert len(frames) == clip.frames == len(clip.kinds) == 120
    assert frames[0].shape == (480, 640, 3)
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
    # Segments tile the clip; at least three numbers; a stretch of about a second without a sheet.
    assert clip.segments[0].start == 0 and clip.segments[-1].end == clip.frames
    assert all(a.end == b.start for a, b in itertools.pairwise(clip.segments))
    numbers = {t for t in clip.truth if t is not None}
    assert len(numbers) >= 3 and all(t.isdigit() and 3 <= len(t) <= 6 for t in numbers)
    assert clip.kinds.count("empty") == 10
    assert all((t is None) == (k != "ok") for t, k in zip(clip.truth, clip.kinds, strict=True))
    assert {"blur", "swap"} <= set(clip.kinds)
    # The empty desk really differs from the sheet: the sheet is bright paper.
    empty = frames[clip.kinds.index("empty")].mean()
    sheet = frames[clip.kinds.index("ok")].mean()
    assert sheet > empty + 10


@pytest.mark.parametrize("category", ["drum", "lcd"])
def test_meter_clip_value_only_goes_up(tmp_path: Path, category: str) -> None:
    clip = meter_clip(tmp_path / f"{category}.avi", seed=1, fps=10, seconds=8, category=category)
    assert len(read_all(clip.path)) == clip.frames == 80
    values = [int(t) for t in clip.truth if t is not None]
    assert len(values) == clip.frames
    assert all(0 <= b - a <= 1 for a, b in itertools.pairwise(values))
    assert values[-1] > values[0]
    assert {"glare", "blur"} & set(clip.kinds)
    if category == "drum":
        assert "roll" in clip.kinds


def test_image_folder(tmp_path: Path) -> None:
    clip = image_folder(tmp_path / "frames", seed=4, n=25)
    files = sorted((tmp_path / "frames").glob("*.png"))
    assert [f.name for f in files[:2]] == ["frame_00000.png", "frame_00001.png"]
    assert len(files) == clip.frames == len(clip.truth) == 25
    first = cv2.imread(str(files[0]))
    assert first.shape == (480, 640, 3)
    again = image_folder(tmp_path / "again", seed=4, n=3)
    assert again.truth == clip.truth[:3]
    assert cv2.imread(str(tmp_path / "again" / "frame_00000.png")).tobytes() == first.tobytes()
