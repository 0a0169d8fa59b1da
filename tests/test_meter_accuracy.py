"""Meter photos end to end with the shipped int8 model: exact-string floors per kind of display on the
first photos of the set `python -m bench meter` measures (make_meter(category, 1000 + i))."""

from __future__ import annotations

import functools

import pytest

from bench.meter import SEED, score_category
from convert.synth.meters import METER_CATEGORIES
from edge_digits.runtime import DigitClassifier

N_PER_CATEGORY = 12
# category: minimum exact strings out of N_PER_CATEGORY, one under what was measured on 2026-11-27 22:50
# with the shipped model (lcd 11, led 11, drum 9, printed_sign 12 of 12).
FLOORS = {"lcd": 10, "led": 10, "drum": 8, "printed_sign": 11}


@functools.lru_cache(maxsize=1)
def _classifier() -> DigitClassifier:
    return DigitClassifier()


@pytest.mark.parametrize("category", METER_CATEGORIES)
def test_exact_strings_floor(category: str) -> None:
    score = score_category(category, N_PER_CATEGORY, SEED, _classifier())
    assert score.n == N_PER_CATEGORY
    assert score.exact >= FLOORS[category], (score.exact, score.misses)

