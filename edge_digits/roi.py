"""Region of interest: crop a rectangle or a perspective-corrected quadrilateral and turn it upright.

Everything is one 3×3 homography from frame pixels to ROI pixels, so the crop, the perspective
correction and the rotation cost a single resampling, and the digit boxes found in the ROI can be mapped
back onto the frame for the preview. Rotations are clockwise in degrees: `rotate` (0/90/180/270) for a
camera mounted on its side, `angle` for the last few degrees.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np


class RoiError(ValueError):
    """The configured region does not fit the frame."""


@dataclass(frozen=True)
class RoiPlan:
    matrix: np.ndarray  # 3×3 float64, frame → ROI image
    size: tuple[int, int]  # (width, height) of the ROI image
    polygon: np.ndarray  # (4, 2) float32: the region's corners in frame pixels (for drawing)
    crop: tuple[int, int, int, int] | None  # (x, y, w, h) when a plain slice is exact and enough


def _rotation(width: float, height: float, degrees: float) -> tuple[np.ndarray, tuple[int, int]]:
    """Clockwise rotation about the image centre onto a canvas that holds the whole rotated image."""
    theta = math.radians(degrees % 360.0)
    c, s = math.cos(theta), math.sin(theta)
    # Exact zeros and ones for quarter turns, so they move whole pixels without interpolation.
    c, s = (round(c), round(s)) if (degrees % 90.0) == 0 else (c, s)
    new_w = abs(c) * width + abs(s) * height
    new_h = abs(s) * width + abs(c) * height
    out_w, out_h = max(1, round(new_w)), max(1, round(new_h))
    # In image coordinates (y down) this matrix turns the picture clockwise.
    # Pixel centres sit at integer coordinates, so the centre of a w-pixel row is at (w - 1) / 2.
    to_origin = np.array([[1, 0, -(width - 1) / 2.0], [0, 1, -(height - 1) / 2.0], [0, 0, 1]], np.float64)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], np.float64)
    to_canvas = np.array([[1, 0, (out_w - 1) / 2.0], [0, 1, (out_h - 1) / 2.0], [0, 0, 1]], np.float64)
    return to_canvas @ rot @ to_origin, (out_w, out_h)


def _order_quad(points: np.ndarray) -> np.ndarray:
    """Corners as top-left, top-right, bottom-right, bottom-left, whatever order they were given in."""
    s = points.sum(axis=1)
    d = points[:, 0] - points[:, 1]
    return np.array(
        [points[np.argmin(s)], points[np.argmax(d)], points[np.argmax(s)], points[np.argmin(d)]], np.float32
    )


def plan(
    frame_size: tuple[int, int],
    rect: Sequence[float] | None = None,
    quad: Sequence[Sequence[float]] | None = None,
    rotate: int = 0,
    angle: float = 0.0,
) -> RoiPlan:
    """The transform for a frame of `frame_size` (width, height). `rect` is (x, y, w, h) in pixels and is
    clipped to the frame; `quad` is four (x, y) corners in any order. Raises RoiError when nothing is left."""
    fw, fh = frame_size
    if quad is not None:
        src = _order_quad(np.asarray(quad, np.float32).reshape(4, 2))
        tl, tr, br, bl = src
        w = max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))
        h = max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))
        w, h = max(1, round(w)), max(1, round(h))
        if w < 2 or h < 2:
            raise RoiError(f"roi.quad: the quadrilateral {quad} is degenerate")
        dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
        base = cv2.getPerspectiveTransform(src, dst).astype(np.float64)
        polygon = src
        crop = None
    else:
        if rect is not None:
            x, y, w0, h0 = (float(v) for v in rect)
            x0, y0 = max(0.0, x), max(0.0, y)
            x1, y1 = min(float(fw), x + w0), min(float(fh), y + h0)
            if x1 - x0 < 2 or y1 - y0 < 2:
                raise RoiError(f"roi.rect: {list(rect)} lies outside the {fw}x{fh} frame")
        else:
            x0, y0, x1, y1 = 0.0, 0.0, float(fw), float(fh)
        w, h = round(x1 - x0), round(y1 - y0)
        x0, y0 = round(x0), round(y0)
        base = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64)
        polygon = np.array([[x0, y0], [x0 + w, y0], [x0 + w, y0 + h], [x0, y0 + h]], np.float32)
        crop = (x0, y0, w, h)
    degrees = (int(rotate) % 360) + float(angle)
    if degrees % 360.0 == 0:
        return RoiPlan(base, (w, h), polygon, crop)
    rot, size = _rotation(w, h, degrees)
    return RoiPlan(rot @ base, size, polygon, None)


def apply(image: np.ndarray, roi: RoiPlan) -> np.ndarray:
    """The ROI image. A plain rectangle is a slice (a view, no copy); anything else one warp."""
    if roi.crop is not None:
        x, y, w, h = roi.crop
        if (x, y) == (0, 0) and (w, h) == (image.shape[1], image.shape[0]):
            return image
        return image[y : y + h, x : x + w]
    # Replicating the border keeps the corners of a tilted ROI from turning into black "ink".
    return cv2.warpPerspective(
        image, roi.matrix, roi.size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def to_frame(points: np.ndarray, roi: RoiPlan) -> np.ndarray:
    """Map (N, 2) points from ROI pixels back to frame pixels."""
    pts = np.asarray(points, np.float64).reshape(-1, 1, 2)
    if pts.size == 0:
        return np.zeros((0, 2), np.float32)
    inverse = np.linalg.inv(roi.matrix)
    return cv2.perspectiveTransform(pts, inverse).reshape(-1, 2).astype(np.float32)


def box_to_frame(box: tuple[int, int, int, int], roi: RoiPlan) -> np.ndarray:
    """A box (x, y, w, h) in the ROI as a 4-point polygon in the frame."""
    x, y, w, h = box
    return to_frame(np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float64), roi)
