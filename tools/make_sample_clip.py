"""Write edge_digits/samples/sample_clip.mp4: the clip `edge-digits run` reads when there is no camera.

A sheet with a handwritten number (MNIST test digits) on a plain desk; the number changes twice, there is
a second with no sheet, and the camera shakes a little. Kept deliberately clean (no sensor noise) so the
MPEG-4 file stays small enough to ship inside the package (≈ 150 KB); the daemon's tests use the noisier
clips of convert/synth/clips.py instead.

    python tools/make_sample_clip.py [OUT]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from convert.data import read_idx_images, read_idx_labels  # noqa: E402

OUT = ROOT / "edge_digits" / "samples" / "sample_clip.mp4"
SIZE = (320, 240)
FPS = 10
NUMBERS = ("4096", "31527", "860")
# Frames per number, then a second without the sheet after the first one.
HOLD = 36
EMPTY = 10


def _digits(text: str, rng: np.random.Generator) -> list[np.ndarray]:
    images = read_idx_images(ROOT / "tests" / "data" / "t10k-images.idx3-ubyte.gz")
    labels = read_idx_labels(ROOT / "tests" / "data" / "t10k-labels.idx1-ubyte.gz")
    picks = []
    for ch in text:
        idx = np.flatnonzero(labels == int(ch))
        picks.append(images[int(rng.choice(idx[:200]))])
    return picks


def _sheet(text: str, rng: np.random.Generator) -> np.ndarray:
    w, h = SIZE
    frame = np.empty((h, w, 3), np.uint8)
    frame[:] = (70, 100, 130)  # a brown desk
    x0, y0, x1, y1 = 40, 45, 280, 195
    frame[y0:y1, x0:x1] = (236, 240, 242)  # the sheet
    digit_h = 46
    glyphs = [cv2.resize(g, (digit_h, digit_h), interpolation=cv2.INTER_CUBIC) for g in _digits(text, rng)]
    step = int(digit_h * 0.8)
    x = (x0 + x1) // 2 - step * len(glyphs) // 2 - digit_h // 8
    y = (y0 + y1) // 2 - digit_h // 2
    ink = np.array((140, 60, 30), np.float32)  # blue ballpoint (BGR)
    for g in glyphs:
        alpha = (g.astype(np.float32) / 255.0)[..., None]
        region = frame[y : y + digit_h, x : x + digit_h].astype(np.float32)
        frame[y : y + digit_h, x : x + digit_h] = (region * (1 - alpha) + ink * alpha).astype(np.uint8)
        x += step
    return frame


def frames(seed: int = 11) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    w, h = SIZE
    desk = np.empty((h, w, 3), np.uint8)
    desk[:] = (70, 100, 130)
    scenes = [_sheet(t, rng) for t in NUMBERS]
    plan: list[np.ndarray] = []
    for i, scene in enumerate(scenes):
        plan += [scene] * HOLD
        if i == 0:
            plan += [desk] * EMPTY
    out = []
    for i, img in enumerate(plan):
        dx, dy = (int(v) for v in rng.integers(-1, 2, 2))  # whole-pixel shake keeps MPEG-4 small
        shifted = np.roll(img, (dy, dx), axis=(0, 1))
        if i % HOLD == HOLD // 2:  # a bumped camera: one motion-blurred frame per number
            k = np.zeros((9, 9), np.float32)
            k[4, :] = 1 / 9
            shifted = cv2.filter2D(shifted, -1, k)
        out.append(shifted)
    return out


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.part{out.suffix}")
    writer = cv2.VideoWriter(str(tmp), cv2.CAP_FFMPEG, cv2.VideoWriter.fourcc(*"mp4v"), FPS, SIZE)
    if not writer.isOpened():
        print(f"{tmp}: OpenCV cannot write MPEG-4", file=sys.stderr)
        return 1
    for frame in frames():
        writer.write(frame)
    writer.release()
    os.replace(tmp, out)
    print(f"{out}: {out.stat().st_size} bytes, numbers {', '.join(NUMBERS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
