"""systemd/edge-digits.service: `systemd-analyze verify` clean, `security --offline=true` exposure ≤ 2.0,
and the settings the camera and the daemon depend on.

`verify` checks that ExecStart's binary exists, so it runs with `--root` on a throw-away tree holding the
unit exactly as shipped, an executable at /opt/edge-digits/venv/bin/edge-digits and a copy of the
host's system units (sysinit.target & co. are loaded as dependencies). No rewritten copy of the unit.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "systemd" / "edge-digits.service"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
HOST_UNITS = next(
    (p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir()), None
)
EXPOSURE_BAR = 2.0

needs_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None and not os.environ.get("CI"),
    reason="systemd-analyze not installed (tools/system-deps.sh installs the systemd package)",
)


def unit_settings(path: Path = UNIT) -> dict[str, dict[str, list[str]]]:
    """section → key → every value (keys like DeviceAllow= repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def fake_root(tmp_path: Path, with_binary: bool = True) -> Path:
    root = tmp_path / "root"
    (root / "etc/systemd/system").mkdir(parents=True)
    shutil.copy2(UNIT, root / "etc/systemd/system" / UNIT.name)
    assert HOST_UNITS is not None, "no /usr/lib/systemd/system on this machine"
    shutil.copytree(HOST_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    if with_binary:
        exe = root / "opt/edge-digits/venv/bin/edge-digits"
        exe.parent.mkdir(parents=True)
        exe.write_text("#!/bin/sh\nexit 0\n")
        exe.chmod(0o755)
    return root


def verify(root: Path) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    return subprocess.run(
        [SYSTEMD_ANALYZE, "verify", f"--root={root}", UNIT.name],
        capture_output=True, text=True, timeout=120,
    )


@needs_analyze
def test_verify_is_clean(tmp_path: Path) -> None:
    result = verify(fake_root(tmp_path))
    # verify exits 0 even for unknown keys, only warning about them: "clean" means no output at all.
    assert result.returncode == 0 and result.stderr == "" and result.stdout == "", result.stderr


@needs_analyze
def test_verify_reads_the_unit_in_the_root(tmp_path: Path) -> None:
    """The check above is not vacuous: the same call fails when the root lacks the daemon."""
    result = verify(fake_root(tmp_path, with_binary=False))
    assert result.returncode != 0
    assert "/opt/edge-digits/venv/bin/edge-digits" in result.stderr


@needs_analyze
def test_security_exposure_is_ok() -> None:
    assert SYSTEMD_ANALYZE is not None
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    match = re.search(r"Overall exposure level for edge-digits\.service: (\d+\.\d+) (\w+)", result.stdout)
    assert match, result.stdout[-2000:]
    exposure, verdict = float(match.group(1)), match.group(2)
    assert exposure <= EXPOSURE_BAR and verdict == "OK", f"exposure {exposure} {verdict}"
    # Spot checks that the score comes from the sandbox, not from luck in the weighting.
    for line in ("✓ User=/DynamicUser=", "✓ ProtectSystem=", "✓ CapabilityBoundingSet=~CAP_SYS_ADMIN",
                 "✓ MemoryDenyWriteExecute=", "✓ SystemCallFilter=~@privileged"):
        assert line in result.stdout, line


def test_the_camera_stays_reachable() -> None:
    """A sandbox that hides /dev/video* would score better and read nothing."""
    service = unit_settings()["Service"]
    assert service.get("PrivateDevices", ["no"]) == ["no"]
    assert service["DevicePolicy"] == ["closed"]
    allowed = set(service["DeviceAllow"])
    assert {"char-video4linux rw", "char-media rw", "char-dma_heap rw"} <= allowed
    assert service["SupplementaryGroups"] == ["video"]
    assert service.get("PrivateUsers", ["no"]) == ["no"]  # it would unmap the video group
    families = service["RestrictAddressFamilies"][0].split()
    assert "AF_UNIX" in families  # the notify socket and the journal


def test_notify_watchdog_and_restart_policy() -> None:
    sections = unit_settings()
    service, unit = sections["Service"], sections["Unit"]
    assert service["Type"] == ["notify"] and service["NotifyAccess"] == ["main"]
    assert service["Restart"] == ["on-failure"]
    watchdog = int(service["WatchdogSec"][0].rstrip("s"))
    restart = int(service["RestartSec"][0].rstrip("s"))
    burst, interval = int(unit["StartLimitBurst"][0]), int(unit["StartLimitIntervalSec"][0])
    # A camera that stalls costs ≥ WatchdogSec + RestartSec per restart: that cadence must never trip the
    # start limit (the service would stay failed after the camera comes back), a fast crash loop must.
    assert interval // (watchdog + restart) + 1 < burst
    assert burst * restart < interval
    assert set(service["RestartPreventExitStatus"][0].split()) == {"2", "3"}  # config/model errors


def test_execstart_matches_the_installer_and_the_cli() -> None:
    from edge_digits.cli import build_parser

    service = unit_settings()["Service"]
    exec_start = service["ExecStart"][0].split()
    assert exec_start[0] == "/opt/edge-digits/venv/bin/edge-digits"
    installer = (REPO / "systemd" / "install.sh").read_text()
    assert 'OPT="$ROOT/opt/$NAME"' in installer and 'VENV="$OPT/venv"' in installer
    # The config arrives as a credential; the path the daemon is given must parse as `run --config`.
    assert service["LoadCredential"] == ["config.yaml:/etc/edge-digits/config.yaml"]
    argv = [a.replace("%d", "/run/credentials/edge-digits.service") for a in exec_start[1:]]
    args = build_parser().parse_args(argv)
    assert args.command == "run" and str(args.config) == "/run/credentials/edge-digits.service/config.yaml"


def test_every_service_setting_is_explained() -> None:
    """Each setting in [Service] sits under a comment, alone or in a small block of related settings."""
    lines = UNIT.read_text().splitlines()
    in_service = False
    since_comment = 0
    for line in lines:
        text = line.strip()
        if text.startswith("["):
            in_service = text == "[Service]"
            since_comment = 99
            continue
        if text.startswith("#"):
            since_comment = 0
        elif text and in_service:
            since_comment += 1
            assert since_comment <= 2, f"no comment explains {text!r}"
        elif not text:
            since_comment = 99


# ----------------------------------------------------------------- the daemon inside the unit's sandbox
# No systemd runs here, so the two settings most likely to break a Python/OpenCV/TFLite process are
# reproduced around a real daemon run on a folder of frames: the system call filter (strace injects EPERM
# into every call the unit's SystemCallFilter= lines leave out, as SystemCallErrorNumber=EPERM does) and
# MemoryDenyWriteExecute= (the kernel's own PR_SET_MDWE, Linux ≥ 6.3).

STRACE = shutil.which("strace")


def syscall_groups() -> dict[str, list[str]]:
    assert SYSTEMD_ANALYZE is not None
    out = subprocess.run([SYSTEMD_ANALYZE, "syscall-filter", "--no-pager"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    groups: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in out.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.split()[0], [])
        elif current is not None and line.strip() and not line.strip().startswith("#"):
            current.append(line.split()[0])
    return groups


def allowed_syscalls() -> set[str]:
    groups = syscall_groups()

    def expand(name: str) -> set[str]:
        return set().union(*(expand(m) for m in groups[name])) if name.startswith("@") else {name}

    allowed: set[str] = set()
    for value in unit_settings()["Service"]["SystemCallFilter"]:
        deny = value.startswith("~")
        names = set().union(*(expand(n) for n in value.lstrip("~").split()))
        allowed = allowed - names if deny else allowed | names
    return allowed


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import cv2
    import numpy as np

    folder = tmp_path_factory.mktemp("frames")
    for i in range(4):
        img = np.full((240, 320, 3), 235, np.uint8)
        cv2.putText(img, "4711", (20, 150), cv2.FONT_HERSHEY_SIMPLEX, 2.5, (20, 20, 20), 6, cv2.LINE_AA)
        cv2.imwrite(str(folder / f"{i:03d}.png"), img)
    return folder


def run_daemon(prefix: list[str], frames: Path) -> subprocess.CompletedProcess[str]:
    """`PREFIX run --source FRAMES`, where PREFIX starts the edge-digits CLI."""
    model = REPO / "models" / "digits_int8.tflite"
    if not model.is_file():
        pytest.fail(f"{model}: missing")
    return subprocess.run(
        [*prefix, "run", "--source", str(frames)],
        capture_output=True, text=True, timeout=180, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def read_4711(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode == 0 and '"text":"4711"' in result.stdout.replace(" ", "")


@needs_analyze
@pytest.mark.skipif(STRACE is None and not os.environ.get("CI"), reason="strace not installed")
def test_daemon_works_inside_the_system_call_filter(frames: Path) -> None:
    import sys

    assert STRACE is not None
    allowed = ",".join(f"?{name}" for name in sorted(allowed_syscalls()))
    jail = [STRACE, "-f", "-qq", "-o", os.devnull, "-e", f"trace=!{allowed}",
            "-e", f"inject=!{allowed}:error=EPERM", sys.executable]
    # Control: a call the filter removes (setuid is in @privileged) really fails inside the jail.
    control = subprocess.run([*jail, "-c", "import os; os.setuid(os.getuid())"], capture_output=True,
                             text=True, timeout=60)
    assert control.returncode != 0 and "PermissionError" in control.stderr
    result = run_daemon([*jail, "-m", "edge_digits"], frames)
    assert read_4711(result), result.stderr[-3000:]


def test_daemon_works_without_writable_executable_memory(frames: Path) -> None:
    import platform
    import sys

    major, minor = (int(v) for v in platform.release().split(".")[:2])
    if (major, minor) < (6, 3):
        pytest.skip(f"PR_SET_MDWE needs Linux ≥ 6.3 (this is {platform.release()})")
    mdwe = (
        "import ctypes, mmap, runpy, sys\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "assert libc.prctl(65, 1, 0, 0, 0) == 0, 'PR_SET_MDWE failed'\n"  # PR_MDWE_REFUSE_EXEC_GAIN
        "try:\n"
        "    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
        "    sys.exit('W+X mapping allowed: MDWE not in force')\n"
        "except PermissionError:\n"
        "    pass\n"
        "sys.argv[0] = 'edge-digits'\n"
        "runpy.run_module('edge_digits', run_name='__main__')\n"
    )
    result = run_daemon([sys.executable, "-c", mdwe], frames)
    assert read_4711(result), result.stderr[-3000:]
