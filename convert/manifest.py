"""Write `models/manifest.json`: what the shipped model is, so the device can check it before use.

The layout is fixed by docs/ARCHITECTURE.md and read back by `edge_digits.runtime.Manifest`; the
input signature is taken from the TFLite file itself, never typed in by hand.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from edge_digits.atomic import write_atomic
from edge_digits.runtime import MANIFEST_NAME, load_interpreter_class, sha256_file

LABELS = [str(i) for i in range(10)] + ["reject"]
VERSIONED = ("tensorflow", "keras", "numpy", "ai-edge-litert", "opencv-python", "h5py")


class ManifestError(Exception):
    """The model does not match what the manifest must say about it."""


def tool_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def tensor_signature(model_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(input, output) as the manifest writes them, read from the TFLite model."""
    _, interpreter_cls = load_interpreter_class()
    interp = interpreter_cls(model_path=str(model_path))

    def describe(d: dict[str, Any]) -> dict[str, Any]:
        scale, zero_point = d["quantization"]
        return {
            "shape": [int(v) for v in d["shape"]],
            "dtype": d["dtype"].__name__ if hasattr(d["dtype"], "__name__") else str(d["dtype"]),
            "scale": float(scale),
            "zero_point": int(zero_point),
        }

    return describe(interp.get_input_details()[0]), describe(interp.get_output_details()[0])


def build_manifest(
    model_path: Path,
    source_model: Path | None,
    accuracy: dict[str, Any],
    training: dict[str, Any],
    data: dict[str, Any],
    labels: list[str] | None = None,
    created: dt.datetime | None = None,
) -> dict[str, Any]:
    inp, out = tensor_signature(model_path)
    labels = labels or LABELS[: out["shape"][-1]]
    if len(labels) != out["shape"][-1]:
        raise ManifestError(f"{model_path}: {out['shape'][-1]} outputs but {len(labels)} labels")
    created = created or dt.datetime.now(dt.timezone.utc)
    manifest: dict[str, Any] = {
        "model": {
            "file": model_path.name,
            "sha256": sha256_file(model_path),
            "bytes": model_path.stat().st_size,
        },
        "input": inp,
        "output": out,
        "labels": labels,
        "accuracy": accuracy,
        "training": training,
        "data": data,
        "versions": tool_versions(),
        "created": created.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }
    if source_model is not None and source_model.is_file():
        manifest["source_model"] = {"file": source_model.name, "sha256": sha256_file(source_model)}
    return manifest


def write_artifact(path: Path, data: bytes | str) -> None:
    """Atomically write a shipped artifact (model, manifest, report, picture), creating its directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Readable like any other file the user creates, not mkstemp's private 0600.
    umask = os.umask(0)
    os.umask(umask)
    write_atomic(path, data, mode=0o666 & ~umask)


def write_json(path: Path, data: Any) -> None:
    write_artifact(path, json.dumps(data, indent=2) + "\n")


def write_manifest(manifest: dict[str, Any], directory: Path) -> Path:
    """Atomically write manifest.json next to the model it describes."""
    path = directory / MANIFEST_NAME
    write_json(path, manifest)
    return path
