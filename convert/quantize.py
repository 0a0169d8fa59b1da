"""Keras model → full-integer int8 TFLite (int8 input and output) and the float TFLite beside it.

Inputs: a `.keras` file, or a legacy Keras-2 `.h5` (see convert/legacy_h5). Every TFLite model this
writes takes 0..255 pixels: a model that expects 0..1 (the prototype's) is wrapped with a Rescaling
layer first. With our own models the Rescaling is already the first layer, so the int8 input
quantization comes out as scale 1.0, zero point -128 — raw pixels minus 128.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from convert.manifest import write_artifact

log = logging.getLogger(__name__)

INT8_NAME = "digits_int8.tflite"
FLOAT_NAME = "digits_float.tflite"


class QuantizeError(Exception):
    """The model cannot be loaded or converted."""


@dataclass
class QuantizeResult:
    int8_path: Path
    float_path: Path
    source: Path
    wrapped: bool  # a Rescaling(1/255) was put in front (model expected 0..1)
    input_quantization: tuple[float, int]
    output_quantization: tuple[float, int]


def starts_with_rescaling(model: Any) -> bool:
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        return isinstance(layer, keras.layers.Rescaling)
    return False


def load_model(path: Path) -> tuple[Any, bool]:
    """(model, expects_unit_range): .keras or legacy .h5; the flag says inputs are 0..1, not 0..255."""
    if not path.is_file():
        raise QuantizeError(f"{path}: model file not found")
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        from convert.legacy_h5 import load_legacy_h5

        model = load_legacy_h5(path)
        return model, not starts_with_rescaling(model)
    if suffix != ".keras":
        raise QuantizeError(f"{path}: unsupported model file type {suffix!r} (expected .keras or .h5)")
    import keras

    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise QuantizeError(f"{path}: Keras cannot load it ({first})") from None
    expects_unit = not starts_with_rescaling(model)
    if expects_unit:
        log.warning("%s: no Rescaling layer first; assuming it expects inputs in 0..1", path)
    return model, expects_unit


def pixel_input(model: Any) -> Any:
    """Put Rescaling(1/255) in front of a model that takes 0..1, so every TFLite model takes 0..255."""
    import keras

    inputs = keras.Input((28, 28, 1), name="pixels")
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    return keras.Model(inputs, model(x), name=f"{model.name}_pixels")


def representative_images(images: np.ndarray, n: int = 1000, seed: int = 0) -> np.ndarray:
    """A fixed random sample of training crops, (n, 28, 28, 1) float32 in 0..255."""
    idx = np.random.default_rng(seed).permutation(len(images))[:n]
    return images[idx].astype(np.float32).reshape(-1, 28, 28, 1)


def _converter(model: Any) -> Any:
    import tensorflow as tf

    # from_keras_model freezes the variables itself; a hand-made concrete function leaves resource
    # reads that fail during int8 calibration.
    return tf.lite.TFLiteConverter.from_keras_model(model)


def to_float_tflite(model: Any) -> bytes:
    return _converter(model).convert()


def to_int8_tflite(model: Any, representative: np.ndarray) -> bytes:
    import tensorflow as tf

    def samples() -> Iterator[list[np.ndarray]]:
        for img in representative:
            yield [img[None]]

    conv = _converter(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = samples
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def io_quantization(tflite: bytes) -> tuple[tuple[float, int], tuple[float, int]]:
    from edge_digits.runtime import load_interpreter_class

    _, interpreter_cls = load_interpreter_class()
    interp = interpreter_cls(model_content=tflite)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    return (
        (float(inp["quantization"][0]), int(inp["quantization"][1])),
        (float(out["quantization"][0]), int(out["quantization"][1])),
    )


def quantize_model(
    model: Any,
    expects_unit: bool,
    source: Path,
    out_dir: Path,
    training_images: np.ndarray,
    int8_name: str = INT8_NAME,
    float_name: str = FLOAT_NAME,
    n_representative: int = 1000,
) -> QuantizeResult:
    shape = tuple(model.inputs[0].shape[1:]) if model.inputs else None
    if shape not in ((28, 28, 1), (28, 28)):
        raise QuantizeError(f"{source}: model input shape {shape}, expected (28, 28, 1)")
    if expects_unit:
        model = pixel_input(model)
    rep = representative_images(training_images, n_representative)
    try:
        float_bytes = to_float_tflite(model)
        int8_bytes = to_int8_tflite(model, rep)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise QuantizeError(f"{source}: TFLite conversion failed ({first})") from None
    int8_path, float_path = out_dir / int8_name, out_dir / float_name
    write_artifact(float_path, float_bytes)
    write_artifact(int8_path, int8_bytes)
    inq, outq = io_quantization(int8_bytes)
    log.info("wrote %s (%d bytes, input scale %g zero point %d) and %s (%d bytes)",
             int8_path, len(int8_bytes), inq[0], inq[1], float_path, len(float_bytes))
    return QuantizeResult(int8_path, float_path, source, expects_unit, inq, outq)
