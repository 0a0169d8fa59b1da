"""systemd/install.sh against a temporary root: files, modes, idempotence, dry run, uninstall, purge.

The fast tests pass --skip-venv (a real venv costs ~1 min and ~360 MB); one slow test builds the real
runtime venv from the checkout and checks that it runs without TensorFlow.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
INSTALLER = REPO / "systemd" / "install.sh"
UNIT = "edge-digits.service"
MODEL_PATH = "/opt/edge-digits/models/digits_int8.tflite"

Snapshot = dict[str, tuple[str, ...]]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A frozen copy of the checkout: the installer is run twice and must see the same source both times,
    whatever else is being edited meanwhile."""
    copy = tmp_path_factory.mktemp("checkout") / "edge-digits"
    ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", ".pytest_cache",
                                    ".ruff_cache", ".hypothesis", "build", "dist", "tests", "runs", "out")
    shutil.copytree(REPO, copy, ignore=ignore, symlinks=True)
    return copy


def run_installer(
    *args: str, check: bool = True, installer: Path = INSTALLER
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["bash", str(installer), *args], capture_output=True, text=True, timeout=600,
        env={**os.environ, "LC_ALL": "C"},
    )
    if check:
        assert result.returncode == 0, f"install.sh {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return result


def install(
    root: Path, *extra: str, check: bool = True, source: Path = REPO
) -> subprocess.CompletedProcess[str]:
    return run_installer("--root", str(root), "--source", str(source), *extra, check=check,
                         installer=source / "systemd" / "install.sh")


def snapshot(root: Path, content_under: tuple[str, ...] = ()) -> Snapshot:
    """Every path under root with its type, mode and content hash (link target for symlinks).

    Files below a prefix in `content_under` are compared by size and mtime instead of hashing them all,
    which is as strict for "nothing was rewritten" and much faster on a 360 MB venv."""
    tree: Snapshot = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        st = path.lstat()
        mode = oct(stat.S_IMODE(st.st_mode))
        if path.is_symlink():
            tree[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            tree[rel] = ("dir", mode, str(st.st_uid), str(st.st_gid))
        elif rel.startswith(content_under):
            tree[rel] = ("file", mode, str(st.st_size), str(st.st_mtime_ns))
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            tree[rel] = ("file", mode, str(st.st_uid), str(st.st_gid), digest)
    return tree


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    r.mkdir()
    return r


def test_installs_unit_config_and_model(root: Path) -> None:
    result = install(root, "--skip-venv")
    unit = root / "etc/systemd/system" / UNIT
    assert unit.read_bytes() == (REPO / "systemd" / UNIT).read_bytes()
    assert oct(unit.stat().st_mode & 0o7777) == "0o644"
    wants = root / "etc/systemd/system/multi-user.target.wants" / UNIT
    assert os.readlink(wants) == f"/etc/systemd/system/{UNIT}"

    etc = root / "etc/edge-digits"
    config = etc / "config.yaml"
    # Root-only (it may hold the MQTT password); the service reads it through LoadCredential=.
    assert oct(etc.stat().st_mode & 0o7777) == "0o750"
    assert oct(config.stat().st_mode & 0o7777) == "0o640"
    assert (config.stat().st_uid, config.stat().st_gid) == (os.getuid(), os.getgid())

    for name in ("digits_int8.tflite", "manifest.json", "turning_int8.tflite", "turning_manifest.json"):
        installed = root / "opt/edge-digits/models" / name
        assert installed.read_bytes() == (REPO / "models" / name).read_bytes()
        assert oct(installed.stat().st_mode & 0o7777) == "0o644"
    # systemd creates these at start for the dynamic user; the installer must not.
    assert not (root / "var/lib/edge-digits").exists() and not (root / "var/log/edge-digits").exists()
    assert not (root / "opt/edge-digits/venv").exists()
    assert "enable edge-digits.service" in result.stdout


def test_config_is_the_example_adjusted_for_the_service(root: Path) -> None:
    from edge_digits.config import load_config

    install(root, "--skip-venv")
    config = root / "etc/edge-digits/config.yaml"
    cfg = load_config(config)
    assert str(cfg.model.path) == MODEL_PATH
    assert str(cfg.model.turning_path) == MODEL_PATH.replace("digits_int8", "turning_int8")
    # Camera 0, not "unset": unset falls back to the sample clip when no camera is there (yet) at boot.
    assert cfg.source.location == 0
    # Everything else is the example's.
    example = load_config(REPO / "config.example.yaml")
    restored = cfg.model_copy(update={
        "model": example.model,
        "source": cfg.source.model_copy(update={"location": example.source.location}),
    })
    assert restored == example
    # The example's comments survive (it documents every key), and the three changes say why.
    text = config.read_text()
    assert text.count("#") == (REPO / "config.example.yaml").read_text().count("#") + 3
    assert text.count("set by install.sh") == 3


def test_second_run_changes_nothing(root: Path) -> None:
    install(root, "--skip-venv")
    before = snapshot(root)
    result = install(root, "--skip-venv")
    assert snapshot(root) == before
    assert "everything up to date" in result.stdout


def test_existing_config_is_never_overwritten(root: Path) -> None:
    install(root, "--skip-venv")
    config = root / "etc/edge-digits/config.yaml"
    config.write_text("source:\n  location: /dev/video2\n")
    install(root, "--skip-venv")
    assert config.read_text() == "source:\n  location: /dev/video2\n"


def test_changed_files_are_repaired(root: Path) -> None:
    install(root, "--skip-venv")
    expected = snapshot(root)
    unit = root / "etc/systemd/system" / UNIT
    unit.write_text("[Service]\nExecStart=/bin/false\n")
    model = root / "opt/edge-digits/models/manifest.json"
    model.chmod(0o600)
    result = install(root, "--skip-venv")
    assert snapshot(root) == expected
    assert f"install {unit}" in result.stdout and f"chmod 0644 {model}" in result.stdout


def test_dry_run_changes_nothing(root: Path) -> None:
    result = install(root, "--dry-run")
    assert list(root.iterdir()) == []
    lines = result.stdout.splitlines()
    assert f"install.sh: would create venv {root}/opt/edge-digits/venv" in lines
    assert f"install.sh: would install {root}/etc/systemd/system/{UNIT}" in lines
    assert "install.sh: would enable edge-digits.service" in lines
    assert lines[-1] == "install.sh: dry run: nothing was changed"

    install(root, "--skip-venv")
    (root / "etc/systemd/system" / UNIT).write_text("stale\n")
    before = snapshot(root)
    result = install(root, "--skip-venv", "--dry-run")
    assert snapshot(root) == before
    assert f"would install {root}/etc/systemd/system/{UNIT}" in result.stdout
    result = run_installer("--root", str(root), "--uninstall", "--purge", "--dry-run")
    assert snapshot(root) == before
    assert f"would remove {root}/etc/edge-digits" in result.stdout


def test_no_enable_leaves_the_unit_disabled(root: Path) -> None:
    install(root, "--skip-venv", "--no-enable")
    assert (root / "etc/systemd/system" / UNIT).is_file()
    assert not (root / "etc/systemd/system/multi-user.target.wants" / UNIT).exists()


def simulate_service_start(root: Path) -> None:
    """What systemd does for StateDirectory=/LogsDirectory= with DynamicUser=yes."""
    for kind in ("lib", "log"):
        private = root / f"var/{kind}/private/edge-digits"
        private.mkdir(parents=True)
        (private / "written-by-the-service").write_text("x")
        (root / f"var/{kind}/edge-digits").symlink_to("private/edge-digits")


def test_uninstall_keeps_config_and_data_then_purge_removes_them(root: Path) -> None:
    install(root, "--skip-venv")
    (root / "opt/edge-digits/venv/bin").mkdir(parents=True)  # stands in for the venv
    simulate_service_start(root)
    (root / "etc/systemd/system" / f"{UNIT}.d").mkdir()
    (root / "etc/systemd/system" / f"{UNIT}.d/override.conf").write_text("[Service]\n")

    result = run_installer("--root", str(root), "--uninstall")
    assert not (root / "etc/systemd/system" / UNIT).exists()
    assert not (root / "etc/systemd/system/multi-user.target.wants").exists()
    assert not (root / "opt/edge-digits").exists()
    assert (root / "opt").is_dir()  # a system directory, not ours
    assert (root / "etc/edge-digits/config.yaml").is_file()
    for kind in ("lib", "log"):
        assert (root / f"var/{kind}/edge-digits/written-by-the-service").is_file()
    assert "kept" in result.stdout

    assert "nothing to remove" in run_installer("--root", str(root), "--uninstall").stdout

    run_installer("--root", str(root), "--uninstall", "--purge")
    leftovers = sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())
    assert leftovers == []


def test_bad_usage_exits_2_with_one_clear_line(root: Path, tmp_path: Path) -> None:
    cases = [
        (["--bogus"], "unknown option --bogus"),
        (["--root", str(root), "--purge"], "--purge only goes with --uninstall"),
        (["--root", str(root), "--extras", "mqtt,convert"], "--extras convert: unknown"),
        (["--root", str(tmp_path / "missing")], "not a directory"),
        (["--root", str(root), "--source", str(tmp_path)], "config.example.yaml: missing"),
        (["--root", str(root), "--source", str(REPO), "--python", "/nonexistent/python3"], "not found"),
    ]
    if (tmp_path / "setup.cfg").exists():
        pytest.fail("tmp_path unexpectedly looks like a checkout")
    for d in ("edge_digits", "systemd"):
        (tmp_path / d).mkdir()
    (tmp_path / "setup.cfg").write_text("")
    (tmp_path / "edge_digits/__init__.py").write_text("")
    (tmp_path / "systemd" / UNIT).write_text("")
    for args, message in cases:
        result = run_installer(*args, check=False)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
    assert list(root.iterdir()) == []


@pytest.mark.skipif(shutil.which("systemd-analyze") is None and not os.environ.get("CI"),
                    reason="systemd-analyze not installed (tools/system-deps.sh installs systemd)")
def test_installed_tree_passes_systemd_analyze_verify(root: Path) -> None:
    install(root, "--skip-venv")
    exe = root / "opt/edge-digits/venv/bin/edge-digits"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    host_units = next(p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir())
    shutil.copytree(host_units, root / "usr/lib/systemd/system", symlinks=True, dirs_exist_ok=True)
    result = subprocess.run(["systemd-analyze", "verify", f"--root={root}", UNIT],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    enabled = subprocess.run(["systemctl", f"--root={root}", "is-enabled", UNIT],
                             capture_output=True, text=True, timeout=60)
    assert enabled.stdout.strip() == "enabled"


@pytest.mark.slow
def test_real_runtime_venv_has_no_tensorflow_and_is_idempotent(root: Path, checkout: Path) -> None:
    """Builds the venv for real (pip from the local checkout, downloads cached by pip): ~1 min."""
    python = getattr(sys, "_base_executable", sys.executable)
    install(root, "--python", python, "--extras", "mqtt", source=checkout)
    venv = root / "opt/edge-digits/venv"
    help_out = subprocess.run([str(venv / "bin/edge-digits"), "run", "--help"],
                              capture_output=True, text=True, timeout=120)
    assert help_out.returncode == 0 and "--config" in help_out.stdout, help_out.stderr
    no_tf = subprocess.run([str(venv / "bin/python"), "-c", "import tensorflow"],
                           capture_output=True, text=True, timeout=120)
    assert no_tf.returncode != 0 and "No module named 'tensorflow'" in no_tf.stderr
    imports = subprocess.run(
        [str(venv / "bin/python"), "-c",
         "import sys, paho.mqtt, edge_digits.daemon, edge_digits.runtime as r; r.load_interpreter_class();"
         "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'convert')))"],
        capture_output=True, text=True, timeout=120,
    )
    assert imports.returncode == 0, imports.stderr
    assert imports.stdout.strip() == "[]"
    pyvenv = (venv / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in pyvenv
    # The dynamic user must be able to read everything it runs (root's umask may be 077).
    unreadable = [p for p in venv.rglob("*") if not p.is_symlink() and not p.stat().st_mode & stat.S_IROTH]
    assert unreadable == []

    before = snapshot(root, content_under=("opt/edge-digits/venv/",))
    result = install(root, "--python", python, "--extras", "mqtt", source=checkout)
    assert "venv " + str(venv) + " up to date" in result.stdout
    assert snapshot(root, content_under=("opt/edge-digits/venv/",)) == before

    run_installer("--root", str(root), "--uninstall")
    assert not (root / "opt/edge-digits").exists()
    assert (root / "etc/edge-digits/config.yaml").exists()


def test_install_service_command_runs_the_installer(root: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "edge_digits", "install-service", "--root", str(root), "--skip-venv",
         "--dry-run"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert f"would install {root}/etc/systemd/system/{UNIT}" in result.stdout
    assert list(root.iterdir()) == []


def test_system_site_packages_venv_gets_a_numpy2_simplejpeg(root: Path) -> None:
    """For the Pi camera: apt's picamera2 is visible in the venv, its simplejpeg replaced (numpy 2 ABI)."""
    result = install(root, "--system-site-packages", "--dry-run")
    lines = result.stdout.splitlines()
    venv = root / "opt/edge-digits/venv"
    assert lines[:3] == [
        f"install.sh: would create venv {venv}",
        f"install.sh: would pip install edge-digits from {REPO} into {venv}",
        f"install.sh: would pip install a numpy-2 simplejpeg for picamera2 into {venv}",
    ]
    assert list(root.iterdir()) == []


def test_enables_without_systemctl(root: Path, tmp_path: Path) -> None:
    """Minimal images may lack systemctl: the installer writes the WantedBy= symlink itself, the same one."""
    tools = ["dirname", "mktemp", "cat", "grep", "stat", "cmp", "install", "chmod", "mv", "rm", "rmdir", "ls",
             "readlink", "ln", "awk", "id", "tar", "find", "sort", "xargs", "sha256sum", "cut"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    result = subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(INSTALLER), "--root", str(root), "--source", str(REPO),
         "--skip-venv"],
        capture_output=True, text=True, timeout=120, env={"PATH": str(bin_dir), "LC_ALL": "C"},
    )
    assert result.returncode == 0, result.stderr
    assert "multi-user.target.wants symlink" in result.stdout
    wants = root / "etc/systemd/system/multi-user.target.wants" / UNIT
    assert os.readlink(wants) == f"/etc/systemd/system/{UNIT}"
    with_systemctl = tmp_path / "with-systemctl"
    with_systemctl.mkdir()
    install(with_systemctl, "--skip-venv")
    assert snapshot(root) == snapshot(with_systemctl)
