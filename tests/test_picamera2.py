"""The Pi camera source (picamera2) against a stand-in module with picamera2's calls, and the V4L2 path
that USB webcams take. No camera here: the stand-in produces frames whose pixels encode their number."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import types
from typing import Any, ClassVar

import cv2
import numpy as np
import pytest

from edge_digits import sources
from edge_digits.config import SourceConfig
from edge_digits.sources import LiveSource, SourceError, open_source
from tests.harness import wait_for


class FakePicamera2:
    """Records what the daemon asks of picamera2.Picamera2 and serves BGR frames at a camera-like pace."""

    instances: ClassVar[list[FakePicamera2]] = []
    cameras: ClassVar[list[dict[str, Any]]] = [{"Model": "imx708", "Num": 0}]
    fail_after: int | None = None  # capture_array raises after this many frames (an unplugged ribbon)
    channels = 3

    def __init__(self, camera_num: int = 0) -> None:
        self.camera_num = camera_num
        self.calls: list[str] = []
        self.configured: dict[str, Any] | None = None
        self.started = False
        self.closed = False
        self.frames = 0
        FakePicamera2.instances.append(self)
        self.number = len(FakePicamera2.instances)

    @staticmethod
    def global_camera_info() -> list[dict[str, Any]]:
        return list(FakePicamera2.cameras)

    def create_video_configuration(self, main: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("create_video_configuration")
        return {"use_case": "video", "main": dict(main or {}), **kwargs}

    def create_preview_configuration(
        self, main: dict[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        self.calls.append("create_preview_configuration")
        return {"use_case": "preview", "main": dict(main or {}), **kwargs}

    def configure(self, config: dict[str, Any]) -> None:
        self.calls.append("configure")
        self.configured = config

    def start(self) -> None:
        assert self.configured is not None, "start() before configure()"
        self.calls.append("start")
        self.started = True

    def capture_array(self, name: str = "main") -> np.ndarray:
        assert self.started and not self.closed, "capture_array() on a camera that is not running"
        assert name == "main"
        if self.fail_after is not None and self.frames >= self.fail_after:
            raise RuntimeError("Camera frontend has timed out!")
        time.sleep(0.005)  # a camera delivers frames at its own pace; keeps the capture thread polite
        self.frames += 1
        w, h = self.configured["main"].get("size", (640, 480)) if self.configured else (640, 480)
        frame = np.zeros((h, w, self.channels), np.uint8)
        frame[..., 0] = 200  # blue channel first: picamera2's "RGB888" is B, G, R in memory
        frame[..., 2] = 10
        frame[0, 0, 1] = self.frames % 256
        frame[0, 1, 1] = self.number  # which Picamera2 object delivered it
        return frame

    def stop(self) -> None:
        self.calls.append("stop")
        self.started = False

    def close(self) -> None:
        self.calls.append("close")
        self.closed = True


@pytest.fixture
def picamera2(monkeypatch: pytest.MonkeyPatch) -> type[FakePicamera2]:
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "picamera2", module)
    FakePicamera2.instances = []
    FakePicamera2.cameras = [{"Model": "imx708", "Num": 0}]
    FakePicamera2.fail_after = None
    FakePicamera2.channels = 3
    return FakePicamera2


def read_frame(source: Any, deadline_s: float = 10.0) -> Any:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        frame = source.read(0.2)
        if frame is not None:
            return frame
    raise AssertionError("no frame from the source")


def test_configured_size_fps_and_bgr_frames(picamera2: type[FakePicamera2]) -> None:
    cfg = SourceConfig(type="picamera2", location=0, width=320, height=240, fps=15)
    source = open_source(cfg)
    assert isinstance(source, LiveSource) and source.name == "picamera2:0"
    source.open()
    try:
        frame = read_frame(source)
    finally:
        source.close()
    cam = picamera2.instances[0]
    assert cam.camera_num == 0
    assert cam.configured is not None
    assert cam.configured["main"] == {"size": (320, 240), "format": "RGB888"}
    assert cam.configured["controls"] == {"FrameRate": 15.0}
    assert cam.calls[:3] == ["create_video_configuration", "configure", "start"]
    assert frame.image.shape == (240, 320, 3) and frame.image.dtype == np.uint8
    assert frame.image[5, 5, 0] == 200 and frame.image[5, 5, 2] == 10  # BGR order kept as delivered
    wait_for(lambda: cam.closed, 10.0, "the camera to be closed after close()")
    assert cam.calls[-2:] == ["stop", "close"]


def test_four_channel_frames_lose_the_padding_byte(picamera2: type[FakePicamera2]) -> None:
    from edge_digits.sources_picamera2 import Picamera2Grabber

    picamera2.channels = 4
    grabber = Picamera2Grabber(sys.modules["picamera2"], 0, 64, 48)
    assert grabber.grab()
    image = grabber.retrieve()
    grabber.release()
    assert image is not None and image.shape == (48, 64, 3) and image.flags["C_CONTIGUOUS"]
    assert image[0, 0, 1] == 1


def test_sensor_default_size_when_none_configured(picamera2: type[FakePicamera2]) -> None:
    from edge_digits.sources_picamera2 import Picamera2Grabber

    grabber = Picamera2Grabber(sys.modules["picamera2"], 0)
    grabber.release()
    cam = picamera2.instances[0]
    assert cam.configured == {"use_case": "video", "main": {"format": "RGB888"}, "controls": {}}


def test_camera_that_dies_is_reopened_and_frames_resume(picamera2: type[FakePicamera2]) -> None:
    picamera2.fail_after = 3
    cfg = SourceConfig(type="picamera2", location="0", reconnect_initial_s=0.05, reconnect_max_s=0.1)
    source = open_source(cfg)
    source.open()
    try:
        first = read_frame(source)
        wait_for(lambda: len(picamera2.instances) >= 2, 10.0, "a second Picamera2 after the first one failed")
        picamera2.fail_after = None
        later = read_frame(source)
        deadline = time.monotonic() + 10
        while later.image[0, 1, 1] < 2 and time.monotonic() < deadline:  # the daemon keeps reading too
            later = read_frame(source)
    finally:
        source.close()
    assert first.image[0, 1, 1] == 1
    assert later.image[0, 1, 1] >= 2, "frames never came from a reopened camera"
    assert source.stats.reconnects >= 1
    dead = picamera2.instances[0]
    assert dead.calls[-2:] == ["stop", "close"]  # the failed camera was released before reopening


def test_missing_camera_names_the_fix(picamera2: type[FakePicamera2]) -> None:
    from edge_digits.sources_picamera2 import Picamera2Grabber

    picamera2.cameras = []
    with pytest.raises(SourceError, match=r"camera 0: .*none found.*rpicam-hello --list-cameras"):
        Picamera2Grabber(sys.modules["picamera2"], 0)
    assert picamera2.instances == []  # never constructed, so no half-open camera


def test_bad_settings_fail_at_build_time(picamera2: type[FakePicamera2]) -> None:
    with pytest.raises(SourceError, match=r"source\.location: 'front' is not a camera number"):
        open_source(SourceConfig(type="picamera2", location="front"))
    with pytest.raises(SourceError, match=r"source\.width, source\.height: give both"):
        open_source(SourceConfig(type="picamera2", location=0, width=640))
    assert picamera2.instances == []


def test_picamera2_is_a_registered_source_type() -> None:
    assert sources.SOURCE_TYPES["picamera2"] == "edge_digits.sources_picamera2:open_picamera2"


def test_missing_module_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import picamera2 → ImportError
    with pytest.raises(SourceError) as err:
        open_source(SourceConfig(type="picamera2", location=0))
    message = str(err.value)
    assert "source.type picamera2" in message
    assert "sudo apt install python3-picamera2" in message
    assert "--system-site-packages" in message


def test_numpy_abi_clash_names_the_simplejpeg_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """apt's picamera2 imports apt's simplejpeg, built for numpy 1; the venv has numpy 2 (OpenCV needs it)."""
    package = tmp_path / "picamera2"
    package.mkdir()
    (package / "__init__.py").write_text(
        "raise ValueError('numpy.dtype size changed, may indicate binary incompatibility. "
        "Expected 96 from C header, got 88 from PyObject')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    fix = r"numpy\.dtype size changed.*--ignore-installed --no-deps simplejpeg"
    with pytest.raises(SourceError, match=fix):
        open_source(SourceConfig(type="picamera2", location=0))


def test_picamera2_is_imported_only_when_configured() -> None:
    code = (
        "import sys\n"
        "from edge_digits.config import SourceConfig\n"
        "from edge_digits.sources import open_source\n"
        "open_source(SourceConfig(location='/dev/video0'))\n"
        "print(sorted(m for m in sys.modules if 'picamera2' in m))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------------- USB webcams: V4L2


def test_opencv_has_the_v4l2_backend() -> None:
    assert cv2.videoio_registry.hasBackend(cv2.CAP_V4L2)
    assert cv2.videoio_registry.getBackendName(cv2.CAP_V4L2) == "V4L2"


@pytest.mark.parametrize("location", ["/dev/video0", 0, "2"])
def test_device_paths_and_indexes_prefer_v4l2(monkeypatch: pytest.MonkeyPatch, location: Any) -> None:
    """opencv-python lists GStreamer before V4L2 among camera back-ends; a webcam must go through V4L2."""
    opened: list[tuple[Any, int]] = []
    done = threading.Event()

    class RecordingCapture:
        def __init__(self, where: Any, api: int, *params: Any) -> None:
            opened.append((where, api))
            done.set()

        def isOpened(self) -> bool:
            return False

        def release(self) -> None:
            pass

    monkeypatch.setattr(sources.cv2, "VideoCapture", RecordingCapture)
    source = open_source(SourceConfig(location=location))
    source.open()
    try:
        assert done.wait(10), "the capture thread never opened the device"
    finally:
        source.close()
    expected = location if isinstance(location, str) and location.startswith("/dev/") else int(location)
    assert opened[0] == (expected, cv2.CAP_V4L2)


def test_absent_v4l2_device_is_reported_by_name() -> None:
    with pytest.raises(SourceError, match="/dev/video63: cannot be opened"):
        sources.OpenCVGrabber("/dev/video63", cv2.CAP_V4L2)
