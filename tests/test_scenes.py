"""The synthetic test-image generators: deterministic, truthful, the sizes they promise."""

from __future__ import annotations

import re

import numpy as np
import pytest

from convert.synth import scenes
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
            assert 0 <= x and x + bw <= w and 0 <= y and y + bh <= h, (x, y, bw, bh, w, h)
        for (x0, _, w0, _), (x1, _, w1, _) in zip(boxes, boxes[1:], strict=False):
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
        float(np.median([bh for _, _, _, bh in make_scene("single_line", s).boxes[0]])) for s in range(12)
    ]
    assert min(heights) < 35 and max(heights) > 60


def test_digits_are_dark_ink_inside_their_boxes() -> None:
    """The box marks real ink: its darkest pixels are much darker than the paper around the line."""
    scene = make_scene("single_line", 3)
    gray = scene.image.min(axis=2).astype(float)
    paper = float(np.median(gray))
    for x, y, w, h in scene.boxes[0]:
        assert gray[y : y + h, x : x + w].min() < paper - 40


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
