"""`edge-digits read IMAGE...`: read the digit strings in image files (see docs/engine.md).

One line per image on stdout: the lines of the image joined by '|' (prefixed by the file name when
several images are given), or one JSON object per image with --json. A file that cannot be read gives
one line on stderr naming it, the other files are still read, and the exit code is 1. A missing or
damaged model exits with 3 before any file is read.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger("edge_digits.read")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_MODEL = 0, 1, 2, 3


def _unit_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value


def register(subparsers: Any) -> None:
    from edge_digits.preprocess import POLARITIES

    p = subparsers.add_parser(
        "read",
        help="read the digit strings in image files",
        description="Read every digit string in each image: one line per image, the image's text lines "
        "joined by '|'.",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, BMP, TIFF, WebP …)")
    p.add_argument("--json", action="store_true", help="one JSON object per image (text, lines, boxes)")
    p.add_argument("--debug-dir", type=Path, help="write each image's stage pictures into this directory")
    p.add_argument("--model", type=Path, help="the int8 TFLite model (default: models/digits_int8.tflite)")
    p.add_argument("--no-turning", action="store_true",
                   help="read counter drums caught turning without the turning-drum network")
    p.add_argument("--threshold", type=_unit_float, help="confidence under which a digit is shown as '?'")
    p.add_argument("--polarity", choices=POLARITIES, help="ink polarity (default: auto)")
    p.add_argument("--decimal-point", action="store_true", help="report a dot between digits as '.'")
    p.add_argument("--log-level", default=argparse.SUPPRESS, help="DEBUG, INFO, WARNING or ERROR")
    p.set_defaults(func=main)


class ImageError(Exception):
    """The file is not an image we can read."""


def load_image(path: Path) -> Any:
    """Decode an image file to BGR uint8; ImageError with the reason otherwise."""
    import cv2
    import numpy as np

    if path.is_dir():
        raise ImageError("is a directory, expected an image file")
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except FileNotFoundError:
        raise ImageError("no such file") from None
    except OSError as exc:
        raise ImageError(f"cannot read it ({exc.strerror or exc})") from None
    if data.size == 0:
        raise ImageError("is empty, expected an image file")
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ImageError(f"cannot decode it as an image ({str(exc).strip().splitlines()[-1]})") from None
    if image is None or image.size == 0:
        raise ImageError("not an image OpenCV can decode (expected PNG, JPEG, BMP, TIFF, WebP …)")
    return image


def _write_png(path: Path, picture: Any) -> None:
    """Write a PNG atomically: a half-written picture never carries the final name."""
    import cv2

    ok, buf = cv2.imencode(".png", picture)
    if not ok:
        raise OSError(f"{path}: PNG encoding failed")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buf.tobytes())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; these are pictures to look at
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_debug(debug_dir: Path, stem: str, pictures: dict[str, Any]) -> list[Path]:
    debug_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, picture in pictures.items():
        target = debug_dir / f"{stem}_{name}.png"
        _write_png(target, picture)
        written.append(target)
    return written


def _stems(paths: list[Path]) -> list[str]:
    """Debug-picture name per image: its stem, made unique when two images share one."""
    seen: dict[str, int] = {}
    out = []
    for p in paths:
        stem = p.stem or "image"
        k = seen.get(stem, 0)
        seen[stem] = k + 1
        out.append(stem if k == 0 else f"{stem}-{k + 1}")
    return out


def main(args: argparse.Namespace) -> int:
    from edge_digits.reader import DigitReader, ReaderSettings
    from edge_digits.runtime import DEFAULT_MODEL, DigitClassifier, ModelError, load_turning_model

    settings_kw: dict[str, Any] = {}
    if args.threshold is not None:
        settings_kw["confidence_threshold"] = args.threshold
    if args.polarity is not None:
        settings_kw["polarity"] = args.polarity
    if args.decimal_point:
        settings_kw["decimal_point"] = True
    settings = ReaderSettings(**settings_kw)
    try:
        classifier = DigitClassifier(args.model or DEFAULT_MODEL)
        turning = None if args.no_turning else load_turning_model()
    except ModelError as exc:
        print(f"edge-digits read: {exc}", file=sys.stderr)
        return EXIT_MODEL
    reader = DigitReader(classifier, settings, turning)

    try:
        return _read_all(args, reader)
    except BrokenPipeError:
        # The reader of our output went away (`| head`): stop quietly, as other tools do.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces stdout for the interpreter's exit
        return EXIT_FAILED


def _read_all(args: argparse.Namespace, reader: Any) -> int:
    paths = [Path(p) for p in args.images]
    several = len(paths) > 1
    failed = 0
    for path, stem in zip(paths, _stems(paths), strict=True):
        try:
            image = load_image(path)
            if args.debug_dir is not None:
                reading, pictures = reader.read_debug(image)
                write_debug(args.debug_dir, stem, pictures)
            else:
                reading = reader.read(image)
        except ImageError as exc:
            failed += 1
            print(f"edge-digits read: {path}: {exc}", file=sys.stderr)
            if args.json:
                print(json.dumps({"file": str(path), "error": str(exc)}), flush=True)
            continue
        except Exception as exc:  # one bad file must not stop the others
            failed += 1
            log.debug("reading %s failed", path, exc_info=True)
            print(f"edge-digits read: {path}: failed ({type(exc).__name__}: {exc})", file=sys.stderr)
            if args.json:
                print(json.dumps({"file": str(path), "error": f"{type(exc).__name__}: {exc}"}), flush=True)
            continue
        if args.json:
            print(json.dumps({"file": str(path), **reading.to_dict()}), flush=True)
        elif several:
            print(f"{path}: {reading.text}", flush=True)
        else:
            print(reading.text, flush=True)
    return EXIT_FAILED if failed else EXIT_OK
