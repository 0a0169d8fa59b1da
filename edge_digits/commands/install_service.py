"""`edge-digits install-service`: run systemd/install.sh from the checkout this package lives in.

The installer builds the service's venv from a checkout (setup.cfg, config.example.yaml, models/), so it
is not shipped inside the wheel: from a pip-installed copy there is nothing to install from, and the
command says where to get it. The options are install.sh's own.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CHECKOUT = Path(__file__).resolve().parent.parent.parent
INSTALLER = CHECKOUT / "systemd" / "install.sh"


# install.sh's options, mirrored so `--help` lists them and typos fail here: (flag, takes a value, help).
OPTIONS = (
    ("--root", True, "install into ROOT instead of / (offline: nothing is started)"),
    ("--source", True, "the checkout to install (default: the one this command runs from)"),
    ("--python", True, "Python (>= 3.10) for the venv (default: python3)"),
    ("--extras", True, "optional runtime features, comma-separated: mqtt"),
    ("--pip-args", True, "extra arguments for pip install"),
    ("--system-site-packages", False, "let the venv see apt's packages (needed for python3-picamera2)"),
    ("--skip-venv", False, "leave /opt/edge-digits/venv alone"),
    ("--no-enable", False, "install the unit but do not enable it"),
    ("--no-start", False, "do not start or restart the service"),
    ("--uninstall", False, "remove the unit and /opt/edge-digits; keep config, state and logs"),
    ("--purge", False, "with --uninstall: also remove config, state and logs"),
    ("--dry-run", False, "print what would be done and change nothing"),
)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "install-service",
        help="install, update or remove the systemd service (runs systemd/install.sh; as root)",
        description="Runs systemd/install.sh from this checkout; see docs/deploy.md.",
    )
    for flag, takes_value, text in OPTIONS:
        if takes_value:
            p.add_argument(flag, metavar=flag.lstrip("-").upper().replace("-", "_"), help=text)
        else:
            p.add_argument(flag, action="store_true", help=text)
    p.set_defaults(func=main)


def installer_argv(args: argparse.Namespace) -> list[str]:
    argv: list[str] = []
    for flag, takes_value, _ in OPTIONS:
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if takes_value and value is not None:
            argv += [flag, str(value)]
        elif not takes_value and value:
            argv.append(flag)
    if args.source is None:
        argv += ["--source", str(CHECKOUT)]
    return argv


def main(args: argparse.Namespace) -> int:
    if not INSTALLER.is_file():
        log.error(
            "%s: not found; this edge-digits is not a checkout. Clone the repository and run "
            "`sudo systemd/install.sh` from it (see docs/deploy.md)", INSTALLER
        )
        return 2
    bash = shutil.which("bash")
    if bash is None:
        log.error("bash: not found; systemd/install.sh needs it")
        return 2
    return subprocess.run([bash, str(INSTALLER), *installer_argv(args)], check=False).returncode
