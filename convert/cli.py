"""`edge-digits-convert`: train, quantize, evaluate, or all three and ship the result to models/.

Errors in the input (data set, model file, settings) end with one line on stderr naming what is
wrong and a non-zero exit: 2 for bad data or settings, 3 for a model that cannot be loaded or converted.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from convert.data import DataError

log = logging.getLogger("convert")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODELS = ROOT / "models"
DEFAULT_RUNS = ROOT / "runs"
SHIPPED = ("digits.keras", "history.json", "report.json", "confusion.png", "misclassified.png")


def _add_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", metavar="DIR",
                   help="MNIST directory (IDX files, plain or .gz, or mnist.npz); "
                        "default $EDGE_DIGITS_MNIST, else Keras' download")


def _add_train(p: argparse.ArgumentParser) -> None:
    from convert.train import TrainConfig

    d = TrainConfig()
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"default {d.epochs}")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"default {d.batch_size}")
    p.add_argument("--limit", type=int, metavar="N", help="train on N MNIST images only (smoke tests)")
    p.add_argument("--synthetic-per-domain", type=int, default=d.synthetic_per_domain, metavar="N",
                   help=f"generated glyphs per domain (reject, printed, sevenseg, drum); default "
                        f"{d.synthetic_per_domain}; 0 = MNIST only")
    p.add_argument("--scene-crops", type=int, default=d.scene_crops, metavar="N",
                   help=f"generated scenes and meter photos per kind whose engine-cut crops are trained "
                        f"on too; default {d.scene_crops}; 0 = none")
    p.add_argument("--seed", type=int, default=d.seed, help=f"default {d.seed}")
    p.add_argument("--learning-rate", type=float, default=d.learning_rate,
                   help=f"peak; default {d.learning_rate}")
    p.add_argument("--reject-weight", type=float, default=d.reject_weight,
                   help=f"loss weight of the reject class; default {d.reject_weight}")
    p.add_argument("--no-augment", action="store_true", help="train without augmentation")


def _add_evaluate(p: argparse.ArgumentParser) -> None:
    p.add_argument("--test-data", metavar="DIR",
                   help="directory holding the MNIST test set; default the copy in tests/data")
    p.add_argument("--domain-samples", type=int, default=1000, metavar="N",
                   help="held-apart generated glyphs per domain for per-domain accuracy; default 1000")
    p.add_argument("--no-latency", action="store_true", help="skip the latency measurement")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-digits-convert", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train the CNN; writes digits.keras and history.json")
    _add_data(t)
    _add_train(t)
    t.add_argument("--out", type=Path, default=DEFAULT_RUNS, help=f"output directory; default {DEFAULT_RUNS}")

    q = sub.add_parser("quantize", help="Keras model (.keras or Keras-2 .h5) → int8 and float TFLite")
    q.add_argument("model", type=Path, help=".keras or legacy .h5 file")
    _add_data(q)
    q.add_argument("--synthetic-per-domain", type=int, default=250, metavar="N",
                   help="generated glyphs per domain added to the representative images; default 250")
    q.add_argument("--seed", type=int, default=1)
    q.add_argument("--out", type=Path, help="output directory; default the model's directory")

    e = sub.add_parser("evaluate", help="accuracy, confusion, latency; writes report.json and two PNGs")
    e.add_argument("model_dir", type=Path, help="directory with digits_int8.tflite (and digits_float.tflite, "
                                                "digits.keras when present)")
    _add_evaluate(e)
    e.add_argument("--seed", type=int, default=1)
    e.add_argument("--out", type=Path, help="output directory; default MODEL_DIR")
    e.add_argument("--manifest", action="store_true", help="also write MODEL_DIR/manifest.json")

    a = sub.add_parser("all", help="train → quantize → evaluate, then ship to --out with a manifest")
    _add_data(a)
    _add_train(a)
    _add_evaluate(a)
    _add_turning(a)
    a.add_argument("--work", type=Path, help=f"working directory; default {DEFAULT_RUNS}/all-<seed>")
    a.add_argument("--out", type=Path, default=DEFAULT_MODELS,
                   help=f"where to ship; default {DEFAULT_MODELS}")
    tu = sub.add_parser("turning", help="train the turning-drum network; ship it to --out with its manifest")
    _add_turning(tu)
    tu.add_argument("--seed", type=int, default=1, help="default 1")
    tu.add_argument("--work", type=Path, help=f"working directory; default {DEFAULT_RUNS}/turning-<seed>")
    tu.add_argument("--out", type=Path, default=DEFAULT_MODELS,
                    help=f"where to ship; default {DEFAULT_MODELS}")
    return parser


def _add_turning(p: argparse.ArgumentParser) -> None:
    from convert.turning import TurningConfig

    d = TurningConfig()
    p.add_argument("--turning-scenes", type=int, default=d.scenes, metavar="N",
                   help=f"generated counter photos with a turning drum to learn from; default {d.scenes} "
                        "(`all`: 0 skips the turning-drum network)")
    p.add_argument("--turning-epochs", type=int, default=d.epochs, metavar="N", help=f"default {d.epochs}")


def _train_config(args: argparse.Namespace) -> Any:
    from convert.train import TrainConfig

    return TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, limit=args.limit,
        synthetic_per_domain=args.synthetic_per_domain, scene_crops=args.scene_crops, seed=args.seed,
        learning_rate=args.learning_rate,
        reject_weight=args.reject_weight, augment=not args.no_augment, data_dir=args.data,
    )


def cmd_train(args: argparse.Namespace) -> int:
    from convert.train import train

    result = train(_train_config(args), args.out)
    print(f"saved {result.model_path} and {result.history_path} ({result.seconds:.0f} s)")
    return 0


def representative_pool(data_dir: str | None, synthetic_per_domain: int, seed: int) -> Any:
    """Training images for int8 calibration: MNIST's training split and some generated glyphs."""
    import numpy as np

    from convert.data import load_mnist
    from convert.train import synthetic_set

    mnist = load_mnist(data_dir)
    sx, _, _ = synthetic_set(synthetic_per_domain, seed)
    return np.concatenate([mnist.train.x, sx])


def cmd_quantize(args: argparse.Namespace) -> int:
    from convert.quantize import load_model, quantize_model

    out = args.out or args.model.parent
    model, expects_unit = load_model(args.model)  # a bad model file fails before MNIST is read
    pool = representative_pool(args.data, args.synthetic_per_domain, args.seed)
    result = quantize_model(model, expects_unit, args.model, out, pool)
    scale, zp = result.input_quantization
    wrapped = "; Rescaling added for 0..1 inputs" if result.wrapped else ""
    print(f"wrote {result.int8_path} ({result.int8_path.stat().st_size} bytes; input scale {scale:g}, "
          f"zero point {zp}{wrapped}) and {result.float_path}")
    return 0


def _models_in(directory: Path) -> Any:
    from convert.evaluate import EvaluateError, Models
    from convert.quantize import FLOAT_NAME, INT8_NAME
    from convert.train import KERAS_NAME

    int8 = directory / INT8_NAME
    if not int8.is_file():
        raise EvaluateError(f"{int8}: model file not found")

    def optional(name: str) -> Path | None:
        return directory / name if (directory / name).is_file() else None

    return Models(optional(KERAS_NAME), optional(FLOAT_NAME), int8)


def write_model_manifest(model_dir: Path, report: dict[str, Any]) -> Path:
    """manifest.json for model_dir/digits_int8.tflite, with training details from history.json if present."""
    import json

    from convert.evaluate import manifest_accuracy
    from convert.manifest import build_manifest, write_manifest
    from convert.quantize import INT8_NAME
    from convert.train import HISTORY_NAME, KERAS_NAME

    history_file = model_dir / HISTORY_NAME
    history = json.loads(history_file.read_text()) if history_file.is_file() else {}
    hist = history.get("history", {})
    training = {**history.get("config", {}), "params": history.get("params")}
    training.update({k: history[k] for k in ("seconds", "cpu_seconds", "cpus") if k in history})
    training["final"] = {k: round(v[-1], 5) for k, v in hist.items() if v}
    data = {**history.get("data", {}), "test": report["test_set"]}
    manifest = build_manifest(model_dir / INT8_NAME, model_dir / KERAS_NAME, manifest_accuracy(report),
                              training, data)
    return write_manifest(manifest, model_dir)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from convert.data import load_test_set
    from convert.evaluate import evaluate

    out = args.out or args.model_dir
    report = evaluate(_models_in(args.model_dir), load_test_set(args.test_data), out,
                      args.domain_samples, args.seed, not args.no_latency)
    _print_summary(report, out)
    if args.manifest:
        print(f"wrote {write_model_manifest(args.model_dir, report)}")
    return 0


def _print_summary(report: dict[str, Any], out: Path) -> None:
    for name, r in report["mnist_test"].items():
        print(f"{name:13s} MNIST test accuracy {100 * r['accuracy']:.2f}% ({r['errors']} errors), "
              f"{report['bytes'][name]} bytes")
    for d, r in report.get("per_domain", {}).items():
        print(f"{d:13s} int8 accuracy {100 * r['tflite_int8']:.2f}% on {r['images']} held-apart glyphs")
    if "reject" in report:
        r = report["reject"]
        print(f"reject class: precision {r['precision']:.3f}, recall {r['recall']:.3f}")
    for k, v in report.get("latency_ms_per_image", {}).items():
        print(f"latency {k}: {v:.3f} ms/image")
    print(f"wrote {out / 'report.json'} and the PNGs")


def _copy_atomic(src: Path, dst: Path) -> None:
    from convert.manifest import write_artifact

    write_artifact(dst, src.read_bytes())


def cmd_all(args: argparse.Namespace) -> int:
    from convert.data import load_mnist, load_test_set
    from convert.evaluate import evaluate
    from convert.quantize import INT8_NAME, load_model, quantize_model
    from convert.train import train

    cfg = _train_config(args)
    work = args.work or DEFAULT_RUNS / f"all-{cfg.seed}"
    test = load_test_set(args.test_data)  # fail early, before an hour of training, if it is unreadable
    mnist = load_mnist(cfg.data_dir)
    result = train(cfg, work, mnist)
    model, expects_unit = load_model(result.model_path)
    quantize_model(model, expects_unit, result.model_path, work, result.data.x_train)
    report = evaluate(_models_in(work), test, work, args.domain_samples, cfg.seed, not args.no_latency)
    _print_summary(report, work)
    write_model_manifest(work, report)
    # Ship: model files first, the manifest last, so a reader never pairs a new model with an old manifest
    # for longer than one rename.
    args.out.mkdir(parents=True, exist_ok=True)
    for name in (INT8_NAME, *SHIPPED):
        if (work / name).is_file():
            _copy_atomic(work / name, args.out / name)
    _copy_atomic(work / "manifest.json", args.out / "manifest.json")
    print(f"shipped {args.out / INT8_NAME} with its manifest")
    if args.turning_scenes > 0:
        _train_and_ship_turning(args, cfg.seed, work / "turning")
    return 0


def _train_and_ship_turning(args: argparse.Namespace, seed: int, work: Path) -> None:
    from convert.turning import TurningConfig, train_turning

    cfg = TurningConfig(scenes=args.turning_scenes, epochs=args.turning_epochs, seed=seed)
    result = train_turning(cfg, work)
    print(f"turning-drum network: {result.train_crops} crops, held-apart accuracy int8 "
          f"{100 * result.accuracy_int8:.2f}% (float {100 * result.accuracy_float:.2f}%) on "
          f"{result.validation_crops} crops")
    args.out.mkdir(parents=True, exist_ok=True)
    _copy_atomic(result.int8_path, args.out / result.int8_path.name)  # the model first, as above
    _copy_atomic(result.manifest_path, args.out / result.manifest_path.name)
    print(f"shipped {args.out / result.int8_path.name} with its manifest")


def cmd_turning(args: argparse.Namespace) -> int:
    _train_and_ship_turning(args, args.seed, args.work or DEFAULT_RUNS / f"turning-{args.seed}")
    return 0


COMMANDS = {"train": cmd_train, "quantize": cmd_quantize, "evaluate": cmd_evaluate, "all": cmd_all,
            "turning": cmd_turning}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ start-up chatter hides real messages
    from convert.evaluate import EvaluateError
    from convert.legacy_h5 import LegacyModelError
    from convert.manifest import ManifestError
    from convert.quantize import QuantizeError
    from convert.train import TrainError
    from convert.turning import TurningError
    from edge_digits.runtime import ModelError

    try:
        return COMMANDS[args.command](args)
    except (DataError, TrainError, TurningError) as exc:
        print(f"edge-digits-convert: error: {exc}", file=sys.stderr)
        return 2
    except (QuantizeError, LegacyModelError, EvaluateError, ManifestError, ModelError) as exc:
        print(f"edge-digits-convert: error: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
