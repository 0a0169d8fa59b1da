"""Events as JSON lines on stdout, flushed per line (a pipe reader sees each reading at once)."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from typing import IO, Any

log = logging.getLogger(__name__)


def to_json_line(event: dict[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"


class StdoutOutput:
    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._broken = False

    def emit(self, event: dict[str, Any]) -> None:
        if self._broken:
            return
        try:
            self._stream.write(to_json_line(event))
            self._stream.flush()
        except (BrokenPipeError, ValueError) as exc:  # reader went away, or stream closed
            self._broken = True
            log.warning("stdout output stopped: %s", exc)

    def close(self) -> None:
        if not self._broken:
            with contextlib.suppress(BrokenPipeError, ValueError):
                self._stream.flush()
