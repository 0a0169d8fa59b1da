"""The live preview window: the annotated frame in a cv2.imshow window; `q` quits, `s` saves a snapshot.

The window sits behind a two-call backend (`show`, `key`) so a headless machine (or a test) uses the
null backend, which keeps the last image instead of drawing it. HighGUI must be driven from the main
thread; the daemon's frame loop is that thread.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edge_digits.outputs.base import FrameView
from edge_digits.outputs.overlay import annotate
from edge_digits.outputs.snapshots import SnapshotsOutput

log = logging.getLogger(__name__)

QUIT = "quit"


class PreviewError(Exception):
    """The preview window was asked for explicitly and cannot be opened."""


SNAPSHOT = "snapshot"


class PreviewBackend(Protocol):
    def show(self, image: np.ndarray) -> None: ...

    def key(self) -> int:
        """The key pressed since the last call (-1 for none); -2 when the user closed the window."""
        ...

    def close(self) -> None: ...


class NullBackend:
    """Draws nothing; remembers the last image (headless machines, tests)."""

    def __init__(self) -> None:
        self.last: np.ndarray | None = None
        self.shown = 0
        self.keys: list[int] = []  # keys a test wants "pressed"

    def show(self, image: np.ndarray) -> None:
        self.last = image
        self.shown += 1

    def key(self) -> int:
        return self.keys.pop(0) if self.keys else -1

    def close(self) -> None:
        pass


class WindowBackend:
    def __init__(self, title: str) -> None:
        import cv2

        self._cv2 = cv2
        self.title = title
        # GUI_NORMAL: no Qt toolbar over the picture.
        cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)
        self._opened = False

    def show(self, image: np.ndarray) -> None:
        self._cv2.imshow(self.title, image)
        self._opened = True

    def key(self) -> int:
        k = self._cv2.waitKey(1)
        if self._opened:
            try:
                if self._cv2.getWindowProperty(self.title, self._cv2.WND_PROP_VISIBLE) < 1:
                    return -2
            except self._cv2.error:
                return -2
        return k

    def close(self) -> None:
        try:
            self._cv2.destroyWindow(self.title)
            self._cv2.waitKey(1)
        except self._cv2.error:
            pass


def display_available() -> bool:
    """A display to open a window on. Checked before Qt gets to try, because Qt aborts the whole process
    when $DISPLAY names a local X server that is not there."""
    if os.environ.get("WAYLAND_DISPLAY"):
        return True
    display = os.environ.get("DISPLAY", "")
    if not display:
        return False
    host, _, number = display.rpartition(":")
    if host in ("", "unix") and number.split(".")[0].isdigit():
        return os.path.exists(f"/tmp/.X11-unix/X{number.split('.')[0]}")
    return True  # a remote display (ssh -X): let Qt try


def make_backend(kind: str, title: str) -> PreviewBackend:
    if kind == "null":
        return NullBackend()
    if not display_available():
        if kind == "window":
            shown = os.environ.get("DISPLAY", "")
            raise PreviewError(f"no display to open a window on ($DISPLAY={shown!r})")
        log.warning(
            "preview: no display to open a window on; showing nothing — use --snapshot-dir on a "
            "headless machine"
        )
        return NullBackend()
    try:
        return WindowBackend(title)
    except Exception as exc:  # HighGUI raises cv2.error when it has no GUI back-end
        if kind == "window":
            raise PreviewError(f"cannot open a window ({exc})") from None
        log.warning("preview: cannot open a window (%s); showing nothing", exc)
        return NullBackend()


class PreviewOutput:
    """Shows every processed frame; `poll()` reports the user's keys to the daemon."""

    def __init__(
        self,
        backend: PreviewBackend,
        scale: float = 1.0,
        snapshots: SnapshotsOutput | None = None,
        snapshot_dir: str | Path = "snapshots",
    ) -> None:
        self.backend = backend
        self.scale = scale
        self._snapshots = snapshots
        self._snapshot_dir = Path(snapshot_dir)
        self._view: FrameView | None = None

    def show(self, view: FrameView) -> None:
        self._view = view
        self.backend.show(annotate(view, self.scale))

    def emit(self, event: dict[str, Any]) -> None:
        pass  # the banner shows the stable reading from the FrameView

    def poll(self) -> str | None:
        """QUIT, SNAPSHOT (already saved) or None."""
        k = self.backend.key()
        if k == -2:
            return QUIT
        if k < 0:
            return None
        ch = chr(k & 0xFF).lower()
        if ch == "q" or k & 0xFF == 27:
            return QUIT
        if ch == "s":
            self.snapshot()
            return SNAPSHOT
        return None

    def snapshot(self) -> Path | None:
        if self._view is None:
            return None
        if self._snapshots is None:
            self._snapshots = SnapshotsOutput(self._snapshot_dir, keep=0)
        self._snapshots.show(self._view)
        label = self._view.stable.text if self._view.stable is not None else ""
        return self._snapshots.save(label)

    def close(self) -> None:
        self.backend.close()
