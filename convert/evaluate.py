"""Measure a trained model three ways (float Keras, float TFLite, int8 TFLite) and draw what went wrong.

On the 10k MNIST test set: accuracy, per-class accuracy, confusion matrix, file sizes and mean
per-image latency through `edge_digits.runtime.DigitClassifier` (the device's own code path). On
generated glyph sets held apart from training (their own seed): accuracy per domain, and how well the
reject class is separated (precision and recall over MNIST test + all generated sets).
Writes `report.json`, `confusion.png` and `misclassified.png`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from convert.data import Split
from convert.manifest import write_json
from convert.train import EVALUATION_SEED_OFFSET
from edge_digits.reader import REJECT

log = logging.getLogger(__name__)

REPORT_NAME = "report.json"
CONFUSION_PNG = "confusion.png"
MISCLASSIFIED_PNG = "misclassified.png"
LABELS = [str(i) for i in range(10)] + ["reject"]


class EvaluateError(Exception):
    """A model to evaluate is missing or unusable."""


@dataclass
class Models:
    keras: Path | None
    float_tflite: Path | None
    int8_tflite: Path


def classifier(path: Path, threads: int = 2) -> Any:
    from edge_digits.runtime import DigitClassifier, ModelError

    try:
        return DigitClassifier(path, verify=False, num_threads=threads)
    except ModelError as exc:
        raise EvaluateError(str(exc)) from None


def predict_tflite(path: Path, x: np.ndarray, batch: int = 500) -> np.ndarray:
    clf = classifier(path)
    return np.concatenate([clf.probabilities(x[i : i + batch]) for i in range(0, len(x), batch)])


def predict_keras(path: Path, x: np.ndarray) -> np.ndarray:
    from convert.quantize import QuantizeError, load_model, pixel_input

    try:
        model, expects_unit = load_model(path)
    except QuantizeError as exc:
        raise EvaluateError(str(exc)) from None
    if expects_unit:
        model = pixel_input(model)
    return np.asarray(model.predict(x[..., None].astype(np.float32), batch_size=500, verbose=0))


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    m = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m


def scores(y_true: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    pred = probs.argmax(axis=1)
    n = max(probs.shape[1], int(y_true.max()) + 1)
    m = confusion(y_true, pred, n)
    per_class = {LABELS[c]: round(float(m[c, c] / m[c].sum()), 5) for c in range(n) if m[c].sum()}
    return {
        "accuracy": round(float((pred == y_true).mean()), 5),
        "errors": int((pred != y_true).sum()),
        "per_class": per_class,
        "confusion": m.tolist(),
    }


def latency_ms(path: Path, x: np.ndarray, threads: int, batch: int, images: int = 512) -> float:
    """Mean milliseconds per image through the device runtime, after one warm-up call."""
    clf = classifier(path, threads)
    x = x[:images]
    clf.probabilities(x[:batch])
    start = time.perf_counter()
    for i in range(0, len(x) - batch + 1, batch):
        clf.probabilities(x[i : i + batch])
    done = (len(x) // batch) * batch
    return round((time.perf_counter() - start) * 1000 / done, 4)


def domain_sets(n: int, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Glyph sets no training run saw: the evaluation seed offset is never used for training."""
    if n <= 0:
        return {}
    from convert.train import glyph_module

    glyphs = glyph_module()
    base = seed + EVALUATION_SEED_OFFSET
    return {d: glyphs.generate(d, n, base + 31 * i) for i, d in enumerate(glyphs.DOMAINS)}


def reject_scores(y_true: np.ndarray, pred: np.ndarray) -> dict[str, float | int]:
    """Precision and recall of the reject class (label 10) over all evaluated crops."""
    tp = int(((pred == REJECT) & (y_true == REJECT)).sum())
    predicted, actual = int((pred == REJECT).sum()), int((y_true == REJECT).sum())
    return {
        "precision": round(tp / predicted, 5) if predicted else 0.0,
        "recall": round(tp / actual, 5) if actual else 0.0,
        "rejected_digits": predicted - tp,
        "reject_samples": actual,
    }


def plot_confusion(m: np.ndarray, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = m.shape[0]
    shown = np.where(np.eye(n, dtype=bool), 0, m)  # errors only, so they are not washed out by the diagonal
    fig, ax = plt.subplots(figsize=(6.4, 5.6), dpi=80)
    ax.imshow(shown, cmap="Reds")
    for i in range(n):
        for j in range(n):
            if m[i, j]:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7,
                        color="black" if i != j else "#1a5fb4", fontweight="bold" if i == j else None)
    ax.set_xticks(range(n), LABELS[:n], fontsize=8)
    ax.set_yticks(range(n), LABELS[:n], fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def plot_misclassified(x: np.ndarray, y: np.ndarray, probs: np.ndarray, path: Path, limit: int = 80) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y)[:limit]
    cols = 10
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 1.05), dpi=72, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong, strict=False):
        ax.imshow(x[i], cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(f"{LABELS[y[i]]}→{LABELS[pred[i]]} {probs[i, pred[i]]:.2f}", fontsize=7)
    fig.suptitle(f"misclassified test digits: true→predicted confidence ({int((pred != y).sum())} in all)",
                 fontsize=9)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def _save(fig: Any, path: Path) -> None:
    import io

    from convert.manifest import write_artifact

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_artifact(path, small_png(buf.getvalue()))


def small_png(png: bytes, colors: int = 64) -> bytes:
    """A 64-colour palette PNG: these plots have few colours, and the files are committed with the model."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").quantize(colors).save(out, format="PNG", optimize=True)
    return out.getvalue()


def evaluate(
    models: Models,
    test: Split,
    out_dir: Path,
    domain_samples: int = 1000,
    seed: int = 1,
    measure_latency: bool = True,
) -> dict[str, Any]:
    for p in (models.keras, models.float_tflite, models.int8_tflite):
        if p is not None and not p.is_file():
            raise EvaluateError(f"{p}: model file not found")
    out_dir.mkdir(parents=True, exist_ok=True)
    x, y = test.x, test.y
    report: dict[str, Any] = {
        "test_set": {"source": test.source, "images": len(y)}, "mnist_test": {}, "bytes": {},
    }
    probs: dict[str, np.ndarray] = {}
    named = {
        "keras_float": models.keras, "tflite_float": models.float_tflite, "tflite_int8": models.int8_tflite,
    }
    for name, path in named.items():
        if path is None:
            continue
        probs[name] = predict_keras(path, x) if name == "keras_float" else predict_tflite(path, x)
        report["mnist_test"][name] = scores(y, probs[name])
        report["bytes"][name] = path.stat().st_size
        log.info("%s: MNIST test accuracy %.4f", name, report["mnist_test"][name]["accuracy"])
    int8 = probs["tflite_int8"]
    n_classes = int8.shape[1]

    domains = domain_sets(domain_samples, seed) if n_classes > REJECT else {}
    report["per_domain"] = {}
    all_true, all_pred = [y], [int8.argmax(1)]
    for domain, (dx, dy) in domains.items():
        p8 = predict_tflite(models.int8_tflite, dx)
        entry = {"images": len(dy), "tflite_int8": round(float((p8.argmax(1) == dy).mean()), 5)}
        if models.keras is not None:
            entry["keras_float"] = round(float((predict_keras(models.keras, dx).argmax(1) == dy).mean()), 5)
        report["per_domain"][domain] = entry
        all_true.append(dy)
        all_pred.append(p8.argmax(1))
        log.info("%s glyphs: int8 accuracy %.4f", domain, entry["tflite_int8"])
    if domains:
        report["reject"] = reject_scores(np.concatenate(all_true), np.concatenate(all_pred))

    if measure_latency:
        report["latency_ms_per_image"] = {
            f"threads{t}_batch{b}": latency_ms(models.int8_tflite, x, t, b) for t in (1, 2) for b in (1, 32)
        }
    if "keras_float" in probs:
        mt = report["mnist_test"]
        report["int8_minus_float_points"] = round(
            100 * (mt["tflite_int8"]["accuracy"] - mt["keras_float"]["accuracy"]), 3
        )
    acc = report["mnist_test"]["tflite_int8"]["accuracy"]
    plot_confusion(np.asarray(report["mnist_test"]["tflite_int8"]["confusion"]),
                   f"int8 TFLite on MNIST test: {100 * acc:.2f}% (errors only shaded)",
                   out_dir / CONFUSION_PNG)
    plot_misclassified(x, y, int8, out_dir / MISCLASSIFIED_PNG)
    write_json(out_dir / REPORT_NAME, report)
    return report


def manifest_accuracy(report: dict[str, Any]) -> dict[str, Any]:
    """The accuracy block of models/manifest.json, from a report."""
    mt = report["mnist_test"]
    acc: dict[str, Any] = {
        "mnist_test_float": mt.get("keras_float", mt.get("tflite_float", {})).get("accuracy"),
        "mnist_test_int8": mt["tflite_int8"]["accuracy"],
        "per_domain": {d: v["tflite_int8"] for d, v in report.get("per_domain", {}).items()},
    }
    if "reject" in report:
        acc["reject_precision"] = report["reject"]["precision"]
        acc["reject_recall"] = report["reject"]["recall"]
    return acc
