"""The shipped digit model: int8 TFLite latency through the device runtime, single and batched, next to
the prototype's way of classifying (Keras `predict` on one crop at a time), plus size and accuracy."""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"


def _per_image_ms(fn, x: np.ndarray, batch: int, repeats: int = 5) -> float:
    """Median over `repeats` passes of the mean milliseconds per image, after a warm-up call."""
    fn(x[:batch])
    n = (len(x) // batch) * batch
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(0, n, batch):
            fn(x[i : i + batch])
        times.append((time.perf_counter() - start) * 1000 / n)
    return statistics.median(times)


def _keras_one_at_a_time_ms(model, x: np.ndarray, scale: float) -> float:
    model.predict(x[:1] * scale, verbose=0)
    start = time.perf_counter()
    for i in range(len(x)):
        model.predict(x[i : i + 1] * scale, verbose=0)
    return (time.perf_counter() - start) * 1000 / len(x)


def run() -> str:
    from convert.data import load_test_set
    from edge_digits.runtime import DigitClassifier

    manifest = json.loads((MODELS / "manifest.json").read_text())
    test = load_test_set()
    x = test.x[:1024]
    rows = []
    for threads in (1, 2):
        clf = DigitClassifier(MODELS / "digits_int8.tflite", num_threads=threads)
        for batch in (1, 8, 32):
            ms = _per_image_ms(clf.probabilities, x if batch > 1 else x[:512], batch)
            rows.append((f"int8 TFLite ({clf.backend}), {threads} thread{'s' if threads > 1 else ''}",
                         batch, ms))

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from convert.model import build_prototype

    crops = x[:40, ..., None].astype(np.float32)
    ours = keras.saving.load_model(MODELS / "digits.keras", compile=False)
    rows.append(("Keras predict, one crop at a time: this model (float)", 1,
                 _keras_one_at_a_time_ms(ours, crops, 1.0)))
    rows.append(("Keras predict, one crop at a time: prototype network", 1,
                 _keras_one_at_a_time_ms(build_prototype(), crops, 1 / 255)))

    acc = manifest["accuracy"]
    lines = [
        f"Model `models/{manifest['model']['file']}`: {manifest['model']['bytes'] / 1024:.0f} KB int8 "
        f"(the `.keras` it came from: {(MODELS / 'digits.keras').stat().st_size / 1024:.0f} KB), "
        f"{manifest['training'].get('params', '?')} parameters.",
        "",
        f"MNIST test accuracy (10,000 digits): float {100 * acc['mnist_test_float']:.2f}%, "
        f"int8 {100 * acc['mnist_test_int8']:.2f}%.",
        "",
        "Held-apart generated glyphs (int8): "
        + ", ".join(f"{d} {100 * v:.1f}%" for d, v in acc.get("per_domain", {}).items())
        + (f"; reject precision {acc['reject_precision']:.3f}, recall {acc['reject_recall']:.3f}."
           if "reject_precision" in acc else "."),
        "",
        "| how | batch | ms per digit |",
        "|---|---:|---:|",
        *(f"| {how} | {batch} | {ms:.3f} |" for how, batch, ms in rows),
        "",
        "Latency is wall time per digit for `DigitClassifier.probabilities` (quantize, invoke, dequantize) "
        "on MNIST test digits, median of 5 passes; the Keras rows time `model.predict` on single crops, "
        "as the prototype did.",
    ]
    return "\n".join(lines)
