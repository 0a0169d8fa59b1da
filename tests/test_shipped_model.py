"""The shipped models/digits_int8.tflite: accuracy bar on the committed MNIST test set, manifest agreement,
refusal of a damaged copy, and no TensorFlow on the device side."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from convert.data import load_test_set
from edge_digits.runtime import DigitClassifier, Manifest, ModelError, sha256_file

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
MODEL = MODELS / "digits_int8.tflite"
MANIFEST = MODELS / "manifest.json"

# Runs as the device would: the runtime alone, the test set parsed with gzip and numpy, no convert/.
DEVICE_SCRIPT = """
import gzip, json, sys
import numpy as np
from edge_digits.runtime import DigitClassifier
data = sys.argv[1]
images = gzip.open(data + "/t10k-images.idx3-ubyte.gz").read()
x = np.frombuffer(images, np.uint8, offset=16).reshape(-1, 28, 28)
y = np.frombuffer(gzip.open(data + "/t10k-labels.idx1-ubyte.gz").read(), np.uint8, offset=8)
clf = DigitClassifier()
pred = np.concatenate([clf.probabilities(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
tf_loaded = sorted(m for m in sys.modules if m == "tensorflow" or m.startswith(("tensorflow.", "keras")))
print(json.dumps({"accuracy": float((pred == y).mean()), "backend": clf.backend, "tf": tf_loaded}))
"""


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(MANIFEST.read_text())


@pytest.fixture(scope="module")
def device_run() -> dict:
    out = subprocess.run([sys.executable, "-c", DEVICE_SCRIPT, str(ROOT / "tests" / "data")], cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_device_side_reaches_the_bar_without_tensorflow(device_run: dict) -> None:
    assert device_run["tf"] == []
    assert device_run["backend"] in ("ai-edge-litert", "tflite-runtime")
    assert device_run["accuracy"] >= 0.995, device_run


def test_manifest_describes_the_shipped_file(manifest: dict, device_run: dict) -> None:
    assert manifest["model"]["file"] == MODEL.name
    assert manifest["model"]["sha256"] == sha256_file(MODEL)
    assert manifest["model"]["bytes"] == MODEL.stat().st_size <= 300 * 1024
    assert manifest["source_model"]["sha256"] == sha256_file(MODELS / manifest["source_model"]["file"])
    assert manifest["labels"] == [str(i) for i in range(10)] + ["reject"]
    assert manifest["input"] == {"shape": [1, 28, 28, 1], "dtype": "int8", "scale": 1.0, "zero_point": -128}
    acc = manifest["accuracy"]
    assert acc["mnist_test_int8"] == pytest.approx(device_run["accuracy"], abs=1e-4)
    assert acc["mnist_test_int8"] >= acc["mnist_test_float"] - 0.0015  # int8 within 0.15 points
    assert set(acc["per_domain"]) == {"reject", "printed", "sevenseg", "drum"}
    m = Manifest.read(MANIFEST)
    assert (m.input_dtype, m.input_scale, m.input_zero_point) == ("int8", 1.0, -128)


def test_reject_class_is_rarely_given_to_mnist_digits() -> None:
    probs = DigitClassifier(MODEL).probabilities(load_test_set().x[:2000])
    assert int((probs.argmax(1) == 10).sum()) <= 4


def test_corrupted_copy_is_refused(tmp_path: Path) -> None:
    shutil.copy(MANIFEST, tmp_path / "manifest.json")
    raw = bytearray(MODEL.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one flipped bit in the weights
    (tmp_path / MODEL.name).write_bytes(bytes(raw))
    with pytest.raises(ModelError, match="does not match"):
        DigitClassifier(tmp_path / MODEL.name)


def test_manifest_with_another_input_signature_is_refused(tmp_path: Path, manifest: dict) -> None:
    shutil.copy(MODEL, tmp_path / MODEL.name)
    changed = {**manifest, "input": {**manifest["input"], "zero_point": 0}}
    (tmp_path / "manifest.json").write_text(json.dumps(changed))
    with pytest.raises(ModelError, match="input signature does not match"):
        DigitClassifier(tmp_path / MODEL.name)


def test_batched_and_single_inference_agree() -> None:
    x = load_test_set().x[:40]
    clf = DigitClassifier(MODEL)
    batched = clf.probabilities(x)
    single = np.concatenate([clf.probabilities(x[i : i + 1]) for i in range(len(x))])
    np.testing.assert_allclose(batched, single, atol=1e-6)
