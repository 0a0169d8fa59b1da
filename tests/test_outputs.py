"""Outputs: JSON lines on stdout, a rotated log file that loses no line, snapshots written atomically."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np

from edge_digits.outputs.base import FrameView, Output, heartbeat_event, reading_event
from edge_digits.outputs.logfile import LogfileOutput
from edge_digits.outputs.overlay import BANNER_BGR, ROI_BGR, SURE_BGR, UNSURE_BGR, annotate
from edge_digits.outputs.snapshots import SnapshotsOutput
from edge_digits.outputs.stdout import StdoutOutput
from edge_digits.reading import Box, Digit, Line, Reading
from edge_digits.roi import plan
from edge_digits.stabilize import StableReading


def stable(text: str = "12|7", frame: int = 10) -> StableReading:
    return StableReading(text, (0.99, 0.97, 0.9), frame, 1.0, 3, 5)


def test_reading_event_has_the_contract_fields() -> None:
    e = reading_event(stable(), "camera:0", 12.34)
    assert set(e) >= {"ts", "type", "text", "lines", "confidence", "stable", "frame", "source", "latency_ms"}
    assert e["type"] == "reading" and e["text"] == "12|7" and e["lines"] == ["12", "7"]
    assert e["confidence"] == [0.99, 0.97, 0.9] and e["stable"] is True
    assert e["latency_ms"] == 12.3 and e["frame"] == 10
    assert e["ts"].endswith("Z") and "T" in e["ts"]
    hb = heartbeat_event(None, "camera:0", 5, None, {"fps": 4.9})
    assert hb["type"] == "heartbeat" and hb["stable"] is False and hb["fps"] == 4.9


def test_stdout_writes_one_json_object_per_line() -> None:
    buf = io.StringIO()
    out = StdoutOutput(buf)
    assert isinstance(out, Output)
    out.emit(reading_event(stable("1"), "s", 1.0))
    out.emit(reading_event(stable("2"), "s", 1.0))
    lines = buf.getvalue().splitlines()
    assert [json.loads(line)["text"] for line in lines] == ["1", "2"]


def test_logfile_rotation_keeps_every_line_whole_and_in_order(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "readings.jsonl"
    out = LogfileOutput(path, max_bytes=2048, backups=50)
    for i in range(400):
        out.emit({"type": "reading", "text": str(i), "pad": "x" * (i % 37)})
        if i == 10:
            # Flushed per line: what is written is on disk before close.
            assert json.loads(path.read_text().splitlines()[-1])["text"] == "10"
    out.close()
    files = sorted(
        tmp_path.joinpath("logs").glob("readings.jsonl*"),
        key=lambda p: -int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0,
    )
    assert len(files) > 5
    texts = [json.loads(line)["text"] for f in files for line in f.read_text().splitlines()]
    assert texts == [str(i) for i in range(400)]
    assert all(f.stat().st_size <= 2048 for f in files)


def test_logfile_keeps_a_bounded_number_of_files(tmp_path: Path) -> None:
    out = LogfileOutput(tmp_path / "r.jsonl", max_bytes=1024, backups=3)
    for i in range(1000):
        out.emit({"i": i})
    out.close()
    files = list(tmp_path.glob("r.jsonl*"))
    assert len(files) == 4
    newest = [json.loads(line)["i"] for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert newest[-1] == 999
    # The retained files hold one contiguous run of the newest lines.
    order = sorted(files, key=lambda p: -int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0)
    kept = [json.loads(line)["i"] for f in order for line in f.read_text().splitlines()]
    assert kept == list(range(kept[0], 1000))


def _view(text: str = "507", size: tuple[int, int] = (640, 480)) -> FrameView:
    w, h = size
    image = np.full((h, w, 3), 220, np.uint8)
    cv2.putText(image, text, (w // 5, h * 2 // 3), cv2.FONT_HERSHEY_SIMPLEX, w / 128, (20, 20, 20), 6)
    roi = plan((w, h), rect=(w // 8, h // 4, w * 3 // 4, h // 2))
    digits = tuple(
        Digit(c, 0.95 if i else 0.5, Box(20 + w // 6 * i, 30, w // 7, h // 3)) for i, c in enumerate(text)
    )
    reading = Reading((Line(digits),), (w * 3 // 4, h // 2))
    return FrameView(image, roi, reading, stable(text), 7, 4.8, None, 0.8)


def test_overlay_draws_banner_roi_and_boxes() -> None:
    view = _view()
    out = annotate(view)
    assert out.shape == view.image.shape and out is not view.image
    banner = np.all(out[:20, :, :] == BANNER_BGR, axis=2).mean()
    assert banner > 0.5
    roi_edge = out[120, 80:560]  # the top edge of the ROI rectangle
    assert np.mean(np.all(np.abs(roi_edge.astype(int) - ROI_BGR) < 30, axis=1)) > 0.8
    assert np.any(np.all(out == UNSURE_BGR, axis=2))  # the unsure first digit in red
    assert np.any(np.all(out == SURE_BGR, axis=2))


def test_small_frames_are_drawn_enlarged() -> None:
    out = annotate(_view(size=(320, 240)))
    assert out.shape == (480, 640, 3)
    assert annotate(_view(), scale=0.5).shape == (240, 320, 3)


def test_snapshots_on_every_change_written_atomically(tmp_path: Path) -> None:
    snaps = SnapshotsOutput(tmp_path / "snaps", keep=2)
    for i, text in enumerate(["1", "2", "3"]):
        snaps.show(_view(text))
        snaps.emit({"type": "heartbeat", "text": text})  # not a change: nothing saved
        snaps.emit({"type": "reading", "text": text, "frame": i})
    files = sorted(p.name for p in (tmp_path / "snaps").iterdir())
    assert len(files) == 2 and all(not f.startswith(".") for f in files), files
    img = cv2.imread(str(tmp_path / "snaps" / files[-1]))
    assert img is not None and img.shape == (480, 640, 3)
