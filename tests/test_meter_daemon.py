"""Meter mode inside the daemon: frames of a recording are timed by their place in the file (a file read
faster than real time must not look like a spinning meter), and meter mode needs no reader threshold
of its own."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_digits.config import load_config
from edge_digits.daemon import Daemon, build_reader
from edge_digits.meter import MeterConfig, MeterRules
from edge_digits.sources import EndOfStream, Frame, open_source
from tests.harness import write_video


def _positions(cfg_overrides: dict[str, object], limit: int = 100) -> list[float | None]:
    cfg = load_config(None, cfg_overrides)
    source = open_source(cfg.source)
    source.open()
    out = []
    try:
        while len(out) < limit:
            frame = source.read(0.1)
            assert frame is not None
            out.append(frame.position)
    except EndOfStream:
        pass
    finally:
        source.close()
    return out


def test_video_file_frames_carry_their_position_in_the_recording(tmp_path: Path) -> None:
    frames = (np.full((48, 64, 3), 10 * i, np.uint8) for i in range(12))
    clip = write_video(tmp_path / "clip.avi", frames, 4.0)
    assert _positions({"source.location": str(clip)}) == pytest.approx([i / 4.0 for i in range(12)])
    # Looping goes on forward in time, it does not jump back to 0.
    looped = _positions({"source.location": str(clip), "source.loop": True}, limit=30)
    assert looped == pytest.approx([i / 4.0 for i in range(30)])


def test_image_folder_is_timed_by_source_fps_when_given(tmp_path: Path) -> None:
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((8, 8, 3), i, np.uint8))
    assert _positions({"source.location": str(tmp_path), "source.fps": 2.0}) == [0.0, 0.5, 1.0]
    # Without a frame rate nothing says when a photo was taken: the daemon uses the clock.
    assert _positions({"source.location": str(tmp_path)}) == [None, None, None]


def test_daemon_times_recorded_frames_by_position_and_live_ones_by_the_clock(tmp_path: Path) -> None:
    import time

    daemon = Daemon(load_config(None, {"meter.enabled": True, "meter.state_file": str(tmp_path / "m.json")}))
    image = np.zeros((4, 4, 3), np.uint8)
    before = time.time()
    t0 = daemon.frame_time(Frame(image, 0, 0.0, 0.0))
    # However fast the file is read, 15 s of recording are 15 s for the meter's rate rule.
    t150 = daemon.frame_time(Frame(image, 150, 0.0, 15.0))
    assert t150 - t0 == pytest.approx(15.0)
    assert before <= t0 <= time.time()
    live = daemon.frame_time(Frame(image, 3, 0.0))
    assert before <= live <= time.time()


def test_recorded_meter_rising_at_its_own_pace_is_accepted_by_the_rate_rule(tmp_path: Path) -> None:
    """One unit per second, 60 per minute allowed: timed by position every value is accepted, while
    wall-clock stamps of a file read in a blink would refuse all but the first as rate_too_high."""
    cfg = MeterConfig(enabled=True, digits=4, max_rate_per_minute=60, state_file=tmp_path / "m.json")
    daemon = Daemon(load_config(None, {}))
    rules = MeterRules(cfg)
    image = np.zeros((4, 4, 3), np.uint8)
    decisions = [
        rules.check(f"{100 + k:04d}", daemon.frame_time(Frame(image, 10 * k, 0.0, float(3 * k))))
        for k in range(6)
    ]
    assert [d.reason for d in decisions] == [None] * 6
    assert [d.value for d in decisions] == [100, 101, 102, 103, 104, 105]


def test_meter_mode_leaves_the_reader_threshold_as_configured(tmp_path: Path) -> None:
    # The reader's '?' digits keep their best guess, so meter mode needs no special threshold.
    state = str(tmp_path / "m.json")
    plain = build_reader(None, load_config(None, {}))  # type: ignore[arg-type]
    meter = build_reader(None, load_config(None, {"meter.enabled": True, "meter.state_file": state}))  # type: ignore[arg-type]
    explicit = {"meter.enabled": True, "meter.state_file": state, "reader.confidence_threshold": 0.45}
    chosen = build_reader(None, load_config(None, explicit))  # type: ignore[arg-type]
    assert plain.settings.confidence_threshold == 0.5
    assert meter.settings.confidence_threshold == 0.5
    assert chosen.settings.confidence_threshold == 0.45
