"""Draw what the daemon sees onto a frame: ROI, digit boxes with values and confidences, the stable
reading in a banner, FPS. Pure: returns a new image."""

from __future__ import annotations

import cv2
import numpy as np

from edge_digits.outputs.base import FrameView
from edge_digits.roi import box_to_frame

# BGR colours. The banner's is distinctive on purpose: tests find it in a screenshot.
BANNER_BGR = (96, 48, 0)
ROI_BGR = (0, 215, 255)
SURE_BGR = (60, 200, 60)
UNSURE_BGR = (40, 40, 230)
TEXT_BGR = (255, 255, 255)
FONT = cv2.FONT_HERSHEY_SIMPLEX


# Frames smaller than this (shorter side) are drawn enlarged: labels under ~10 px are unreadable.
MIN_SIDE = 480


def annotate(view: FrameView, scale: float = 1.0) -> np.ndarray:
    """The annotated frame, `scale` times the frame size (small frames are enlarged to MIN_SIDE first)."""
    image = view.image if view.image.ndim == 3 else cv2.cvtColor(view.image, cv2.COLOR_GRAY2BGR)
    h, w = image.shape[:2]
    f = scale * max(1.0, MIN_SIDE / max(1, min(h, w)))
    if f == 1.0:
        out = image.copy()
    else:
        interp = cv2.INTER_LINEAR if f > 1 else cv2.INTER_AREA
        out = cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=interp)
    oh, ow = out.shape[:2]
    unit = max(0.6, min(ow, oh) / 600.0)  # line widths and fonts grow with the picture
    thick = max(1, round(2 * unit))
    if view.roi.crop is None or view.roi.crop != (0, 0, w, h):
        roi_poly = np.round(view.roi.polygon * f).astype(np.int32)
        cv2.polylines(out, [roi_poly], True, ROI_BGR, thick, cv2.LINE_AA)
    if view.reading is not None:
        for digit in view.reading.digits:
            poly = np.round(box_to_frame(digit.box.to_list(), view.roi) * f).astype(np.int32)
            colour = SURE_BGR if digit.confidence >= view.min_confidence else UNSURE_BGR
            cv2.polylines(out, [poly], True, colour, thick, cv2.LINE_AA)
            label = f"{digit.value} {digit.confidence * 100:.0f}%"
            x, y = int(poly[:, 0].min()), int(poly[:, 1].min())
            size = 0.5 * unit
            (tw, th), base = cv2.getTextSize(label, FONT, size, 1)
            y_text = y - 4 if y - th - 6 > 0 else int(poly[:, 1].max()) + th + 4
            cv2.rectangle(out, (x, y_text - th - 2), (x + tw + 2, y_text + base), colour, -1)
            cv2.putText(out, label, (x + 1, y_text), FONT, size, TEXT_BGR, 1, cv2.LINE_AA)
    _banner(out, view, unit)
    return out


def _banner(out: np.ndarray, view: FrameView, unit: float) -> None:
    _h, w = out.shape[:2]
    height = max(24, int(44 * unit))
    cv2.rectangle(out, (0, 0), (w, height), BANNER_BGR, -1)
    text = view.stable.text if view.stable is not None else "-"
    big = 0.9 * unit
    cv2.putText(
        out,
        text,
        (int(8 * unit), int(height * 0.75)),
        FONT,
        big,
        TEXT_BGR,
        max(1, int(2 * unit)),
        cv2.LINE_AA,
    )
    status = f"{view.fps:4.1f} fps  #{view.frame}" + (f"  {view.problem}" if view.problem else "")
    small = 0.5 * unit
    (tw, _), _ = cv2.getTextSize(status, FONT, small, 1)
    cv2.putText(
        out,
        status,
        (max(0, w - tw - int(8 * unit)), int(height * 0.7)),
        FONT,
        small,
        TEXT_BGR,
        1,
        cv2.LINE_AA,
    )
