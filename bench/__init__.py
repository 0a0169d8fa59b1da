"""Benchmarks: `python -m bench [NAME ...]` runs bench/<NAME>.py and rewrites its section of BENCHMARKS.md."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], object], timeout: float, what: str, every: float) -> None:
    """Poll `condition` every `every` seconds (short: the wait is often part of what is measured);
    RuntimeError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench: timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)
