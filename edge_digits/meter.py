"""Meter rules: is a stable reading a plausible next value of a counter, and which value is it?

A meter reading is emitted as a value only when it has the expected number of digits, lies in the
configured range, and (for a counter) has not gone down or risen faster than the meter can. A digit
caught between two values — a counter drum half-way through a turn, read with low confidence and two
strong adjacent classes such as 3/4 or 9/0 — is decided from the previous accepted value: of the
candidate strings only those the rules allow are kept, and the likeliest of them wins.

All arithmetic is in integer units of the last digit (a value of 123.45 with two decimals is 12345
units), so comparisons never suffer from float rounding. Time is passed in (`ts`, epoch seconds): the
rules never read a clock, which keeps them testable and lets a recorded clip be replayed.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge_digits.reading import Box, Digit, Line, Reading
from edge_digits.stabilize import LOW_CONFIDENCE as VOTE_LOW_CONFIDENCE
from edge_digits.stabilize import Observation, Rejection, StableReading, with_value
from edge_digits.state import MeterState, default_state_file, load_state, save_state

log = logging.getLogger(__name__)

RATE_TOO_HIGH = "rate_too_high"
NEGATIVE_RATE = "negative_rate"
WRONG_DIGIT_COUNT = "wrong_digit_count"
LOW_CONFIDENCE = "low_confidence"
OUT_OF_RANGE = "out_of_range"
REASONS = (RATE_TOO_HIGH, NEGATIVE_RATE, WRONG_DIGIT_COUNT, LOW_CONFIDENCE, OUT_OF_RANGE)

# A digit is "caught between two values" when its two best classes together hold most of the
# probability: a drum half-way between 3 and 4 splits its mass between those two, while a smudge or a
# glare spot spreads it over many classes and must stay unresolved.
PAIR_MASS = 0.6
# Beyond this many undecided digits the reading is noise, not a counter in transition (and the number
# of candidate strings, 2**n, stops being small).
MAX_UNDECIDED = 5
DECIMAL_POINT = "."


class MeterConfig(BaseModel):
    """The `meter:` section of the config."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    digits: int | None = Field(None, ge=1, le=15, description="expected number of digits (None: any)")
    decimals: int = Field(0, ge=0, le=9, description="digits after the printed or implied decimal point")
    min_value: float = 0.0
    max_value: float | None = Field(
        None, description="top of the range; the counter rolls over from here to min_value. "
        "Default: all nines of `digits` (99999 for 5 digits)"
    )
    monotonic: bool = Field(True, description="a counter: never decreases (except by rolling over)")
    max_rate_per_minute: float | None = Field(None, gt=0, description="largest plausible change per minute")
    min_confidence: float = Field(0.6, ge=0.0, le=1.0, description="below this a digit counts as unsure")
    resolve_transitions: bool = Field(True, description="decide digits caught between two values")
    state_file: Path = Field(default_factory=default_state_file)

    @model_validator(mode="after")
    def _check_range(self) -> MeterConfig:
        if self.digits is not None and self.decimals >= self.digits:
            raise ValueError(f"decimals ({self.decimals}) must be smaller than digits ({self.digits})")
        top = self.top_value
        if top is not None and top <= self.min_value:
            raise ValueError(f"max_value ({top}) must be larger than min_value ({self.min_value})")
        return self

    @property
    def scale(self) -> int:
        return 10**self.decimals

    @property
    def top_value(self) -> float | None:
        if self.max_value is not None:
            return self.max_value
        if self.digits is not None:
            return (10**self.digits - 1) / self.scale
        return None


@dataclass(frozen=True)
class MeterDecision:
    """What the rules made of one candidate reading.

    `value` is set only when accepted; `text` is the resolved digit string when accepted and the text
    as read otherwise; `reason` is one of REASONS when rejected; `resolved` tells that an undecided
    digit was decided from the previous value."""

    accepted: bool
    value: float | None
    text: str
    reason: str | None = None
    previous: float | None = None
    resolved: bool = False


@dataclass(frozen=True)
class _Option:
    char: str
    probability: float


# A candidate line: the digits in reading order, where each is either a decimal point or a list of
# options ('0'..'9' with probabilities); undecided digits carry two options.
_Slot = tuple[_Option, ...]


def _line_from_text(text: str) -> Line:
    box = Box(0, 0, 0, 0)
    return Line(tuple(Digit(c, 1.0 if c.isdigit() or c == DECIMAL_POINT else 0.0, box) for c in text))


def _digit_count(line: Line) -> int:
    return sum(1 for d in line.digits if d.value != DECIMAL_POINT)


def _line_height(line: Line) -> float:
    return max((d.box.h for d in line.digits), default=0)


def _adjacent(a: str, b: str) -> bool:
    return a.isdigit() and b.isdigit() and (int(a) - int(b)) % 10 in (1, 9)


class MeterRules:
    """Checks stable candidate readings against the meter's rules and remembers the last accepted one.

    `save` (e.g. `functools.partial(save_state, path)`) is called with the new state whenever the
    accepted value changes; `MeterRules.from_config` wires it to the configured state file."""

    def __init__(
        self,
        config: MeterConfig,
        state: MeterState | None = None,
        save: Callable[[MeterState], None] | None = None,
    ) -> None:
        self.config = config
        self._last = state
        self._save = save
        self._min_units = round(config.min_value * config.scale)
        top = config.top_value
        self._max_units = None if top is None else round(top * config.scale)

    @classmethod
    def from_config(cls, config: MeterConfig) -> MeterRules:
        path = config.state_file
        return cls(config, load_state(path), lambda state: save_state(path, state))

    @property
    def last(self) -> MeterState | None:
        """The last accepted reading (restored from the state file at start)."""
        return self._last

    # -- input -------------------------------------------------------------------------------------

    def pick_line(self, reading: Reading | Line | Sequence[Digit] | str) -> Line:
        if isinstance(reading, str):
            return _line_from_text(reading)
        if isinstance(reading, Line):
            return reading
        if isinstance(reading, Reading):
            lines = list(reading.lines)
            if not lines:
                return Line(())
            want = self.config.digits
            matching = [ln for ln in lines if want is None or _digit_count(ln) == want]
            # Words and prices around a meter are smaller or differently sized; the counter is the
            # line with the expected number of digits, and of several such the largest.
            return max(matching or lines, key=_line_height)
        return Line(tuple(reading))

    def _slots(self, line: Line, threshold: float) -> tuple[list[_Slot], bool] | None:
        """Options per position, and whether any digit is undecided; None when a digit is unusable."""
        slots: list[_Slot] = []
        undecided = 0
        for d in line.digits:
            # Under the reader's threshold a digit reads '?' but keeps its best guess: the rules judge
            # sureness themselves (min_confidence), and a drum in transition needs both classes.
            value = d.best
            if value == DECIMAL_POINT:
                slots.append((_Option(DECIMAL_POINT, 1.0),))
                continue
            if value.isdigit() and d.confidence >= threshold:
                slots.append((_Option(value, float(d.confidence)),))
                continue
            if not self.config.resolve_transitions:
                return None
            # An unsure digit: usable only as a pair of adjacent strong classes (a value in transition).
            if not (
                _adjacent(value, d.alternative)
                and d.confidence + d.alternative_confidence >= PAIR_MASS
            ):
                return None
            slots.append((_Option(value, float(d.confidence)),
                          _Option(d.alternative, float(d.alternative_confidence))))
            undecided += 1
        if undecided > MAX_UNDECIDED:
            return None
        return slots, undecided > 0

    def _units(self, text: str) -> int | None:
        """Integer units of the last digit, or None when a printed point sits in the wrong place."""
        if DECIMAL_POINT in text:
            whole, _, frac = text.partition(DECIMAL_POINT)
            if DECIMAL_POINT in frac or len(frac) != self.config.decimals:
                return None
            text = whole + frac
        return int(text) if text else None

    # -- rules -------------------------------------------------------------------------------------

    def _violation(self, units: int, ts: float) -> str | None:
        """Why `units` cannot follow the last accepted value at time `ts`, or None when it can."""
        if units < self._min_units or (self._max_units is not None and units > self._max_units):
            return OUT_OF_RANGE
        last = self._last
        if last is None:
            return None
        prev = round(last.value * self.config.scale)
        change = self._change(prev, units)
        if change is None:
            return NEGATIVE_RATE
        rate = self.config.max_rate_per_minute
        elapsed = ts - last.ts
        # A clock that went back (a board without RTC before NTP) says nothing about elapsed time:
        # then only the direction is checked.
        if rate is not None and elapsed >= 0:
            # One unit of slack: a meter ticking in whole units may tick once in any short interval.
            allowed = rate * self.config.scale * elapsed / 60.0 + 1.0
            if abs(change) > allowed + 1e-9:
                return RATE_TOO_HIGH
        return None

    def _change(self, prev: int, units: int) -> int | None:
        """Signed change from prev to units; for a counter the forward distance, or None when it went
        down. With a range top a counter is a circle (…, 99999, 00000, …): of the two ways round the
        shorter one is taken, so 99999→00002 is +3 and 00002→99999 is a decrease of 3."""
        if not self.config.monotonic:
            return units - prev
        if self._max_units is None:
            return units - prev if units >= prev else None
        period = self._max_units - self._min_units + 1
        forward = (units - prev) % period
        return forward if forward <= period - forward else None

    def _candidates(self, slots: list[_Slot]) -> list[tuple[str, float]]:
        """Candidate strings with their likelihoods, counter-consistent ones only when there are any."""
        combos = []
        for choice in itertools.product(*slots):
            text = "".join(o.char for o in choice)
            likelihood = math.prod(o.probability for o in choice)
            combos.append((text, likelihood, self._drum_consistent(slots, choice)))
        consistent = [c for c in combos if c[2]]
        return [(t, p) for t, p, _ in (consistent or combos)]

    @staticmethod
    def _drum_consistent(slots: list[_Slot], choice: tuple[_Option, ...]) -> bool:
        """A counter drum turns only while every drum to its right passes 9→0: if position k is
        between x and x+1, the lower positions read all 9 (still x) or all 0 (already x+1)."""
        for k, slot in enumerate(slots):
            if len(slot) != 2:
                continue
            a, b = slot[0].char, slot[1].char
            lower = a if (int(b) - int(a)) % 10 == 1 else b
            wanted = "9" if choice[k].char == lower else "0"
            for o in choice[k + 1:]:
                if o.char != DECIMAL_POINT and o.char != wanted:
                    return False
        return True

    # -- the check ---------------------------------------------------------------------------------

    def check(self, reading: Reading | Line | Sequence[Digit] | str, ts: float) -> MeterDecision:
        """Decide whether `reading` (the stable candidate) is the meter's next value at time `ts`;
        an accepted one becomes the previous value of the next check (and is saved)."""
        decision = self.evaluate(reading, ts)
        if decision.accepted and decision.value is not None:
            self._accept(MeterState(value=decision.value, text=decision.text, ts=ts))
        return decision

    def evaluate(
        self,
        reading: Reading | Line | Sequence[Digit] | str,
        ts: float,
        min_confidence: float | None = None,
    ) -> MeterDecision:
        """What `check` would decide, without remembering anything. `min_confidence` raises the bar
        for a sure digit (the daemon's vote has its own)."""
        line = self.pick_line(reading)
        text = line.text
        previous = None if self._last is None else self._last.value
        want = self.config.digits
        count = _digit_count(line)
        if count == 0 or (want is not None and count != want):
            return MeterDecision(False, None, text, WRONG_DIGIT_COUNT, previous)
        threshold = max(self.config.min_confidence, min_confidence or 0.0)
        parsed = self._slots(line, threshold)
        if parsed is None:
            return MeterDecision(False, None, text, LOW_CONFIDENCE, previous)
        slots, undecided = parsed
        candidates = []
        for cand, likelihood in self._candidates(slots):
            units = self._units(cand)
            if units is None:
                return MeterDecision(False, None, text, WRONG_DIGIT_COUNT, previous)
            candidates.append((cand, likelihood, units, self._violation(units, ts)))
        allowed = [c for c in candidates if c[3] is None]
        if undecided and self._last is None and len(allowed) != 1:
            # Nothing to decide from: an undecided digit stays undecided until a clear reading.
            return MeterDecision(False, None, text, LOW_CONFIDENCE, previous)
        if not allowed:
            best = max(candidates, key=lambda c: c[1])
            return MeterDecision(False, None, text, best[3], previous)
        prev_units = None if self._last is None else round(self._last.value * self.config.scale)

        def rank(c: tuple[str, float, int, str | None]) -> tuple[float, int]:
            # Likeliest first; on a tie the smaller step from the previous value.
            step = 0 if prev_units is None else abs(self._change(prev_units, c[2]) or 0)
            return (c[1], -step)

        chosen, _, units, _ = max(allowed, key=rank)
        value = round(units / self.config.scale, self.config.decimals)
        return MeterDecision(True, value, chosen, None, previous, resolved=undecided)

    def _accept(self, state: MeterState) -> None:
        changed = self._last is None or self._last.value != state.value
        self._last = state
        if changed and self._save is not None:
            try:
                self._save(state)
            except OSError as exc:
                # Losing the memory across a restart is worse than useless readings would be, but not
                # a reason to stop reading: say so and go on.
                log.warning("meter state %s: cannot be saved (%s)", self.config.state_file, exc)



def split_lines(text: str, digits: Sequence[Digit]) -> tuple[Line, ...]:
    """The lines of a flattened reading: `text` is the lines' texts joined by '|', `digits` all of
    their digits in the same order (what the daemon's vote keeps of a frame)."""
    lines, start = [], 0
    for part in text.split("|") if text else []:
        lines.append(Line(tuple(digits[start:start + len(part)])))
        start += len(part)
    return tuple(lines)


def resolved_digits(line: Line, text: str) -> tuple[Digit, ...]:
    """The line's digits with the values of `text`; a digit decided for its runner-up swaps value
    and alternative, so its confidence stays the network's own probability for that class."""
    out = []
    for d, char in zip(line.digits, text, strict=True):
        if char == d.value:
            out.append(d)
        elif char == d.best:
            out.append(replace(d, value=char))  # a '?' decided for the network's own best guess
        else:
            out.append(replace(d, value=char, confidence=d.alternative_confidence,
                               alternative=d.best, alternative_confidence=d.confidence, guess=char))
    return tuple(out)


class MeterVote:
    """The meter rules as the daemon's stabiliser hooks (edge_digits.stabilize.Rules).

    Before the vote, each frame is narrowed to the counter's line and a digit caught between two
    values is decided from the last accepted value, so a drum half-way through a turn still votes.
    After the vote, the winner is checked; an accepted one carries `value`, a refused one becomes a
    Rejection with the reason."""

    def __init__(self, rules: MeterRules, vote_confidence: float = 0.0) -> None:
        self.rules = rules
        self.vote_confidence = vote_confidence

    def before_vote(self, obs: Observation, stable: StableReading | None) -> Observation:
        if obs.problem not in (None, VOTE_LOW_CONFIDENCE) or not obs.digits:
            return obs
        lines = split_lines(obs.text, obs.digits)
        if not lines:
            return obs
        line = self.rules.pick_line(Reading(lines, (0, 0)))
        narrowed = replace(obs, text=line.text, digits=line.digits)
        decision = self.rules.evaluate(line, obs.ts, self.vote_confidence)
        if decision.accepted and decision.resolved:
            return replace(narrowed, text=decision.text,
                           digits=resolved_digits(line, decision.text), problem=None)
        if obs.problem is not None and all(
            d.value == DECIMAL_POINT or (d.value.isdigit() and d.confidence >= self.vote_confidence)
            for d in line.digits
        ):
            # The unsure digits were on another line (a price, a word): the counter itself is clear.
            return replace(narrowed, problem=None)
        return narrowed

    def after_vote(self, candidate: StableReading, stable: StableReading | None) -> StableReading | Rejection:
        decision = self.rules.check(Line(candidate.digits), candidate.ts)
        if not decision.accepted:
            return Rejection(candidate, decision.reason or LOW_CONFIDENCE)
        if decision.text != candidate.text:
            candidate = replace(candidate, text=decision.text)
        return with_value(candidate, decision.value, reason=None)

__all__ = [
    "LOW_CONFIDENCE",
    "NEGATIVE_RATE",
    "OUT_OF_RANGE",
    "RATE_TOO_HIGH",
    "REASONS",
    "WRONG_DIGIT_COUNT",
    "MeterConfig",
    "MeterDecision",
    "MeterRules",
    "MeterVote",
]
