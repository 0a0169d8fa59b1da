"""Legacy Keras-2 `.h5` models (the prototype's digitsCNN.h5): load, quantize, and agree with the floats.

The fixture is written byte for byte the way Keras 2.2.4 saved a Sequential model (keras/engine/saving.py):
JSON `model_config` with `batch_input_shape` in the first layer's config, `model_weights/<layer>` groups
with `weight_names` such as `conv2d_1/kernel:0`, `keras_version` "2.2.4", and a `training_config`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras

from convert import cli
from convert.data import load_test_set
from convert.legacy_h5 import LegacyModelError, keras_version, load_legacy_h5
from convert.model import build_prototype
from convert.quantize import load_model, quantize_model
from convert.synth import glyphs
from edge_digits.runtime import DigitClassifier

GLOROT = {"class_name": "VarianceScaling", "config": {"scale": 1.0, "mode": "fan_avg",
                                                       "distribution": "uniform", "seed": None}}
NO_EXTRAS = {"kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
             "kernel_constraint": None, "bias_constraint": None}


def keras224_layer_config(layer: Any, first: bool) -> dict[str, Any]:
    """What Keras 2.2.4's layer.get_config() gave for the prototype's layer types."""
    kind = type(layer).__name__
    cfg: dict[str, Any] = {"name": layer.name, "trainable": True}
    if first:
        cfg.update({"batch_input_shape": [None, 28, 28, 1], "dtype": "float32"})
    if kind == "Conv2D":
        cfg.update({"filters": layer.filters, "kernel_size": list(layer.kernel_size), "strides": [1, 1],
                    "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1],
                    "activation": "relu", "use_bias": True, "kernel_initializer": GLOROT,
                    "bias_initializer": {"class_name": "Zeros", "config": {}}, **NO_EXTRAS})
    elif kind == "MaxPooling2D":
        cfg.update({"pool_size": [2, 2], "padding": "valid", "strides": [2, 2],
                    "data_format": "channels_last"})
    elif kind == "Dropout":
        cfg.update({"rate": layer.rate, "noise_shape": None, "seed": None})
    elif kind == "Flatten":
        cfg.update({"data_format": "channels_last"})
    elif kind == "Dense":
        cfg.update({"units": layer.units, "activation": layer.activation.__name__, "use_bias": True,
                    "kernel_initializer": GLOROT, "bias_initializer": {"class_name": "Zeros", "config": {}},
                    **NO_EXTRAS})
    return {"class_name": kind, "config": cfg}


def write_keras224_h5(model: Any, path: Path, edit: Any = None) -> None:
    layers = [keras224_layer_config(layer, i == 0) for i, layer in enumerate(model.layers)]
    if edit is not None:
        edit(layers)
    config = {"class_name": "Sequential", "config": {"name": "sequential_1", "layers": layers}}
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.2.4"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
        f.attrs["training_config"] = json.dumps({
            "optimizer_config": {"class_name": "Adadelta", "config": {"lr": 1.0, "rho": 0.95, "decay": 0.0,
                                                                       "epsilon": 1e-07}},
            "loss": "categorical_crossentropy", "metrics": ["accuracy"], "sample_weight_mode": None,
            "loss_weights": None,
        }).encode("utf8")
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [layer.name.encode("utf8") for layer in model.layers]
        group.attrs["backend"] = b"tensorflow"
        group.attrs["keras_version"] = b"2.2.4"
        for layer in model.layers:
            g = group.create_group(layer.name)
            names = [f"{layer.name}/{w.name.split('/')[-1]}:0".encode() for w in layer.weights]
            g.attrs["weight_names"] = names
            for name, value in zip(names, layer.get_weights(), strict=True):
                g.create_dataset(name.decode(), data=value)  # the slash makes the nested group, as in 2.2.4


@pytest.fixture(scope="module")
def prototype(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, np.ndarray]:
    """The prototype's network, briefly trained (on generated digits, 0..1 inputs), saved the 2.2.4 way."""
    keras.utils.set_random_seed(0)
    xs, ys = zip(*(glyphs.generate(d, 500, 11) for d in ("printed", "sevenseg", "drum")), strict=True)
    x, y = np.concatenate(xs), np.concatenate(ys)
    model = build_prototype()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x[..., None] / 255.0, y, batch_size=64, epochs=1, verbose=0)
    path = tmp_path_factory.mktemp("legacy") / "digitsCNN.h5"
    write_keras224_h5(model, path)
    return model, path, x


def test_fixture_is_what_keras3_refuses(prototype: tuple[Any, Path, np.ndarray]) -> None:
    _, path, _ = prototype
    assert keras_version(path) == "2.2.4"
    with pytest.raises(Exception, match="Kernel shape must have the same length as input"):
        keras.models.load_model(path, compile=False)


def test_loaded_model_computes_what_the_original_did(prototype: tuple[Any, Path, np.ndarray]) -> None:
    original, path, _ = prototype
    loaded = load_legacy_h5(path)
    assert [type(la).__name__ for la in loaded.layers] == [
        "Conv2D", "Conv2D", "MaxPooling2D", "Dropout", "Flatten", "Dense", "Dropout", "Dense"]
    x = load_test_set().x[:200, ..., None] / 255.0
    np.testing.assert_allclose(loaded.predict(x, verbose=0), original.predict(x, verbose=0), atol=1e-5)


def test_int8_tflite_agrees_with_float_weights(
    prototype: tuple[Any, Path, np.ndarray], tmp_path: Path
) -> None:
    original, path, train_images = prototype
    model, expects_unit = load_model(path)
    result = quantize_model(model, expects_unit, path, tmp_path, train_images, n_representative=300)
    assert result.wrapped  # the prototype takes 0..1: a Rescaling was put in front
    assert result.input_quantization == (1.0, -128)
    test = load_test_set()
    x = test.x[:1000]
    float_probs = original.predict(x[..., None] / 255.0, verbose=0)
    clf = DigitClassifier(result.int8_path, verify=False)
    int8_probs = clf.probabilities(x)
    assert int8_probs.shape == (1000, 10) and clf.labels == tuple("0123456789")
    agree = float((int8_probs.argmax(1) == float_probs.argmax(1)).mean())
    assert agree >= 0.98, agree
    assert float(np.abs(int8_probs - float_probs).mean()) < 0.02
    # And it is a digit reader, not noise: far above chance on real MNIST digits.
    assert float((int8_probs.argmax(1) == test.y[:1000]).mean()) > 0.5


def _unsupported_layer(layers: list[dict[str, Any]]) -> None:
    layers.insert(4, {"class_name": "LSTM", "config": {"name": "lstm_1", "units": 8}})


def _channels_first(layers: list[dict[str, Any]]) -> None:
    layers[1]["config"]["data_format"] = "channels_first"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_unsupported_layer, r"layer 'lstm_1' \(LSTM\): layer type not supported"),
        (_channels_first, r"layer 'conv2d_2' \(Conv2D\): data_format='channels_first' is not supported"),
    ],
)
def test_unsupported_models_are_refused_by_name(
    prototype: tuple[Any, Path, np.ndarray], tmp_path: Path, edit: Any, message: str
) -> None:
    path = tmp_path / "odd.h5"
    write_keras224_h5(prototype[0], path, edit)
    with pytest.raises(LegacyModelError, match=message):
        load_legacy_h5(path)


def test_cli_reports_a_bad_model_in_one_line(
    prototype: tuple[Any, Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "odd.h5"
    write_keras224_h5(prototype[0], path, _unsupported_layer)
    assert cli.main(["quantize", str(path), "--data", str(tmp_path), "--out", str(tmp_path)]) == 3
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "odd.h5: layer 'lstm_1' (LSTM)" in err
    assert not list(tmp_path.glob("*.tflite"))
