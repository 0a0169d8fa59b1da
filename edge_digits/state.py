"""The meter's memory across restarts: the last accepted value in a small JSON file in the state dir.

Written atomically (temp file in the same directory, fsync, os.replace, fsync of the directory) so a
power cut leaves either the old or the new file, never half of one. A file that cannot be parsed is
not fatal: the meter starts fresh and says which file it ignored.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from edge_digits.atomic import write_atomic

log = logging.getLogger(__name__)

STATE_VERSION = 1


def default_state_dir() -> Path:
    """systemd's $STATE_DIRECTORY (StateDirectory=), else $XDG_STATE_HOME/edge-digits, else
    ~/.local/state/edge-digits."""
    systemd_dirs = os.environ.get("STATE_DIRECTORY", "")
    if systemd_dirs:
        # systemd passes several directories separated by ':' when the unit names several.
        return Path(systemd_dirs.split(":")[0])
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "edge-digits"


def default_state_file() -> Path:
    return default_state_dir() / "meter.json"


@dataclass(frozen=True)
class MeterState:
    """The last accepted reading: its value, the text it was read from, and when (epoch seconds)."""

    value: float
    text: str
    ts: float


def load_state(path: Path) -> MeterState | None:
    """The saved state, or None when there is none yet or the file is unusable (logged as a warning)."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("meter state %s: cannot be read (%s); starting without a previous value", path, exc)
        return None
    try:
        data = json.loads(raw)
        state = MeterState(value=float(data["value"]), text=str(data["text"]), ts=float(data["ts"]))
        if not (math.isfinite(state.value) and math.isfinite(state.ts)):
            raise ValueError("value and ts must be finite numbers")
    except (ValueError, KeyError, TypeError) as exc:
        log.warning(
            "meter state %s: corrupt (%s: %s); ignoring it and starting without a previous value",
            path, type(exc).__name__, exc,
        )
        return None
    log.info("meter state %s: last accepted value %s (%r)", path, state.value, state.text)
    return state


def save_state(path: Path, state: MeterState) -> None:
    """Write the state atomically; creates the directory if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"version": STATE_VERSION, **asdict(state)}, sort_keys=True) + "\n"
    write_atomic(path, payload, durable=True)
