"""A tiny end-to-end `edge-digits-convert all`: train → quantize → evaluate → ship (and the turning-drum
network), on a few thousand images.

MNIST's training split is not committed (only the test set is): it is taken from $EDGE_DIGITS_MNIST,
`../shared/datasets/mnist` beside the checkout, or Keras' cache. Without any of them the training test is
skipped, except under CI, where it falls back to Keras' download and fails if that is impossible.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from convert import cli
from convert.data import ENV_VAR, load_test_set
from edge_digits.runtime import TURNING_MODEL, load_turning_model

CANDIDATES = (
    os.environ.get(ENV_VAR),
    # The checkout's neighbour `../shared/datasets/mnist`, as on the development machines and in CI.
    str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"),
    str(Path.home() / ".keras" / "datasets"),
)


def mnist_train_dir() -> str | None:
    for candidate in CANDIDATES:
        if not candidate:
            continue
        d = Path(candidate)
        if any(d.glob("train-images*idx3-ubyte*")) or (d / "mnist.npz").is_file():
            return str(d)
    if os.environ.get("CI"):
        return None  # load_mnist(None) downloads through Keras
    tried = ", ".join(filter(None, CANDIDATES))
    pytest.skip(f"no MNIST training split found (set ${ENV_VAR}); tried {tried}")


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("tensorflow")
    data_dir = mnist_train_dir()
    root = tmp_path_factory.mktemp("convert")
    args = ["all", "--limit", "4000", "--epochs", "1", "--batch-size", "32", "--no-augment",
            "--synthetic-per-domain", "100", "--scene-crops", "3", "--domain-samples", "50", "--no-latency",
            "--turning-scenes", "20", "--turning-epochs", "1",
            "--work", str(root / "work"), "--out", str(root / "models")]
    if data_dir:
        args += ["--data", data_dir]
    assert cli.main(args) == 0
    return root / "models"


def test_all_ships_a_verified_int8_model_above_the_floor(shipped: Path) -> None:
    from edge_digits.runtime import DigitClassifier

    clf = DigitClassifier(shipped / "digits_int8.tflite")  # verifies sha256 and signature
    assert clf.labels[-1] == "reject" and clf.n_classes == 11
    assert (clf.input_dtype.name, clf.input_scale, clf.input_zero_point) == ("int8", 1.0, -128)
    test = load_test_set()
    probs = clf.probabilities(test.x)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    accuracy = float((probs.argmax(1) == test.y).mean())
    assert accuracy > 0.90, accuracy
    turning = load_turning_model(shipped / TURNING_MODEL.name)  # shipped by `all` too, and verified
    assert turning is not None and turning.labels == tuple(str(d) for d in range(10))


def test_manifest_report_and_pictures(shipped: Path) -> None:
    manifest = json.loads((shipped / "manifest.json").read_text())
    assert set(manifest) >= {"model", "input", "output", "labels", "accuracy", "training", "data", "versions",
                             "created", "source_model"}
    assert manifest["model"]["bytes"] == (shipped / "digits_int8.tflite").stat().st_size
    assert manifest["input"] == {"shape": [1, 28, 28, 1], "dtype": "int8", "scale": 1.0, "zero_point": -128}
    assert manifest["output"]["shape"] == [1, 11] and manifest["output"]["dtype"] == "int8"
    assert manifest["labels"] == [str(i) for i in range(10)] + ["reject"]
    assert manifest["training"]["limit"] == 4000 and manifest["training"]["epochs"] == 1
    assert manifest["data"]["mnist"]["train"] == 4000
    domains = ("reject", "printed", "sevenseg", "drum")
    assert manifest["data"]["synthetic"]["per_domain"] == dict.fromkeys(domains, 100)
    fonts = manifest["data"]["synthetic"]["fonts"]
    assert fonts and all(f.endswith((".ttf", ".otf", ".ttc")) for f in fonts) and fonts == sorted(fonts)
    crops = manifest["data"]["scene_crops"]
    assert crops["scenes_per_kind"] == 3 and sum(crops["crops"].values()) > 0
    assert manifest["data"]["test"]["images"] == 10000
    assert manifest["created"].endswith("Z")

    report = json.loads((shipped / "report.json").read_text())
    int8 = report["mnist_test"]["tflite_int8"]
    assert manifest["accuracy"]["mnist_test_int8"] == int8["accuracy"]
    assert manifest["accuracy"]["mnist_test_float"] == report["mnist_test"]["keras_float"]["accuracy"]
    confusion = np.array(int8["confusion"])
    assert confusion.shape == (11, 11) and confusion.sum() == 10000
    assert int8["errors"] == 10000 - np.trace(confusion)
    assert set(report["per_domain"]) == {"reject", "printed", "sevenseg", "drum"}
    assert 0.0 <= report["reject"]["precision"] <= 1.0
    for name in ("confusion.png", "misclassified.png"):
        assert (shipped / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_subcommand_on_a_missing_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["evaluate", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "digits_int8.tflite: model file not found" in err


def test_train_with_a_missing_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["train", "--data", str(tmp_path / "absent"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "absent: MNIST directory (--data) does not exist" in err
    assert not (tmp_path / "out" / "digits.keras").exists()


def test_quantize_refuses_an_unknown_file_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(b"not keras")
    assert cli.main(["quantize", str(model)]) == 3
    assert "model.onnx: unsupported model file type '.onnx'" in capsys.readouterr().err
