"""The prototype's pipeline, re-implemented for comparison (bench/engine.py), exactly as its README
described it:

    Gaussian blur → global Otsu → close/dilate → Canny → external contours sorted by x
    → keep boxes ≥ 8×30 px → crop → pad square → 28×28 → one Keras `predict` per digit

with the prototype's own network (convert.model.build_prototype), trained here for one epoch on part
of the MNIST training set (its original weights are not part of the repository). TensorFlow is imported only
by the functions that need it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

MNIST_DIR = Path(os.environ.get("EDGE_DIGITS_MNIST", "/work/shared/datasets/mnist"))
MIN_W, MIN_H = 8, 30


def train_prototype(epochs: int = 1, limit: int = 20000, seed: int = 0) -> Any:
    """The prototype network, trained for `epochs` on the first `limit` images of the MNIST training
    set (never the test set): about 98% on MNIST, which is all the comparison needs."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from convert.data import load_idx_split
    from convert.model import build_prototype

    train = load_idx_split(MNIST_DIR, "train")
    keras.utils.set_random_seed(seed)
    model = build_prototype()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = train.x[:limit, ..., None].astype(np.float32) / 255.0
    model.fit(x, train.y[:limit], batch_size=128, epochs=epochs, verbose=0)
    return model


def find_digits(image: np.ndarray) -> list[np.ndarray]:
    """The prototype's segmentation: 28×28 float crops (0..1), left to right, one line only."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    blur = cv2.GaussianBlur(gray, (5, 5), 0)
    _, thresh = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    kernel = np.ones((3, 3), np.uint8)
    closed = cv2.morphologyEx(thresh, cv2.MORPH_CLOSE, kernel)
    dilated = cv2.dilate(closed, kernel, iterations=1)
    edges = cv2.Canny(dilated, 50, 150)
    contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes = sorted((cv2.boundingRect(c) for c in contours), key=lambda b: b[0])
    crops = []
    for x, y, w, h in boxes:
        if w < MIN_W or h < MIN_H:
            continue
        crop = thresh[y : y + h, x : x + w]
        side = max(w, h)
        pad_y, pad_x = (side - h) // 2, (side - w) // 2
        square = cv2.copyMakeBorder(crop, pad_y, side - h - pad_y, pad_x, side - w - pad_x,
                                    cv2.BORDER_CONSTANT, value=0)
        crops.append(cv2.resize(square, (28, 28), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0)
    return crops


def read_prototype(image: np.ndarray, model: Any) -> str:
    """The whole prototype: one `predict` call per digit, as it did."""
    digits = []
    for crop in find_digits(image):
        probs = model.predict(crop[None, ..., None], verbose=0)
        digits.append(str(int(np.argmax(probs[0]))))
    return "".join(digits)


def read_prototype_fast(image: np.ndarray, model: Any) -> str:
    """Same result as read_prototype with one batched call: for accuracy runs, not for timing."""
    crops = find_digits(image)
    if not crops:
        return ""
    probs = model(np.stack(crops)[..., None], training=False)
    return "".join(str(int(v)) for v in np.argmax(np.asarray(probs), axis=1))
