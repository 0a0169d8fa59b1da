"""Preprocessing: flat light, polarity, ink mask — on pages composed from the committed MNIST test digits."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from convert.synth.scenes import mnist_test
from edge_digits.preprocess import DARK_ON_LIGHT, LIGHT_ON_DARK, ink_thresholds, preprocess, to_gray


def page(
    seed: int = 0, h: int = 480, w: int = 640, digit_h: int = 48, n: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """(gray page with dark MNIST digits on light paper, truth ink mask) — flat light."""
    images, _, _ = mnist_test()
    rng = np.random.default_rng(seed)
    ink = np.zeros((h, w), np.float32)
    x = w // 10
    y = h // 2 - digit_h // 2
    for k in rng.choice(len(images), n, replace=False):
        d = images[k]
        ys, xs = np.nonzero(d > 30)
        d = d[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        dw = max(2, round(d.shape[1] * digit_h / d.shape[0]))
        g = cv2.resize(d, (dw, digit_h), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
        ink[y : y + digit_h, x : x + dw] = np.maximum(ink[y : y + digit_h, x : x + dw], g)
        x += dw + digit_h // 5
    gray = 230.0 * (1.0 - 0.85 * ink)
    return gray, ink > 0.5


def uneven_light(h: int, w: int) -> np.ndarray:
    """A strong left-to-right gradient times a soft shadow: no global threshold separates ink from paper."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 0.35 + 0.65 * xx / w
    light *= 1.0 - 0.4 * np.exp(-((xx - 0.6 * w) ** 2 + (yy - 0.5 * h) ** 2) / (2 * (0.15 * w) ** 2))
    return light


def finish(gray: np.ndarray, seed: int = 0, noise: float = 3.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(gray + rng.normal(0, noise, gray.shape), 0, 255).astype(np.uint8)


def agreement(binary: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(share of the truth ink found, share of the found ink that is truth ink, within a pixel)."""
    found = binary > 0
    near_truth = cv2.dilate(truth.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    recall = float((found & truth).sum() / max(1, truth.sum()))
    precision = float((found & near_truth).sum() / max(1, found.sum()))
    return recall, precision


def test_flat_page_gives_the_digits_ink_and_nothing_else():
    gray, truth = page()
    pre = preprocess(finish(gray))
    recall, precision = agreement(pre.binary, truth)
    assert pre.polarity == DARK_ON_LIGHT
    assert recall > 0.9 and precision > 0.97
    assert pre.binary.dtype == np.uint8 and set(np.unique(pre.binary)) <= {0, 255}
    assert pre.gray.shape == pre.normalized.shape == pre.binary.shape == truth.shape


def test_gradient_and_shadow_are_flattened_where_a_global_threshold_fails():
    gray, truth = page(seed=1)
    image = finish(gray * uneven_light(*gray.shape), seed=1)
    # The failure this guards against: Otsu over the whole frame marks the dark side as ink.
    _, otsu = cv2.threshold(image, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    assert agreement(otsu, truth)[1] < 0.5
    pre = preprocess(image)
    recall, precision = agreement(pre.binary, truth)
    assert recall > 0.85 and precision > 0.95
    paper = ~cv2.dilate(truth.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    # Paper comes out flat white on both sides of the gradient.
    left, right = pre.normalized[:, :100][paper[:, :100]], pre.normalized[:, -100:][paper[:, -100:]]
    assert abs(float(np.median(left)) - float(np.median(right))) < 12


@pytest.mark.parametrize("invert", [False, True])
def test_polarity_is_detected_and_can_be_forced(invert):
    gray, truth = page(seed=2)
    image = finish(255.0 - gray if invert else gray, seed=2)
    pre = preprocess(image)
    assert pre.polarity == (LIGHT_ON_DARK if invert else DARK_ON_LIGHT)
    assert agreement(pre.binary, truth)[0] > 0.9
    # Forcing the wrong polarity reads the background as ink instead: the digits are no longer found.
    wrong = preprocess(image, polarity=DARK_ON_LIGHT if invert else LIGHT_ON_DARK)
    assert wrong.polarity != pre.polarity
    assert agreement(wrong.binary, truth)[0] < 0.5


def test_thin_strokes_survive_denoising():
    h, w = 240, 320
    gray = np.full((h, w), 225.0)
    truth = np.zeros((h, w), bool)
    for k, x in enumerate(range(40, 280, 40)):
        cv2.line(gray, (x, 60), (x + 10 + k, 180), 60.0, 1, cv2.LINE_8)
        cv2.line(truth.view(np.uint8), (x, 60), (x + 10 + k, 180), 1, 1, cv2.LINE_8)
    pre = preprocess(finish(gray, noise=4.0))
    recall, precision = agreement(pre.binary, truth)
    assert recall > 0.95 and precision > 0.9


def test_a_coloured_desk_beside_the_sheet_is_no_ink():
    gray, truth = page(seed=3)
    image = cv2.cvtColor(finish(gray, seed=3), cv2.COLOR_GRAY2BGR).astype(np.float32)
    # Wood grain on the right quarter: saturated brown with dark streaks.
    rng = np.random.default_rng(3)
    h, w = gray.shape
    streaks = np.sin(np.linspace(0, 60, w // 4)[None, :] + rng.normal(0, 0.3, (h, 1)))
    wood = np.array((50, 90, 150), np.float32) * (1.0 + 0.15 * streaks)[..., None]
    image[:, -w // 4 :] = wood
    pre = preprocess(np.clip(image, 0, 255).astype(np.uint8))
    assert np.count_nonzero(pre.binary[:, -w // 4 + 4 :]) < 0.002 * h * (w // 4)
    assert agreement(pre.binary, truth)[0] > 0.85


def test_a_coloured_sign_in_a_shadow_keeps_its_ink():
    # Black digits on a yellow sign whose right half lies in a shadow. The shadowed yellow is darker
    # than the paper and coloured like a desk, but of the paper's own hue; and dark bold ink, whose hue
    # is noise, is no coloured surface either (make_meter("printed_sign", 7031) lost its right digits).
    gray, truth = page(seed=5, digit_h=80, n=6)
    w = gray.shape[1]
    ink = 1.0 - gray / 230.0
    yellow = np.array((20, 215, 235), np.float32)
    image = yellow * (1.0 - 0.95 * ink)[..., None]
    image[:, w // 2 :] *= 0.55
    pre = preprocess(finish(image, seed=5))
    for part in (slice(0, w // 2), slice(w // 2, w)):
        assert agreement(pre.binary[:, part], truth[:, part])[0] > 0.9


def test_ink_thresholds_sit_between_noise_and_ink():
    rng = np.random.default_rng(4)
    contrast = np.clip(rng.normal(3, 2, (200, 200)), 0, 255)
    contrast[50:60, 20:180] = 160  # strokes
    low, high, core = ink_thresholds(contrast.astype(np.uint8))
    assert 15 < low <= high < 160
    assert 70 <= high <= 90  # half of the stroke contrast
    assert 150 <= core <= 170


def test_blank_pages_give_no_ink():
    for value in (0, 128, 255):
        pre = preprocess(np.full((60, 80), value, np.uint8))
        assert np.count_nonzero(pre.binary) == 0


def test_to_gray_accepts_the_usual_layouts():
    bgr = np.zeros((4, 5, 3), np.uint8)
    assert to_gray(bgr).shape == (4, 5)
    assert to_gray(np.zeros((4, 5, 4), np.uint8)).shape == (4, 5)
    assert to_gray(np.zeros((4, 5, 1), np.uint8)).shape == (4, 5)
    assert to_gray(np.zeros((4, 5), np.uint8)).shape == (4, 5)


@pytest.mark.parametrize("invert", [False, True])
def test_pale_pencil_beside_bold_print_is_faint_ink_on_paper_only(invert):
    # Bold black bars set the ink thresholds; a pale stroke under them holds no seed of strong ink but
    # is faint ink, on paper. The same picture the other way round (a display) keeps no faint ink.
    gray = np.full((120, 200), 230, np.uint8)
    for x in range(15, 120, 15):
        gray[20:60, x : x + 6] = 20  # bold print
    gray[20:60, 150:154] = 150  # a pale pen stroke
    pre = preprocess(255 - gray if invert else gray, "auto")
    stroke = np.zeros(gray.shape, bool)
    stroke[22:58, 151:153] = True
    assert pre.seeds[stroke].mean() < 0.1
    if invert:
        assert pre.polarity == LIGHT_ON_DARK and pre.faint_level is None
        assert not pre.faint().any()
    else:
        assert pre.polarity == DARK_ON_LIGHT and pre.faint_level is not None
        assert pre.faint()[stroke].mean() > 0.9
        assert not pre.faint()[pre.normalized > 200].any()  # paper is no faint ink
