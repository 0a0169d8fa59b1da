"""Test harness shared by the suite: a local MJPEG-over-HTTP camera, a notify socket, generated clips and
frames, polling for a condition, running the CLI as a subprocess."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def wait_for(condition: Callable[[], object], timeout: float, what: str, every: float = 0.02) -> object:
    """Poll `condition` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def json_lines(lines: list[str]) -> list[dict]:
    """The JSON events among a process's output lines (log lines and the like left out)."""
    return [json.loads(line) for line in lines if line.startswith("{")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class MjpegServer:
    """An HTTP camera on 127.0.0.1 serving multipart/x-mixed-replace JPEG frames, as IP cameras do.

    `make_frame(i)` draws frame i; `stop()` drops every connection and the listening socket, `start()`
    brings it back on the same port (a camera that is unplugged and plugged in again)."""

    def __init__(
        self, make_frame: Callable[[int], np.ndarray], fps: float = 20.0, port: int | None = None
    ) -> None:
        self.make_frame = make_frame
        self.fps = fps
        self.port = port or free_port()
        self.served = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/video.mjpg"

    def start(self) -> MjpegServer:
        owner = self
        self._stopping.clear()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    while not owner._stopping.is_set():
                        _, buf = cv2.imencode(".jpg", owner.make_frame(owner.served))
                        part = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(buf)
                        self.wfile.write(part + buf.tobytes() + b"\r\n")
                        owner.served += 1
                        owner._stopping.wait(1.0 / owner.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class NotifySocket:
    """A Unix datagram socket standing in for systemd's $NOTIFY_SOCKET; collects the messages."""

    def __init__(self, abstract: bool = False) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"edge-digits-test-{os.getpid()}-{id(self)}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            self._dir = tempfile.mkdtemp(prefix="notify-")
            self.address = os.path.join(self._dir, "notify.sock")
            self.sock.bind(self.address)
        self.sock.settimeout(0.05)
        self.messages: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self.messages.append(data.decode())

    def fields(self) -> list[str]:
        """Every KEY=value received so far, in order."""
        with self._lock:
            return [f for m in self.messages for f in m.split("\n")]

    def count(self, field: str) -> int:
        return sum(1 for f in self.fields() if f == field)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)
        self.sock.close()


def digit_frame(text: str, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    """A printed number on a white sheet (for source tests that only need changing pictures)."""
    w, h = size
    img = np.full((h, w, 3), 235, np.uint8)
    cv2.putText(img, text, (20, h // 2 + 30), cv2.FONT_HERSHEY_SIMPLEX, 2.5, (20, 20, 20), 6, cv2.LINE_AA)
    return img


def write_video(path: Path, frames: Iterable[np.ndarray], fps: float) -> Path:
    """An MJPG .avi of `frames` (all of one size), for file-source tests."""
    frames = iter(frames)
    first = next(frames)
    h, w = first.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened()
    for frame in (first, *frames):
        writer.write(frame)
    writer.release()
    return path


def run_cli(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 60.0, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "edge_digits", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd,
    )


def start_cli(args: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.Popen[str]:
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "edge_digits", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        cwd=cwd,
    )


class LineCollector:
    """Reads a pipe in a thread so a test can poll the lines seen so far."""

    def __init__(self, stream: object) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.lines)

    def join(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)


@contextlib.contextmanager
def running_cli(
    args: list[str], env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], LineCollector, LineCollector]]:
    """`start_cli` with stdout and stderr collected; killed if still running at the end, pipes drained."""
    proc = start_cli(args, env)
    out, err = LineCollector(proc.stdout), LineCollector(proc.stderr)
    try:
        yield proc, out, err
    finally:
        if proc.poll() is None:
            proc.kill()
        out.join()
        err.join()
