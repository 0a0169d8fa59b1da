"""The systemd notify protocol, without libsystemd: one datagram per message to $NOTIFY_SOCKET.

`READY=1` when the service is up, `WATCHDOG=1` at half of $WATCHDOG_USEC (sent only while frames flow, so
a hung capture lets systemd restart the service), `STATUS=…` for `systemctl status`, `STOPPING=1` on the
way out. Outside systemd ($NOTIFY_SOCKET unset) every call is a no-op. A failing socket is logged once
and never stops the daemon.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)


def _address(path: str) -> str | bytes:
    # systemd writes abstract-namespace sockets with a leading '@' for the leading NUL byte.
    return "\0" + path[1:] if path.startswith("@") else path


def watchdog_interval(env: Mapping[str, str]) -> float | None:
    """Seconds between pings (half the watchdog timeout), or None when no watchdog is asked for us."""
    usec = env.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2e6 if value > 0 else None


class Notifier:
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        path = env.get("NOTIFY_SOCKET") or ""
        self.enabled = path.startswith(("/", "@"))
        self._address = _address(path) if self.enabled else ""
        self._sock: socket.socket | None = None
        self._broken = False
        self.watchdog_every = watchdog_interval(env) if self.enabled else None
        self._last_ping = float("-inf")

    def send(self, *fields: str) -> bool:
        """Send one message made of `KEY=value` fields; False if it could not be delivered."""
        if not self.enabled or not fields:
            return False
        message = "\n".join(f.replace("\n", " ") for f in fields).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(message, self._address)
        except OSError as exc:
            if not self._broken:
                log.warning("systemd notify socket %s: %s (further errors not logged)", self._address, exc)
                self._broken = True
            return False
        if self._broken:
            log.info("systemd notify socket %s: delivering again", self._address)
            self._broken = False
        return True

    def ready(self, status: str | None = None) -> None:
        self.send("READY=1", *([f"STATUS={status}"] if status else []), f"MAINPID={os.getpid()}")

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")

    def reloading(self) -> None:
        # systemd ≥ 253 wants a timestamp with RELOADING=1 for Type=notify-reload; older ones ignore it.
        self.send("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def frame_flowing(self, now: float | None = None) -> bool:
        """Called by the frame loop for every frame received: pings the watchdog when one is due."""
        if self.watchdog_every is None:
            return False
        now = time.monotonic() if now is None else now
        if now - self._last_ping < self.watchdog_every:
            return False
        self._last_ping = now
        return self.send("WATCHDOG=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
