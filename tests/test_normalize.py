"""Normalisation: camera crops of the committed MNIST test digits are brought back to MNIST's own form."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from convert.synth.scenes import mnist_test
from edge_digits.normalize import FIT, INK_AGREES, SIZE, normalize_digit, stroke_width, window_crop
from edge_digits.preprocess import preprocess
from edge_digits.runtime import DEFAULT_MODEL, DigitClassifier
from edge_digits.segment import DrumWindow
from tests.test_preprocess import finish


@pytest.fixture(scope="module")
def classifier() -> DigitClassifier:
    if not DEFAULT_MODEL.is_file():
        pytest.fail(f"{DEFAULT_MODEL}: the shipped model is missing")
    return DigitClassifier()


def camera_crop(digit: np.ndarray, height: int, ink: float = 0.85) -> np.ndarray:
    """An MNIST digit as a camera sees it: scaled to `height` px, dark ink on light paper, with a margin."""
    ys, xs = np.nonzero(digit > 30)
    d = digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32) / 255.0
    w = max(2, round(d.shape[1] * height / d.shape[0]))
    d = cv2.resize(d, (w, height), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    m = height // 2
    page = np.zeros((height + 2 * m, w + 2 * m), np.float32)
    page[m : m + height, m : m + w] = d
    return 230.0 * (1.0 - ink * page)


def test_the_crop_fits_mnists_box_and_is_centred_by_mass() -> None:
    images, _, _ = mnist_test()
    for digit in images[:20]:
        mask = (camera_crop(digit, 90) < 150).astype(np.uint8) * 255
        crop = normalize_digit(mask)
        ys, xs = np.nonzero(crop)
        assert max(np.ptp(ys), np.ptp(xs)) + 1 in range(FIT - 1, FIT + 2)
        m = cv2.moments(crop)
        assert abs(m["m10"] / m["m00"] - (SIZE / 2 - 0.5)) <= 1.0
        assert abs(m["m01"] / m["m00"] - (SIZE / 2 - 0.5)) <= 1.0


def test_strokes_are_brought_to_mnists_weight() -> None:
    """A hairline and a marker on the same digit come out with about MNIST's stroke width (≈2.4 px)."""
    images, _, _ = mnist_test()
    mask = (camera_crop(images[0], 120) < 150).astype(np.uint8) * 255
    hairline = cv2.erode(mask, np.ones((5, 5), np.uint8))
    marker = cv2.dilate(mask, np.ones((9, 9), np.uint8))
    assert stroke_width(marker) > 2 * stroke_width(hairline)
    for pen in (hairline, marker):
        assert 1.7 <= stroke_width((normalize_digit(pen) >= 128).astype(np.uint8)) <= 3.2


def test_ink_gives_the_crop_the_strokes_grey_levels() -> None:
    """A stroke whose middle is faint: the mask holds all of it at full white, the inked crop keeps
    the faint stretch fainter and the stroke's edges soft, as MNIST's anti-aliased strokes are."""
    gray = np.full((120, 80), 230.0, np.float32)
    cv2.line(gray, (40, 10), (40, 110), 40.0, 8)
    gray[45:75] = np.where(gray[45:75] < 200, 150.0, gray[45:75])
    pre = preprocess(finish(gray, noise=1.0), polarity="dark_on_light")
    mask = pre.binary
    assert mask[50:70, 38:42].all(), "the faint stretch must be ink in the mask for this test"
    ink = pre.ink(0, 0, 80, 120)
    assert ink[20:40, 38:42].min() == 255 and ink[100:, :30].max() < 16
    with_ink = normalize_digit(mask, ink=ink)
    flat = normalize_digit(mask)
    core = with_ink.max(axis=1)
    assert flat.max(axis=1)[5:23].min() == 255  # flat: every row of the stroke at full white
    assert core[5:9].min() == 255 and core[19:23].min() == 255
    assert 60 < core[12:16].max() < 200
    assert np.count_nonzero((with_ink > 0) & (with_ink < 255)) > np.count_nonzero((flat > 0) & (flat < 255))


def test_ink_that_does_not_match_the_mask_is_ignored() -> None:
    """A mask made by another threshold (a counter window read in its own polarity) has no ink under
    it in the page's ink image: the flat mask is used."""
    images, _, _ = mnist_test()
    mask = (camera_crop(images[3], 60) < 150).astype(np.uint8) * 255
    unrelated = np.full_like(mask, INK_AGREES // 2)
    assert np.array_equal(normalize_digit(mask, ink=unrelated), normalize_digit(mask))
    wrong_shape = np.full((3, 3), 255, np.uint8)
    assert np.array_equal(normalize_digit(mask, ink=wrong_shape), normalize_digit(mask))


def test_small_camera_digits_read_better_with_their_grey_levels(classifier) -> None:
    """The point of the grey levels: MNIST test digits 16-24 px high, soft and faint, are read better
    with them than from the mask alone."""
    images, labels, _ = mnist_test()
    rng = np.random.default_rng(3)
    flat, inked, truth = [], [], []
    for k in range(300):
        gray = camera_crop(images[k], int(rng.integers(16, 25)), ink=float(rng.uniform(0.45, 0.8)))
        gray = cv2.GaussianBlur(gray, (0, 0), 0.8)
        pre = preprocess(finish(gray, seed=k), polarity="dark_on_light")
        n, lab, stats, _ = cv2.connectedComponentsWithStats(pre.binary)
        if n < 2:
            continue
        big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        mask = np.where(lab == big, 255, 0).astype(np.uint8)
        flat.append(normalize_digit(mask))
        inked.append(normalize_digit(mask, ink=pre.ink(0, 0, mask.shape[1], mask.shape[0])))
        truth.append(labels[k])
    truth = np.array(truth)
    acc_flat = float((classifier.probabilities(np.stack(flat)).argmax(1) == truth).mean())
    acc_ink = float((classifier.probabilities(np.stack(inked)).argmax(1) == truth).mean())
    assert len(truth) >= 280
    # Measured with the shipped model: 0.94 flat, 0.98 with ink.
    assert acc_ink >= acc_flat + 0.01 and acc_ink >= 0.96, (acc_flat, acc_ink)


def test_empty_and_odd_masks_give_an_empty_crop() -> None:
    for mask in (np.zeros((0, 0), np.uint8), np.zeros((5, 5), np.uint8), np.zeros((2, 2, 2), np.uint8)):
        assert not normalize_digit(mask).any()
    assert normalize_digit(np.ones((1, 1), bool)).shape == (SIZE, SIZE)


@pytest.mark.parametrize("degrees", [0.0, 20.0])
def test_a_drum_window_is_cropped_level_with_its_counter_and_its_digits_light(degrees: float) -> None:
    # A dark window (gray 60) on a darker face, with a light bar (200) across its upper third, the
    # counter tilted by `degrees`: the crop shows the bar as rows of 255 over 0, wherever the tilt.
    gray = np.full((200, 200), 20, np.uint8)
    bar = np.zeros((200, 200), np.uint8)
    cv2.rectangle(bar, (85, 75), (115, 82), 255, -1)
    rect = np.zeros((200, 200), np.uint8)
    cv2.rectangle(rect, (80, 70), (120, 130), 255, -1)
    turn = cv2.getRotationMatrix2D((100.0, 100.0), -degrees, 1.0)  # (OpenCV turns anticlockwise)
    rect, bar = (cv2.warpAffine(m, turn, (200, 200), flags=cv2.INTER_NEAREST) for m in (rect, bar))
    gray[rect > 0] = 60
    gray[bar > 0] = 200
    slope = float(np.tan(np.radians(degrees)))
    crop = window_crop(gray, DrumWindow(100.0, 100.0, 40.0, 60.0, slope))
    assert crop.shape == (SIZE, SIZE) and crop.dtype == np.uint8
    rows = crop[:, 6:22].mean(axis=1)
    # The bar: rows 2.3 to 5.1 of 28 (75..82 of the window's 70..130), full across; below it, none.
    assert rows[3:5].min() > 200 and rows[8:].max() < 40
    # Level: the bar's rows are as bright at its left end as at its right.
    assert abs(float(crop[3:5, 6:10].mean()) - float(crop[3:5, 18:22].mean())) < 30
