"""What every output implements, and the events they receive.

An output gets events — JSON-able dicts — through `emit(event)` and is closed once with `close()`.
Event types: `reading` (the stable reading changed), `rejected` (meter rules refused a candidate),
`heartbeat` (every `heartbeat.interval_s`, with the current stable reading and counters) and, for outputs
that ask for it, `frame` (every processed frame). Outputs that draw (preview, snapshots) also implement
`show(view)` and receive every processed frame's `FrameView`; they annotate it only when they use it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from edge_digits.reading import Reading
from edge_digits.roi import RoiPlan
from edge_digits.stabilize import Rejection, StableReading


@runtime_checkable
class Output(Protocol):
    def emit(self, event: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class FrameOutput(Output, Protocol):
    def show(self, view: FrameView) -> None: ...


@dataclass(frozen=True)
class FrameView:
    """One processed frame with everything an overlay draws."""

    image: np.ndarray  # the frame as captured (BGR)
    roi: RoiPlan
    reading: Reading | None  # boxes are in ROI pixels; roi.box_to_frame maps them back
    stable: StableReading | None
    frame: int
    fps: float
    problem: str | None  # why the frame did not vote (dark, blurred, empty, low_confidence), if it did not
    min_confidence: float


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _base(kind: str, source: str, frame: int, latency_ms: float | None) -> dict[str, Any]:
    return {
        "ts": utc_now(),
        "type": kind,
        "source": source,
        "frame": frame,
        "latency_ms": None if latency_ms is None else round(latency_ms, 1),
    }


def stable_fields(stable: StableReading | None) -> dict[str, Any]:
    if stable is None:
        return {"text": "", "lines": [], "confidence": [], "stable": False}
    fields: dict[str, Any] = {
        "text": stable.text,
        "lines": stable.lines,
        "confidence": list(stable.confidence),
        "stable": True,
    }
    if stable.value is not None:
        fields["value"] = stable.value
    fields.update(stable.extra)
    return fields


def reading_event(stable: StableReading, source: str, latency_ms: float | None) -> dict[str, Any]:
    event = _base("reading", source, stable.frame, latency_ms)
    event.update(stable_fields(stable))
    event["votes"] = f"{stable.votes}/{stable.window}"
    return event


def rejected_event(rejection: Rejection, source: str, latency_ms: float | None) -> dict[str, Any]:
    cand = rejection.candidate
    event = _base("rejected", source, cand.frame, latency_ms)
    event.update(stable_fields(cand))
    event.update({"stable": False, "value": None, "reason": rejection.reason})
    return event


def frame_event(
    reading: Reading | None,
    stable: StableReading | None,
    source: str,
    frame: int,
    latency_ms: float | None,
    problem: str | None,
) -> dict[str, Any]:
    event = _base("frame", source, frame, latency_ms)
    text = reading.text if reading is not None else ""
    event.update(
        {
            "text": text,
            "lines": [line.text for line in reading.lines] if reading is not None else [],
            "confidence": [round(float(d.confidence), 4) for d in reading.digits]
            if reading is not None
            else [],
            "stable": stable is not None and problem is None and stable.text == text,
            "problem": problem,
        }
    )
    return event


def heartbeat_event(
    stable: StableReading | None, source: str, frame: int, latency_ms: float | None, stats: dict[str, Any]
) -> dict[str, Any]:
    event = _base("heartbeat", source, frame, latency_ms)
    event.update(stable_fields(stable))
    event.update(stats)
    return event
