"""From noisy per-frame readings to one stable reading.

Each processed frame is an `Observation`. It votes for its text only when it is usable: not dark, not
blurred, with digits, every digit at or above the confidence threshold. A text becomes the *stable*
reading when it holds at least `votes` of the last `window` processed frames (frames that did not vote
still take their place in the window, so a burst of bad frames slows a change down but never makes one).
A single noisy frame can therefore never change the stable reading.

Meter rules (issue 6) plug in through `Rules`: `before_vote` may veto or repair a frame (e.g. resolve a
digit caught between two values from the previous stable value), `after_vote` may refuse a candidate
(monotonic, maximum rate, digit count) with a reason; a refusal is reported once per candidate text.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from edge_digits.reading import Digit, Reading

# Why a frame did not vote.
DARK = "dark"
BLURRED = "blurred"
EMPTY = "empty"
LOW_CONFIDENCE = "low_confidence"


@dataclass(frozen=True)
class Observation:
    """One processed frame as the stabiliser sees it."""

    frame: int
    ts: float  # seconds (any clock, the same for every call)
    text: str = ""
    digits: tuple[Digit, ...] = ()
    problem: str | None = None  # DARK, BLURRED, EMPTY, LOW_CONFIDENCE or a rule's reason; None = usable

    @classmethod
    def from_reading(
        cls, reading: Reading | None, frame: int, ts: float, min_confidence: float, problem: str | None = None
    ) -> Observation:
        if reading is None or problem is not None:
            return cls(frame, ts, problem=problem or EMPTY)
        digits = reading.digits
        text = reading.text
        if not digits:
            return cls(frame, ts, problem=EMPTY)
        if any(d.confidence < min_confidence or not d.value.strip("?") for d in digits):
            return cls(frame, ts, text, digits, LOW_CONFIDENCE)
        return cls(frame, ts, text, digits)


@dataclass(frozen=True)
class StableReading:
    """A text that won the vote. `frame`/`ts` are those of the frame that completed the vote."""

    text: str
    confidence: tuple[float, ...]  # per digit (in text order, '|' skipped), mean over the agreeing frames
    frame: int
    ts: float
    votes: int
    window: int
    value: float | None = None  # set by meter rules
    extra: dict[str, Any] = field(default_factory=dict)  # further fields a rule adds to the event
    # The digits of the last agreeing frame (values, confidences, runner-ups) for rules that need them.
    digits: tuple[Digit, ...] = field(default=(), repr=False, compare=False)

    @property
    def lines(self) -> list[str]:
        return self.text.split("|") if self.text else []


@dataclass(frozen=True)
class Rejection:
    """A candidate the rules refused, and why (e.g. 'rate_too_high')."""

    candidate: StableReading
    reason: str


class Rules(Protocol):
    def before_vote(self, obs: Observation, stable: StableReading | None) -> Observation: ...

    def after_vote(
        self, candidate: StableReading, stable: StableReading | None
    ) -> StableReading | Rejection: ...


class NoRules:
    """The default: every usable frame votes, every winner is accepted."""

    def before_vote(self, obs: Observation, stable: StableReading | None) -> Observation:
        return obs

    def after_vote(self, candidate: StableReading, stable: StableReading | None) -> StableReading | Rejection:
        return candidate


@dataclass(frozen=True)
class StabilizerSettings:
    window: int = 3
    votes: int = 2
    min_confidence: float = 0.8

    def __post_init__(self) -> None:
        if not 1 <= self.votes <= self.window:
            raise ValueError(f"votes ({self.votes}) must be between 1 and window ({self.window})")
        if 2 * self.votes <= self.window:
            # With a strict majority at most one text can win; otherwise two could at once.
            raise ValueError(f"votes ({self.votes}) must be more than half of window ({self.window})")


@dataclass
class Counts:
    processed: int = 0
    voted: int = 0
    changes: int = 0
    rejected: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "processed": self.processed,
            "voted": self.voted,
            "changes": self.changes,
            "rejected": self.rejected,
            "skipped": dict(self.skipped),
        }


class Stabilizer:
    def __init__(
        self,
        settings: StabilizerSettings | None = None,
        rules: Rules | None = None,
        stable: StableReading | None = None,
    ) -> None:
        self.settings = settings or StabilizerSettings()
        self.rules: Rules = rules or NoRules()
        self.stable = stable
        self.counts = Counts()
        self._window: deque[Observation] = deque(maxlen=self.settings.window)
        self._last_rejected: str | None = None

    def update(self, obs: Observation) -> StableReading | Rejection | None:
        """Add one processed frame. Returns the new stable reading when it changed, a Rejection the first
        time the rules refuse a winning text, else None."""
        self.counts.processed += 1
        if obs.problem in (None, LOW_CONFIDENCE):
            # Rules may repair an unsure frame (a meter digit caught between two values).
            obs = self.rules.before_vote(obs, self.stable)
        if obs.problem is None:
            self.counts.voted += 1
        else:
            self.counts.skipped[obs.problem] += 1
        self._window.append(obs)
        if obs.problem is not None:
            return None
        votes = [o for o in self._window if o.problem is None and o.text == obs.text]
        if len(votes) < self.settings.votes:
            return None
        if self.stable is not None and self.stable.text == obs.text:
            self._last_rejected = None
            return None
        candidate = StableReading(
            text=obs.text,
            confidence=_mean_confidence(votes),
            frame=obs.frame,
            ts=obs.ts,
            votes=len(votes),
            window=len(self._window),
            digits=obs.digits,
        )
        verdict = self.rules.after_vote(candidate, self.stable)
        if isinstance(verdict, Rejection):
            if self._last_rejected == candidate.text:
                return None
            self._last_rejected = candidate.text
            self.counts.rejected += 1
            return verdict
        self._last_rejected = None
        self.stable = verdict
        self.counts.changes += 1
        return verdict


def _mean_confidence(votes: list[Observation]) -> tuple[float, ...]:
    n = len(votes[0].digits)
    rows = [o.digits for o in votes if len(o.digits) == n]
    return tuple(round(sum(r[i].confidence for r in rows) / len(rows), 4) for i in range(n))


def with_value(stable: StableReading, value: float | None, **extra: Any) -> StableReading:
    """A copy with a meter value and extra event fields (for rules)."""
    return replace(stable, value=value, extra={**stable.extra, **extra})
