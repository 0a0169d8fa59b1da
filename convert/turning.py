"""The turning-drum network: what a counter reads while a drum is caught between two digits.

A counter's value is floored: a drum on its way from 3 to 4 reads 3 until the 4 stands in its window.
Such a window shows the bottom of the leaving digit above the top of the entering one. The digit network
reads whole digits, so half-way it is unsure, or sure of some third digit, and the reader could only
report '?'. This second, small network learns exactly those windows, as the engine finds them
(`segment_display.join_turning_drums`) and crops them whole (`normalize.window_crop`: where the
window's edges cut the two digits is what tells how far the drum has turned), from generated meter
photos with a drum turned anywhere from ROLL[0] to ROLL[1] of the way, each labelled with the leaving
digit. The reader asks it about turning drums only (edge_digits.reader), so the digit network and its
MNIST bar are untouched.

The photos come from `convert.synth.meters` with seeds no benchmark or test uses, as the digit network's
scene crops do (convert.scene_crops).
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from convert.manifest import build_manifest, write_artifact, write_json
from convert.scene_crops import Unclassified
from edge_digits.runtime import TURNING_CROP, TURNING_MANIFEST, TURNING_MODEL

log = logging.getLogger(__name__)

SEED_BASE = 8_000_000  # meter photo seeds of their own (scene crops: 7_000_000…, benchmarks: < 10_000)
VALIDATION_SEED_OFFSET = 50_000
ROLL = (0.05, 0.95)  # how far the last drum has turned, drawn uniformly
LABELS = [str(d) for d in range(10)]
KERAS_NAME = "turning.keras"
CHUNK = 200  # photos per task of the worker processes


class TurningError(Exception):
    """Bad settings for the turning-drum network."""


@dataclass
class TurningConfig:
    scenes: int = 8000  # meter photos with a turning drum to cut crops from (a tenth more to validate)
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 2e-3
    seed: int = 1

    def check(self) -> None:
        if self.scenes < 10:
            raise TurningError(f"--turning-scenes {self.scenes}: expected at least 10")
        if self.epochs < 1:
            raise TurningError(f"--turning-epochs {self.epochs}: expected at least 1")
        if self.batch_size < 1:
            raise TurningError(f"batch size {self.batch_size}: expected at least 1")


@dataclass
class TurningResult:
    int8_path: Path
    manifest_path: Path
    train_crops: int
    validation_crops: int
    accuracy_float: float
    accuracy_int8: float


def turning_crops(n_scenes: int, seed: int, workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(windows (N, 28, 28) uint8, leaving digits (N,)) of the turning drums the engine finds in
    `n_scenes` generated counter photos, each with its last drum (and a carry's) part-way through a turn.
    The photos are read in chunks by `workers` processes (default: one per CPU); the result does not
    depend on how many."""
    workers = workers or os.cpu_count() or 1
    chunks = [(seed, a, min(a + CHUNK, n_scenes)) for a in range(0, n_scenes, CHUNK)]
    start = time.monotonic()
    if workers == 1 or len(chunks) == 1:
        parts = [_crops_between(*chunk) for chunk in chunks]
    else:
        # (Spawned, not forked: the parent may have TensorFlow's threads running.)
        with ProcessPoolExecutor(min(workers, len(chunks)), mp_context=get_context("spawn")) as pool:
            parts = list(pool.map(_crops_between, *zip(*chunks, strict=True)))
    xs = [x for x, _ in parts if len(x)]
    x = np.concatenate(xs) if xs else np.zeros((0, 28, 28), np.uint8)
    y = np.concatenate([y for _, y in parts]) if parts else np.zeros(0, np.int64)
    log.info("turning drums: %d windows from %d photos in %.0f s", len(y), n_scenes, time.monotonic() - start)
    return x, y


def _crops_between(seed: int, first: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """`turning_crops` of the photos first…stop-1 of `seed`."""
    from convert.synth.meters import make_meter
    from edge_digits.reader import DigitReader

    reader = DigitReader(Unclassified())
    xs: list[np.ndarray] = []
    ys: list[int] = []
    for i in range(first, stop):
        roll = float(np.random.default_rng([seed, 0x7D2, i]).uniform(*ROLL))
        scene = make_meter("drum", SEED_BASE + seed * 100_003 + i, roll=roll)
        _, trace = reader.read_traced(scene.image)
        if trace is None:
            continue
        boxes = scene.boxes[0]
        leaving = {t.index: t.current for t in scene.transition}
        inv = 1.0 / trace.scale
        for row in trace.slots:
            for c, whole, _ in row:
                if whole not in trace.drums:
                    continue
                # The truth drum under the candidate: the one whose centre is nearest.
                cx = (c.x + c.w / 2.0) * inv
                k = min(range(len(boxes)), key=lambda j: abs(boxes[j][0] + boxes[j][2] / 2.0 - cx))
                if k in leaving:
                    xs.append(trace.drums[whole])
                    ys.append(int(leaving[k]))
    return (np.stack(xs) if xs else np.zeros((0, 28, 28), np.uint8)), np.asarray(ys, np.int64)


def _training_set(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int) -> Any:
    import keras
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x.astype(np.float32)[..., None], y))
    # Small shifts, zoom and contrast: the cut and the lighting vary; the layout in the window does not.
    jitter = keras.Sequential([
        keras.layers.RandomTranslation(0.05, 0.05, seed=seed),
        keras.layers.RandomZoom(0.08, seed=seed),
        keras.layers.RandomContrast(0.2, seed=seed),
    ])
    ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    return ds.map(lambda a, b: (jitter(a, training=True), b)).prefetch(tf.data.AUTOTUNE)


def train_turning(cfg: TurningConfig, work: Path) -> TurningResult:
    """Cut crops, train, quantize to int8, check it on held-apart photos, and write the model and its
    manifest (TURNING_MODEL's and TURNING_MANIFEST's names) into `work`."""
    cfg.check()
    import keras

    from convert.model import build_turning_model
    from convert.quantize import representative_images, to_int8_tflite
    from convert.train import save_keras
    from edge_digits.runtime import DigitClassifier

    x, y = turning_crops(cfg.scenes, cfg.seed)
    vx, vy = turning_crops(max(10, cfg.scenes // 10), cfg.seed + VALIDATION_SEED_OFFSET)
    if len(y) == 0 or len(vy) == 0:
        raise TurningError(f"--turning-scenes {cfg.scenes}: no turning drum found in the photos; use more")
    keras.utils.set_random_seed(cfg.seed)
    model = build_turning_model()
    steps = int(np.ceil(len(y) / cfg.batch_size)) * cfg.epochs
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.monotonic()
    hist = model.fit(_training_set(x, y, cfg.batch_size, cfg.seed), epochs=cfg.epochs, verbose=2)
    seconds = time.monotonic() - start
    work.mkdir(parents=True, exist_ok=True)
    keras_path = work / KERAS_NAME
    save_keras(model, keras_path)
    int8_path = work / TURNING_MODEL.name
    write_artifact(int8_path, to_int8_tflite(model, representative_images(x, min(1000, len(x)))))

    acc_float = float((model.predict(vx[..., None].astype(np.float32), verbose=0).argmax(1) == vy).mean())
    int8 = DigitClassifier(int8_path, verify=False, num_threads=1)
    acc_int8 = float((int8.probabilities(vx).argmax(1) == vy).mean())
    log.info("turning drums: validation accuracy float %.4f, int8 %.4f on %d crops",
             acc_float, acc_int8, len(vy))
    manifest = build_manifest(
        int8_path, keras_path,
        accuracy={"validation_float": round(acc_float, 5), "validation_int8": round(acc_int8, 5)},
        training={**asdict(cfg), "params": int(model.count_params()), "seconds": round(seconds, 1),
                  "final": {k: round(float(v[-1]), 5) for k, v in hist.history.items()}},
        data={"crop": TURNING_CROP, "train_crops": len(y), "validation_crops": len(vy),
              "class_counts": np.bincount(y, minlength=10).tolist(), "roll": list(ROLL),
              "source": "convert.synth.meters drum photos, seeds "
                        f"{SEED_BASE + cfg.seed * 100_003}+ (validation: seed + {VALIDATION_SEED_OFFSET})"},
        labels=LABELS,
    )
    manifest_path = work / TURNING_MANIFEST
    write_json(manifest_path, manifest)
    return TurningResult(int8_path, manifest_path, len(y), len(vy), acc_float, acc_int8)
