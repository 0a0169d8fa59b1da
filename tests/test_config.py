"""The YAML config: defaults, errors that name the key, the example file documenting every key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from edge_digits.config import Config, ConfigError, all_keys, load_config, validate

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_no_file_and_empty_file_give_the_defaults(tmp_path: Path) -> None:
    assert load_config(None) == Config()
    cfg = load_config(write(tmp_path, "# nothing set\n"))
    assert cfg == Config()
    assert cfg.stabilizer.votes == 2 and cfg.stabilizer.window == 3
    assert cfg.outputs.stdout.enabled and not cfg.outputs.preview.enabled


def test_values_are_typed(tmp_path: Path) -> None:
    cfg = load_config(
        write(tmp_path, "source:\n  location: clip.mp4\n  fps: '12.5'\nroi:\n  rect: [1, 2, 30, 40]\n")
    )
    assert cfg.source.fps == 12.5
    assert cfg.roi.rect == (1, 2, 30, 40)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("source:\n  fps: fast\n", r"^config\.yaml: source\.fps: Input should be a valid number"),
        (
            "source:\n  fsp: 10\n",
            r"^config\.yaml: source\.fsp: unknown key \(expected one of: type, location",
        ),
        ("outputs:\n  logfile:\n    max_bytes: lots\n", r"^config\.yaml: outputs\.logfile\.max_bytes: "),
        ("sauce: {}\n", r"^config\.yaml: sauce: unknown key"),
        (
            "stabilizer:\n  window: 6\n  votes: 3\n",
            r"^config\.yaml: stabilizer: votes \(3\) must be more than half",
        ),
        ("roi:\n  rotate: 45\n", r"^config\.yaml: roi\.rotate: Input should be 0, 90, 180 or 270"),
        ("source:\n  type: webcam\n", r"^config\.yaml: source\.type: unknown source type 'webcam'"),
        ("reader:\n  polarity: sideways\n", r"^config\.yaml: reader: polarity: expected one of auto"),
        ("source: [1, 2\n", r"^config\.yaml: line \d+, column \d+: invalid YAML"),
        ("- just\n- a list\n", r"^config\.yaml: expected a mapping"),
    ],
)
def test_errors_name_the_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value).replace(str(tmp_path) + "/", "")
    assert re.search(expected, message), message
    assert "\n" not in message, "one problem, one line"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.yaml")


def test_overrides_are_validated_like_the_file() -> None:
    cfg = load_config(None, {"source.location": "frames/", "outputs.preview.enabled": True})
    assert cfg.source.location == "frames/" and cfg.outputs.preview.enabled
    with pytest.raises(ConfigError, match=r"process\.max_fps"):
        load_config(None, {"process.max_fps": -1})


def test_mqtt_and_meter_sections_are_validated_by_their_own_models() -> None:
    cfg = validate(
        {"outputs": {"mqtt": {"host": "broker.local", "port": 1884}}, "meter": {"enabled": True, "digits": 5}}
    )
    assert cfg.outputs.mqtt is not None and cfg.outputs.mqtt.port == 1884  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"outputs\.mqtt\.port"):
        validate({"outputs": {"mqtt": {"port": "x"}}})
    with pytest.raises(ConfigError, match=r"meter\.colour: unknown key"):
        validate({"meter": {"colour": "red"}})


def _documented_keys(text: str) -> set[str]:
    """Key paths in the example, whether set or commented out (`# key: value` lines count too)."""
    keys: set[str] = set()
    stack: list[tuple[int, str]] = []
    for raw in text.splitlines():
        m = re.match(r"^(\s*)#?\s?(\s*)([a-z_][a-z0-9_]*):(\s|$)", raw)
        if not m:
            continue
        indent = len(m.group(1)) + len(m.group(2))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([p for _, p in stack] + [m.group(3)])
        keys.add(path)
        stack.append((indent, m.group(3)))
    return keys


def test_example_config_is_valid_and_documents_every_key() -> None:
    text = EXAMPLE.read_text()
    cfg = validate(yaml.safe_load(text), "config.example.yaml")
    shown, defaults = cfg.model_dump(), Config().model_dump()
    stale = {
        f"{section}.{key}": (value, defaults[section][key])
        for section, values in shown.items()
        if isinstance(values, dict)
        for key, value in values.items()
        if value != defaults[section].get(key)
    }
    assert not stale, f"config.example.yaml shows values that are not the defaults (shown, default): {stale}"
    documented = _documented_keys(text)
    missing = [k for k in all_keys() if k not in documented]
    assert not missing, f"config.example.yaml does not mention {missing}"
    # Every key line carries a comment explaining it (on the line or just above).
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^\s*[a-z_]+:\s*\S", line) and "#" not in line:
            assert lines[i - 1].strip().startswith("#"), f"line {i + 1} has no comment: {line!r}"
