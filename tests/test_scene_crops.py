"""Training crops cut by the engine from generated scenes: labels from the truth boxes, digits drawn
from the pool they are given."""

from __future__ import annotations

import numpy as np
import pytest

from convert import scene_crops
from convert.scene_crops import label_for
from convert.synth import scenes
from edge_digits.reader import REJECT
from edge_digits.runtime import DigitClassifier

TRUTH = [((10, 10, 20, 30), "4"), ((34, 10, 20, 30), "7"), ((60, 30, 4, 4), ".")]


@pytest.mark.parametrize(
    ("box", "whole", "expected"),
    [
        ((10, 10, 20, 30), True, 4),  # the digit itself
        ((9, 9, 22, 32), False, 4),  # a little loose
        ((34, 8, 21, 33), True, 7),
        ((100, 10, 20, 30), True, REJECT),  # nowhere near a digit
        ((10, 10, 44, 30), True, REJECT),  # two touching digits read whole are no single digit
        ((10, 10, 44, 30), False, None),  # ... a cut piece that big is a bad cut, not a lesson
        ((12, 12, 5, 8), True, REJECT),  # a stroke cut off a digit
        ((10, 10, 8, 30), False, None),  # 40% of a digit can still look like it
        ((10, 10, 10, 30), False, None),  # half a digit: half a 0 is a C, not a 0
        ((59, 29, 6, 6), True, REJECT),  # a decimal point alone is no digit
        ((10, 10, 20, 30 + 25), True, 4),  # a digit whose box runs over the dot's row is still the digit
        ((0, 0, 0, 5), True, None),  # empty box
    ],
)
def test_label_for(box: tuple[int, int, int, int], whole: bool, expected: int | None) -> None:
    assert label_for(box, TRUTH, whole) == expected


def test_crops_cut_from_printed_words_have_no_label() -> None:
    printed = [(100, 10, 60, 30)]  # "LITRES": its S would be a 5 to a camera
    assert label_for((130, 10, 14, 30), TRUTH, True, printed) is None
    assert label_for((100, 60, 14, 30), TRUTH, True, printed) == REJECT  # clutter elsewhere still is
    assert label_for((10, 10, 20, 30), TRUTH, True, [(0, 0, 200, 100)]) == 4  # a digit stays a digit


def test_scenes_record_where_their_printed_words_are() -> None:
    scene = scenes.make_scene("words_and_numbers", 2)
    h, w = scene.image.shape[:2]
    assert scene.printed
    digits = [b for line in scene.boxes for b in line]
    for x, y, bw, bh in scene.printed:
        assert bw > 0 and bh > 0 and x < w and y < h
        assert not any(scene_crops._intersection(d, (x, y, bw, bh)) for d in digits)  # words beside digits


def test_a_drum_digit_between_two_values_has_no_label() -> None:
    truth = [((10, 10, 20, 30), "")]
    assert label_for((10, 10, 20, 30), truth, True) is None
    assert label_for((100, 10, 20, 30), truth, True) == REJECT


def test_drawn_from_replaces_the_digit_pool_and_restores_it() -> None:
    images, _, by_label = scenes.mnist_test()
    one_each = np.stack([images[by_label[d][0]] for d in range(10)])
    before = scenes.make_scene("single_line", 3).image
    with scenes.drawn_from(one_each, np.arange(10)):
        inside = scenes.make_scene("single_line", 3).image
    after = scenes.make_scene("single_line", 3).image
    assert not np.array_equal(before, inside)
    np.testing.assert_array_equal(before, after)
    with pytest.raises(ValueError, match="every digit 0-9"), scenes.drawn_from(one_each[:9], np.arange(9)):
        pass


def test_harvest_labels_agree_with_the_shipped_model() -> None:
    """The labels come from geometry alone; the shipped network, which never saw these scenes, must
    mostly agree with them, and every kind of scene must give crops of both sorts."""
    images, labels, _ = scenes.mnist_test()  # a stand-in pool: the mechanism, not the data, is tested
    kinds = ("single_line", "words_and_numbers", "lcd", "drum")
    h = scene_crops.harvest(images, labels, 3, seed=5, kinds=kinds)
    assert set(h.counts) == set(kinds) and all(n > 0 for n in h.counts.values())
    assert h.x.shape == (len(h.y), 28, 28) and h.x.dtype == np.uint8
    digits = h.y != REJECT
    assert 0 < (~digits).sum() <= 0.3 / 0.7 * digits.sum() + 1
    predicted = DigitClassifier().probabilities(h.x).argmax(axis=1)
    agree = float((predicted[digits] == h.y[digits]).mean())
    assert agree >= 0.9, agree
    assert float((predicted[~digits] == REJECT).mean()) >= 0.4
    again = scene_crops.harvest(images, labels, 3, seed=5, kinds=kinds)
    np.testing.assert_array_equal(h.x, again.x)
