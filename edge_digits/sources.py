"""Where frames come from: cameras, device paths, video files, stream URLs, image folders.

Two layers keep the I/O small and replaceable:

- a **Grabber** owns one opened device/file/stream (`grab()` advances, `retrieve()` decodes the grabbed
  frame, `release()`); OpenCV's VideoCapture and an image folder are the two built in, and a picamera2
  grabber (issue 5) only has to provide the same three calls;
- a **FrameSource** hands frames to the daemon. `LiveSource` captures in its own thread and always hands
  over the freshest frame (frames the daemon had no time for are grabbed but never decoded, and counted as
  dropped); it reopens a failing or silent device forever with capped exponential backoff.
  `SequentialSource` reads files and folders in the caller's thread, every frame in order.

`open_source(config)` picks both from the config; new source types register a builder in
`SOURCE_TYPES` (name → "module:function" so optional back-ends are imported only when configured).
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

if TYPE_CHECKING:
    from edge_digits.config import SourceConfig

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")
SAMPLE_CLIP = Path(__file__).resolve().parent / "samples" / "sample_clip.mp4"
URL_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


class SourceError(Exception):
    """A source that cannot be used as configured (missing file, empty folder, unknown type)."""


class EndOfStream(Exception):
    """A file or folder source has delivered its last frame."""


@dataclass(frozen=True)
class Frame:
    image: np.ndarray
    index: int  # frame number at the source: position in a file, or count of frames grabbed live
    captured: float  # time.monotonic() when grabbed, for latency
    # Seconds into a recording (frame index / its frame rate) for a file read faster than real time:
    # what its clock said when the frame was taken. None for live sources, whose frames happen now.
    position: float | None = None


@dataclass
class SourceStats:
    delivered: int = 0
    dropped: int = 0  # grabbed but superseded by a fresher frame before the daemon asked
    reconnects: int = 0
    state: str = "closed"  # closed, connecting, streaming, lost, ended


class Grabber(Protocol):
    """One opened device, file or stream. Opening happens in the grabber's constructor."""

    def grab(self) -> bool:
        """Advance to the next frame; False on a read error or at the end of a file."""
        ...

    def retrieve(self) -> np.ndarray | None:
        """The frame grabbed last, decoded to BGR uint8 (None if it cannot be decoded)."""
        ...

    def release(self) -> None: ...


class FrameSource(Protocol):
    name: str
    live: bool
    stats: SourceStats

    def open(self) -> None:
        """Start delivering frames; raises SourceError if the source can never work as configured."""
        ...

    def read(self, timeout: float) -> Frame | None:
        """The next (live: the freshest) frame, None if none arrived within `timeout` seconds;
        raises EndOfStream after the last frame of a file or folder."""
        ...

    def close(self) -> None: ...


# ---------------------------------------------------------------------------------------------- grabbers


class OpenCVGrabber:
    """cv2.VideoCapture over a camera index, device path, video file or stream URL."""

    def __init__(
        self,
        location: int | str,
        api: int = cv2.CAP_ANY,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        fourcc: str | None = None,
        timeout_ms: int | None = None,
    ) -> None:
        params: list[int] = []
        if timeout_ms and api == cv2.CAP_FFMPEG:
            # Without these a dead stream blocks read() for FFmpeg's default of 30 s.
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
        self.location = location
        self._cap = cv2.VideoCapture(location, api, params) if params else cv2.VideoCapture(location, api)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"{location}: cannot be opened")
        if fourcc:
            self._cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*fourcc[:4].ljust(4)))
        if width:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps:
            self._cap.set(cv2.CAP_PROP_FPS, fps)

    @property
    def fps(self) -> float:
        return float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)

    def grab(self) -> bool:
        return bool(self._cap.grab())

    def retrieve(self) -> np.ndarray | None:
        ok, image = self._cap.retrieve()
        return image if ok and image is not None and image.size else None

    def release(self) -> None:
        self._cap.release()


class FolderGrabber:
    """The images of a folder in sorted file-name order, like a video."""

    def __init__(self, folder: str | os.PathLike[str], pattern: str = "*") -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SourceError(f"{self.folder}: not a folder")
        self.files = sorted(
            p for p in self.folder.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not self.files:
            raise SourceError(f"{self.folder}: no images matching {pattern!r} ({', '.join(IMAGE_SUFFIXES)})")
        self._pos = -1
        self.fps = 0.0

    def grab(self) -> bool:
        self._pos += 1
        return self._pos < len(self.files)

    def retrieve(self) -> np.ndarray | None:
        path = self.files[self._pos]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            log.warning("%s: not a readable image, skipped", path)
        return image

    def release(self) -> None:
        self._pos = len(self.files)


# ---------------------------------------------------------------------------------------------- sources


class SequentialSource:
    """A file or folder read in the caller's thread: every frame, in order, as fast as it is asked for."""

    live = False

    def __init__(
        self, name: str, opener: Callable[[], Grabber], loop: bool = False, fps: float | None = None
    ) -> None:
        """`fps`: the recording's frame rate, which times its frames (Frame.position); None asks the
        grabber (a video file knows its own), and without one frames carry no position."""
        self.name = name
        self.stats = SourceStats()
        self._opener = opener
        self._loop = loop
        self._fps = fps
        self._grabber: Grabber | None = None
        self._index = -1

    def open(self) -> None:
        self._grabber = self._opener()
        if not self._fps:
            self._fps = float(getattr(self._grabber, "fps", 0.0) or 0.0) or None
        self.stats.state = "streaming"

    def read(self, timeout: float = 0.0) -> Frame | None:
        if self._grabber is None:
            raise EndOfStream(self.name)
        rewound = False
        while True:
            if self._grabber.grab():
                image = self._grabber.retrieve()
                self._index += 1
                if image is None:
                    self.stats.dropped += 1
                    continue
                self.stats.delivered += 1
                # The index keeps counting through a rewind, so a looped file's time goes on forward.
                position = self._index / self._fps if self._fps else None
                return Frame(image, self._index, time.monotonic(), position)
            self._grabber.release()
            if not self._loop or rewound:  # a file that yields nothing even after a rewind is over
                self._grabber = None
                self.stats.state = "ended"
                raise EndOfStream(self.name)
            self._grabber = self._opener()
            rewound = True

    def close(self) -> None:
        if self._grabber is not None:
            self._grabber.release()
            self._grabber = None
        self.stats.state = "closed"


@dataclass(frozen=True)
class Reconnect:
    """How a live source recovers: no frame for `stall_s` → reopen; waits grow from `initial_s` to `max_s`."""

    stall_s: float = 5.0
    initial_s: float = 0.5
    max_s: float = 30.0

    def delay(self, failures: int) -> float:
        return min(self.max_s, self.initial_s * (2.0 ** max(0, failures - 1)))


class LiveSource:
    """A camera or stream captured in its own thread, handing over only the freshest frame.

    Each connection runs in a worker thread that owns its Grabber from open to release; a supervisor
    thread starts workers and abandons one that ends, fails or stays silent for `stall_s` (a blocked
    driver call cannot be interrupted, so the stuck worker releases its device whenever the call returns).
    `end_at_eof` makes a file read in real time end instead of reconnecting (or rewind with `loop`)."""

    live = True

    def __init__(
        self,
        name: str,
        opener: Callable[[], Grabber],
        reconnect: Reconnect | None = None,
        end_at_eof: bool = False,
        loop: bool = False,
        pace_fps: float | None = None,
    ) -> None:
        self.name = name
        self.stats = SourceStats()
        self._opener = opener
        self._reconnect = reconnect or Reconnect()
        self._end_at_eof = end_at_eof
        self._loop = loop
        self._pace = pace_fps if pace_fps and pace_fps > 0 else None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._generation = 0
        self._latest: Frame | None = None
        self._taken = -1  # index of the last frame handed over
        self._grabbed = -1  # index of the last frame grabbed (decoded or not)
        self._waiting = False
        self._ended = False
        self._last_frame_at = 0.0
        self._worker_end: dict[int, str] = {}
        self._supervisor: threading.Thread | None = None

    # -- consumer side

    def open(self) -> None:
        self.stats.state = "connecting"
        self._supervisor = threading.Thread(target=self._supervise, name=f"source:{self.name}", daemon=True)
        self._supervisor.start()

    def read(self, timeout: float) -> Frame | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                frame = self._latest
                # Only the newest grabbed frame is handed over; one that has been overtaken is stale.
                if frame is not None and frame.index > self._taken and frame.index == self._grabbed:
                    self.stats.dropped += max(0, frame.index - self._taken - 1) if self._taken >= 0 else 0
                    self.stats.delivered += 1
                    self._taken = frame.index
                    self._waiting = False
                    return frame
                if self._ended:
                    raise EndOfStream(self.name)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop.is_set():
                    self._waiting = False
                    return None
                self._waiting = True  # the worker decodes the next frame it grabs
                self._cond.wait(remaining)

    def close(self, timeout: float = 0.5) -> None:
        self._stop.set()
        with self._cond:
            self._generation += 1
            self._cond.notify_all()
        if self._supervisor is not None:
            self._supervisor.join(timeout)
        self.stats.state = "closed"

    # -- capture side

    def _work(self, generation: int) -> None:
        try:
            grabber = self._opener()
        except Exception as exc:
            if self._generation == generation:
                self._worker_end[generation] = f"cannot open: {exc}"
            return
        reason = "stopped"
        next_at = time.monotonic()
        try:
            while not self._stop.is_set() and self._generation == generation:
                if self._pace:
                    next_at += 1.0 / self._pace
                    delay = next_at - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        break
                if not grabber.grab():
                    reason = "end of file" if self._end_at_eof else "read failed"
                    break
                now = time.monotonic()
                with self._cond:
                    if self._generation != generation:
                        break
                    self._grabbed += 1
                    self._last_frame_at = now
                    decode = self._waiting or self._latest is None
                if not decode:
                    continue  # nobody is asking: skip the decoding cost, a fresher frame will come
                image = grabber.retrieve()
                if image is None:
                    continue
                with self._cond:
                    if self._generation != generation:
                        break
                    if self.stats.state != "streaming":
                        self._announce_streaming(image)
                    self._latest = Frame(image, self._grabbed, now)
                    self._cond.notify_all()
        except Exception as exc:  # a driver error must not kill the capture thread for good
            reason = f"{type(exc).__name__}: {exc}"
        finally:
            grabber.release()
            if self._generation == generation:  # an abandoned worker's story is no longer wanted
                self._worker_end[generation] = reason

    def _announce_streaming(self, image: np.ndarray) -> None:
        h, w = image.shape[:2]
        if self.stats.state == "lost":
            self.stats.reconnects += 1
            log.info("source %s: reconnected, streaming %dx%d", self.name, w, h)
        else:
            log.info("source %s: streaming %dx%d", self.name, w, h)
        self.stats.state = "streaming"

    def _supervise(self) -> None:
        failures = 0
        rc = self._reconnect
        while not self._stop.is_set():
            with self._cond:
                self._generation += 1
                generation = self._generation
                self._last_frame_at = time.monotonic()
            worker = threading.Thread(
                target=self._work, args=(generation,), name=f"capture:{self.name}", daemon=True
            )
            worker.start()
            streamed = False
            reason = ""
            while not self._stop.is_set():
                worker.join(0.05)
                streamed = streamed or self.stats.state == "streaming"
                if not worker.is_alive():
                    reason = self._worker_end.pop(generation, "stopped")
                    break
                silent = time.monotonic() - self._last_frame_at
                if silent > rc.stall_s:
                    reason = f"no frame for {silent:.1f} s"
                    with self._cond:  # abandon the worker; it releases its device when its call returns
                        if self._generation == generation:
                            self._generation += 1
                    break
            if self._stop.is_set():
                worker.join(1.0)
                break
            if reason == "end of file":
                if self._loop:
                    continue
                with self._cond:
                    self._ended = True
                    self.stats.state = "ended"
                    self._cond.notify_all()
                return
            if streamed:
                failures = 0
            failures += 1
            delay = rc.delay(failures)
            if self.stats.state != "lost":
                verb = "lost" if streamed else "unavailable"
                log.warning(
                    "source %s: %s (%s); reconnecting with backoff up to %.0f s",
                    self.name,
                    verb,
                    reason,
                    rc.max_s,
                )
                self.stats.state = "lost"
            else:
                log.debug(
                    "source %s: attempt %d failed (%s); next in %.1f s", self.name, failures, reason, delay
                )
            if self._stop.wait(delay):
                break


# ---------------------------------------------------------------------------------------------- factory


def camera_present() -> bool:
    return any(Path("/dev").glob("video[0-9]*"))


def classify(location: int | str | None) -> str:
    """The source type a location names: camera, device, url, folder or file."""
    if location is None:
        return "camera"
    if isinstance(location, int) or str(location).isdigit():
        return "camera"
    text = str(location)
    if text.startswith("/dev/"):
        return "device"
    if text.lower().startswith(URL_SCHEMES) or "://" in text:
        return "url"
    if Path(text).is_dir():
        return "folder"
    return "file"


def _api(backend: str, default: int) -> int:
    return {
        "auto": default,
        "any": cv2.CAP_ANY,
        "v4l2": cv2.CAP_V4L2,
        "ffmpeg": cv2.CAP_FFMPEG,
        "gstreamer": cv2.CAP_GSTREAMER,
    }[backend]


def _reconnect(cfg: SourceConfig) -> Reconnect:
    return Reconnect(cfg.stall_timeout_s, cfg.reconnect_initial_s, cfg.reconnect_max_s)


def _open_camera(cfg: SourceConfig, location: int | str) -> FrameSource:
    index = int(location) if isinstance(location, int) or str(location).isdigit() else location

    def opener() -> Grabber:
        return OpenCVGrabber(
            index, _api(cfg.backend, cv2.CAP_V4L2), cfg.width, cfg.height, cfg.fps, cfg.fourcc
        )

    name = f"camera:{index}" if isinstance(index, int) else str(index)
    return LiveSource(name, opener, _reconnect(cfg))


def _open_url(cfg: SourceConfig, location: str) -> FrameSource:
    if location.lower().startswith("rtsp") and cfg.rtsp_transport:
        # FFmpeg reads its capture options from the environment, once per open.
        os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", f"rtsp_transport;{cfg.rtsp_transport}")
    timeout_ms = int(max(1.0, min(cfg.stall_timeout_s, 30.0)) * 1000)

    def opener() -> Grabber:
        return OpenCVGrabber(
            location,
            _api(cfg.backend, cv2.CAP_FFMPEG),
            cfg.width,
            cfg.height,
            cfg.fps,
            cfg.fourcc,
            timeout_ms,
        )

    return LiveSource(_redact(location), opener, _reconnect(cfg))


def _open_file(cfg: SourceConfig, location: str) -> FrameSource:
    path = Path(location)
    if not path.is_file():
        raise SourceError(f"{location}: no such video file")

    def opener() -> Grabber:
        return OpenCVGrabber(str(path), _api(cfg.backend, cv2.CAP_FFMPEG))

    if cfg.realtime:
        probe = opener()
        fps = probe.fps or 25.0  # type: ignore[attr-defined]
        probe.release()
        return LiveSource(str(path), opener, _reconnect(cfg), end_at_eof=True, loop=cfg.loop, pace_fps=fps)
    return SequentialSource(str(path), opener, loop=cfg.loop)


def _open_folder(cfg: SourceConfig, location: str) -> FrameSource:
    def opener() -> Grabber:
        return FolderGrabber(location, cfg.pattern)

    opener().release()  # fail now, with the folder's name, if it has no images
    if cfg.realtime:
        return LiveSource(
            location, opener, _reconnect(cfg), end_at_eof=True, loop=cfg.loop, pace_fps=cfg.fps or 10.0
        )
    return SequentialSource(location, opener, loop=cfg.loop, fps=cfg.fps)


def _redact(url: str) -> str:
    """A URL without its password, for logs and events."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    auth, host = rest.split("@", 1) if "@" in rest.split("/", 1)[0] else ("", rest)
    if not auth:
        return url
    user = auth.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


# Source types → "module:function(cfg, location) -> FrameSource". Optional back-ends (picamera2) add an
# entry here; their module is imported only when a config asks for that type.
SOURCE_TYPES: dict[str, str] = {
    "camera": "edge_digits.sources:_open_camera",
    "device": "edge_digits.sources:_open_camera",
    "url": "edge_digits.sources:_open_url",
    "file": "edge_digits.sources:_open_file",
    "folder": "edge_digits.sources:_open_folder",
    "picamera2": "edge_digits.sources_picamera2:open_picamera2",
}


def resolve_location(cfg: SourceConfig) -> tuple[str, int | str]:
    """(type, location) for a config, with `auto` and the defaults applied: no location means camera 0,
    or the bundled sample clip when the machine has no camera."""
    location: int | str | None = cfg.location
    kind = cfg.type
    if location is None and kind in ("auto", "camera"):
        if kind == "auto" and not camera_present():
            log.info(
                "no camera found and no source configured: reading the bundled sample clip %s", SAMPLE_CLIP
            )
            return "file", str(SAMPLE_CLIP)
        return "camera", 0
    if kind == "auto":
        kind = classify(location)
    if location is None:
        if kind in ("file", "folder", "url", "device"):
            raise SourceError(f"source.location: required for source type {kind!r}")
        location = 0  # cameras, including registered types such as picamera2, count from 0
    return kind, location


def open_source(cfg: SourceConfig) -> FrameSource:
    """Build (not yet open) the FrameSource a config describes; SourceError names what is wrong."""
    kind, location = resolve_location(cfg)
    target = SOURCE_TYPES.get(kind)
    if target is None:
        raise SourceError(
            f"source.type: unknown type {kind!r} (expected one of {', '.join(sorted(SOURCE_TYPES))})"
        )
    module_name, func_name = target.split(":")
    builder: Callable[[SourceConfig, int | str], FrameSource] = getattr(
        importlib.import_module(module_name), func_name
    )
    return builder(cfg, location)
