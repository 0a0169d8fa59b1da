"""`edge-digits run`: the long-running daemon (see docs/daemon.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run",
        help="read digits from a camera, stream, video or image folder and report stable readings",
        description="Run the daemon. Without --config every key has its default; without a camera the "
        "bundled sample clip is read.",
    )
    p.add_argument("--config", type=Path, help="YAML config file (see config.example.yaml)")
    p.add_argument(
        "--source",
        help="camera index, /dev/videoN, video file, image folder or stream URL (overrides source.location)",
    )
    p.add_argument("--preview", action="store_true", help="show the live preview window (q quits, s saves)")
    p.add_argument("--snapshot-dir", type=Path, help="save an annotated frame on every change of the reading")
    p.add_argument(
        "--once",
        action="store_true",
        help="read one frame (camera/stream) or one pass (file/folder) and exit",
    )
    p.add_argument(
        "--max-fps", type=float, help="processing rate limit (overrides process.max_fps; 0 = none)"
    )
    # Also accepted after the subcommand; the global option is parsed before it.
    p.add_argument("--log-level", default=argparse.SUPPRESS, help="DEBUG, INFO, WARNING or ERROR")
    p.set_defaults(func=main)


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if args.source is not None:
        overrides["source.location"] = args.source
        overrides["source.type"] = "auto"
    if args.preview:
        overrides["outputs.preview.enabled"] = True
    if args.snapshot_dir is not None:
        overrides["outputs.snapshots.dir"] = str(args.snapshot_dir)
    if args.max_fps is not None:
        overrides["process.max_fps"] = args.max_fps
    if args.once:
        overrides["source.loop"] = False
    return overrides


def main(args: argparse.Namespace) -> int:
    from edge_digits.daemon import run_daemon

    return run_daemon(args.config, overrides_from(args), once=args.once)
