"""Load Keras 2 `.h5` models (such as the prototype's digitsCNN.h5, saved by Keras 2.2.4) into Keras 3.

Keras 3 misreads the `batch_input_shape` of old Sequential configs as an input shape and fails with
"Kernel shape must have the same length as input…". This module rebuilds the Sequential model from
the stored `model_config` JSON itself and copies the weights layer by layer with h5py.

Supported: Sequential models (Keras 2.x, TensorFlow backend, channels_last) made of InputLayer,
Conv2D, MaxPooling2D, AveragePooling2D, Dropout, Flatten, Dense, Activation, BatchNormalization and
ReLU. Functional models, other layers, and other layer options are refused with an error naming the
layer and the option.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

ACTIVATIONS = {"linear", "relu", "softmax", "sigmoid", "tanh", "elu", "selu", "softplus", "softsign",
               "hard_sigmoid", "exponential"}
# Options that only matter for training (initialisers, regularisers, constraints) are ignored.
IGNORED = {"name", "trainable", "dtype", "batch_input_shape", "batch_size", "input_dtype", "noise_shape",
           "seed", "kernel_initializer", "bias_initializer", "kernel_regularizer", "bias_regularizer",
           "activity_regularizer", "kernel_constraint", "bias_constraint", "beta_initializer",
           "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer",
           "beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint", "sparse",
           "ragged", "input_shape"}


class LegacyModelError(Exception):
    """The .h5 file is not a Keras 2 model this loader understands."""


def _attr_text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _pair(value: Any) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[1]))


class _LayerSpec:
    """One layer of the stored config; `take(key, default)` marks an option as understood."""

    def __init__(self, path: Path, entry: dict[str, Any]) -> None:
        self.path = path
        self.kind = str(entry.get("class_name"))
        self.config = dict(entry.get("config") or {})
        self.name = str(self.config.get("name", self.kind))
        self._used: set[str] = set()

    def fail(self, what: str) -> LegacyModelError:
        return LegacyModelError(f"{self.path}: layer {self.name!r} ({self.kind}): {what}")

    def take(self, key: str, default: Any = None) -> Any:
        self._used.add(key)
        return self.config.get(key, default)

    def expect(self, key: str, allowed: tuple[Any, ...], default: Any) -> Any:
        value = self.take(key, default)
        normalised = list(value) if isinstance(value, tuple | list) else value
        if normalised not in [list(a) if isinstance(a, tuple) else a for a in allowed]:
            raise self.fail(f"{key}={value!r} is not supported (expected {' or '.join(map(repr, allowed))})")
        return value

    def activation(self) -> str:
        act = self.take("activation", "linear")
        if not isinstance(act, str) or act not in ACTIVATIONS:
            raise self.fail(f"activation {act!r} is not supported")
        return act

    def check_all_used(self) -> None:
        unknown = sorted(set(self.config) - self._used - IGNORED)
        if unknown:
            raise self.fail(f"option(s) {', '.join(unknown)} not supported")


def _build_layer(keras: Any, spec: _LayerSpec) -> Any:
    k, name = spec.kind, spec.name
    if k == "Conv2D":
        spec.expect("data_format", ("channels_last",), "channels_last")
        layer = keras.layers.Conv2D(
            int(spec.take("filters")), _pair(spec.take("kernel_size")),
            strides=_pair(spec.take("strides", 1)),
            padding=spec.expect("padding", ("valid", "same"), "valid"),
            dilation_rate=_pair(spec.take("dilation_rate", 1)), activation=spec.activation(),
            use_bias=bool(spec.take("use_bias", True)), name=name,
        )
    elif k in ("MaxPooling2D", "AveragePooling2D"):
        spec.expect("data_format", ("channels_last",), "channels_last")
        pool = _pair(spec.take("pool_size", 2))
        strides = spec.take("strides")
        cls = keras.layers.MaxPooling2D if k == "MaxPooling2D" else keras.layers.AveragePooling2D
        layer = cls(pool, strides=_pair(strides) if strides is not None else None,
                    padding=spec.expect("padding", ("valid", "same"), "valid"), name=name)
    elif k == "Dropout":
        layer = keras.layers.Dropout(float(spec.take("rate")), name=name)
    elif k == "Flatten":
        spec.expect("data_format", ("channels_last", None), None)
        layer = keras.layers.Flatten(name=name)
    elif k == "Dense":
        layer = keras.layers.Dense(int(spec.take("units")), activation=spec.activation(),
                                   use_bias=bool(spec.take("use_bias", True)), name=name)
    elif k == "Activation":
        layer = keras.layers.Activation(spec.activation(), name=name)
    elif k == "ReLU":
        spec.expect("negative_slope", (0, 0.0), 0.0)
        spec.expect("threshold", (0, 0.0), 0.0)
        max_value = spec.take("max_value")
        layer = keras.layers.ReLU(max_value=None if max_value is None else float(max_value), name=name)
    elif k == "BatchNormalization":
        spec.expect("axis", (-1, 3, [-1], [3]), -1)
        layer = keras.layers.BatchNormalization(
            momentum=float(spec.take("momentum", 0.99)), epsilon=float(spec.take("epsilon", 1e-3)),
            center=bool(spec.take("center", True)), scale=bool(spec.take("scale", True)), name=name,
        )
    else:
        raise spec.fail("layer type not supported")
    spec.check_all_used()
    return layer


def _layer_entries(path: Path, model_config: dict[str, Any]) -> list[dict[str, Any]]:
    kind = model_config.get("class_name")
    if kind != "Sequential":
        raise LegacyModelError(f"{path}: a {kind} model; only Sequential Keras 2 models are supported")
    config = model_config.get("config")
    # Keras ≤ 2.1 stored a bare list of layers, 2.2 a dict with "name" and "layers".
    layers = config if isinstance(config, list) else (config or {}).get("layers")
    if not isinstance(layers, list) or not layers:
        raise LegacyModelError(f"{path}: model_config lists no layers")
    return layers


def _input_shape(path: Path, entries: list[dict[str, Any]]) -> tuple[int, ...]:
    first = entries[0].get("config") or {}
    shape = first.get("batch_input_shape") or first.get("batch_shape")
    if shape is None and first.get("input_shape") is not None:
        shape = [None, *first["input_shape"]]
    if not shape or len(shape) != 4 or any(v is None for v in shape[1:]):
        raise LegacyModelError(f"{path}: first layer has no 4-D batch_input_shape (got {shape!r})")
    return tuple(int(v) for v in shape[1:])


def _stored_weights(h5: Any, path: Path, layer_name: str) -> list[np.ndarray]:
    group = h5.get("model_weights", h5)
    if layer_name not in group:
        return []
    g = group[layer_name]
    names = [_attr_text(n) for n in g.attrs.get("weight_names", [])]
    try:
        return [np.asarray(g[n]) for n in names]
    except KeyError as exc:
        raise LegacyModelError(f"{path}: layer {layer_name!r}: weight {exc} listed but missing") from None


def load_legacy_h5(path: str | Path) -> Any:
    """A Keras 2 `.h5` model file → an equivalent Keras 3 Sequential model (inference only)."""
    import h5py
    import keras

    path = Path(path)
    if not path.is_file():
        raise LegacyModelError(f"{path}: file not found")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise LegacyModelError(f"{path}: not an HDF5 file ({exc})") from None
    with h5:
        if "model_config" not in h5.attrs:
            raise LegacyModelError(f"{path}: no model_config attribute (a weights-only file?)")
        backend = _attr_text(h5.attrs.get("backend", b"tensorflow"))
        if backend != "tensorflow":
            raise LegacyModelError(f"{path}: saved with the {backend} backend; only tensorflow is supported")
        try:
            model_config = json.loads(_attr_text(h5.attrs["model_config"]))
        except ValueError as exc:
            raise LegacyModelError(f"{path}: model_config is not JSON ({exc})") from None
        entries = _layer_entries(path, model_config)
        shape = _input_shape(path, entries)
        specs = [_LayerSpec(path, e) for e in entries if e.get("class_name") != "InputLayer"]
        model = keras.Sequential([keras.Input(shape)] + [_build_layer(keras, s) for s in specs],
                                 name=str((model_config.get("config") or {}).get("name", "legacy"))
                                 if isinstance(model_config.get("config"), dict) else "legacy")
        for spec, layer in zip(specs, model.layers, strict=True):
            stored = _stored_weights(h5, path, spec.name)
            expected = [tuple(w.shape) for w in layer.weights]
            if [tuple(w.shape) for w in stored] != expected:
                raise spec.fail(f"stored weights {[w.shape for w in stored]} do not fit shapes {expected}")
            if stored:
                layer.set_weights(stored)
    return model


def keras_version(path: str | Path) -> str | None:
    """The `keras_version` attribute of a Keras .h5 file, if any."""
    import h5py

    with h5py.File(path, "r") as h5:
        value = h5.attrs.get("keras_version")
    return None if value is None else _attr_text(value)
