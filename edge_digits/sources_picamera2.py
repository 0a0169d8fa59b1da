"""Raspberry Pi Camera Module frames through picamera2 (libcamera).

On Raspberry Pi OS Bookworm the CSI camera is driven by libcamera; `cv2.VideoCapture` cannot open it
(USB webcams keep using OpenCV's V4L2 backend in `sources.py`). picamera2 is not on PyPI in a usable
form: it comes from apt (`python3-picamera2`) together with the libcamera bindings, so the venv must be
created with `--system-site-packages`. This module is imported only when the config says
`source.type: picamera2`, and `picamera2` itself only when that source is built.

Config: `source.type: picamera2`, `source.location: 0` (camera number, as listed by
`rpicam-hello --list-cameras`), optional `source.width`/`source.height` (both or neither) and `source.fps`.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_digits.sources import FrameSource, LiveSource, Reconnect, SourceError

if TYPE_CHECKING:
    from edge_digits.config import SourceConfig

INSTALL_HINT = (
    "on Raspberry Pi OS install it with `sudo apt install python3-picamera2` and give the venv access to "
    "apt's Python packages: `sudo systemd/install.sh --system-site-packages` (for a hand-made venv: "
    "`python3 -m venv --system-site-packages VENV`)"
)


NUMPY2_HINT = (
    "apt's python3-simplejpeg (imported by picamera2) is built for the system's numpy 1 while this venv "
    "has numpy 2; `sudo systemd/install.sh --system-site-packages` puts a numpy-2 build of simplejpeg into "
    "the venv (by hand: `VENV/bin/pip install --ignore-installed --no-deps simplejpeg`)"
)


def import_picamera2() -> Any:
    """The picamera2 module, or SourceError saying how to install it."""
    try:
        return importlib.import_module("picamera2")
    except ImportError as exc:
        raise SourceError(
            f"source.type picamera2: the picamera2 module cannot be imported by {sys.executable} ({exc}); "
            + INSTALL_HINT
        ) from None
    except ValueError as exc:  # "numpy.dtype size changed, may indicate binary incompatibility"
        hint = NUMPY2_HINT if "size changed" in str(exc) else INSTALL_HINT
        raise SourceError(f"source.type picamera2: importing picamera2 failed ({exc}); {hint}") from None


class Picamera2Grabber:
    """One started Picamera2 camera; `grab()` waits for the next frame (the camera paces itself)."""

    def __init__(
        self,
        module: Any,
        camera: int = 0,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
    ) -> None:
        cameras = _camera_list(module)
        if cameras is not None and camera >= len(cameras):
            found = f"{len(cameras)} found" if cameras else "none found"
            raise SourceError(
                f"picamera2 camera {camera}: libcamera sees no such camera ({found}); check the ribbon "
                "cable and `rpicam-hello --list-cameras`"
            )
        self.camera = camera
        self._cam = module.Picamera2(camera)
        try:
            # "RGB888" is libcamera's name for 8-bit pixels stored B, G, R: OpenCV's BGR order as is.
            main: dict[str, Any] = {"format": "RGB888"}
            if width and height:
                main["size"] = (int(width), int(height))
            controls = {"FrameRate": float(fps)} if fps else {}
            self._cam.configure(self._cam.create_video_configuration(main=main, controls=controls))
            self._cam.start()
        except Exception as exc:
            self._cam.close()
            raise SourceError(
                f"picamera2 camera {camera}: cannot be started ({type(exc).__name__}: {exc})"
            ) from exc
        self._frame: np.ndarray | None = None

    def grab(self) -> bool:
        self._frame = self._cam.capture_array("main")
        return self._frame is not None

    def retrieve(self) -> np.ndarray | None:
        frame = self._frame
        if frame is None or frame.ndim != 3 or frame.shape[2] not in (3, 4):
            return None
        # XRGB8888 (4 bytes per pixel) is what some pipelines hand back; the padding byte is not alpha.
        return np.ascontiguousarray(frame[:, :, :3], dtype=np.uint8)

    def release(self) -> None:
        try:
            self._cam.stop()
        finally:
            self._cam.close()


def _camera_list(module: Any) -> list[Any] | None:
    info = getattr(module.Picamera2, "global_camera_info", None)
    if info is None:
        return None
    try:
        return list(info())
    except Exception:  # an old picamera2 or a libcamera hiccup: let Picamera2() itself report
        return None


def camera_number(location: int | str) -> int:
    text = str(location).strip()
    if not text.isdigit():
        raise SourceError(
            f"source.location: {location!r} is not a camera number; picamera2 expects 0, 1, … "
            "(see `rpicam-hello --list-cameras`)"
        )
    return int(text)


def open_picamera2(cfg: SourceConfig, location: int | str) -> FrameSource:
    """The `picamera2` source type: a LiveSource over a Picamera2Grabber (freshest frame, reconnects)."""
    module = import_picamera2()  # at start-up, so a missing module is a config error, not a retry loop
    camera = camera_number(location)
    if (cfg.width is None) != (cfg.height is None):
        raise SourceError("source.width, source.height: give both or neither for picamera2")

    def opener() -> Picamera2Grabber:
        return Picamera2Grabber(module, camera, cfg.width, cfg.height, cfg.fps)

    reconnect = Reconnect(cfg.stall_timeout_s, cfg.reconnect_initial_s, cfg.reconnect_max_s)
    return LiveSource(f"picamera2:{camera}", opener, reconnect)
