"""Annotated frames saved to a folder on every change of the stable reading (the headless preview).

Files are written to a temporary name in the same folder and renamed into place, so a reader of the
folder never sees half an image; only the newest `keep` snapshots are kept.
"""

from __future__ import annotations

import contextlib
import logging
import re
from pathlib import Path
from typing import Any

import cv2

from edge_digits.atomic import write_atomic
from edge_digits.outputs.base import FrameView
from edge_digits.outputs.overlay import annotate

log = logging.getLogger(__name__)
PREFIX = "snapshot-"


def write_image_atomic(path: Path, image: Any, fmt: str = "jpg") -> None:
    ok, data = cv2.imencode(f".{fmt}", image)
    if not ok:
        raise OSError(f"{path}: cannot encode a {fmt} image")
    write_atomic(path, data.tobytes())


class SnapshotsOutput:
    def __init__(self, folder: str | Path, fmt: str = "jpg", keep: int = 500) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fmt = fmt
        self.keep = keep
        self._view: FrameView | None = None
        self.saved: list[Path] = []

    def show(self, view: FrameView) -> None:
        self._view = view  # annotated only if a change comes with it

    def emit(self, event: dict[str, Any]) -> None:
        if event.get("type") == "reading":
            self.save(str(event.get("text", "")))

    def save(self, label: str = "") -> Path | None:
        view = self._view
        if view is None:
            return None
        safe = re.sub(r"[^0-9A-Za-z.]+", "_", label)[:40] or "none"
        path = self.folder / f"{PREFIX}{view.frame:08d}-{safe}.{self.fmt}"
        try:
            write_image_atomic(path, annotate(view), self.fmt)
        except OSError as exc:
            log.error("snapshot %s: %s", path, exc)
            return None
        self.saved.append(path)
        log.info("snapshot saved: %s", path)
        self._prune()
        return path

    def _prune(self) -> None:
        if self.keep <= 0:
            return
        files = sorted(
            self.folder.glob(f"{PREFIX}*.{self.fmt}"), key=lambda p: (p.stat().st_mtime_ns, p.name)
        )
        for old in files[: max(0, len(files) - self.keep)]:
            with contextlib.suppress(OSError):
                old.unlink()

    def close(self) -> None:
        self._view = None
