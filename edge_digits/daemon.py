"""The frame loop: capture → ROI → quality → read → stabilise → outputs, until told to stop.

Process behaviour: at most `process.max_fps` frames are processed per second (a live source hands over
its freshest frame after the wait); SIGTERM/SIGINT finish the current frame, flush the outputs, release
the camera and exit 0; SIGHUP re-reads the config file and swaps in what changed (a bad new config is
logged and the old one kept). systemd hears READY=1 once the model is loaded and the first frame arrived,
WATCHDOG=1 only while frames arrive, STATUS= with fps and the last reading, and STOPPING=1 at the end.

Exit codes: 0 done (end of a file, signal, `q` in the preview), 1 runtime failure, 2 bad config or
source, 3 model missing or failing its manifest check.
"""

from __future__ import annotations

import logging
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_digits import quality as quality_mod
from edge_digits import roi as roi_mod
from edge_digits.config import Config, ConfigError, load_config, reader_settings
from edge_digits.notify import Notifier
from edge_digits.outputs.base import (
    FrameOutput,
    FrameView,
    Output,
    frame_event,
    heartbeat_event,
    reading_event,
    rejected_event,
)
from edge_digits.outputs.preview import QUIT, PreviewBackend, PreviewError, PreviewOutput, make_backend
from edge_digits.reading import Reading
from edge_digits.runtime import DigitClassifier, ModelError, load_turning_model
from edge_digits.sources import EndOfStream, FrameSource, SourceError, open_source
from edge_digits.stabilize import (
    NoRules,
    Observation,
    Rejection,
    Rules,
    Stabilizer,
    StabilizerSettings,
)

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG, EXIT_MODEL = 0, 1, 2, 3
# Consecutive frames whose processing raised before the daemon gives up (exit 1): one bad frame is
# logged and skipped, a systematic failure should surface to systemd.
MAX_CONSECUTIVE_ERRORS = 50


class StartupError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------------------------- meter hook


def build_rules(cfg: Config) -> Rules:
    """Meter mode's plausibility rules (edge_digits.meter) around the vote, or none."""
    if not cfg.meter.enabled:
        return NoRules()
    from edge_digits.meter import MeterRules, MeterVote

    return MeterVote(MeterRules.from_config(cfg.meter), cfg.stabilizer.min_confidence)


# ------------------------------------------------------------------------------------- pipeline


def load_classifier(cfg: Config) -> DigitClassifier:
    m = cfg.model
    return DigitClassifier(m.file, m.manifest, num_threads=m.threads, backend=m.backend, verify=m.verify)


def load_turning(cfg: Config) -> DigitClassifier | None:
    m = cfg.model
    return load_turning_model(m.turning_path, m.backend, m.verify) if m.turning else None


def build_reader(classifier: DigitClassifier, cfg: Config, turning: DigitClassifier | None = None) -> Any:
    from edge_digits.reader import DigitReader

    return DigitReader(classifier, reader_settings(cfg.reader), turning)


def build_outputs(cfg: Config, preview_backend: PreviewBackend | None = None) -> dict[str, Output]:
    """Outputs by config name; raises StartupError (exit 2) naming the key when one cannot start."""
    from edge_digits.outputs.logfile import LogfileOutput
    from edge_digits.outputs.snapshots import SnapshotsOutput
    from edge_digits.outputs.stdout import StdoutOutput

    o = cfg.outputs
    outputs: dict[str, Output] = {}
    try:
        if o.stdout.enabled:
            outputs["stdout"] = StdoutOutput()
        if o.logfile.enabled:
            try:
                outputs["logfile"] = LogfileOutput(o.logfile.file, o.logfile.max_bytes, o.logfile.backups)
            except OSError as exc:
                raise StartupError(
                    f"outputs.logfile.path: {o.logfile.file}: {exc.strerror or exc}", EXIT_CONFIG
                ) from None
        snapshots = None
        if o.snapshots.dir is not None:
            try:
                snapshots = SnapshotsOutput(o.snapshots.dir, o.snapshots.format, o.snapshots.keep)
            except OSError as exc:
                raise StartupError(
                    f"outputs.snapshots.dir: {o.snapshots.dir}: {exc.strerror or exc}", EXIT_CONFIG
                ) from None
            outputs["snapshots"] = snapshots
        if o.preview.enabled:
            try:
                backend = preview_backend or make_backend(o.preview.backend, o.preview.title)
            except PreviewError as exc:
                raise StartupError(f"outputs.preview: {exc}", EXIT_CONFIG) from None
            snap_dir = o.snapshots.dir or Path("snapshots")
            outputs["preview"] = PreviewOutput(backend, o.preview.scale, snapshots, snap_dir)
        if o.mqtt is not None:
            from edge_digits.outputs.mqtt import MqttOutput

            try:
                outputs["mqtt"] = MqttOutput(o.mqtt, meter=cfg.meter.enabled)
            except Exception as exc:
                raise StartupError(f"outputs.mqtt: {exc}", EXIT_CONFIG) from None
    except BaseException:
        close_outputs(outputs)
        raise
    return outputs


def close_outputs(outputs: dict[str, Output]) -> None:
    for name, out in outputs.items():
        try:
            out.close()
        except Exception:
            log.exception("output %s: error while closing", name)


def _wanted_events(cfg: Config, name: str) -> set[str] | None:
    section = getattr(cfg.outputs, name, None)
    events = getattr(section, "events", None)
    return set(events) if events is not None else None


@dataclass
class Stats:
    started: float = field(default_factory=time.monotonic)
    frames: int = 0
    errors: int = 0
    last_latency_ms: float | None = None
    last_frame: int = -1
    _times: deque[float] = field(default_factory=lambda: deque(maxlen=30))

    def tick(self, now: float) -> None:
        self.frames += 1
        self._times.append(now)

    @property
    def fps(self) -> float:
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0


# ------------------------------------------------------------------------------------- the daemon


class Daemon:
    def __init__(
        self,
        config: Config,
        config_path: Path | None = None,
        overrides: dict[str, Any] | None = None,
        once: bool = False,
        notifier: Notifier | None = None,
        preview_backend: PreviewBackend | None = None,
    ) -> None:
        self.cfg = config
        self.config_path = config_path
        self.overrides = overrides or {}
        self.once = once
        self.notifier = notifier or Notifier()
        self.preview_backend = preview_backend
        self.stats = Stats()
        self._stop_signal: str | None = None
        self._reload_requested = False
        self._ready = False
        self.classifier: DigitClassifier | None = None
        self.turning: DigitClassifier | None = None
        self.reader: Any = None
        self.source: FrameSource | None = None
        self.outputs: dict[str, Output] = {}
        self._wanted: dict[str, set[str] | None] = {}
        self._recording_epoch: float | None = None  # wall time of position 0 of the file being read
        self.stabilizer = Stabilizer()
        self._configure_pipeline(config)

    # -- building blocks (also used on reload)

    def _configure_pipeline(self, cfg: Config) -> None:
        q = cfg.quality
        self.limits = quality_mod.QualityLimits(
            q.dark_below, q.min_contrast, q.blur_ratio, q.min_sharpness, q.history
        )
        self.blur = quality_mod.BlurJudge(self.limits)
        s = cfg.stabilizer
        stable = self.stabilizer.stable if hasattr(self, "stabilizer") else None
        self.stabilizer = Stabilizer(
            StabilizerSettings(s.window, s.votes, s.min_confidence), build_rules(cfg), stable
        )
        self._roi_cache: tuple[tuple[int, int], roi_mod.RoiPlan] | None = None

    def _set_outputs(self, outputs: dict[str, Output], cfg: Config) -> None:
        self.outputs = outputs
        self._wanted = {name: _wanted_events(cfg, name) for name in outputs}

    def _roi(self, width: int, height: int) -> roi_mod.RoiPlan:
        if self._roi_cache is None or self._roi_cache[0] != (width, height):
            r = self.cfg.roi
            self._roi_cache = (
                (width, height),
                roi_mod.plan((width, height), r.rect, r.quad, r.rotate, r.angle),
            )
        return self._roi_cache[1]

    # -- signals

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if signum == signal.SIGHUP:
            self._reload_requested = True
        else:
            self._stop_signal = signal.Signals(signum).name

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    # -- start and stop

    def start(self) -> None:
        """Load the model, open the source and outputs; StartupError carries the exit code."""
        self.notifier.status("loading model")
        try:
            self.classifier = load_classifier(self.cfg)
            self.turning = load_turning(self.cfg)
        except ModelError as exc:
            raise StartupError(f"model: {exc}", EXIT_MODEL) from None
        self.reader = build_reader(self.classifier, self.cfg, self.turning)
        self.source = self._open_source(self.cfg)
        self._set_outputs(build_outputs(self.cfg, self.preview_backend), self.cfg)
        log.info(
            "reading %s (%s); outputs: %s",
            self.source.name,
            f"at most {self.cfg.process.max_fps:g} frames/s" if self.cfg.process.max_fps else "no rate limit",
            ", ".join(self.outputs) or "none",
        )

    def _open_source(self, cfg: Config) -> FrameSource:
        self._recording_epoch = None
        try:
            source = open_source(cfg.source)
            source.open()
        except SourceError as exc:
            msg = str(exc)
            raise StartupError(
                msg if msg.startswith("source.") else f"source.location: {msg}", EXIT_CONFIG
            ) from None
        return source

    def shutdown(self) -> None:
        self.notifier.stopping()
        if self.source is not None:
            self.source.close()
        close_outputs(self.outputs)
        self.notifier.close()

    # -- the loop

    def run(self) -> int:
        """Start, loop, shut down; returns the exit code."""
        try:
            self.start()
        except StartupError as exc:
            log.error("%s", exc)
            self.shutdown()
            return exc.code
        try:
            return self.loop()
        finally:
            self.shutdown()
            log.info("stopped after %d frames (%s)", self.stats.frames, self._stop_signal or "end of input")

    def loop(self) -> int:
        assert self.source is not None
        min_interval = 1.0 / self.cfg.process.max_fps if self.cfg.process.max_fps > 0 else 0.0
        next_due = time.monotonic()
        next_heartbeat = time.monotonic() + self.cfg.heartbeat.interval_s
        next_status = time.monotonic()
        waited_since = time.monotonic()
        while self._stop_signal is None:
            if self._reload_requested:
                self._reload_requested = False
                self.reload()
                min_interval = 1.0 / self.cfg.process.max_fps if self.cfg.process.max_fps > 0 else 0.0
            if min_interval:
                self._sleep_until(next_due)
                if self._stop_signal is not None:
                    break
            try:
                frame = self.source.read(timeout=0.25)
            except EndOfStream:
                log.info("source %s: end of input", self.source.name)
                break
            now = time.monotonic()
            if frame is None:
                if not self._ready and now - waited_since > 5.0:
                    self.notifier.status(f"waiting for {self.source.name} ({self.source.stats.state})")
                    waited_since = now
                next_heartbeat = self._maybe_heartbeat(now, next_heartbeat)
                continue
            next_due = max(next_due + min_interval, now) if min_interval else now
            if not self._ready:
                self._ready = True
                log.info("ready: model %s, source %s", self.cfg.model.file.name, self.source.name)
                self.notifier.ready(f"reading {self.source.name}")
            self.notifier.frame_flowing(now)
            try:
                self.process(frame)
                self.stats.errors = 0
            except roi_mod.RoiError as exc:
                log.error("%s", exc)
                return EXIT_CONFIG
            except Exception:
                self.stats.errors += 1
                log.exception("frame %d: processing failed", frame.index)
                if self.stats.errors >= MAX_CONSECUTIVE_ERRORS:
                    log.error("%d frames in a row failed; giving up", self.stats.errors)
                    return EXIT_FAILURE
            if self._poll_preview() == QUIT:
                self._stop_signal = "quit from the preview window"
            now = time.monotonic()
            next_heartbeat = self._maybe_heartbeat(now, next_heartbeat)
            if now >= next_status:
                self.notifier.status(self.status_text())
                next_status = now + self.cfg.process.status_every_s
            if self.once and self.source.live:
                break
        return EXIT_OK

    def _sleep_until(self, deadline: float) -> None:
        while self._stop_signal is None and not self._reload_requested:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(remaining, 0.05))

    def frame_time(self, frame: Any) -> float:
        """When the frame was taken, in epoch seconds. A recording read faster (or slower) than real
        time is timed by its position in the file, counted from the wall time of its first frame: the
        meter's rate rule must see the meter's pace, not the machine's. Live frames happen now."""
        position = getattr(frame, "position", None)
        if position is None:
            return time.time()
        if self._recording_epoch is None:
            self._recording_epoch = time.time() - position
        return self._recording_epoch + position

    def process(self, frame: Any) -> None:
        """One frame through ROI, quality, reader and stabiliser; events to the outputs."""
        image = frame.image
        h, w = image.shape[:2]
        plan = self._roi(w, h)
        region = roi_mod.apply(image, plan)
        q = quality_mod.measure(region)
        problem = quality_mod.exposure_problem(q, self.limits)
        reading: Reading | None = None
        if problem is None:
            reading = self.reader.read(region)
            if reading.digits:
                problem = self.blur.judge(q)
        obs = Observation.from_reading(
            reading, frame.index, self.frame_time(frame), self.stabilizer.settings.min_confidence, problem
        )
        result = self.stabilizer.update(obs)
        now = time.monotonic()
        latency = (now - frame.captured) * 1000.0
        self.stats.tick(now)
        self.stats.last_latency_ms = latency
        self.stats.last_frame = frame.index
        source = self.source.name if self.source is not None else ""
        if any(isinstance(o, FrameOutput) for o in self.outputs.values()):
            view = FrameView(
                image,
                plan,
                reading,
                self.stabilizer.stable,
                frame.index,
                self.stats.fps,
                obs.problem,
                self.stabilizer.settings.min_confidence,
            )
            for out in self.outputs.values():
                if isinstance(out, FrameOutput):
                    out.show(view)
        if any(w is None or "frame" in w for w in self._wanted.values()):
            self._emit(
                frame_event(reading, self.stabilizer.stable, source, frame.index, latency, obs.problem)
            )
        if isinstance(result, Rejection):
            log.info("rejected %r: %s", result.candidate.text, result.reason)
            self._emit(rejected_event(result, source, latency))
        elif result is not None:
            log.info("stable reading: %r (frame %d)", result.text, result.frame)
            self._emit(reading_event(result, source, latency))

    def _emit(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        for name, out in self.outputs.items():
            wanted = self._wanted.get(name)
            if wanted is not None and kind not in wanted:
                continue
            if wanted is None and kind == "frame":
                continue  # outputs without an events list never get per-frame events
            try:
                out.emit(event)
            except Exception:
                log.exception("output %s: emit failed", name)

    def _poll_preview(self) -> str | None:
        preview = self.outputs.get("preview")
        return preview.poll() if isinstance(preview, PreviewOutput) else None

    def _maybe_heartbeat(self, now: float, due: float) -> float:
        interval = self.cfg.heartbeat.interval_s
        if interval <= 0 or now < due:
            return due
        self._emit(
            heartbeat_event(
                self.stabilizer.stable,
                self.source.name if self.source else "",
                self.stats.last_frame,
                self.stats.last_latency_ms,
                self.heartbeat_stats(),
            )
        )
        return now + interval

    def heartbeat_stats(self) -> dict[str, Any]:
        src = self.source.stats if self.source is not None else None
        return {
            "fps": round(self.stats.fps, 2),
            "frames": self.stats.frames,
            "dropped": src.dropped if src else 0,
            "reconnects": src.reconnects if src else 0,
            "source_state": src.state if src else "closed",
            "counts": self.stabilizer.counts.to_dict(),
            "uptime_s": round(time.monotonic() - self.stats.started, 1),
        }

    def status_text(self) -> str:
        stable = self.stabilizer.stable
        last = f"last reading {stable.text!r}" if stable is not None else "no stable reading yet"
        return f"{self.stats.fps:.1f} fps, {last}, {self.stats.frames} frames"

    # -- reload

    def reload(self) -> None:
        if self.config_path is None:
            log.warning("SIGHUP: no config file to reload (started without --config)")
            return
        self.notifier.reloading()
        try:
            new = load_config(self.config_path, self.overrides)
        except ConfigError as exc:
            log.error("SIGHUP: keeping the running config; the new one is invalid:\n%s", exc)
            self.notifier.ready(self.status_text())
            return
        old = self.cfg
        try:
            self._apply(old, new)
        except StartupError as exc:
            log.error("SIGHUP: keeping the running config; %s", exc)
            self.cfg = old
        self.notifier.ready(self.status_text())

    def _apply(self, old: Config, new: Config) -> None:
        changed = [name for name in type(new).model_fields if getattr(old, name) != getattr(new, name)]
        if not changed:
            log.info("SIGHUP: config unchanged")
            return
        classifier, turning, reader = self.classifier, self.turning, self.reader
        source, outputs = self.source, None
        if "model" in changed:
            try:
                classifier = load_classifier(new)
                turning = load_turning(new)
            except ModelError as exc:
                raise StartupError(f"model: {exc}", EXIT_MODEL) from None
        if "model" in changed or "reader" in changed:
            assert classifier is not None
            reader = build_reader(classifier, new, turning)
        if "outputs" in changed or "meter" in changed:
            outputs = build_outputs(new, self.preview_backend)
        if "source" in changed:
            try:
                source = self._open_source(new)
            except StartupError:
                if outputs is not None:
                    close_outputs(outputs)
                raise
        # Everything new is built: swap, then release what was replaced.
        self.cfg = new
        if source is not self.source and self.source is not None:
            self.source.close()
        self.classifier, self.turning, self.reader, self.source = classifier, turning, reader, source
        if outputs is not None:
            close_outputs(self.outputs)
            self._set_outputs(outputs, new)
        self._configure_pipeline(new)
        log.info("SIGHUP: config reloaded (%s changed)", ", ".join(changed))


def run_daemon(
    config_path: Path | None,
    overrides: dict[str, Any] | None = None,
    once: bool = False,
    notifier: Notifier | None = None,
    preview_backend: PreviewBackend | None = None,
    install_signals: bool = True,
) -> int:
    """Load the config and run until done; returns the process exit code."""
    try:
        cfg = load_config(config_path, overrides)
    except ConfigError as exc:
        for line in str(exc).splitlines():
            log.error("%s", line)
        return EXIT_CONFIG
    daemon = Daemon(cfg, config_path, overrides, once, notifier, preview_backend)
    if install_signals:
        daemon.install_signal_handlers()
    return daemon.run()
