"""Draw the meter pictures of docs/meter.md: generated meter photos with what `edge-digits read` found.

    .venv/bin/python tools/meter_pictures.py [OUT_DIR]    (default docs/img)

Each picture is the region around the display, the digit boxes in green, the reading in a banner.
Seeds are fixed so that the pictures are reproducible; the reading shown is whatever this build reads.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.meter import reader_for  # noqa: E402
from convert.synth.meters import make_meter  # noqa: E402
from edge_digits.reader import DigitReader  # noqa: E402
from edge_digits.runtime import DigitClassifier, load_turning_model  # noqa: E402

# (picture name, category, seed, how far the last drum has turned: None = as the seed has it)
PICTURES = (("lcd", "lcd", 1003, None), ("led", "led", 1002, None), ("drum", "drum", 1008, None),
            ("drum_turning", "drum", 1003, 0.5), ("printed_sign", "printed_sign", 1004, None))
WIDTH = 360


def picture(reader: DigitReader, category: str, seed: int, roll: float | None) -> tuple[np.ndarray, str, str]:
    scene = make_meter(category, seed, roll=roll)
    reading = reader.read(scene.image)
    img = scene.image.copy()
    boxes = [b for line in scene.boxes for b in line] + [d.box.to_list() for d in reading.digits]
    x0 = max(0, min(b[0] for b in boxes) - 60)
    y0 = max(0, min(b[1] for b in boxes) - 50)
    x1 = min(img.shape[1], max(b[0] + b[2] for b in boxes) + 60)
    y1 = min(img.shape[0], max(b[1] + b[3] for b in boxes) + 50)
    for d in reading.digits:
        b = d.box
        cv2.rectangle(img, (b.x, b.y), (b.x2, b.y2), (60, 220, 60), 2)
    crop = img[y0:y1, x0:x1]
    scale = WIDTH / crop.shape[1]
    crop = cv2.resize(crop, (WIDTH, max(1, round(crop.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    banner = np.full((34, WIDTH, 3), 32, np.uint8)
    cv2.putText(banner, f"read: {reading.text or '(nothing)'}", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7,
                (255, 255, 255), 2, cv2.LINE_AA)
    return np.vstack([crop, banner]), reading.text, scene.text


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "docs" / "img"
    out.mkdir(parents=True, exist_ok=True)
    classifier, turning = DigitClassifier(), load_turning_model()
    for name, category, seed, roll in PICTURES:
        img, got, want = picture(reader_for(category, classifier, turning), category, seed, roll)
        path = out / f"meter_{name}.png"
        # A 64-colour palette keeps a photo-like picture small in git.
        from PIL import Image

        rgb = Image.fromarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        rgb.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        print(f"{path}: read {got!r}, truth {want!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
