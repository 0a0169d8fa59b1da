"""Region of interest: crops, quadrilaterals and rotations, and mapping boxes back onto the frame."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge_digits.roi import RoiError, apply, box_to_frame, plan, to_frame


def _frame() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)


def test_no_roi_is_the_frame_itself() -> None:
    img = _frame()
    p = plan((160, 120))
    assert apply(img, p) is img


def test_rect_is_an_exact_crop_clipped_to_the_frame() -> None:
    img = _frame()
    assert np.array_equal(apply(img, plan((160, 120), rect=(10, 20, 50, 30))), img[20:50, 10:60])
    clipped = apply(img, plan((160, 120), rect=(140, 100, 50, 50)))
    assert clipped.shape == (20, 20, 3)
    with pytest.raises(RoiError, match=r"roi\.rect"):
        plan((160, 120), rect=(500, 500, 10, 10))


@pytest.mark.parametrize(
    ("rotate", "code"),
    [(90, cv2.ROTATE_90_CLOCKWISE), (180, cv2.ROTATE_180), (270, cv2.ROTATE_90_COUNTERCLOCKWISE)],
)
def test_quarter_turns_match_cv2_rotate(rotate: int, code: int) -> None:
    img = _frame()
    p = plan((160, 120), rect=(10, 20, 50, 30), rotate=rotate)
    out = apply(img, p)
    assert np.array_equal(out, cv2.rotate(img[20:50, 10:60], code))


def test_quad_is_perspective_corrected() -> None:
    # A white card with a black square, seen in perspective: after correction the square is square.
    card = np.full((200, 300), 255, np.uint8)
    card[50:150, 100:200] = 0
    src = np.float32([[0, 0], [300, 0], [300, 200], [0, 200]])
    corners = np.float32([[40, 30], [260, 50], [280, 190], [20, 170]])
    warp = cv2.getPerspectiveTransform(src, corners)
    frame = cv2.warpPerspective(card, warp, (320, 240), borderValue=128)
    p = plan((320, 240), quad=corners[[2, 0, 3, 1]].tolist())  # any corner order
    out = apply(frame, p)
    dark = out < 100
    ys, xs = np.nonzero(dark)
    h, w = np.ptp(ys) + 1, np.ptp(xs) + 1
    assert abs(h / w * (out.shape[1] / 300) / (out.shape[0] / 200) - 1.0) < 0.1
    # A box in the ROI maps back inside the quadrilateral on the frame.
    poly = box_to_frame((int(xs.min()), int(ys.min()), int(w), int(h)), p)
    assert cv2.pointPolygonTest(corners.reshape(-1, 1, 2), tuple(map(float, poly.mean(axis=0))), False) > 0


def test_fine_angle_straightens_a_tilted_line() -> None:
    img = np.full((200, 200), 255, np.uint8)
    cv2.line(img, (30, 100), (170, 100), 0, 3)
    tilted = cv2.warpAffine(img, cv2.getRotationMatrix2D((100, 100), 10, 1.0), (200, 200), borderValue=255)
    # getRotationMatrix2D turns counter-clockwise by +10°; a clockwise turn by 10° undoes it.
    out = apply(tilted, plan((200, 200), angle=10))
    ys, _ = np.nonzero(out < 128)
    assert np.ptp(ys) <= 6


def test_points_round_trip() -> None:
    p = plan((160, 120), rect=(10, 20, 80, 60), rotate=90, angle=5)
    pts = np.array([[5.0, 7.0], [30.0, 40.0]])
    back = to_frame(pts, p)
    forward = cv2.perspectiveTransform(back.reshape(-1, 1, 2).astype(np.float64), p.matrix).reshape(-1, 2)
    assert np.allclose(forward, pts, atol=1e-3)
