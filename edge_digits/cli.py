"""`edge-digits`: the device command line. Each subcommand lives in edge_digits/commands/."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# name → module with `register(subparsers)` and `main(args) -> int`; imported only when needed so
# `edge-digits read` does not pay for the daemon's imports and vice versa.
COMMANDS = {
    "read": "edge_digits.commands.read",
    "run": "edge_digits.commands.run",
    "install-service": "edge_digits.commands.install_service",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-digits", description=__doc__)
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS.values():
        try:
            importlib.import_module(module).register(sub)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return parser


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, str(level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
