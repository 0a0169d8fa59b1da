"""The network: a small VGG-style CNN with batch norm, sized for int8 on a Raspberry Pi.

Chosen by measuring int8 TFLite latency per digit on the 2-core development machine: 0.18 ms single
thread, 157k parameters, 171 KB int8. The 0..255 → 0..1 rescale is the first layer so that the int8
model's input quantization falls out as scale 1, zero point -128 and the device feeds raw pixels.
"""

from __future__ import annotations

from typing import Any

NUM_CLASSES = 11  # digits 0..9 and "reject"
INPUT_SHAPE = (28, 28, 1)


def _conv_bn_relu(keras: Any, x: Any, filters: int, name: str) -> Any:
    # No bias: batch norm's beta does that job, and the converter folds BN into the conv.
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    # momentum 0.9 (Keras: 0.99) so the moving statistics settle within a short run too.
    x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def build_model(num_classes: int = NUM_CLASSES, dropout: float = 0.3) -> Any:
    """(None, 28, 28, 1) float 0..255 → softmax over `num_classes`."""
    import keras

    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    x = _conv_bn_relu(keras, x, 16, "b1")
    x = keras.layers.MaxPooling2D(name="pool1")(x)  # 14×14
    x = _conv_bn_relu(keras, x, 32, "b2a")
    x = _conv_bn_relu(keras, x, 32, "b2b")
    x = keras.layers.MaxPooling2D(name="pool2")(x)  # 7×7
    x = _conv_bn_relu(keras, x, 64, "b3a")
    x = _conv_bn_relu(keras, x, 64, "b3b")
    x = keras.layers.MaxPooling2D(name="pool3")(x)  # 3×3
    x = _conv_bn_relu(keras, x, 128, "b4")
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="edge_digits_cnn")


def build_turning_model(num_classes: int = 10, dropout: float = 0.3) -> Any:
    """The turning-drum network (convert/turning.py): (None, 28, 28, 1) float 0..255 → softmax over the
    leaving digit. Three conv blocks are enough for one font family's halves of two digits; it runs
    only on drums caught turning, a few crops a frame at most."""
    import keras

    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    for k, filters in enumerate((16, 32, 64), 1):
        x = _conv_bn_relu(keras, x, filters, f"t{k}")
        x = keras.layers.MaxPooling2D(name=f"tpool{k}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="leaving")(x)
    return keras.Model(inputs, outputs, name="edge_digits_turning")


def build_prototype() -> Any:
    """The prototype's Keras-2 network (10 classes, inputs 0..1), for the legacy fixture and speed tests."""
    import keras

    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv2d_1"),
            keras.layers.Conv2D(64, 3, activation="relu", name="conv2d_2"),
            keras.layers.MaxPooling2D(name="max_pooling2d_1"),
            keras.layers.Dropout(0.25, name="dropout_1"),
            keras.layers.Flatten(name="flatten_1"),
            keras.layers.Dense(128, activation="relu", name="dense_1"),
            keras.layers.Dropout(0.5, name="dropout_2"),
            keras.layers.Dense(10, activation="softmax", name="dense_2"),
        ],
        name="prototype",
    )
