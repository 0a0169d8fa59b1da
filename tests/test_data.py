"""MNIST loading: the committed test set, IDX/npz round trips, and clear errors for damaged files."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from convert import data
from convert.data import DataError

TEST_DATA = Path(__file__).resolve().parent / "data"


def write_idx(directory: Path, stem: str, x: np.ndarray, y: np.ndarray, gz: bool = True) -> tuple[Path, Path]:
    """Write images and labels in the IDX layout MNIST is distributed in."""
    images = struct.pack(">IIII", 0x803, len(x), 28, 28) + x.astype(np.uint8).tobytes()
    labels = struct.pack(">II", 0x801, len(y)) + y.astype(np.uint8).tobytes()
    suffix = ".gz" if gz else ""
    paths = directory / f"{stem}-images-idx3-ubyte{suffix}", directory / f"{stem}-labels-idx1-ubyte{suffix}"
    for path, payload in zip(paths, (images, labels), strict=True):
        path.write_bytes(gzip.compress(payload) if gz else payload)
    return paths


@pytest.fixture(scope="module")
def test_set() -> data.Split:
    return data.load_test_set()


def test_committed_test_set_is_mnist(test_set: data.Split) -> None:
    assert test_set.x.shape == (10000, 28, 28) and test_set.x.dtype == np.uint8
    assert test_set.y.shape == (10000,)
    # The published MNIST test label counts.
    assert np.bincount(test_set.y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert test_set.y[:8].tolist() == [7, 2, 1, 0, 4, 1, 4, 9]
    assert test_set.x.max() == 255 and 33 < test_set.x.mean() < 35  # MNIST's mean ink, 0.13 × 255


@pytest.mark.parametrize("gz", [True, False])
def test_load_idx_directory(tmp_path: Path, test_set: data.Split, gz: bool) -> None:
    write_idx(tmp_path, "train", test_set.x[:300], test_set.y[:300], gz)
    write_idx(tmp_path, "t10k", test_set.x[300:400], test_set.y[300:400], gz)
    mnist = data.load_mnist(tmp_path)
    np.testing.assert_array_equal(mnist.train.x, test_set.x[:300])
    np.testing.assert_array_equal(mnist.train.y, test_set.y[:300])
    np.testing.assert_array_equal(mnist.test.x, test_set.x[300:400])
    assert mnist.train.y.dtype == np.int64


def test_env_var_and_npz(tmp_path: Path, test_set: data.Split, monkeypatch: pytest.MonkeyPatch) -> None:
    np.savez(tmp_path / "mnist.npz", x_train=test_set.x[:50], y_train=test_set.y[:50].astype(np.uint8),
             x_test=test_set.x[50:70], y_test=test_set.y[50:70].astype(np.uint8))
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    mnist = data.load_mnist()
    np.testing.assert_array_equal(mnist.train.y, test_set.y[:50])
    np.testing.assert_array_equal(mnist.test.x, test_set.x[50:70])
    assert data.load_test_set().x.shape == (20, 28, 28)


def test_truncated_gzip_names_the_file(tmp_path: Path, test_set: data.Split) -> None:
    images, _ = write_idx(tmp_path, "t10k", test_set.x[:100], test_set.y[:100])
    images.write_bytes(images.read_bytes()[:-200])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz: cannot read"):
        data.load_test_set(tmp_path)


def test_truncated_plain_file_says_what_was_expected(tmp_path: Path, test_set: data.Split) -> None:
    images, _ = write_idx(tmp_path, "t10k", test_set.x[:100], test_set.y[:100], gz=False)
    images.write_bytes(images.read_bytes()[:-28])
    expected = r"t10k-images-idx3-ubyte: 78388 bytes, expected 78416 for 100 images"
    with pytest.raises(DataError, match=expected):
        data.load_test_set(tmp_path)


def test_wrong_magic_number(tmp_path: Path, test_set: data.Split) -> None:
    _, labels = write_idx(tmp_path, "t10k", test_set.x[:10], test_set.y[:10], gz=False)
    raw = bytearray(labels.read_bytes())
    raw[3] = 0x03  # an image file's magic in a label file
    labels.write_bytes(bytes(raw))
    expected = r"t10k-labels-idx1-ubyte: magic number 0x00000803, expected 0x00000801"
    with pytest.raises(DataError, match=expected):
        data.load_test_set(tmp_path)


def test_images_and_labels_disagree(tmp_path: Path, test_set: data.Split) -> None:
    write_idx(tmp_path, "t10k", test_set.x[:10], test_set.y[:9])
    with pytest.raises(DataError, match="10 images but 9 labels"):
        data.load_test_set(tmp_path)


def test_wrong_image_size(tmp_path: Path) -> None:
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(struct.pack(">IIII", 0x803, 1, 32, 32) + bytes(32 * 32))
    with pytest.raises(DataError, match="images are 32×32, expected 28×28"):
        data.read_idx_images(path)


def test_missing_directory_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope: MNIST directory \(--data\) does not exist"):
        data.load_mnist(tmp_path / "nope")
    with pytest.raises(DataError, match=r"no train-images-idx3-ubyte\[\.gz\]"):
        data.load_mnist(tmp_path)


def test_npz_missing_array(tmp_path: Path) -> None:
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DataError, match=r"mnist\.npz: missing array\(s\) y_train, x_test, y_test"):
        data.load_mnist(tmp_path)


def test_validation_split_is_fixed_and_disjoint() -> None:
    train, val = data.validation_split(1200, 0.1, seed=3)
    again_train, again_val = data.validation_split(1200, 0.1, seed=3)
    np.testing.assert_array_equal(val, again_val)
    np.testing.assert_array_equal(train, again_train)
    assert len(val) == 120 and len(train) == 1080
    assert not set(train.tolist()) & set(val.tolist())
    assert not np.array_equal(val, data.validation_split(1200, 0.1, seed=4)[1])
