"""A bounded, crash-safe, first-in-first-out queue of messages on disk.

The MQTT output writes every message here before it hands it to the broker and deletes it only once
the broker has acknowledged it, so a broker outage (or a daemon restart during one) loses nothing.

One file per message, named by a zero-padded sequence number, so the order survives a restart and
dropping the oldest or removing an acknowledged message is a single unlink. A message file appears
atomically (temp file, fsync, os.replace, fsync of the directory): after a power cut a file is either
complete or absent. Leftover temp files from a crash are removed on open; a file that cannot be
parsed is renamed to `*.bad` and skipped, never fatal.

Not thread-safe: one thread (the MQTT output's worker) owns a spool, and `try_lock` keeps a second
owner (a reloaded config's new output, another process) out of the directory until the first is done.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from edge_digits.atomic import write_atomic

log = logging.getLogger(__name__)

SUFFIX = ".msg"
LOCK_NAME = ".lock"
# 20 digits hold any 64-bit sequence number, so lexical order is numeric order.
NAME_WIDTH = 20


@dataclass(frozen=True)
class SpooledMessage:
    """A message waiting for the broker: `seq` orders it, the rest is what gets published."""

    seq: int
    topic: str
    payload: str
    qos: int
    retain: bool


class Spool:
    """FIFO of messages in `path`, at most `max_items` of them (the oldest are dropped beyond that)."""

    def __init__(self, path: Path | str, max_items: int = 10000) -> None:
        if max_items < 1:
            raise ValueError(f"spool max_items must be at least 1, got {max_items}")
        self.path = Path(path)
        self.max_items = max_items
        # Messages dropped because the spool was full, since this spool was opened.
        self.dropped = 0
        self.path.mkdir(parents=True, exist_ok=True)
        self._seqs: deque[int] = deque(self._scan())
        self._next_seq = (self._seqs[-1] + 1) if self._seqs else 1
        if self._seqs:
            log.info("spool %s: %d message(s) left from a previous run", self.path, len(self._seqs))
        self._trim()

    def __len__(self) -> int:
        return len(self._seqs)

    def seqs(self) -> list[int]:
        """Sequence numbers of the spooled messages, oldest first."""
        return list(self._seqs)

    def append(self, topic: str, payload: str, qos: int = 1, retain: bool = False) -> int:
        """Store a message durably and return its sequence number; drops the oldest when full."""
        seq = self._next_seq
        self._next_seq += 1
        data = json.dumps({"topic": topic, "payload": payload, "qos": qos, "retain": retain})
        write_atomic(self._file(seq), data, durable=True)
        self._seqs.append(seq)
        self._trim()
        return seq

    def read(self, seq: int) -> SpooledMessage | None:
        """The message `seq`, or None when it is gone (dropped, removed, or unreadable)."""
        file = self._file(seq)
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            return SpooledMessage(
                seq=seq,
                topic=str(data["topic"]),
                payload=str(data["payload"]),
                qos=int(data["qos"]),
                retain=bool(data["retain"]),
            )
        except FileNotFoundError:
            self._forget(seq)
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("spool %s: message %s is unreadable (%s); moved aside as .bad",
                      self.path, file.name, exc)
            with contextlib.suppress(OSError):
                os.replace(file, file.with_suffix(".bad"))
            self._forget(seq)
            return None

    def remove(self, seq: int) -> None:
        """Delete message `seq` (acknowledged by the broker). Removing a missing message is a no-op."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._file(seq))
        self._forget(seq)

    def _forget(self, seq: int) -> None:
        # Acknowledgements arrive in order, so the seq is almost always at the front.
        if self._seqs and self._seqs[0] == seq:
            self._seqs.popleft()
        else:
            with contextlib.suppress(ValueError):
                self._seqs.remove(seq)

    def _trim(self) -> None:
        excess = len(self._seqs) - self.max_items
        if excess <= 0:
            return
        if self.dropped == 0:
            log.warning("spool %s is full (%d messages): dropping the oldest", self.path, self.max_items)
        for _ in range(excess):
            self.remove(self._seqs[0])
        self.dropped += excess

    def _file(self, seq: int) -> Path:
        return self.path / f"{seq:0{NAME_WIDTH}d}{SUFFIX}"

    def _scan(self) -> list[int]:
        seqs = []
        for entry in self.path.iterdir():
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                # A write that a crash interrupted before its rename: never a valid message.
                with contextlib.suppress(OSError):
                    entry.unlink()
            elif entry.suffix == SUFFIX and entry.stem.isdigit():
                seqs.append(int(entry.stem))
        return sorted(seqs)


def try_lock(path: Path | str) -> int | None:
    """Take the spool directory for this owner: an open file descriptor holding an exclusive flock on
    `<path>/.lock`, or None when another owner has it. Closing the descriptor releases it (and so does
    the process ending, even by a crash)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd
