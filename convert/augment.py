"""Augmentation that prepares MNIST-style training crops for what the camera path produces.

Camera crops go through `edge_digits.normalize.normalize_digit`, so they are already size- and
centre-normalised; what remains is a slightly tilted hand or camera, imperfect centring and box fit,
a stroke a little heavier or lighter than MNIST's, softness from focus, and sensor noise.

Everything works on whole batches with a handful of TF ops (one projective warp for rotation, scale
and shift together), so it costs little next to the training step on a 2-core machine.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class AugmentConfig:
    rotation_deg: float = 10.0  # uniform ± this
    scale: float = 0.08  # zoom factor in 1 ± this
    shift_px: float = 1.5  # uniform ± this, each axis
    shear: float = 0.10  # horizontal shear (slanted handwriting, italic print)
    stroke_prob: float = 0.4  # chance to thicken or thin the stroke (half each)
    blur_prob: float = 0.15  # chance of a 3×3 Gaussian softening
    noise_prob: float = 0.15  # chance of Gaussian noise
    noise_sigma: float = 12.0  # noise std in pixel units (0..255), drawn up to this

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def _affine(tf: Any, batch: int, cfg: AugmentConfig, size: float) -> Any:
    """Per-image 8-parameter projective transforms (output → input coordinates), about the centre."""
    uniform = tf.random.uniform
    angle = uniform([batch], -1.0, 1.0) * (cfg.rotation_deg * math.pi / 180.0)
    zoom = 1.0 + uniform([batch], -cfg.scale, cfg.scale)
    shear = uniform([batch], -cfg.shear, cfg.shear)
    tx = uniform([batch], -cfg.shift_px, cfg.shift_px)
    ty = uniform([batch], -cfg.shift_px, cfg.shift_px)
    cos, sin = tf.cos(angle) / zoom, tf.sin(angle) / zoom
    # Inverse map: input = R(-θ)/zoom · (output - centre - t) + centre, with shear added on x.
    a0, a1 = cos, sin + shear
    b0, b1 = -sin, cos
    c = (size - 1.0) / 2.0
    a2 = c - a0 * (c + tx) - a1 * (c + ty)
    b2 = c - b0 * (c + tx) - b1 * (c + ty)
    zeros = tf.zeros([batch])
    return tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def _per_image(tf: Any, batch: int, prob: float) -> Any:
    return tf.cast(tf.random.uniform([batch, 1, 1, 1]) < prob, tf.float32)


def augment_batch(images: Any, cfg: AugmentConfig = AugmentConfig()) -> Any:
    """(B, 28, 28, 1) float32 in 0..255 → same shape, augmented, still in 0..255."""
    import tensorflow as tf

    batch = tf.shape(images)[0]
    size = float(images.shape[1] or 28)
    x = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=_affine(tf, batch, cfg, size),
        output_shape=tf.shape(images)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
    # Stroke weight: blend towards a 2×2 dilation or erosion by a random amount (0 to 1 px).
    dilated = tf.nn.max_pool2d(x, 2, 1, "SAME")
    eroded = -tf.nn.max_pool2d(-x, 2, 1, "SAME")
    amount = tf.random.uniform([batch, 1, 1, 1])
    thicken = _per_image(tf, batch, cfg.stroke_prob / 2)
    thin = (1.0 - thicken) * _per_image(tf, batch, cfg.stroke_prob / 2 / (1 - cfg.stroke_prob / 2))
    x = x + amount * (thicken * (dilated - x) + thin * (eroded - x))
    # Focus: a 3×3 Gaussian (σ≈0.8), blended in by a random amount.
    k = tf.constant([0.25, 0.5, 0.25])
    kernel = tf.reshape(k[:, None] * k[None, :], [3, 3, 1, 1])
    blurred = tf.nn.conv2d(x, kernel, 1, "SAME")
    x = x + _per_image(tf, batch, cfg.blur_prob) * tf.random.uniform([batch, 1, 1, 1]) * (blurred - x)
    sigma = _per_image(tf, batch, cfg.noise_prob) * tf.random.uniform([batch, 1, 1, 1], 0, cfg.noise_sigma)
    x = x + tf.random.normal(tf.shape(x)) * sigma
    return tf.clip_by_value(x, 0.0, 255.0)
