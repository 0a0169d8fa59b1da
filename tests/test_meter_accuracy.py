"""Meter photos end to end with the shipped int8 model: exact-string floors per kind of display on the
first photos of the set `python -m bench meter` measures (make_meter(category, 1000 + i))."""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
import pytest

from bench.meter import SEED, reader_for, score_category
from convert.synth.meters import METER_CATEGORIES, make_meter
from edge_digits.preprocess import DARK_ON_LIGHT, LIGHT_ON_DARK
from edge_digits.reader import DigitReader
from edge_digits.runtime import DigitClassifier, load_turning_model

N_PER_CATEGORY = 12
# category: minimum exact strings out of N_PER_CATEGORY, one under what was measured on 2026-11-28 21:10
# with the shipped models (lcd 11, led 11, drum 12, printed_sign 12 of 12).
FLOORS = {"lcd": 10, "led": 10, "drum": 11, "printed_sign": 11}


@functools.lru_cache(maxsize=1)
def _classifier() -> DigitClassifier:
    return DigitClassifier()


@functools.lru_cache(maxsize=1)
def _turning() -> DigitClassifier | None:
    return load_turning_model()


def _read_as(reader: DigitReader, polarity: str, image: np.ndarray) -> str:
    """What `reader` reads with its polarity fixed to `polarity` (no second pass)."""
    return DigitReader(reader.classifier, replace(reader.settings, polarity=polarity)).read(image).text


@pytest.mark.parametrize("category", METER_CATEGORIES)
def test_exact_strings_floor(category: str) -> None:
    score = score_category(category, N_PER_CATEGORY, SEED, _classifier(), _turning())
    assert score.n == N_PER_CATEGORY
    assert score.exact >= FLOORS[category], (score.exact, score.misses)


def test_a_display_lighter_than_the_photo_around_it_is_read_the_other_way_round() -> None:
    # A light LCD on a red pump under white lettering: the photo as a whole is light on dark, so the
    # display's face became ink with its digits as holes, and 6.79 was read as nothing. Read as dark
    # on light when the first reading holds no number, it reads.
    scene = make_meter("lcd", 1013)
    reader = reader_for("lcd", _classifier())
    reading, trace = reader.read_traced(scene.image)
    assert reading.text == scene.text == "6.79"
    assert trace is not None and trace.pre is not None and trace.pre.polarity == DARK_ON_LIGHT
    assert _read_as(reader, LIGHT_ON_DARK, scene.image) == ""


def test_an_unsure_reading_is_read_the_other_way_round_but_never_shortened() -> None:
    # A counter read with one unknown digit is read the other way round too: 6046492 (read 60186492, then
    # 60?6492) reads right that way. But 1514607, whose last drum is caught half-way (151460?), reads
    # 151460 the other way round: the same number with its unsure digit lost, which must not win.
    reader = reader_for("drum", _classifier())
    assert reader.read(make_meter("drum", 1028).image).text == "6046492"
    turning = make_meter("drum", 1038, roll=0.5)
    assert turning.text == "1514607"
    reading, trace = reader.read_traced(turning.image)
    assert reading.text == "151460?"
    assert trace is not None and trace.pre is not None and trace.pre.polarity == LIGHT_ON_DARK
    assert _read_as(reader, DARK_ON_LIGHT, turning.image) == "151460"


class _Counting:
    """The real classifier, counting its invokes (one per reading pass)."""

    def __init__(self, inner: DigitClassifier) -> None:
        self.inner, self.invokes = inner, 0

    def probabilities(self, crops: np.ndarray) -> np.ndarray:
        self.invokes += 1
        return self.inner.probabilities(crops)


@pytest.mark.parametrize(
    ("seed", "roll", "passes", "text"), [(1028, None, 2, "6046492"), (1014, 0.5, 1, "2803?")]
)
def test_only_an_unknown_digit_that_is_no_turning_drum_makes_the_reader_try_the_other_polarity(
    seed: int, roll: float | None, passes: int, text: str
) -> None:
    # A turning drum's '?' is the drum, not a picture read the wrong way round: read the other way
    # round, 8507591 with its last drum turning gave 8507592|4.
    counting = _Counting(_classifier())
    assert reader_for("drum", counting).read(make_meter("drum", seed, roll=roll).image).text == text
    assert counting.invokes == passes


@pytest.mark.parametrize(
    ("seed", "counter"),
    # 1004: two reflections across the meter's glass, bars 300 px tall beside a counter of 21 px digits,
    # read as a line "11" (206702|11). 1009: the O of HYDRO printed over the counter, its other letters
    # gone as fragments, read as a 0 (0|78644...). 5018: two dials in a line of their own, one in a
    # glare band, read as a 0 (91400?|0). 6002, 6017, 6026: dials whose rings broke into arcs, with the
    # pointer or a tick beside them (18691341|0, 68323|1, 811653|01). 6005, 6015: the m3 printed after
    # a tilted counter, a line of its own (707067|1773, 113755|773). 5002: the outline of the last
    # drum's window, on that drum, read as a 2, and the m3 (113171|2|1773). 6021: the letters of the
    # face's word, level and evenly spaced as drums are, with a "turning drum" found after them (?|95009).
    [(1004, "206702"), (1009, "78644"), (5018, "91400"), (6002, "18691341"), (6017, "68323"),
     (6026, "811653"), (6005, "707067"), (6015, "113755"), (5002, "113171"), (6021, "95009")],
)
def test_lone_marks_beside_a_counter_are_not_read(seed: int, counter: str) -> None:
    text = reader_for("drum", _classifier(), _turning()).read(make_meter("drum", seed).image).text
    assert "|" not in text and text.startswith(counter)


@pytest.mark.parametrize(("seed", "counter"), [(5038, "67857394"), (6022, "91916"), (6019, "340980")])
def test_the_unit_after_a_counter_is_no_drum_of_it(seed: int, counter: str) -> None:
    # The 3 of m³ (or the whole m³) chains into the counter's line, one drum too many (678573943,
    # 919163, 340980?); it stands further past the last drum than the next drum would.
    text = reader_for("drum", _classifier(), _turning()).read(make_meter("drum", seed).image).text
    assert text == counter


def test_a_half_way_drum_in_one_glyph_is_read_by_the_turning_network() -> None:
    # make_meter("drum", 5021): 1→2 half-way, the foot of the 1 over the head of the 2, merged into one
    # glyph level with the drums at rest: read by the digit network as '?' (4570420?).
    text = reader_for("drum", _classifier(), _turning()).read(make_meter("drum", 5021).image).text
    assert text == "45704201"


def test_a_number_chained_with_a_label_of_smaller_print_is_read() -> None:
    # THIS SALE $ 558: the letters outnumber the digits and set the chain's height, and the digits,
    # almost twice as tall, were dropped as clutter (568.705 alone).
    scene = make_meter("printed_sign", 1034)
    assert reader_for("printed_sign", _classifier()).read(scene.image).text == scene.text == "568.705|558"


@pytest.mark.parametrize(("seed", "first_way"), [(7015, "17|1"), (5011, "777|7")])
def test_big_display_digits_beside_small_print_keep_their_bars(seed: int, first_way: str) -> None:
    # An LCD's digits, five times as tall as the labels around them (kWh, Imp/kWh, Made in EU), were
    # measured against the labels, taken for rules and stripped of their bars (17|1, 777|7).
    scene = make_meter("lcd", seed)
    assert reader_for("lcd", _classifier()).read(scene.image).text == scene.text != first_way


@pytest.mark.parametrize(("seed", "before"), [(7031, "69853|5"), (5000, "9")])
def test_dark_print_on_a_coloured_sign_is_ink(seed: int, before: str) -> None:
    # Bold black print on a yellow sign: the noisy hue of the black strokes, and the sign's own yellow
    # in a shadow, passed for a coloured desk, where no ink is looked for (69853|5, 9).
    scene = make_meter("printed_sign", seed)
    assert reader_for("printed_sign", _classifier()).read(scene.image).text == scene.text != before


@pytest.mark.parametrize(("category", "seed", "first_way"), [("drum", 1039, "52|5"), ("lcd", 1025, "13")])
def test_a_reading_without_three_digits_in_a_line_is_read_the_other_way_round(
    category: str, seed: int, first_way: str
) -> None:
    # The photo's polarity, decided for the whole of it, reads these as a few scattered digits; the
    # other way round they read whole.
    scene = make_meter(category, seed)
    reader = reader_for(category, _classifier())
    reading, trace = reader.read_traced(scene.image)
    assert reading.text == scene.text
    assert trace is not None and trace.pre is not None
    first = DARK_ON_LIGHT if trace.pre.polarity == LIGHT_ON_DARK else LIGHT_ON_DARK
    assert _read_as(reader, first, scene.image) == first_way
