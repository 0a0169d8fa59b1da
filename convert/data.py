"""MNIST from disk: IDX files (plain or gzipped) or a Keras-style `mnist.npz`, validated.

The directory comes from `--data DIR`, else $EDGE_DIGITS_MNIST; with neither, Keras' own download is
tried (TensorFlow is imported only then). Every file is checked (magic number, item count, image size,
length) so that a truncated download fails with one line naming the file instead of a reshape error.
"""

from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENV_VAR = "EDGE_DIGITS_MNIST"
TESTS_DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension
SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DataError(Exception):
    """A data set file is missing, truncated or not what it claims to be."""


@dataclass(frozen=True)
class Split:
    x: np.ndarray  # (N, 28, 28) uint8, 255 = ink
    y: np.ndarray  # (N,) int64
    source: str  # what it was read from, for the manifest


@dataclass(frozen=True)
class Mnist:
    train: Split
    test: Split


def _read_bytes(path: Path) -> bytes:
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        # A truncated gzip stream raises EOFError ("Compressed file ended before …").
        raise DataError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from None


def read_idx_images(path: Path) -> np.ndarray:
    """An IDX3 image file → (N, rows, cols) uint8."""
    data = _read_bytes(path)
    if len(data) < 16:
        raise DataError(f"{path}: {len(data)} bytes, too short for an IDX image header (16 bytes)")
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != IMAGES_MAGIC:
        raise DataError(f"{path}: magic number {magic:#010x}, expected {IMAGES_MAGIC:#010x} (IDX images)")
    if (rows, cols) != (28, 28):
        raise DataError(f"{path}: images are {rows}×{cols}, expected 28×28")
    expected = 16 + n * rows * cols
    if len(data) != expected:
        raise DataError(f"{path}: {len(data)} bytes, expected {expected} for {n} images of {rows}×{cols}")
    return np.frombuffer(data, np.uint8, offset=16).reshape(n, rows, cols)


def read_idx_labels(path: Path) -> np.ndarray:
    """An IDX1 label file → (N,) int64."""
    data = _read_bytes(path)
    if len(data) < 8:
        raise DataError(f"{path}: {len(data)} bytes, too short for an IDX label header (8 bytes)")
    magic, n = struct.unpack(">II", data[:8])
    if magic != LABELS_MAGIC:
        raise DataError(f"{path}: magic number {magic:#010x}, expected {LABELS_MAGIC:#010x} (IDX labels)")
    if len(data) != 8 + n:
        raise DataError(f"{path}: {len(data)} bytes, expected {8 + n} for {n} labels")
    labels = np.frombuffer(data, np.uint8, offset=8).astype(np.int64)
    if labels.size and labels.max() > 9:
        raise DataError(f"{path}: label {int(labels.max())} out of range 0..9")
    return labels


def _find(directory: Path, stem: str) -> Path | None:
    # MNIST mirrors spell the names with a dot or a dash before idx (t10k-images.idx3-ubyte).
    dotted = stem.replace("-idx", ".idx")
    for name in (stem, dotted):
        for suffix in (".gz", ""):
            p = directory / (name + suffix)
            if p.is_file():
                return p
    return None


def _check_pair(images: np.ndarray, labels: np.ndarray, where: str) -> None:
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{where}: {images.shape[0]} images but {labels.shape[0]} labels")


def load_idx_split(directory: Path, split: str) -> Split:
    image_stem, label_stem = SPLITS[split]
    image_path, label_path = _find(directory, image_stem), _find(directory, label_stem)
    if image_path is None or label_path is None:
        missing = image_stem if image_path is None else label_stem
        raise DataError(f"{directory}: no {missing}[.gz] (MNIST {split} split)")
    x, y = read_idx_images(image_path), read_idx_labels(label_path)
    _check_pair(x, y, f"{image_path} / {label_path}")
    return Split(x, y, f"{image_path.name} + {label_path.name}")


def load_npz(path: Path) -> Mnist:
    """A Keras `mnist.npz` (x_train, y_train, x_test, y_test)."""
    names = ("x_train", "y_train", "x_test", "y_test")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in names if k not in f.files]
            if missing:
                wanted = ", ".join(names)
                raise DataError(f"{path}: missing array(s) {', '.join(missing)} (expected {wanted})")
            arrays = {k: f[k] for k in names}
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz ({type(exc).__name__}: {exc})") from None
    splits = {}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype != np.uint8:
            raise DataError(f"{path}: x_{split} is {x.dtype} {x.shape}, expected uint8 (N, 28, 28)")
        if y.ndim != 1:
            raise DataError(f"{path}: y_{split} has shape {y.shape}, expected (N,)")
        _check_pair(x, y, str(path))
        splits[split] = Split(x, y.astype(np.int64), f"{path.name}:{split}")
    return Mnist(splits["train"], splits["test"])


def resolve_dir(data_dir: str | os.PathLike[str] | None) -> Path | None:
    """--data, else $EDGE_DIGITS_MNIST, else None (meaning: download)."""
    chosen = data_dir or os.environ.get(ENV_VAR) or None
    if chosen is None:
        return None
    path = Path(chosen)
    if not path.is_dir():
        origin = "--data" if data_dir else f"${ENV_VAR}"
        raise DataError(f"{path}: MNIST directory ({origin}) does not exist")
    return path


def load_from_dir(directory: Path) -> Mnist:
    npz = directory / "mnist.npz"
    if npz.is_file() and _find(directory, SPLITS["train"][0]) is None:
        return load_npz(npz)
    return Mnist(load_idx_split(directory, "train"), load_idx_split(directory, "test"))


def download() -> Mnist:
    """Keras' own copy (needs the network); TensorFlow is imported only here."""
    try:
        import keras

        (xtr, ytr), (xte, yte) = keras.datasets.mnist.load_data()
    except Exception as exc:
        raise DataError(
            f"no MNIST directory given (--data DIR or ${ENV_VAR}) and the Keras download failed: {exc}"
        ) from None
    return Mnist(
        Split(xtr, ytr.astype(np.int64), "keras.datasets.mnist:train"),
        Split(xte, yte.astype(np.int64), "keras.datasets.mnist:test"),
    )


def load_mnist(data_dir: str | os.PathLike[str] | None = None) -> Mnist:
    directory = resolve_dir(data_dir)
    return download() if directory is None else load_from_dir(directory)


def load_test_set(data_dir: str | os.PathLike[str] | None = None) -> Split:
    """Only the 10k test images: from the given directory, else the copy committed in tests/data."""
    directory = resolve_dir(data_dir) or TESTS_DATA
    npz = directory / "mnist.npz"
    if npz.is_file() and _find(directory, SPLITS["test"][0]) is None:
        return load_npz(npz).test
    return load_idx_split(directory, "test")


def validation_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation) of a fixed random split of n training images."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = round(n * fraction)
    return np.sort(order[n_val:]), np.sort(order[:n_val])
