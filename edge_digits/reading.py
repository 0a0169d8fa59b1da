"""The result types of the recognition engine: a Reading has lines, a line has digits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

UNKNOWN = "?"


@dataclass(frozen=True)
class Box:
    """Axis-aligned box in image pixel coordinates (x, y is the top-left corner)."""

    x: int
    y: int
    w: int
    h: int

    @property
    def x2(self) -> int:
        return self.x + self.w

    @property
    def y2(self) -> int:
        return self.y + self.h

    def to_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


@dataclass(frozen=True)
class Digit:
    """One classified character: '0'..'9', '.' for a decimal point, or '?' when too unsure."""

    value: str
    confidence: float
    box: Box
    # The runner-up class and its probability: lets meter rules resolve a digit caught between two values.
    alternative: str = UNKNOWN
    alternative_confidence: float = 0.0
    # The most likely digit even when `value` is '?' for want of confidence ('?' for no digit at all):
    # with the runner-up it is the pair a counter drum caught between two values splits its mass over.
    guess: str = UNKNOWN

    @property
    def best(self) -> str:
        """`value`, or the network's best guess where the value is '?'."""
        return self.guess if self.value == UNKNOWN else self.value

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "confidence": round(float(self.confidence), 4),
            "box": self.box.to_list(),
        }


@dataclass(frozen=True)
class Line:
    """A text line: digits ordered left to right."""

    digits: tuple[Digit, ...]

    @property
    def text(self) -> str:
        return "".join(d.value for d in self.digits)

    @property
    def box(self) -> Box:
        x = min(d.box.x for d in self.digits)
        y = min(d.box.y for d in self.digits)
        x2 = max(d.box.x2 for d in self.digits)
        y2 = max(d.box.y2 for d in self.digits)
        return Box(x, y, x2 - x, y2 - y)

    @property
    def min_confidence(self) -> float:
        return min((d.confidence for d in self.digits), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "box": self.box.to_list(),
            "digits": [d.to_dict() for d in self.digits],
        }


@dataclass(frozen=True)
class Reading:
    """Everything read from one image: lines top to bottom, plus how long each stage took."""

    lines: tuple[Line, ...]
    image_size: tuple[int, int]  # (width, height)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """All lines joined by '|', the plain one-line form of a reading."""
        return "|".join(line.text for line in self.lines)

    @property
    def digits(self) -> tuple[Digit, ...]:
        return tuple(d for line in self.lines for d in line.digits)

    @property
    def min_confidence(self) -> float:
        return min((d.confidence for d in self.digits), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "lines": [line.to_dict() for line in self.lines],
            "image_size": list(self.image_size),
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
        }
