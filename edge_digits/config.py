"""The daemon's YAML config, validated into typed sections (pydantic, unknown keys rejected).

One model per concern: `source`, `roi`, `quality`, `reader`, `stabilizer`, `model`, `process`,
`heartbeat`, `outputs` (`stdout`, `logfile`, `preview`, `snapshots`, and `mqtt` when the MQTT output is
installed) and `meter`. Every key has a default, so an empty file (or no file) is a valid config.
`load_config()` turns any problem into a `ConfigError` whose message names the file and the key path,
e.g. `config.yaml: source.fps: Input should be a valid number`.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from edge_digits.meter import MeterConfig
from edge_digits.outputs.mqtt import MqttConfig
from edge_digits.reader import ReaderSettings
from edge_digits.runtime import DEFAULT_MODEL

EventType = Literal["reading", "heartbeat", "rejected", "frame"]
DEFAULT_EVENTS: list[EventType] = ["reading", "heartbeat", "rejected"]


class ConfigError(Exception):
    """A config that cannot be used; the message is one line per problem, naming file and key."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# ------------------------------------------------------------------------------------------- sections


class SourceConfig(Section):
    type: str = "auto"  # auto, camera, device, url, file, folder (+ types registered in sources.SOURCE_TYPES)
    location: int | str | None = (
        None  # camera index, /dev/videoN, file, folder or URL; None = camera 0 or sample
    )
    width: int | None = Field(None, gt=0)
    height: int | None = Field(None, gt=0)
    fps: float | None = Field(None, gt=0)
    fourcc: str | None = Field(None, min_length=4, max_length=4)
    backend: Literal["auto", "any", "v4l2", "ffmpeg", "gstreamer"] = "auto"
    loop: bool = False
    realtime: bool = False
    pattern: str = "*"
    stall_timeout_s: float = Field(5.0, gt=0)
    reconnect_initial_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)
    rtsp_transport: Literal["tcp", "udp"] | None = "tcp"

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        from edge_digits.sources import SOURCE_TYPES

        known = ["auto", *SOURCE_TYPES]
        if value not in known:
            raise ValueError(f"unknown source type {value!r}; expected one of {', '.join(known)}")
        return value


class RoiConfig(Section):
    rect: tuple[int, int, int, int] | None = None  # x, y, width, height in frame pixels
    quad: tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]] | None = (
        None
    )
    rotate: Literal[0, 90, 180, 270] = 0
    angle: float = Field(0.0, ge=-45.0, le=45.0)

    @model_validator(mode="after")
    def _one_shape(self) -> RoiConfig:
        if self.rect is not None and self.quad is not None:
            raise ValueError("give either rect or quad, not both")
        if self.rect is not None and (self.rect[2] <= 0 or self.rect[3] <= 0):
            raise ValueError("rect width and height must be positive")
        return self


class QualityConfig(Section):
    dark_below: float = Field(35.0, ge=0, le=255)
    min_contrast: float = Field(6.0, ge=0)
    blur_ratio: float = Field(0.45, ge=0, le=1)
    min_sharpness: float = Field(0.0, ge=0)
    history: int = Field(15, ge=1)


class StabilizerConfig(Section):
    window: int = Field(3, ge=1, le=100)
    votes: int = Field(2, ge=1)
    min_confidence: float = Field(0.8, ge=0, le=1)

    @model_validator(mode="after")
    def _majority(self) -> StabilizerConfig:
        if self.votes > self.window:
            raise ValueError(f"votes ({self.votes}) cannot exceed window ({self.window})")
        if 2 * self.votes <= self.window:
            raise ValueError(f"votes ({self.votes}) must be more than half of window ({self.window})")
        return self


class ModelConfig(Section):
    path: Path | None = None  # None = the model shipped with the package (models/digits_int8.tflite)
    manifest: Path | None = None  # default: manifest.json next to the model
    threads: int = Field(2, ge=1, le=16)
    backend: Literal["ai-edge-litert", "tflite-runtime", "tensorflow.lite"] | None = None
    verify: bool = True
    # The turning-drum network (a counter drum caught between two digits reads the leaving one);
    # turning_path None = the one shipped (models/turning_int8.tflite), used when it is there.
    turning: bool = True
    turning_path: Path | None = None

    @property
    def file(self) -> Path:
        return self.path if self.path is not None else DEFAULT_MODEL


class ProcessConfig(Section):
    max_fps: float = Field(5.0, ge=0)  # 0 = as fast as frames come
    status_every_s: float = Field(5.0, gt=0)


class HeartbeatConfig(Section):
    interval_s: float = Field(60.0, ge=0)  # 0 = no heartbeat


class StdoutConfig(Section):
    enabled: bool = True
    events: list[EventType] = Field(default_factory=lambda: list(DEFAULT_EVENTS))


def default_log_path() -> Path:
    # systemd's LogsDirectory= arrives as $LOGS_DIRECTORY.
    base = os.environ.get("LOGS_DIRECTORY", "").split(":")[0]
    return Path(base or ".") / "readings.jsonl"


class LogfileConfig(Section):
    enabled: bool = False
    path: Path | None = None  # None = readings.jsonl in $LOGS_DIRECTORY or the working directory

    @property
    def file(self) -> Path:
        return self.path if self.path is not None else default_log_path()

    max_bytes: int = Field(1_000_000, ge=1024)
    backups: int = Field(5, ge=1, le=1000)
    events: list[EventType] = Field(default_factory=lambda: list(DEFAULT_EVENTS))


class PreviewConfig(Section):
    enabled: bool = False
    backend: Literal["auto", "window", "null"] = "auto"
    title: str = "edge-digits"
    scale: float = Field(1.0, gt=0, le=4)


class SnapshotsConfig(Section):
    dir: Path | None = None  # set to save an annotated frame on every change of the stable reading
    format: Literal["jpg", "png"] = "jpg"
    keep: int = Field(500, ge=0)  # newest files kept; 0 = keep all


class OutputsConfig(Section):
    stdout: StdoutConfig = Field(default_factory=StdoutConfig)
    logfile: LogfileConfig = Field(default_factory=LogfileConfig)
    preview: PreviewConfig = Field(default_factory=PreviewConfig)
    snapshots: SnapshotsConfig = Field(default_factory=SnapshotsConfig)
    mqtt: MqttConfig | None = None


# The reader section mirrors the engine's ReaderSettings dataclass field by field, so a new engine
# setting is configurable (and an unknown one rejected) without touching this file.
def _reader_model() -> type[BaseModel]:
    hints = typing.get_type_hints(ReaderSettings)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(ReaderSettings):
        if f.default is not dataclasses.MISSING:
            fields[f.name] = (hints[f.name], f.default)
        elif f.default_factory is not dataclasses.MISSING:
            fields[f.name] = (hints[f.name], Field(default_factory=f.default_factory))
        else:
            fields[f.name] = (hints[f.name], ...)

    def _engine_accepts(self: BaseModel) -> BaseModel:
        # The engine checks combinations of its settings itself; its ValueError names the setting.
        ReaderSettings(**{name: getattr(self, name) for name in type(self).model_fields})
        return self

    validators = {"_engine_accepts": model_validator(mode="after")(_engine_accepts)}
    return create_model("ReaderConfig", __base__=Section, __validators__=validators, **fields)


ReaderConfig = _reader_model()


def reader_settings(cfg: BaseModel) -> ReaderSettings:
    """The engine's ReaderSettings for a `reader:` section."""
    return ReaderSettings(**{name: getattr(cfg, name) for name in type(cfg).model_fields})


class Config(Section):
    source: SourceConfig = Field(default_factory=SourceConfig)
    roi: RoiConfig = Field(default_factory=RoiConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    reader: ReaderConfig = Field(default_factory=ReaderConfig)  # type: ignore[valid-type]
    stabilizer: StabilizerConfig = Field(default_factory=StabilizerConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    process: ProcessConfig = Field(default_factory=ProcessConfig)
    heartbeat: HeartbeatConfig = Field(default_factory=HeartbeatConfig)
    outputs: OutputsConfig = Field(default_factory=OutputsConfig)
    meter: MeterConfig = Field(default_factory=MeterConfig)


# ------------------------------------------------------------------------------------------- loading


def _describe(err: Any, model: type[BaseModel]) -> str:
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        parent = _model_at(model, err["loc"][:-1])
        known = ", ".join(parent.model_fields) if parent is not None else ""
        return f"{loc}: unknown key" + (f" (expected one of: {known})" if known else "")
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if err["type"] not in ("missing", "value_error", "assertion_error") and "input" in err:
        shown = repr(err["input"])
        if len(shown) <= 60:
            msg += f" (got {shown})"
    return f"{loc}: {msg}"


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The section model at a key path, for listing the keys it accepts."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = field.annotation
        for arg in typing.get_args(current) or ():
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                current = arg
                break
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def validate(data: Any, where: str = "config") -> Config:
    """A raw mapping → Config, or ConfigError naming `where` and the key paths at fault."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of sections (source:, outputs:, …) at the top level")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        lines = [f"{where}: {_describe(e, Config)}" for e in exc.errors()]
        raise ConfigError("\n".join(lines)) from None


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ConfigError(f"{path}: {at}invalid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (source:, outputs:, …) at the top level")
    return data


def set_key(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `a.b.c` in a nested mapping (command-line overrides), creating sections as needed."""
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[last] = value


def load_config(path: str | os.PathLike[str] | None, overrides: dict[str, Any] | None = None) -> Config:
    """Read, override (`{"source.location": "clip.mp4"}`) and validate; ConfigError on any problem."""
    data = read_yaml(path) if path is not None else {}
    for key, value in (overrides or {}).items():
        set_key(data, key, value)
    where = str(path) if path is not None else "config"
    return validate(data, where)


def all_keys(model: type[BaseModel] = Config, prefix: str = "") -> list[str]:
    """Every key path of the config (for checking that the example documents them all)."""
    keys: list[str] = []
    for name, _field in model.model_fields.items():
        path = f"{prefix}{name}"
        keys.append(path)
        sub = _model_at(model, (name,))
        if sub is not None:
            keys.extend(all_keys(sub, path + "."))
    return keys
