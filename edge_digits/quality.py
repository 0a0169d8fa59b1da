"""Is a frame good enough to read? Brightness, contrast and sharpness, measured.

Sharpness is the variance of the Laplacian divided by the variance of the grey levels: the share of the
image's contrast that sits in fine detail. Dividing by the frame's own contrast makes it independent of
exposure and lighting flicker; what is left still depends on the scene (a big digit has less fine detail
than small print), so a frame is called blurred *relative to the recent frames that had digits in them*
(a fixed camera sees the same scene), with an absolute floor for a start without history.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

# Fine detail is measured at a fixed working size so the figure does not change with camera resolution.
WORK_SIDE = 480


@dataclass(frozen=True)
class Quality:
    brightness: float  # mean grey level, 0..255
    contrast: float  # standard deviation of the grey levels
    sharpness: float  # var(Laplacian) / var(grey), scale free

    def to_dict(self) -> dict[str, float]:
        return {
            "brightness": round(self.brightness, 1),
            "contrast": round(self.contrast, 1),
            "sharpness": round(self.sharpness, 4),
        }


def to_gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def measure(image: np.ndarray) -> Quality:
    """Brightness, contrast and sharpness of a BGR or grey uint8 image."""
    gray = to_gray(image)
    h, w = gray.shape[:2]
    scale = WORK_SIDE / max(h, w)
    if scale < 1.0:
        gray = cv2.resize(
            gray, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA
        )
    mean, std = cv2.meanStdDev(gray)
    contrast = float(std[0, 0])
    lap = cv2.Laplacian(gray, cv2.CV_32F, ksize=3)
    _, lap_std = cv2.meanStdDev(lap)
    sharpness = float(lap_std[0, 0]) ** 2 / max(contrast**2, 1.0)
    return Quality(float(mean[0, 0]), contrast, sharpness)


@dataclass(frozen=True)
class QualityLimits:
    dark_below: float = 35.0  # mean grey level under which a frame is too dark to read
    min_contrast: float = 6.0  # grey-level spread under which there is nothing to read
    blur_ratio: float = 0.45  # blurred when sharpness < ratio × median of recent frames with digits
    min_sharpness: float = 0.0  # absolute floor (0 = off)
    history: int = 15  # frames with digits the median is taken over


def exposure_problem(q: Quality, limits: QualityLimits) -> str | None:
    """'dark' for an underexposed or featureless frame, else None."""
    if q.brightness < limits.dark_below or q.contrast < limits.min_contrast:
        return "dark"
    return None


class BlurJudge:
    """Calls a frame blurred when its sharpness falls well below that of the recent readable frames."""

    def __init__(self, limits: QualityLimits) -> None:
        self.limits = limits
        self._recent: deque[float] = deque(maxlen=max(1, limits.history))

    @property
    def baseline(self) -> float | None:
        return float(np.median(self._recent)) if len(self._recent) >= 3 else None

    def judge(self, q: Quality) -> str | None:
        """'blurred' or None; remembers the frame either way (the median shrugs off the blurred ones)."""
        base = self.baseline
        self._recent.append(q.sharpness)
        if q.sharpness < self.limits.min_sharpness:
            return "blurred"
        if base is not None and q.sharpness < self.limits.blur_ratio * base:
            return "blurred"
        return None
