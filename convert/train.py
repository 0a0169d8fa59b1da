"""Train the digit network: MNIST plus the synthetic glyph domains, augmented, with a fixed seed.

The validation split comes from MNIST's training images (never the test set) plus glyphs generated
with a seed the training glyphs do not use. Output: `digits.keras` (weights only, no optimizer state,
so it stays small) and `history.json` (per-epoch metrics, settings, data, time).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from convert.augment import AugmentConfig
from convert.data import Mnist, load_mnist, validation_split
from convert.manifest import write_json
from edge_digits.reader import REJECT

log = logging.getLogger(__name__)

KERAS_NAME = "digits.keras"
HISTORY_NAME = "history.json"
# Seeds for generated sets are derived from the run seed so train, validation and the evaluation's
# held-apart sets never share glyphs.
VALIDATION_SEED_OFFSET = 1_000
EVALUATION_SEED_OFFSET = 2_000


class TrainError(Exception):
    """Training cannot start: bad settings or missing inputs."""


@dataclass
class TrainConfig:
    epochs: int = 16
    batch_size: int = 128
    limit: int | None = None  # train on the first N MNIST training images (tests, smoke runs)
    synthetic_per_domain: int = 5000
    # Generated scenes and meter photos per kind whose engine-cut crops join the training set
    # (convert.scene_crops); a tenth as many, with other seeds, join the validation set.
    scene_crops: int = 400
    seed: int = 1
    validation_fraction: float = 5000 / 60000
    learning_rate: float = 3e-3
    warmup_epochs: float = 1.0
    weight_decay: float = 1e-4
    # Below 1 the network, when unsure between an odd digit and "not a digit", leans to the digit: a
    # wrongly rejected digit costs a reading, and the engine has other evidence against marks and letters.
    reject_weight: float = 0.5
    augment: bool = True
    augmentation: AugmentConfig = field(default_factory=AugmentConfig)
    data_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["augmentation"] = self.augmentation.to_dict() if self.augment else None
        return d

    def check(self) -> None:
        if self.epochs < 1:
            raise TrainError(f"--epochs {self.epochs}: expected at least 1")
        if self.batch_size < 1:
            raise TrainError(f"--batch-size {self.batch_size}: expected at least 1")
        if self.limit is not None and self.limit < 10:
            raise TrainError(f"--limit {self.limit}: expected at least 10 images")
        if self.synthetic_per_domain < 0:
            raise TrainError(f"--synthetic-per-domain {self.synthetic_per_domain}: expected ≥ 0")
        if self.scene_crops < 0:
            raise TrainError(f"--scene-crops {self.scene_crops}: expected ≥ 0")


@dataclass
class TrainingData:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    info: dict[str, Any]


@dataclass
class TrainResult:
    model_path: Path
    history_path: Path
    seconds: float
    data: TrainingData
    history: dict[str, list[float]]


def glyph_module() -> Any:
    """convert.synth.glyphs, or a clear error if it is not there yet."""
    try:
        from convert.synth import glyphs
    except ImportError as exc:
        raise TrainError(
            f"synthetic glyphs unavailable ({exc}); use --synthetic-per-domain 0 to train on MNIST alone"
        ) from None
    return glyphs


def synthetic_set(per_domain: int, seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """per_domain crops from every glyph domain: x (N, 28, 28) uint8, y (N,), counts per domain."""
    if per_domain <= 0:
        return np.zeros((0, 28, 28), np.uint8), np.zeros((0,), np.int64), {}
    glyphs = glyph_module()
    xs, ys, counts = [], [], {}
    for i, domain in enumerate(glyphs.DOMAINS):
        x, y = glyphs.generate(domain, per_domain, seed + 97 * i)
        if x.shape != (per_domain, 28, 28) or x.dtype != np.uint8 or y.shape != (per_domain,):
            raise TrainError(f"glyphs.generate({domain!r}) returned {x.dtype} {x.shape}, labels {y.shape}")
        xs.append(x)
        ys.append(np.asarray(y, np.int64))
        counts[domain] = per_domain
    return np.concatenate(xs), np.concatenate(ys), counts


def used_fonts() -> list[str]:
    """The font files the glyph generator draws from on this machine (file names, sorted)."""
    from convert.synth.fonts import font_files

    return sorted(Path(f).name for f in font_files())


def scene_crop_set(
    mnist: Mnist, idx: np.ndarray, per_kind: int, seed: int
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Engine-cut crops of generated scenes whose handwriting comes from MNIST training images `idx`."""
    if per_kind <= 0:
        return np.zeros((0, 28, 28), np.uint8), np.zeros((0,), np.int64), {}
    from convert.scene_crops import harvest

    h = harvest(mnist.train.x[idx], mnist.train.y[idx], per_kind, seed)
    return h.x, h.y, h.counts


def assemble(mnist: Mnist, cfg: TrainConfig) -> TrainingData:
    train_idx, val_idx = validation_split(len(mnist.train.y), cfg.validation_fraction, cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    if cfg.limit is not None:
        train_idx = np.sort(rng.permutation(train_idx)[: cfg.limit])
        val_idx = np.sort(rng.permutation(val_idx)[: max(500, cfg.limit // 5)])
    n_val_synth = max(1, cfg.synthetic_per_domain // 10) if cfg.synthetic_per_domain else 0
    sx, sy, counts = synthetic_set(cfg.synthetic_per_domain, cfg.seed)
    vx, vy, _ = synthetic_set(n_val_synth, cfg.seed + VALIDATION_SEED_OFFSET)
    # Scene crops draw their handwriting from the same MNIST images as the split they join.
    hx, hy, h_counts = scene_crop_set(mnist, train_idx, cfg.scene_crops, cfg.seed)
    hvx, hvy, _ = scene_crop_set(mnist, val_idx, cfg.scene_crops // 10, cfg.seed + VALIDATION_SEED_OFFSET)
    x_train = np.concatenate([mnist.train.x[train_idx], sx, hx])
    y_train = np.concatenate([mnist.train.y[train_idx], sy, hy])
    x_val = np.concatenate([mnist.train.x[val_idx], vx, hvx])
    y_val = np.concatenate([mnist.train.y[val_idx], vy, hvy])
    info = {
        "mnist": {
            "source": mnist.train.source,
            "train": int(train_idx.size),
            "validation": int(val_idx.size),
        },
        "synthetic": {"per_domain": counts, "validation_per_domain": n_val_synth if counts else 0,
                      # The glyphs depend on the fonts installed: name them, so a rerun can match them.
                      "fonts": used_fonts() if counts or h_counts else []},
        "scene_crops": {"scenes_per_kind": cfg.scene_crops, "crops": h_counts, "validation": len(hvy)},
        "train_images": len(y_train),
        "validation_images": len(y_val),
        "class_counts": np.bincount(y_train, minlength=REJECT + 1).tolist(),
    }
    return TrainingData(x_train, y_train, x_val, y_val, info)


def make_dataset(
    x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, augment: AugmentConfig | None
) -> Any:
    import tensorflow as tf

    from convert.augment import augment_batch

    ds = tf.data.Dataset.from_tensor_slices((x[..., None], y))
    if augment is not None:
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    cfg = augment

    def to_float(images: Any, labels: Any) -> tuple[Any, Any]:
        images = tf.cast(images, tf.float32)
        return (augment_batch(images, cfg) if cfg is not None else images), labels

    # Batch first: the augmentation works on whole batches, a few ops per batch instead of per image.
    ds = ds.batch(batch_size).map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def save_keras(model: Any, path: Path) -> None:
    """Save the weights and architecture only (no optimizer state): 3× smaller and all inference needs."""
    # Rebuilding from the config drops the optimizer (clone_model keeps it and triples the file).
    fresh = model.__class__.from_config(model.get_config())
    fresh.set_weights(model.get_weights())
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    fresh.save(tmp)
    os.replace(tmp, path)


def train(cfg: TrainConfig, out_dir: Path, mnist: Mnist | None = None) -> TrainResult:
    cfg.check()
    out_dir.mkdir(parents=True, exist_ok=True)
    mnist = mnist or load_mnist(cfg.data_dir)
    data = assemble(mnist, cfg)
    log.info("training on %d images (%s), validating on %d", len(data.y_train),
             data.info["class_counts"], len(data.y_val))

    import keras

    from convert.model import build_model

    keras.utils.set_random_seed(cfg.seed)
    model = build_model()
    steps = int(np.ceil(len(data.y_train) / cfg.batch_size))
    warmup = int(steps * cfg.warmup_epochs) if cfg.epochs > 1 else 0
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=cfg.learning_rate / 10,
        decay_steps=max(1, steps * cfg.epochs - warmup),
        alpha=0.01,
        warmup_target=cfg.learning_rate,
        warmup_steps=warmup,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    train_ds = make_dataset(data.x_train, data.y_train, cfg.batch_size, cfg.seed,
                            cfg.augmentation if cfg.augment else None)
    val_ds = make_dataset(data.x_val, data.y_val, 512, cfg.seed, None)
    start, cpu_start = time.monotonic(), time.process_time()
    class_weight = {c: 1.0 for c in range(REJECT)} | {REJECT: cfg.reject_weight}
    hist = model.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs, class_weight=class_weight,
                     verbose=1 if sys.stdout.isatty() else 2)
    seconds = time.monotonic() - start
    # CPU seconds too: on a shared machine the wall time says more about the neighbours than the model.
    cpu_seconds = time.process_time() - cpu_start
    model_path = out_dir / KERAS_NAME
    save_keras(model, model_path)
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    history_path = out_dir / HISTORY_NAME
    write_json(history_path, {
        "config": cfg.to_dict(),
        "data": data.info,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "cpus": os.cpu_count(),
        "params": int(model.count_params()),
        "history": history,
    })
    log.info("trained in %.0f s; saved %s and %s", seconds, model_path, history_path)
    return TrainResult(model_path, history_path, seconds, data, history)
