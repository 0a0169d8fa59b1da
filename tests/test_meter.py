"""Meter rules: digit count, range, monotonic counter with rate limit and rollover, digits caught
between two values, and the state file that carries the last value across a restart."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from edge_digits.meter import MeterConfig, MeterRules, MeterVote
from edge_digits.reading import Box, Digit, Line, Reading
from edge_digits.stabilize import Observation, Rejection, Stabilizer, StabilizerSettings
from edge_digits.state import MeterState, default_state_file, load_state, save_state


def config(**kw: object) -> MeterConfig:
    kw.setdefault("state_file", Path("/nonexistent/meter.json"))
    return MeterConfig(enabled=True, **kw)


def digit(value: str, conf: float = 0.99, alt: str = "?", alt_conf: float = 0.0, x: int = 0,
          h: int = 30) -> Digit:
    return Digit(value, conf, Box(x, 0, 20, h), alt, alt_conf)


def line(spec: list[str | tuple[str, float, str, float]], h: int = 30) -> Line:
    """'7' is a sure digit; (value, conf, alternative, alt_conf) an unsure one."""
    out = []
    for i, s in enumerate(spec):
        out.append(digit(s, x=25 * i, h=h) if isinstance(s, str) else digit(*s, x=25 * i, h=h))
    return Line(tuple(out))


def test_config_rejects_unknown_keys_and_bad_ranges() -> None:
    with pytest.raises(ValidationError, match="extra"):
        MeterConfig(digts=5)
    with pytest.raises(ValidationError, match="decimals"):
        MeterConfig(digits=3, decimals=3)
    with pytest.raises(ValidationError, match="max_value"):
        MeterConfig(min_value=10, max_value=5)
    assert MeterConfig(digits=5).top_value == 99999
    assert MeterConfig(digits=6, decimals=2).top_value == pytest.approx(9999.99)


def test_default_state_file_follows_systemd_then_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", f"{tmp_path}/a:{tmp_path}/b")
    assert default_state_file() == tmp_path / "a" / "meter.json"
    assert MeterConfig().state_file == tmp_path / "a" / "meter.json"
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "x"))
    assert default_state_file() == tmp_path / "x" / "edge-digits" / "meter.json"


def test_first_reading_is_accepted_with_its_value() -> None:
    rules = MeterRules(config(digits=5))
    d = rules.check("01234", ts=0.0)
    assert (d.accepted, d.value, d.text, d.reason, d.previous) == (True, 1234.0, "01234", None, None)
    assert rules.last == MeterState(1234.0, "01234", 0.0)


def test_implied_and_printed_decimal_point() -> None:
    rules = MeterRules(config(digits=6, decimals=2))
    assert rules.check("012345", 0.0).value == pytest.approx(123.45)
    assert rules.check("0123.46", 1.0).value == pytest.approx(123.46)
    wrong = rules.check("01234.7", 2.0)  # printed point in another place than configured
    assert (wrong.accepted, wrong.reason) == (False, "wrong_digit_count")


def test_wrong_digit_count_and_out_of_range() -> None:
    rules = MeterRules(config(digits=5, min_value=100, max_value=90000))
    assert rules.check("1234", 0.0).reason == "wrong_digit_count"
    assert rules.check("123456", 0.0).reason == "wrong_digit_count"
    assert rules.check("", 0.0).reason == "wrong_digit_count"
    assert rules.check("00099", 0.0).reason == "out_of_range"
    assert rules.check("95000", 0.0).reason == "out_of_range"
    assert rules.last is None
    assert rules.check("00100", 0.0).accepted


def test_counter_never_goes_down() -> None:
    rules = MeterRules(config(digits=5))
    assert rules.check("12345", 0.0).accepted
    down = rules.check("12344", 60.0)
    assert (down.accepted, down.value, down.reason, down.previous) == (False, None, "negative_rate", 12345.0)
    assert rules.check("12345", 61.0).accepted  # unchanged is fine
    assert rules.last is not None and rules.last.value == 12345


def test_rollover_at_the_top_of_the_range() -> None:
    rules = MeterRules(config(digits=5, max_rate_per_minute=10))
    assert rules.check("99998", 0.0).accepted
    assert rules.check("99999", 6.0).accepted
    d = rules.check("00000", 12.0)
    assert (d.accepted, d.value) == (True, 0.0)
    assert rules.check("00001", 18.0).accepted
    # Back over the top the other way is a decrease, not a rollover.
    assert rules.check("99999", 100.0).reason == "negative_rate"


def test_rollover_without_a_rate_takes_the_shorter_way_round() -> None:
    rules = MeterRules(config(digits=4))
    assert rules.check("9990", 0.0).accepted
    assert rules.check("0010", 1.0).accepted  # 20 forward beats 9980 back
    assert rules.check("5000", 2.0).accepted  # forward is all a counter can do
    assert rules.check("4000", 3.0).reason == "negative_rate"


def test_rate_limit_scales_with_elapsed_time_plus_one_unit() -> None:
    rules = MeterRules(config(digits=5, max_rate_per_minute=6))
    assert rules.check("01000", 0.0).accepted
    # One tick is always possible however short the interval.
    assert rules.check("01001", 1.0).accepted
    too_fast = rules.check("01003", 2.0)
    assert (too_fast.accepted, too_fast.reason) == (False, "rate_too_high")
    # 6/min over 60 s (since the last accepted reading at t=1) → 6 units (+1 slack).
    assert rules.check("01008", 61.0).accepted
    assert rules.check("01016", 121.0).reason == "rate_too_high"
    assert rules.check("01015", 121.0).accepted


def test_rate_with_decimals_counts_in_value_units() -> None:
    rules = MeterRules(config(digits=6, decimals=3, max_rate_per_minute=0.5))
    assert rules.check("001.000", 0.0).accepted
    assert rules.check("001.500", 60.0).accepted
    assert rules.check("002.100", 120.0).reason == "rate_too_high"


def test_clock_going_back_checks_direction_only() -> None:
    rules = MeterRules(config(digits=5, max_rate_per_minute=1))
    assert rules.check("00100", 1_000_000.0).accepted
    assert rules.check("00150", 10.0).accepted
    assert rules.check("00149", 11.0).reason == "negative_rate"


def test_non_monotonic_display_only_limits_the_rate() -> None:
    rules = MeterRules(config(digits=3, monotonic=False, max_rate_per_minute=60))
    assert rules.check("200", 0.0).accepted
    assert rules.check("195", 5.0).accepted
    assert rules.check("100", 10.0).reason == "rate_too_high"


def test_unsure_digit_without_a_neighbouring_runner_up_is_low_confidence() -> None:
    rules = MeterRules(config(digits=4))
    assert rules.check(line(["1", "2", "3", "4"]), 0.0).accepted
    assert rules.check(line(["1", "2", ("3", 0.45, "8", 0.4), "5"]), 1.0).reason == "low_confidence"
    # Two adjacent classes but weak together: glare, not a drum in transition.
    assert rules.check(line(["1", "2", ("3", 0.3, "4", 0.2), "5"]), 1.0).reason == "low_confidence"
    assert rules.check("12?5", 1.0).reason == "low_confidence"
    off = MeterRules(config(digits=4, resolve_transitions=False), MeterState(1234, "1234", 0))
    assert off.check(line(["1", "2", ("3", 0.5, "4", 0.45), "5"]), 1.0).reason == "low_confidence"


def test_last_digit_in_transition_resolves_from_previous_value() -> None:
    rules = MeterRules(config(digits=4), MeterState(1235, "1235", 0.0))
    d = rules.check(line(["1", "2", "3", ("4", 0.55, "5", 0.4)]), 1.0)
    # 1234 would be a decrease: the runner-up 5 is the reading.
    assert (d.accepted, d.value, d.text, d.resolved) == (True, 1235.0, "1235", True)
    d = rules.check(line(["1", "2", "3", ("6", 0.5, "5", 0.45)]), 2.0)
    assert (d.value, d.text) == (1236.0, "1236")


def test_a_question_mark_keeps_its_guess_and_resolves_from_previous_value() -> None:
    # What the reader hands over for a digit under its threshold: '?', with the best guess kept.
    unsure = Digit("?", 0.45, Box(75, 0, 20, 30), "5", 0.4, guess="4")
    reading = Line((*line(["1", "2", "3"]).digits, unsure))
    rules = MeterRules(config(digits=4), MeterState(1235, "1235", 0.0))
    d = rules.check(reading, 1.0)
    assert (d.accepted, d.value, d.text, d.resolved) == (True, 1235.0, "1235", True)
    rules = MeterRules(config(digits=4), MeterState(1233, "1233", 0.0))
    assert rules.check(reading, 1.0).text == "1234"
    # Without the guess the '?' is no pair of classes, so nothing can be decided.
    blind = Line((*line(["1", "2", "3"]).digits, Digit("?", 0.45, Box(75, 0, 20, 30), "5", 0.4)))
    assert rules.check(blind, 1.0).reason == "low_confidence"


def test_drum_caught_between_values_rolls_over_from_the_lowest_digit() -> None:
    between = ["0", "1", "2", ("4", 0.5, "3", 0.45), ("0", 0.5, "9", 0.42), ("9", 0.5, "0", 0.48)]
    # Before the turn completed: 012399 is the only counter-consistent value at or above 012399...
    rules = MeterRules(config(digits=6), MeterState(12399, "012399", 0.0))
    d = rules.check(line(between), 1.0)
    assert (d.accepted, d.text) == (True, "012400")  # ...together with 012400, which is likelier
    # Mixed strings like 012490 or 012309 are never produced.
    rules = MeterRules(config(digits=6, max_rate_per_minute=0.5), MeterState(12398, "012398", 0.0))
    d = rules.check(line(between), 6.0)
    assert (d.accepted, d.text) == (True, "012399")  # 012400 is two units in 6 s: too fast
    rules = MeterRules(config(digits=6), MeterState(12400, "012400", 0.0))
    assert rules.check(line(between), 1.0).text == "012400"


def test_drum_transition_with_sure_lower_digits() -> None:
    rules = MeterRules(config(digits=5), MeterState(12398, "12398", 0.0))
    assert rules.check(line(["1", "2", ("4", 0.5, "3", 0.45), "9", "9"]), 1.0).text == "12399"
    assert rules.check(line(["1", "2", ("3", 0.55, "4", 0.4), "0", "0"]), 2.0).text == "12400"


def test_undecided_digit_without_previous_value_waits() -> None:
    rules = MeterRules(config(digits=4))
    d = rules.check(line(["1", "2", "3", ("4", 0.55, "5", 0.4)]), 0.0)
    assert (d.accepted, d.reason) == (False, "low_confidence")
    # ...unless only one of the candidates is in range.
    rules = MeterRules(config(digits=4, max_value=1234))
    assert rules.check(line(["1", "2", "3", ("4", 0.55, "5", 0.4)]), 0.0).value == 1234


def test_all_candidates_breaking_rules_reports_the_likeliest_reason() -> None:
    rules = MeterRules(config(digits=4), MeterState(1240, "1240", 0.0))
    d = rules.check(line(["1", "2", "3", ("4", 0.55, "5", 0.4)]), 1.0)
    assert (d.accepted, d.reason, d.text) == (False, "negative_rate", "1234")


def test_the_counter_line_is_picked_from_a_reading_with_several_lines() -> None:
    price = line(["3", "9", "9"], h=12)
    small = line(["0", "0", "4", "2", "1"], h=10)
    counter = line(["0", "1", "2", "3", "4"], h=40)
    reading = Reading((price, small, counter), (640, 480))
    d = MeterRules(config(digits=5)).check(reading, 0.0)
    assert (d.accepted, d.text) == (True, "01234")
    for lines in ((price,), ()):
        d = MeterRules(config(digits=5)).check(Reading(lines, (640, 480)), 0.0)
        assert d.reason == "wrong_digit_count"


def test_state_is_saved_on_change_and_restored_after_restart(tmp_path: Path) -> None:
    path = tmp_path / "state" / "meter.json"
    cfg = config(digits=5, state_file=path)
    rules = MeterRules.from_config(cfg)
    assert rules.last is None
    assert rules.check("00500", 100.0).accepted
    assert json.loads(path.read_text()) == {"version": 1, "value": 500.0, "text": "00500", "ts": 100.0}
    mtime = path.stat().st_mtime_ns
    assert rules.check("00500", 200.0).accepted
    assert path.stat().st_mtime_ns == mtime, "an unchanged value must not rewrite the file"
    assert rules.check("00501", 300.0).accepted
    assert list(path.parent.iterdir()) == [path], "no temp file left behind"

    restarted = MeterRules.from_config(cfg)
    assert restarted.last == MeterState(501.0, "00501", 300.0)
    assert restarted.check("00499", 400.0).reason == "negative_rate"


def test_corrupt_state_file_is_named_and_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "meter.json"
    for junk in ("{not json", '{"value": "x", "text": "1", "ts": 0}', '{"text": "1"}', "[1, 2]",
                 '{"value": NaN, "text": "1", "ts": 0}'):
        path.write_text(junk)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert load_state(path) is None
        assert str(path) in caplog.text and "corrupt" in caplog.text
    rules = MeterRules.from_config(config(digits=3, state_file=path))
    assert rules.last is None
    assert rules.check("010", 0.0).accepted
    assert load_state(path) == MeterState(10.0, "010", 0.0)


def test_unwritable_state_dir_warns_and_keeps_reading(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    path = blocker / "meter.json"  # a directory that cannot exist: its parent is a file
    rules = MeterRules.from_config(config(digits=3, state_file=path))
    with caplog.at_level(logging.WARNING):
        assert rules.check("010", 0.0).accepted
    assert "cannot be saved" in caplog.text and str(path) in caplog.text
    assert rules.check("011", 1.0).value == 11


def test_save_state_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "meter.json"
    save_state(path, MeterState(1.0, "1", 0.0))
    save_state(path, MeterState(2.0, "2", 1.0))
    assert load_state(path) == MeterState(2.0, "2", 1.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["meter.json"]


READINGS = st.lists(
    st.tuples(st.integers(0, 999), st.floats(0.0, 600.0)), min_size=1, max_size=40
)


@settings(max_examples=200, deadline=None)
@given(READINGS)
def test_accepted_values_never_decrease_nor_outrun_the_rate(steps: list[tuple[int, float]]) -> None:
    rate = 30.0
    rules = MeterRules(config(digits=3, max_rate_per_minute=rate))
    ts = 0.0
    last: tuple[float, float] | None = None
    for value, dt in steps:
        ts += dt
        d = rules.check(f"{value:03d}", ts)
        if not d.accepted:
            assert d.value is None and d.reason is not None
            continue
        assert d.value == value
        if last is not None:
            step = (value - last[0]) % 1000  # forward distance, through the rollover
            assert step <= rate * (ts - last[1]) / 60 + 1
            assert value >= last[0] or last[0] - value > 500, "only a rollover may go down"
        last = (value, ts)


# -- the daemon's vote with meter rules --------------------------------------------------------------


def observe(frame: int, ts: float, *lines: Line) -> Observation:
    reading = Reading(tuple(lines), (640, 480))
    return Observation.from_reading(reading, frame, ts, min_confidence=0.8)


def test_vote_with_meter_rules_resolves_drums_and_refuses_jumps() -> None:
    rules = MeterRules(config(digits=5, max_rate_per_minute=6))
    stab = Stabilizer(StabilizerSettings(window=5, votes=3, min_confidence=0.8), MeterVote(rules, 0.8))
    events: list[tuple[str, str, float | None]] = []

    def feed(frame: int, *lines: Line) -> None:
        result = stab.update(observe(frame, float(frame), *lines))
        if isinstance(result, Rejection):
            events.append(("rejected", result.reason, None))
        elif result is not None:
            events.append(("reading", result.text, result.value))

    price = line(["4", "9"], h=10)  # a small second line: ignored in meter mode
    for f in range(3):
        feed(f, line(["0", "1", "2", "3", "9"]), price)
    # The last drum half-way 9→0 and the one before 3→4, in every frame: still votes, from 01239.
    for f in range(3, 6):
        feed(f, line(["0", "1", "2", ("4", 0.5, "3", 0.45), ("0", 0.52, "9", 0.46)]), price)
    # A misread 7 for 1 in three frames: refused once with its reason, never emitted as the value.
    for f in range(6, 10):
        feed(f, line(["0", "7", "2", "4", "0"]))
    for f in range(10, 13):
        feed(f, line(["0", "1", "2", "4", "1"]))
    assert events == [
        ("reading", "01239", 1239.0),
        ("reading", "01240", 1240.0),
        ("rejected", "rate_too_high", None),
        ("reading", "01241", 1241.0),
    ]
    assert stab.counts.skipped == {}


def test_vote_without_previous_value_waits_for_a_clear_frame() -> None:
    rules = MeterRules(config(digits=3))
    stab = Stabilizer(StabilizerSettings(window=3, votes=2, min_confidence=0.8), MeterVote(rules, 0.8))
    for f in range(3):
        assert stab.update(observe(f, float(f), line(["1", "2", ("3", 0.5, "4", 0.45)]))) is None
    assert stab.counts.skipped["low_confidence"] == 3
    assert rules.last is None
