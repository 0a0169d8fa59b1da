"""Run benchmarks and record them in BENCHMARKS.md, one section per benchmark module.

Each module `bench/<name>.py` has `run() -> str` returning a Markdown section body. Sections of other
benchmarks are kept as they were, so one benchmark can be re-run alone:
`python -m bench engine` (or `make bench` for all).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import platform
import re
import sys
from pathlib import Path

from edge_digits.atomic import write_atomic

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "BENCHMARKS.md"
ALL = ("model", "engine", "daemon", "meter", "mqtt", "glyphs")
HEADER = (
    "# Benchmarks\n\nWritten by `python -m bench` (`make bench`); each section says when and where it ran.\n"
)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.machine()}, {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def write_section(name: str, body: str, command: str) -> None:
    text = OUT.read_text() if OUT.exists() else HEADER
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"<!-- bench:{name} -->\n## {name}\n\n"
        f"Machine: {machine()}. Date: {stamp}. Command: `{command}`.\n\n"
        f"{body.strip()}\n<!-- /bench:{name} -->\n"
    )
    pattern = re.compile(rf"<!-- bench:{name} -->.*?<!-- /bench:{name} -->\n", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    write_atomic(OUT, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", default=list(ALL),
                        help=f"benchmarks to run (default: {' '.join(ALL)})")
    args = parser.parse_args(argv)
    for name in args.names:
        module = importlib.import_module(f"bench.{name}")
        print(f"bench: running {name}", file=sys.stderr, flush=True)
        write_section(name, module.run(), f"python -m bench {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
