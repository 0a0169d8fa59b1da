"""Stage pictures of one reading, the way the prototype's README showed them.

gray → normalized (light flattened) → binary (ink mask) → components (each kept candidate in its own
colour, dropped blobs grey) → final (the input with boxes, digits and confidences).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from edge_digits.reading import UNKNOWN, Reading
from edge_digits.segment import label_mask

STAGES = ("gray", "normalized", "binary", "components", "final")


def _bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return image[:, :, :3].copy()


def _palette(n: int) -> np.ndarray:
    """n well-separated saturated colours (BGR uint8)."""
    hues = (np.arange(n) * 47) % 180
    hsv = np.stack([hues, np.full(n, 210), np.full(n, 255)], axis=1).astype(np.uint8)[None]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0]


def components_picture(labels: np.ndarray, seg: Any) -> np.ndarray:
    """Every component grey; the components of each candidate in a colour of their own, boxed."""
    out = np.zeros((*labels.shape, 3), np.uint8)
    out[labels > 0] = (90, 90, 90)
    cands = [c for line in seg.lines for c in line.candidates]
    colours = _palette(max(1, len(cands)))
    for c, colour in zip(cands, colours, strict=False):
        crop = labels[c.y : c.y2, c.x : c.x2]
        sel = label_mask(crop, c.labels)
        out[c.y : c.y2, c.x : c.x2][sel] = colour
        cv2.rectangle(out, (c.x, c.y), (c.x2 - 1, c.y2 - 1), tuple(int(v) for v in colour), 1)
    for x, y, w, h in seg.dropped:
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), (0, 0, 160), 1)
    return out


def final_picture(image: np.ndarray, reading: Reading) -> np.ndarray:
    """The input with a box per digit, the digit above it and its confidence (percent) below it;
    unsure digits ('?') in red."""
    out = _bgr(image)
    h = out.shape[0]
    big = max(0.4, min(1.4, h / 700))
    small = 0.75 * big
    thick = 1 if big < 0.9 else 2
    for line in reading.lines:
        for d in line.digits:
            b = d.box
            colour = (0, 0, 230) if d.value == UNKNOWN else (0, 160, 0)
            cv2.rectangle(out, (b.x, b.y), (b.x2 - 1, b.y2 - 1), colour, 1)
            cv2.putText(out, d.value, (b.x, max(10, b.y - 3)), cv2.FONT_HERSHEY_SIMPLEX, big, colour, thick,
                        cv2.LINE_AA)
            conf = f"{round(100 * d.confidence)}"
            (_, th), _ = cv2.getTextSize(conf, cv2.FONT_HERSHEY_SIMPLEX, small, 1)
            org = (b.x, min(h - 2, b.y2 + th + 3))
            cv2.putText(out, conf, org, cv2.FONT_HERSHEY_SIMPLEX, small, colour, 1, cv2.LINE_AA)
    return out


def stage_pictures(image: Any, reading: Reading, trace: Any) -> dict[str, np.ndarray]:
    """name → picture (uint8, gray or BGR) for the stages that ran; boxes in the working image's size."""
    if trace is None:
        return {}
    pics: dict[str, np.ndarray] = {}
    if trace.pre is not None:
        pics["gray"] = trace.pre.gray
        pics["normalized"] = trace.pre.normalized
        pics["binary"] = trace.pre.binary
    if trace.seg is not None:
        pics["components"] = components_picture(trace.seg.labels, trace.seg)
    pics["final"] = final_picture(trace.work if trace.scale == 1.0 else np.asarray(image), reading)
    if trace.scale != 1.0:
        # Show everything at the size it was read at.
        w, h = trace.work.shape[1], trace.work.shape[0]
        pics["final"] = cv2.resize(pics["final"], (w, h), interpolation=cv2.INTER_AREA)
    return pics
