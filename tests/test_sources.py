"""Frame sources on real files, folders and a local HTTP MJPEG camera that dies and comes back."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_digits.config import SourceConfig
from edge_digits.sources import (
    EndOfStream,
    LiveSource,
    Reconnect,
    SequentialSource,
    SourceError,
    classify,
    open_source,
    resolve_location,
)
from tests.harness import MjpegServer, digit_frame, wait_for, write_video


def _frame_with_index(i: int, size: tuple[int, int] = (160, 120)) -> np.ndarray:
    """A frame whose index can be read back exactly from its pixels (even after JPEG/MPEG coding)."""
    img = np.zeros((size[1], size[0], 3), np.uint8)
    for bit in range(8):
        if (i >> bit) & 1:
            img[:, bit * 20 : bit * 20 + 20] = 255
    return img


def _index_of(img: np.ndarray) -> int:
    return sum(1 << bit for bit in range(8) if img[:, bit * 20 + 5 : bit * 20 + 15].mean() > 128)


def _write_video(path: Path, n: int, fps: float = 10.0) -> Path:
    return write_video(path, (_frame_with_index(i) for i in range(n)), fps)


def test_classify_locations(tmp_path: Path) -> None:
    assert classify(0) == "camera"
    assert classify("2") == "camera"
    assert classify("/dev/video0") == "device"
    assert classify("rtsp://cam.local/stream") == "url"
    assert classify("http://10.0.0.5:8080/video.mjpg") == "url"
    assert classify(str(tmp_path)) == "folder"
    assert classify(str(tmp_path / "clip.mp4")) == "file"


def test_no_location_and_no_camera_means_the_sample_clip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("edge_digits.sources.camera_present", lambda: False)
    kind, location = resolve_location(SourceConfig())
    assert kind == "file"
    assert Path(str(location)).is_file(), "the sample clip must be committed in edge_digits/samples/"


def test_video_file_delivers_every_frame_in_order_then_ends(tmp_path: Path) -> None:
    clip = _write_video(tmp_path / "clip.avi", 25)
    source = open_source(SourceConfig(location=str(clip)))
    assert isinstance(source, SequentialSource)
    source.open()
    seen = []
    with pytest.raises(EndOfStream):
        while True:
            frame = source.read(0.1)
            assert frame is not None
            seen.append((frame.index, _index_of(frame.image)))
    source.close()
    assert seen == [(i, i) for i in range(25)]


def test_video_file_loops_when_configured(tmp_path: Path) -> None:
    clip = _write_video(tmp_path / "clip.avi", 6)
    source = open_source(SourceConfig(location=str(clip), loop=True))
    source.open()
    pixels = [_index_of(source.read(0.1).image) for _ in range(15)]  # type: ignore[union-attr]
    source.close()
    assert pixels == [i % 6 for i in range(15)]


def test_image_folder_is_read_in_sorted_order(tmp_path: Path) -> None:
    for i in (3, 0, 11, 2):  # written out of order; names sort as 00, 02, 03, 11
        cv2.imwrite(str(tmp_path / f"img_{i:02d}.png"), _frame_with_index(i))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    source = open_source(SourceConfig(location=str(tmp_path)))
    source.open()
    got = []
    with pytest.raises(EndOfStream):
        while True:
            got.append(_index_of(source.read(0.1).image))  # type: ignore[union-attr]
    assert got == [0, 2, 3, 11]
    assert source.stats.dropped == 1  # the unreadable broken.png


def test_missing_file_and_empty_folder_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such video file"):
        open_source(SourceConfig(location=str(tmp_path / "nope.mp4")))
    with pytest.raises(SourceError, match="no images"):
        open_source(SourceConfig(location=str(tmp_path), type="folder"))


def test_realtime_file_drops_frames_instead_of_lagging(tmp_path: Path) -> None:
    clip = _write_video(tmp_path / "clip.avi", 40, fps=40.0)
    source = open_source(SourceConfig(location=str(clip), realtime=True))
    assert isinstance(source, LiveSource)
    source.open()
    seen = []
    with pytest.raises(EndOfStream):
        while True:
            frame = source.read(2.0)
            if frame is None:
                continue
            seen.append(_index_of(frame.image))
            assert frame.index == seen[-1]
            time.sleep(0.1)  # a slow consumer: 4 frame intervals per frame
    assert seen == sorted(seen)
    assert len(seen) < 40
    assert source.stats.dropped > 0
    assert source.stats.delivered + source.stats.dropped <= 40


class _FlakyGrabber:
    """A camera that delivers `good` frames and then reports read errors."""

    opened = 0

    def __init__(self, good: int) -> None:
        type(self).opened += 1
        self.left = good
        self.released = False

    def grab(self) -> bool:
        time.sleep(0.005)
        self.left -= 1
        return self.left >= 0

    def retrieve(self) -> np.ndarray:
        return np.zeros((4, 4, 3), np.uint8)

    def release(self) -> None:
        self.released = True


def test_live_source_reopens_after_read_errors_with_backoff() -> None:
    _FlakyGrabber.opened = 0
    grabbers: list[_FlakyGrabber] = []

    def opener() -> _FlakyGrabber:
        g = _FlakyGrabber(5)
        grabbers.append(g)
        return g

    source = LiveSource("flaky", opener, Reconnect(stall_s=5.0, initial_s=0.01, max_s=0.05))
    source.open()
    try:
        wait_for(lambda: _FlakyGrabber.opened >= 4, 10, "three reopen attempts")
        assert source.read(2.0) is not None
    finally:
        source.close()
    assert all(g.released for g in grabbers[:-1])


def test_live_source_gives_up_on_a_silent_device_and_reopens() -> None:
    unblock = threading.Event()
    opened = []

    class Hanging:
        def __init__(self) -> None:
            opened.append(self)
            self.first = len(opened) == 1

        def grab(self) -> bool:
            if self.first:
                unblock.wait(10)  # a driver call that never returns while the device is wedged
                return False
            time.sleep(0.01)
            return True

        def retrieve(self) -> np.ndarray:
            return np.zeros((4, 4, 3), np.uint8)

        def release(self) -> None:
            pass

    source = LiveSource("wedged", Hanging, Reconnect(stall_s=0.3, initial_s=0.01, max_s=0.05))
    source.open()
    try:
        frame = wait_for(lambda: source.read(0.1), 10, "a frame from the reopened device")
        assert frame is not None
        assert len(opened) >= 2
    finally:
        unblock.set()
        source.close()


def test_http_mjpeg_camera_that_dies_and_comes_back(caplog: pytest.LogCaptureFixture) -> None:
    server = MjpegServer(lambda i: digit_frame(str(i % 100)), fps=30).start()
    cfg = SourceConfig(
        location=server.url, stall_timeout_s=1.0, reconnect_initial_s=0.05, reconnect_max_s=0.2
    )
    source = open_source(cfg)
    assert isinstance(source, LiveSource)
    caplog.set_level("INFO", logger="edge_digits.sources")
    source.open()
    try:
        first = wait_for(lambda: source.read(0.2), 10, "first frame over HTTP")
        assert first.image.shape == (240, 320, 3)  # type: ignore[attr-defined]
        server.stop()
        wait_for(lambda: source.stats.state == "lost", 10, "the source to notice the camera is gone")
        time.sleep(0.5)  # several failed reconnect attempts while the camera is away (not an assertion)
        before = source.stats.delivered
        server.start()
        wait_for(lambda: source.read(0.2) and source.stats.delivered > before, 15, "frames after reconnect")
        assert source.stats.reconnects == 1
        assert source.stats.state == "streaming"
    finally:
        source.close()
        server.stop()
    lost = [r for r in caplog.records if "lost" in r.getMessage()]
    assert len(lost) == 1, "the outage is logged once, not once per retry"
    assert any("reconnected" in r.getMessage() for r in caplog.records)


def test_live_source_hands_over_the_freshest_frame() -> None:
    server = MjpegServer(lambda i: _frame_with_index(i % 256), fps=40).start()
    source = open_source(SourceConfig(location=server.url))
    source.open()
    try:
        wait_for(lambda: source.read(0.2), 10, "first frame")
        # A busy consumer: it reads nothing while the server sends 40 frames (waited for by count,
        # not by time: a loaded machine is slower).
        served = server.served
        wait_for(lambda: server.served >= served + 40, 20, "40 more frames served")
        frame = source.read(1.0)
        assert frame is not None
        # What we get is a few frames behind the server at most, not 40; the stale ones were dropped.
        # (`served` counts a frame once it is written: the newest may be read before it is counted.)
        assert (server.served - _index_of(frame.image)) % 256 <= 10
        assert source.stats.dropped >= 20
    finally:
        source.close()
        server.stop()
