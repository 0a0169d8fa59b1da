"""A real Mosquitto broker for tests, and a paho client that records what it receives.

Fixtures (import them into a test module: `from tests.mosquitto import broker_fixture, ...`):
  broker       anonymous broker on a free 127.0.0.1 port
  auth_broker  broker that requires user "edge" with password AUTH_PASSWORD
Tests skip when mosquitto is not installed, unless the environment variable CI is set (then they fail):
tools/system-deps.sh installs it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.harness import free_port, wait_for

AUTH_USER = "edge"
AUTH_PASSWORD = "s3cret-Pa55"
START_TIMEOUT_S = 10.0


def mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None


def require_mosquitto() -> str:
    binary = mosquitto_binary()
    if binary is None:
        message = "mosquitto is not installed (bash tools/system-deps.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


@dataclass
class Broker:
    """One mosquitto process with its config, log and persistence in `workdir`."""

    binary: str
    workdir: Path
    users: dict[str, str] = field(default_factory=dict)
    # cafile, certfile, keyfile: adds a TLS listener on tls_port next to the plain one.
    tls: dict[str, Path] | None = None
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = [
            f"listener {self.port} {self.host}",
            # Running as root, mosquitto would switch to the "mosquitto" user, who cannot read tmp_path.
            "user root" if os.geteuid() == 0 else "",
            # Persistence keeps the test subscriber's session (and its queued messages) across a restart.
            "persistence true",
            f"persistence_location {self.workdir}/",
            f"log_dest file {self.log_path}",
            "log_type all",
            "connection_messages true",
        ]
        if self.users:
            passwd = self.workdir / "passwd"
            passwd.unlink(missing_ok=True)
            for user, password in self.users.items():
                args = ["mosquitto_passwd", "-b", str(passwd), user, password]
                if not passwd.exists():
                    args.insert(1, "-c")
                subprocess.run(args, check=True, capture_output=True)
            passwd.chmod(0o600)
            lines += ["allow_anonymous false", f"password_file {passwd}"]
        else:
            lines.append("allow_anonymous true")
        if self.tls:
            lines += [
                f"listener {self.tls_port} {self.host}",
                f"cafile {self.tls['cafile']}",
                f"certfile {self.tls['certfile']}",
                f"keyfile {self.tls['keyfile']}",
            ]
        conf = self.workdir / "mosquitto.conf"
        conf.write_text("\n".join(line for line in lines if line) + "\n")
        return conf

    def start(self) -> None:
        conf = self.write_config()
        self.process = subprocess.Popen(
            [self.binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}: {err}{self.log_text()}")
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), timeout=0.5):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not listen on {self.host}:{self.port}: {self.log_text()}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None

    def reload(self) -> None:
        """Rewrite the config (users may have changed) and make mosquitto re-read it (SIGHUP)."""
        self.write_config()
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)


@pytest.fixture(name="broker")
def broker_fixture(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(require_mosquitto(), tmp_path / "broker")
    b.start()
    yield b
    b.stop()


@pytest.fixture(name="auth_broker")
def auth_broker_fixture(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(require_mosquitto(), tmp_path / "broker", users={AUTH_USER: AUTH_PASSWORD})
    b.start()
    yield b
    b.stop()


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    qos: int

    @property
    def text(self) -> str:
        return self.payload.decode()


class Collector:
    """A paho client subscribed to `topics` that records every message it receives.

    `persistent=True` keeps a broker-side session (fixed client id, clean_session off), so messages
    published while the collector is disconnected are queued for it and delivered on reconnect.
    """

    def __init__(self, broker: Broker, topics: list[str], *, client_id: str = "test-collector",
                 persistent: bool = False, username: str | None = None, password: str | None = None) -> None:
        import paho.mqtt.client as paho

        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._topics = topics
        self._subscribed = threading.Event()
        self.client = paho.Client(
            callback_api_version=paho.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=not persistent,
        )
        if username:
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(0.05, 0.2)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: self._subscribed.set()
        self.client.connect(broker.host, broker.port, keepalive=30)
        self.client.loop_start()
        wait_for(self._subscribed.is_set, 10.0, f"subscription to {topics}")

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:  # type: ignore[no-untyped-def]
        # A restored session keeps its subscriptions; subscribing again would replay retained messages.
        if not reason.is_failure and not flags.session_present:
            client.subscribe([(topic, 1) for topic in self._topics])

    def _on_message(self, client, userdata, message) -> None:  # type: ignore[no-untyped-def]
        with self._lock:
            self.messages.append(Received(message.topic, message.payload, bool(message.retain), message.qos))

    def on(self, topic: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(self, topic: str, count: int, timeout: float = 10.0) -> list[Received]:
        wait_for(lambda: len(self.on(topic)) >= count, timeout, f"{count} message(s) on {topic}")
        return self.on(topic)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
