"""Events as JSON lines in a file, flushed per line and rotated by size into a bounded set of files.

The standard library's RotatingFileHandler does the work: it rolls the file over *before* writing a
line that would pass `max_bytes`, so every line lands whole in exactly one file, and keeps `backups` old
files (`readings.jsonl.1` is the newest). Only lines older than the last backup are ever deleted.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path
from typing import Any

from edge_digits.outputs.stdout import to_json_line


class LogfileOutput:
    def __init__(self, path: str | Path, max_bytes: int = 1_000_000, backups: int = 5) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handler = logging.handlers.RotatingFileHandler(
            self.path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        self._handler.terminator = "\n"
        # A private logger: readings must not go to stderr nor inherit the root logger's handlers.
        self._logger = logging.Logger(f"edge_digits.readings.{self.path}", logging.INFO)
        self._logger.propagate = False
        self._logger.addHandler(self._handler)

    def emit(self, event: dict[str, Any]) -> None:
        self._logger.info(to_json_line(event).rstrip("\n"))

    def close(self) -> None:
        self._logger.removeHandler(self._handler)
        self._handler.close()
