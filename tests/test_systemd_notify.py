"""The daemon under a notify socket set up the way systemd sets it up for edge-digits.service.

systemd starts the unit's ExecStart with NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (the main PID) in
the environment, the config in $CREDENTIALS_DIRECTORY (LoadCredential=), LOGS_DIRECTORY/STATE_DIRECTORY
set and `/` as the working directory; with NotifyAccess=main it accepts only datagrams whose
SCM_CREDENTIALS name the main PID. This test does the same with a test-owned socket and a local MJPEG
camera it can unplug: READY=1 arrives, WATCHDOG=1 keeps arriving while frames flow, stops while the camera
is gone (so systemd would restart a hung service) and resumes when it is back; SIGTERM gives STOPPING=1.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.harness import LineCollector, MjpegServer, digit_frame, wait_for

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "systemd" / "edge-digits.service"
WATCHDOG_S = 2.0


class SystemdNotifySocket:
    """Receives notify datagrams like PID 1: with the sender's credentials and the time of arrival."""

    def __init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="notify-")
        self.path = os.path.join(self._dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(self.path)
        self.sock.settimeout(0.05)
        self.received: list[tuple[float, int, str]] = []  # (monotonic arrival, sender pid, field)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        cred_size = struct.calcsize("3i")
        while not self._stop.is_set():
            try:
                data, ancdata, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(cred_size))
            except (TimeoutError, OSError):
                continue
            now = time.monotonic()
            pid = -1
            for level, kind, payload in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", payload[:cred_size])[0]
            with self._lock:
                self.received.extend((now, pid, f) for f in data.decode().split("\n") if f)

    def fields(self) -> list[str]:
        with self._lock:
            return [f for _, _, f in self.received]

    def times(self, field: str) -> list[float]:
        with self._lock:
            return [t for t, _, f in self.received if f == field]

    def senders(self) -> set[int]:
        with self._lock:
            return {pid for _, pid, _ in self.received}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self._dir)


def exec_start_args() -> list[str]:
    """The unit's ExecStart after the binary, with %d expanded later by the caller."""
    for line in UNIT.read_text().splitlines():
        if line.startswith("ExecStart="):
            return line.split("=", 1)[1].split()[1:]
    raise AssertionError("no ExecStart= in the unit")


def test_ready_watchdog_while_frames_flow_silence_while_the_camera_is_gone(tmp_path: Path) -> None:
    camera = MjpegServer(lambda i: digit_frame(str(1000 + i // 40)), fps=15).start()
    notify = SystemdNotifySocket()
    creds, logs, state = tmp_path / "credentials", tmp_path / "logs", tmp_path / "state"
    for d in (creds, logs, state):
        d.mkdir()
    config = creds / "config.yaml"
    config.write_text(
        f"source:\n  location: {camera.url}\n  stall_timeout_s: 2\n"
        "  reconnect_initial_s: 0.5\n  reconnect_max_s: 4\n"
        f"model:\n  path: {REPO / 'models' / 'digits_int8.tflite'}\n"
        "process:\n  max_fps: 5\n  status_every_s: 1\n"
    )
    config.chmod(0o400)
    args = [a.replace("%d", str(creds)) for a in exec_start_args()]
    env = {
        **os.environ,
        "NOTIFY_SOCKET": notify.path,
        "WATCHDOG_USEC": str(int(WATCHDOG_S * 1e6)),
        "CREDENTIALS_DIRECTORY": str(creds),
        "LOGS_DIRECTORY": str(logs),
        "STATE_DIRECTORY": str(state),
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(REPO),
    }
    # systemd knows the main PID before exec; `exec` in a shell keeps the PID, so $$ is that PID.
    argv = ["/bin/sh", "-c", 'WATCHDOG_PID=$$ exec "$@"', "sh",
            sys.executable, "-m", "edge_digits", "--log-level", "DEBUG", *args]
    proc = subprocess.Popen(argv, cwd="/", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stderr = LineCollector(proc.stderr)
    LineCollector(proc.stdout)

    def logged(text: str) -> bool:
        return any(text in line for line in stderr.snapshot())

    try:
        wait_for(lambda: "READY=1" in notify.fields() or proc.poll() is not None, 60, "READY=1")
        assert proc.poll() is None, "\n".join(stderr.snapshot()[-20:])
        assert f"MAINPID={proc.pid}" in notify.fields()

        # Frames flow: pings at half of WatchdogSec. The contract with systemd is that no gap between
        # pings reaches WatchdogSec (systemd would SIGABRT the service); the cadence itself is checked with
        # virtual time in test_notify.py.
        wait_for(lambda: len(notify.times("WATCHDOG=1")) >= 4, 30, "four watchdog pings")
        pings = notify.times("WATCHDOG=1")
        gaps = [b - a for a, b in itertools.pairwise(pings)]
        assert max(gaps) < WATCHDOG_S, f"gaps between pings {gaps}"
        assert notify.fields().index("READY=1") < notify.fields().index("WATCHDOG=1")

        # Unplug the camera: the pings stop. Counted between two later reconnect attempts, which are
        # ≥ 1 + 2 s apart (backoff 0.5 s doubling), i.e. longer than WatchdogSec.
        camera.stop()
        wait_for(lambda: logged("attempt 2 failed"), 30, "the second failed reconnect attempt")
        silent_from = len(notify.times("WATCHDOG=1"))
        wait_for(lambda: logged("attempt 4 failed"), 30, "the fourth failed reconnect attempt")
        assert len(notify.times("WATCHDOG=1")) == silent_from, "watchdog pinged while no frame arrived"

        # Plugged back in: frames and pings resume (under systemd the restart would have come first).
        camera.start()
        wait_for(lambda: logged("reconnected"), 30, "the source to reconnect")
        wait_for(lambda: len(notify.times("WATCHDOG=1")) > silent_from, 30, "pings after the reconnect")

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, "\n".join(stderr.snapshot()[-20:])
        wait_for(lambda: "STOPPING=1" in notify.fields(), 5, "STOPPING=1")
        assert any(f.startswith("STATUS=") and "fps" in f for f in notify.fields())
        # NotifyAccess=main: systemd would drop datagrams from any other PID.
        assert notify.senders() == {proc.pid}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        camera.stop()
        notify.close()
