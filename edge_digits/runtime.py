"""The TFLite interpreter on the device: backend choice, manifest check, batched classification.

Backends, in order: `ai-edge-litert` (current, numpy 2), `tflite-runtime` (last release 2.14, numpy<2
only), and `tensorflow.lite` as a last resort on a development machine. TensorFlow is imported only if
both runtimes are missing, so a device that installed the runtime alone never loads it.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

BACKENDS = (
    ("ai-edge-litert", "ai_edge_litert.interpreter"),
    ("tflite-runtime", "tflite_runtime.interpreter"),
    ("tensorflow.lite", "tensorflow.lite"),
)
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "digits_int8.tflite"
MANIFEST_NAME = "manifest.json"
# The turning-drum network (convert/turning.py) and its manifest, beside the digit network.
TURNING_MODEL = DEFAULT_MODEL.with_name("turning_int8.tflite")
TURNING_MANIFEST = "turning_manifest.json"
# What the turning-drum network is fed (its manifest's data.crop): a drum's whole window
# (normalize.window_crop). A network trained on anything else reads garbage from it.
TURNING_CROP = "drum window"


class ModelError(Exception):
    """The model file is missing, damaged, or not the one its manifest describes."""


def load_interpreter_class(preferred: str | None = None) -> tuple[str, Any]:
    """Return (backend name, Interpreter class) for the first importable backend.

    `preferred` (or $EDGE_DIGITS_TFLITE_BACKEND) restricts the choice to one backend."""
    preferred = preferred or os.environ.get("EDGE_DIGITS_TFLITE_BACKEND") or None
    candidates = [b for b in BACKENDS if preferred in (None, b[0])]
    if not candidates:
        names = ", ".join(b[0] for b in BACKENDS)
        raise ModelError(f"unknown TFLite backend {preferred!r}: expected one of {names}")
    errors = []
    for name, module in candidates:
        try:
            mod = importlib.import_module(module)
        except Exception as exc:  # a numpy-1 wheel under numpy 2 raises ImportError or AttributeError
            errors.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            continue
        log.info("TFLite backend: %s", name)
        return name, mod.Interpreter
    raise ModelError(
        "no TFLite runtime could be imported (" + "; ".join(errors) + "); install ai-edge-litert "
        "(or tflite-runtime with numpy<2)"
    )


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Manifest:
    """What the shipped model promises; see convert/manifest for the writer."""

    sha256: str
    input_shape: tuple[int, ...]
    input_dtype: str
    input_scale: float
    input_zero_point: int
    labels: tuple[str, ...]
    raw: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            data = json.loads(Path(path).read_text())
            model = data["model"]
            inp = data["input"]
            return cls(
                sha256=str(model["sha256"]),
                input_shape=tuple(int(v) for v in inp["shape"]),
                input_dtype=str(inp["dtype"]),
                input_scale=float(inp["scale"]),
                input_zero_point=int(inp["zero_point"]),
                labels=tuple(str(v) for v in data["labels"]),
                raw=data,
            )
        except FileNotFoundError:
            raise ModelError(f"{path}: manifest not found") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{path}: not a valid model manifest ({type(exc).__name__}: {exc})") from None


class DigitClassifier:
    """Classifies 28×28 crops (uint8, 255 = ink, like MNIST) in one interpreter invoke per batch.

    The interpreter is created once; its input tensor is resized only when the batch size changes."""

    def __init__(
        self,
        model_path: str | os.PathLike[str] = DEFAULT_MODEL,
        manifest_path: str | os.PathLike[str] | None = None,
        num_threads: int = 2,
        backend: str | None = None,
        verify: bool = True,
    ) -> None:
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise ModelError(f"{self.model_path}: model file not found")
        manifest_file = Path(manifest_path) if manifest_path else self.model_path.with_name(MANIFEST_NAME)
        self.manifest: Manifest | None = None
        if verify:
            self.manifest = Manifest.read(manifest_file)
            digest = sha256_file(self.model_path)
            if digest != self.manifest.sha256:
                raise ModelError(
                    f"{self.model_path}: sha256 {digest[:12]}… does not match {manifest_file} "
                    f"({self.manifest.sha256[:12]}…); the model is damaged or not the one shipped"
                )
        self.backend, interpreter_cls = load_interpreter_class(backend)
        try:
            self._interp = interpreter_cls(model_path=str(self.model_path), num_threads=num_threads)
            self._interp.allocate_tensors()
        except Exception as exc:
            raise ModelError(f"{self.model_path}: the TFLite runtime cannot load it ({exc})") from None
        inp = self._interp.get_input_details()[0]
        out = self._interp.get_output_details()[0]
        self._in_index, self._out_index = inp["index"], out["index"]
        self.input_dtype = np.dtype(inp["dtype"])
        self.input_scale, self.input_zero_point = (float(v) for v in inp["quantization"])
        self.output_dtype = np.dtype(out["dtype"])
        self.output_scale, self.output_zero_point = (float(v) for v in out["quantization"])
        shape = tuple(int(v) for v in inp["shape"])
        if shape[1:3] != (28, 28):
            raise ModelError(f"{self.model_path}: input shape {shape}, expected (N, 28, 28, 1)")
        self.n_classes = int(out["shape"][-1])
        if self.manifest is not None:
            self._check_signature(manifest_file, shape)
            self.labels = self.manifest.labels
        else:
            self.labels = tuple(str(i) for i in range(10)) + (("reject",) if self.n_classes == 11 else ())
        self._batch = int(shape[0])

    def _check_signature(self, manifest_file: Path, shape: tuple[int, ...]) -> None:
        m = self.manifest
        assert m is not None
        problems = []
        if tuple(m.input_shape[1:]) != shape[1:]:
            problems.append(f"input shape {shape} vs manifest {m.input_shape}")
        if self.input_dtype.name != m.input_dtype:
            problems.append(f"input dtype {self.input_dtype.name} vs manifest {m.input_dtype}")
        if not np.isclose(self.input_scale, m.input_scale, rtol=1e-6) or (
            self.input_zero_point != m.input_zero_point
        ):
            problems.append(
                f"input quantization ({self.input_scale}, {self.input_zero_point}) vs manifest "
                f"({m.input_scale}, {m.input_zero_point})"
            )
        if len(m.labels) != self.n_classes:
            problems.append(f"{self.n_classes} outputs vs {len(m.labels)} labels in the manifest")
        if problems:
            raise ModelError(f"{self.model_path}: input signature does not match {manifest_file}: " +
                             "; ".join(problems))

    def _quantize(self, crops: np.ndarray) -> np.ndarray:
        x = crops.astype(np.float32)[..., None]
        if self.input_dtype == np.float32:
            # A float model's first layer rescales 0..255 itself (see convert/model.py).
            return x
        q = np.round(x / self.input_scale + self.input_zero_point)
        info = np.iinfo(self.input_dtype)
        return np.clip(q, info.min, info.max).astype(self.input_dtype)

    def probabilities(self, crops: np.ndarray) -> np.ndarray:
        """(N, 28, 28) uint8 → (N, n_classes) float32 probabilities, all in one invoke."""
        n = int(crops.shape[0])
        if n == 0:
            return np.zeros((0, self.n_classes), np.float32)
        if n != self._batch:
            self._interp.resize_tensor_input(self._in_index, [n, 28, 28, 1])
            self._interp.allocate_tensors()
            self._batch = n
        self._interp.set_tensor(self._in_index, self._quantize(crops))
        self._interp.invoke()
        out = self._interp.get_tensor(self._out_index)
        if self.output_dtype != np.float32:
            out = (out.astype(np.float32) - self.output_zero_point) * self.output_scale
        # The network ends in softmax; renormalise away int8 rounding so rows sum to 1.
        out = np.clip(out, 0.0, None)
        total = out.sum(axis=1, keepdims=True)
        return np.divide(out, total, out=np.full_like(out, 1.0 / self.n_classes), where=total > 0)


def load_turning_model(
    path: str | os.PathLike[str] | None = None, backend: str | None = None, verify: bool = True
) -> DigitClassifier | None:
    """The turning-drum network with its manifest (TURNING_MANIFEST beside it), or None when no path
    is given and none is shipped: turning drums are then read by the digit network alone."""
    if path is None:
        if not TURNING_MODEL.is_file():
            log.info("no turning-drum network at %s: drums caught turning are read by the digit network",
                     TURNING_MODEL)
            return None
        path = TURNING_MODEL
    path = Path(path)
    # One thread: it sees a few crops a frame at most, and the digit network has the cores.
    manifest = path.with_name(TURNING_MANIFEST)
    network = DigitClassifier(path, manifest, num_threads=1, backend=backend, verify=verify)
    crop = network.manifest.raw.get("data", {}).get("crop") if network.manifest else TURNING_CROP
    if crop != TURNING_CROP:
        raise ModelError(f"{manifest}: data.crop {crop!r}, expected {TURNING_CROP!r} (a network from an "
                         "older edge-digits); train it anew with `edge-digits-convert turning`")
    return network
