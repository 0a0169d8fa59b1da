"""The preview: keys through the null backend, and the real window under Xvfb checked by a screenshot."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_digits.outputs.base import FrameView
from edge_digits.outputs.overlay import BANNER_BGR, ROI_BGR
from edge_digits.outputs.preview import QUIT, SNAPSHOT, NullBackend, PreviewError, PreviewOutput, make_backend
from edge_digits.reading import Box, Digit, Line, Reading
from edge_digits.roi import plan
from edge_digits.sources import SAMPLE_CLIP
from edge_digits.stabilize import StableReading
from tests.harness import LineCollector, start_cli, wait_for


def _view() -> FrameView:
    image = np.full((240, 320, 3), 200, np.uint8)
    digits = (Digit("4", 0.97, Box(10, 10, 30, 50)), Digit("2", 0.91, Box(50, 10, 30, 50)))
    return FrameView(
        image,
        plan((320, 240), rect=(50, 80, 200, 100)),
        Reading((Line(digits),), (200, 100)),
        StableReading("42", (0.97, 0.91), 3, 0.0, 3, 5),
        3,
        5.0,
        None,
        0.8,
    )


def test_keys_quit_and_snapshot(tmp_path: Path) -> None:
    backend = NullBackend()
    preview = PreviewOutput(backend, snapshot_dir=tmp_path / "snaps")
    preview.show(_view())
    assert backend.shown == 1 and backend.last is not None
    assert np.all(backend.last[0, 0] == BANNER_BGR)
    backend.keys = [ord("x"), ord("s"), ord("q")]
    assert preview.poll() is None
    assert preview.poll() == SNAPSHOT
    saved = list((tmp_path / "snaps").iterdir())
    assert len(saved) == 1 and cv2.imread(str(saved[0])) is not None
    assert preview.poll() == QUIT
    backend.keys = [-2]  # the user closed the window
    assert preview.poll() == QUIT


def test_a_window_asked_for_without_a_display_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", ":4242")  # no such X server: Qt would abort the process
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(PreviewError, match="no display"):
        make_backend("window", "t")
    assert isinstance(make_backend("auto", "t"), NullBackend)


def _need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{program} is required under CI (tools/system-deps.sh installs it)")
        pytest.skip(f"{program} not installed (tools/system-deps.sh installs it)")
    return path


def _start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    """Xvfb on a display number it picks itself (-displayfd), so parallel runs never collide."""
    xvfb = _need("Xvfb")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", "800x600x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        number = f.readline().strip()
    if not number:
        proc.kill()
        pytest.fail("Xvfb did not report its display number")
    display = f":{number}"

    def accepts_clients() -> bool:
        try:
            _screenshot(display)
        except OSError:
            return False
        return True

    wait_for(accepts_clients, 20, f"Xvfb on {display} to accept clients")
    return proc, display


def _screenshot(display: str) -> np.ndarray:
    from PIL import ImageGrab

    return cv2.cvtColor(np.asarray(ImageGrab.grab(xdisplay=display)), cv2.COLOR_RGB2BGR)


def test_preview_window_under_xvfb_shows_the_overlay(tmp_path: Path) -> None:
    xvfb, display = _start_xvfb()
    proc = None
    try:
        config = tmp_path / "config.yaml"
        config.write_text(
            f"source:\n  location: {SAMPLE_CLIP}\n  loop: true\n"
            "roi:\n  rect: [8, 8, 300, 220]\n"
            "process:\n  max_fps: 10\n"
            "outputs:\n  preview:\n    backend: window\n"
        )
        proc = start_cli(["run", "--config", str(config), "--preview"], env={"DISPLAY": display})
        err = LineCollector(proc.stderr)
        LineCollector(proc.stdout)

        def overlay_on_screen() -> bool:
            shot = _screenshot(display)
            banner = np.all(shot == BANNER_BGR, axis=2).sum()
            roi = np.all(np.abs(shot.astype(int) - ROI_BGR) <= 40, axis=2).sum()
            return banner > 2000 and roi > 200

        try:
            wait_for(
                overlay_on_screen, 40, "the preview window with banner and ROI on the X screen", every=0.3
            )
        except AssertionError:
            proc.kill()
            xvfb_state = "running" if xvfb.poll() is None else f"exited with {xvfb.returncode}"
            raise AssertionError(
                f"Xvfb {xvfb_state}; daemon stderr:\n" + "\n".join(err.snapshot()[-20:])
            ) from None
        shot = _screenshot(display)
        ys, xs = np.nonzero(np.all(shot == BANNER_BGR, axis=2))
        # The banner is a band as wide as the frame, with the reading written into it in white.
        assert xs.max() - xs.min() + 1 >= 300
        band = shot[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        assert np.any(np.all(band > 200, axis=2)), "no text in the banner"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        xvfb.terminate()
        xvfb.wait(5)
