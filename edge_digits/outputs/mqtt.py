"""MQTT output: readings to a broker, Home Assistant discovery, and a disk spool for broker outages.

Topics, under `<topic_prefix>/<device_id>/`:
  state         the JSON event of every reading (retained, so a new subscriber sees the current value)
  availability  `online` / `offline` (retained; the broker publishes `offline` as our last will)
  error         rejected readings with their reason, and faults of this output (not retained)

Threads: `emit()` only serialises the event and appends it to an in-memory inbox, so the daemon's frame
loop never waits for the network or the disk. A worker thread moves messages from the inbox into the
disk spool (`spool.py`) and publishes them in order, at most `WINDOW` unacknowledged at a time; a
message leaves the spool only when the broker acknowledges it (`on_publish`, QoS 1). paho's own
network thread (`loop_start`) connects, reconnects with capped exponential backoff and runs the
callbacks.

Ordering across a reconnect: paho keeps the messages it had sent but not yet seen acknowledged and
sends them again right after the new CONNACK. The worker publishes nothing new until those are
acknowledged (the "barrier"), so the broker receives messages in spool order and we never publish a
message paho still holds (which would deliver it twice).

paho-mqtt is imported only when an output is created (it is the `mqtt` extra).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FilePath, SecretStr, field_validator, model_validator

from edge_digits import __version__
from edge_digits.outputs.spool import Spool, try_lock
from edge_digits.state import default_state_dir

log = logging.getLogger(__name__)

ONLINE = "online"
OFFLINE = "offline"
# Messages handed to paho and not yet acknowledged, at most. Bounds what a reconnect resends and
# keeps paho's own queue empty while the broker is away (the spool holds the backlog, not memory).
WINDOW = 10
# emit() never blocks; if the worker falls this far behind (a disk that stopped answering), the
# newest events are dropped and counted rather than growing memory without bound.
INBOX_LIMIT = 10000
DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883

_TOPIC_LEVEL_FORBIDDEN = re.compile(r"[+#\x00]")
# Home Assistant's discovery topic allows only these in node and object ids.
_HA_ID_FORBIDDEN = re.compile(r"[^A-Za-z0-9_-]")


# ---------------------------------------------------------------------------------------------------
# Configuration (the `outputs.mqtt:` section)


class TlsConfig(BaseModel):
    """`outputs.mqtt.tls`: encrypt the connection; `tls: true` uses the system's CA store."""

    model_config = ConfigDict(extra="forbid")

    # CA certificate(s) that signed the broker's certificate; None = the system's trusted CAs.
    ca_file: FilePath | None = None
    # Client certificate and key, for brokers that authenticate devices by certificate.
    certfile: FilePath | None = None
    keyfile: FilePath | None = None
    # Skip the check that the certificate names the host (self-signed test brokers). Still encrypted,
    # but open to a man in the middle: never for production.
    insecure: bool = False

    @model_validator(mode="after")
    def _key_needs_cert(self) -> TlsConfig:
        if self.keyfile is not None and self.certfile is None:
            raise ValueError("keyfile is set but certfile is not: a client key needs its certificate")
        return self


class DiscoveryConfig(BaseModel):
    """`outputs.mqtt.discovery`: Home Assistant MQTT discovery; `discovery: false` turns it off."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    prefix: str = "homeassistant"
    # Entity name; default "Reading" (text) or "Meter" (meter mode).
    name: str | None = None
    # Device name shown in Home Assistant; default "edge-digits <device_id>".
    device_name: str | None = None
    # Numeric sensors only (meter mode, or a text reader whose state_class you set): e.g. "m³", "kWh".
    unit_of_measurement: str | None = None
    # e.g. "water", "gas", "energy" (Home Assistant then expects a matching unit).
    device_class: str | None = None
    # Default: total_increasing in meter mode, none for text (a text sensor must not have one).
    state_class: Literal["measurement", "total", "total_increasing"] | None = None
    icon: str | None = None

    @field_validator("prefix")
    @classmethod
    def _prefix_is_a_topic(cls, value: str) -> str:
        return _check_topic_path(value)


class SpoolConfig(BaseModel):
    """`outputs.mqtt.spool`: where messages wait while the broker is away."""

    model_config = ConfigDict(extra="forbid")

    # At most this many messages; beyond it the oldest are dropped (and the count is logged).
    max_items: int = Field(10000, ge=1)
    # Default: <state dir>/mqtt-spool (systemd's StateDirectory, else ~/.local/state/edge-digits).
    path: Path | None = None


class MqttConfig(BaseModel):
    """`outputs.mqtt`: publish readings to an MQTT broker."""

    # Validation errors must not echo the section back: it may hold the password.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    host: str = "localhost"
    # Default 1883, or 8883 when tls is set.
    port: int | None = Field(None, ge=1, le=65535)
    tls: TlsConfig | None = None
    username: str | None = None
    # One of: the password itself, the name of an environment variable holding it, or a file
    # holding it (first line). Never logged; shown as ********** in any repr.
    password: SecretStr | None = None
    password_env: str | None = None
    password_file: FilePath | None = None
    # Must be unique on the broker; default "edge-digits-<device_id>".
    client_id: str | None = None
    topic_prefix: str = "edge-digits"
    # Names this device in topics and in Home Assistant; default the host name. Set it explicitly in a
    # fleet: devices that share a host name (every fresh Pi is "raspberrypi") would overwrite each other.
    device_id: str = Field(default_factory=socket.gethostname)
    qos: Literal[0, 1, 2] = 1
    keepalive: int = Field(60, ge=5, le=65535)
    discovery: DiscoveryConfig = Field(default_factory=DiscoveryConfig)
    spool: SpoolConfig = Field(default_factory=SpoolConfig)
    # Reconnect delay: doubles from the first to the cap after each failed attempt.
    reconnect_min_s: float = Field(1.0, gt=0)
    reconnect_max_s: float = Field(60.0, gt=0)
    # Publish the daemon's periodic heartbeat events to the state topic too (only when the link is up
    # and the backlog is empty; they are never spooled).
    heartbeats: bool = True

    @field_validator("tls", mode="before")
    @classmethod
    def _tls_shorthand(cls, value: Any) -> Any:
        if value is True:
            return {}
        if value is False:
            return None
        return value

    @field_validator("discovery", mode="before")
    @classmethod
    def _discovery_shorthand(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return {"enabled": value}
        return value

    @field_validator("host")
    @classmethod
    def _host_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name the broker (host name or IP address)")
        return value.strip()

    @field_validator("topic_prefix")
    @classmethod
    def _prefix_is_a_topic(cls, value: str) -> str:
        return _check_topic_path(value)

    @field_validator("device_id")
    @classmethod
    def _device_id_is_one_level(cls, value: str) -> str:
        value = value.strip()
        if not value or "/" in value or _TOPIC_LEVEL_FORBIDDEN.search(value) or re.search(r"\s", value):
            raise ValueError(f"{value!r} must be one topic level: no '/', '+', '#' or spaces")
        return value

    @field_validator("password", mode="before")
    @classmethod
    def _password_is_text(cls, value: Any) -> Any:
        # YAML reads `password: 0042` as the number 34; say so without echoing the value.
        if value is not None and not isinstance(value, (str, SecretStr)):
            raise ValueError(f"must be text, got a {type(value).__name__}: put it in quotes in the YAML "
                             "(a number loses leading zeros)")
        return value

    @field_validator("password_env")
    @classmethod
    def _env_is_set(cls, value: str | None) -> str | None:
        if value is not None and value not in os.environ:
            raise ValueError(f"environment variable {value} is not set")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> MqttConfig:
        given = [k for k in ("password", "password_env", "password_file") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError("give only one of password, password_env, password_file, "
                             f"not {' and '.join(given)}")
        if given and not self.username:
            raise ValueError(f"{given[0]} is set but username is not: MQTT sends a password only with "
                             "a user name")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")
        return self

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return DEFAULT_TLS_PORT if self.tls is not None else DEFAULT_PORT

    @property
    def effective_client_id(self) -> str:
        return self.client_id or f"edge-digits-{self.device_id}"

    def resolve_password(self) -> str | None:
        """The password from whichever source is configured, read now (so a rotated secret is picked up
        on the next start). Raises ValueError naming the key when the source is unusable."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_env is not None:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ValueError(f"password_env: environment variable {self.password_env} is not set")
            return value
        if self.password_file is not None:
            try:
                text = Path(self.password_file).read_text(encoding="utf-8")
            except OSError as exc:
                raise ValueError(f"password_file: {self.password_file}: {exc.strerror}") from exc
            lines = text.splitlines()
            return lines[0] if lines else ""
        return None


def _check_topic_path(value: str) -> str:
    if not value or value.startswith("/") or value.endswith("/") or _TOPIC_LEVEL_FORBIDDEN.search(value):
        raise ValueError(f"{value!r} must be a topic path like 'edge-digits' or 'site1/meters' (no '+', '#', "
                         "no leading or trailing '/')")
    return value


# ---------------------------------------------------------------------------------------------------
# Topics and Home Assistant discovery (pure: config in, topics and payloads out)


@dataclass(frozen=True)
class Topics:
    base: str
    state: str
    availability: str
    error: str

    @classmethod
    def for_config(cls, config: MqttConfig) -> Topics:
        base = f"{config.topic_prefix}/{config.device_id}"
        return cls(
            base=base, state=f"{base}/state", availability=f"{base}/availability", error=f"{base}/error"
        )


def ha_node_id(device_id: str) -> str:
    """The device id as Home Assistant allows it in a discovery topic ('pi.lan' → 'pi_lan')."""
    return _HA_ID_FORBIDDEN.sub("_", device_id)


# Attributes shown in Home Assistant: the small scalar fields of the event, not the per-digit boxes
# (the recorder stores attributes with every state change). `.get` renders a missing key as null
# instead of failing the template.
_STATE_ATTRIBUTES = ("ts", "text", "confidence", "stable", "frame", "source", "latency_ms", "reason")
_ERROR_ATTRIBUTES = ("ts", "type", "text", "reason", "value", "frame", "source", "message", "dropped")


def _attributes_template(keys: tuple[str, ...]) -> str:
    fields = ", ".join(f"'{k}': value_json.get('{k}')" for k in keys)
    return "{{ {" + fields + "} | tojson }}"


def discovery_messages(config: MqttConfig, *, meter: bool = False) -> dict[str, dict[str, Any]]:
    """Home Assistant discovery: config topic → retained JSON payload, one per entity.

    Entities: the reading (its text, or in meter mode the numeric value with state_class
    total_increasing) and a diagnostic "last error" sensor fed by the error topic.
    """
    disc = config.discovery
    topics = Topics.for_config(config)
    node = ha_node_id(config.device_id)
    device = {
        "identifiers": [f"edge_digits_{node}"],
        "name": disc.device_name or f"edge-digits {config.device_id}",
        "model": "edge-digits reader (meter)" if meter else "edge-digits reader",
        "manufacturer": "edge-digits",
        "sw_version": __version__,
    }
    common = {
        "availability": [
            {"topic": topics.availability, "payload_available": ONLINE, "payload_not_available": OFFLINE}
        ],
        "device": device,
        "origin": {"name": "edge-digits", "sw_version": __version__},
        "qos": 1 if config.qos else 0,
    }
    state_class = disc.state_class or ("total_increasing" if meter else None)
    reading: dict[str, Any] = {
        "name": disc.name or ("Meter" if meter else "Reading"),
        "unique_id": f"edge_digits_{node}_reading",
        "state_topic": topics.state,
        "json_attributes_topic": topics.state,
        "json_attributes_template": _attributes_template(_STATE_ATTRIBUTES),
        "icon": disc.icon or ("mdi:counter" if meter else "mdi:numeric"),
        **common,
    }
    if meter:
        reading["value_template"] = "{{ value_json.value }}"
    elif state_class is not None:
        # A numeric sensor must get a number: a text that does not parse leaves the state unknown.
        reading["value_template"] = "{{ value_json.text | float(none) }}"
    else:
        # A text sensor: the string as read, leading zeros kept. Home Assistant rejects a non-numeric
        # state for a sensor with a state_class or a unit, so a text sensor gets neither.
        reading["value_template"] = "{{ value_json.text }}"
    if state_class is not None:
        reading["state_class"] = state_class
        if disc.unit_of_measurement:
            reading["unit_of_measurement"] = disc.unit_of_measurement
        if disc.device_class:
            reading["device_class"] = disc.device_class
    error = {
        "name": "Last error",
        "unique_id": f"edge_digits_{node}_last_error",
        "state_topic": topics.error,
        "value_template": "{{ value_json.get('reason') or value_json.get('type') }}",
        "json_attributes_topic": topics.error,
        "json_attributes_template": _attributes_template(_ERROR_ATTRIBUTES),
        "entity_category": "diagnostic",
        "icon": "mdi:alert-circle-outline",
        **common,
    }
    prefix = f"{disc.prefix}/sensor/{node}"
    return {f"{prefix}/reading/config": reading, f"{prefix}/last_error/config": error}


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays sneak into events from the engine.
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def to_json(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------------------
# The output


@dataclass(frozen=True)
class _Outgoing:
    topic: str
    payload: str
    retain: bool
    durable: bool  # spooled and delivered for sure; a heartbeat is not


@dataclass
class MqttStatus:
    """A snapshot for tests, the status line and logs."""

    connected: bool
    spooled: int
    inflight: int
    published: int
    dropped_full_spool: int
    dropped_inbox: int
    last_error: str | None


class MqttUnavailableError(RuntimeError):
    """paho-mqtt is not installed (or too old)."""


def _import_paho() -> Any:
    try:
        import paho.mqtt.client as paho
    except ModuleNotFoundError as exc:
        raise MqttUnavailableError(
            "the MQTT output needs the paho-mqtt package (2.x): pip install 'edge-digits[mqtt]' "
            "or apt install python3-paho-mqtt"
        ) from exc
    if not hasattr(paho, "CallbackAPIVersion"):
        raise MqttUnavailableError(
            f"the MQTT output needs paho-mqtt 2.x, found {getattr(paho, '__version__', 'an older version')}: "
            "pip install 'paho-mqtt>=2'"
        )
    return paho


class MqttOutput:
    """Publishes daemon events to MQTT. `emit()` never blocks; `close()` flushes what it can in time."""

    def __init__(
        self,
        config: MqttConfig,
        *,
        state_dir: Path | None = None,
        meter: bool = False,
        close_timeout_s: float = 1.0,
    ) -> None:
        paho = _import_paho()
        self.config = config
        self.meter = meter
        self.topics = Topics.for_config(config)
        self.close_timeout_s = close_timeout_s
        self._where = f"{config.host}:{config.effective_port}"
        spool_dir = config.spool.path
        if spool_dir is None:
            spool_dir = (Path(state_dir) if state_dir else default_state_dir()) / "mqtt-spool"
        try:
            spool_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"spool.path: cannot create {spool_dir}: {exc.strerror or exc}") from None
        if not os.access(spool_dir, os.W_OK | os.X_OK):
            raise ValueError(f"spool.path: {spool_dir} is not writable by this user")
        self.spool_path = spool_dir
        # Opened by the worker once it holds the directory's lock (see _take_spool).
        self.spool: Spool | None = None
        self._discovery = discovery_messages(config, meter=meter) if config.discovery.enabled else {}

        self._cond = threading.Condition()
        # Shared between emit(), paho's thread and the worker; guarded by _cond.
        self._inbox: deque[_Outgoing] = deque()
        self._acks: list[int] = []
        self._connected = False
        self._barrier = False
        self._closing = False
        self._started = False  # paho's network thread runs
        self._client_stopped = threading.Event()
        self._delivery_done = threading.Event()
        self._close_deadline = float("inf")
        self._dropped_inbox = 0
        self._link = "connecting"  # last logged link state, so each change is logged once
        self._last_error: str | None = None
        # Worker-thread only.
        self._inflight: dict[int, int | None] = {}  # paho mid → spool seq (None: heartbeat)
        self._sent_upto = 0  # highest spool seq handed to paho
        self._heartbeat: _Outgoing | None = None
        self._reported_drops = 0
        self._published = 0

        client = paho.Client(
            callback_api_version=paho.CallbackAPIVersion.VERSION2,
            client_id=config.effective_client_id,
            protocol=paho.MQTTv311,
        )
        if config.username:
            client.username_pw_set(config.username, config.resolve_password())
        if config.tls is not None:
            tls = config.tls
            client.tls_set(
                ca_certs=str(tls.ca_file) if tls.ca_file else None,
                certfile=str(tls.certfile) if tls.certfile else None,
                keyfile=str(tls.keyfile) if tls.keyfile else None,
            )
            client.tls_insecure_set(tls.insecure)
        client.will_set(self.topics.availability, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(config.reconnect_min_s, config.reconnect_max_s)
        # Headroom over our window for discovery and availability messages.
        client.max_inflight_messages_set(WINDOW + 2 * len(self._discovery) + 4)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        # paho's on_connect_fail is not told why; keep the socket/TLS/DNS error for the log line
        # ("certificate verify failed" says more than "unreachable").
        self._connect_error: OSError | None = None
        plain_reconnect = client.reconnect

        def reconnect() -> Any:
            try:
                return plain_reconnect()
            except OSError as exc:
                self._connect_error = exc
                raise

        client.reconnect = reconnect
        self._client = client

        self._worker = threading.Thread(target=self._work, name="mqtt-output", daemon=True)
        self._worker.start()
        log.info(
            "MQTT output: broker %s as %r, topics %s/{state,availability,error}, spool %s%s",
            self._where, config.effective_client_id, self.topics.base, spool_dir,
            f", Home Assistant discovery under {config.discovery.prefix}/" if self._discovery else "",
        )

    # -- the daemon's side ---------------------------------------------------------------------------

    def emit(self, event: dict[str, Any]) -> None:
        message = self._message_for(event)
        if message is None:
            return
        with self._cond:
            if self._closing:
                return
            if len(self._inbox) >= INBOX_LIMIT:
                self._dropped_inbox += 1
                if self._dropped_inbox == 1:
                    log.error("MQTT output: worker is %d messages behind; dropping new events", INBOX_LIMIT)
                return
            self._inbox.append(message)
            self._cond.notify()

    def close(self) -> None:
        """Spool what is queued, give the broker until the timeout to take the backlog, say offline."""
        deadline = time.monotonic() + self.close_timeout_s
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._close_deadline = deadline - 0.3
            self._cond.notify()
        # The worker stops once the backlog is acknowledged, the link is down, or the time is up.
        self._delivery_done.wait(max(0.0, deadline - time.monotonic() - 0.2))
        with self._cond:
            connected, started = self._connected, self._started
        if connected:
            info = self._client.publish(self.topics.availability, OFFLINE, qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(max(0.05, deadline - time.monotonic() - 0.1))
        if started:
            self._client.disconnect()
            # loop_stop joins paho's thread, which may sit in a connect attempt or a backoff sleep.
            stopper = threading.Thread(target=self._client.loop_stop, name="mqtt-stop", daemon=True)
            stopper.start()
            stopper.join(max(0.05, deadline - time.monotonic()))
        # Lets the worker hand the spool directory on: only now can a successor connect without
        # meeting this client on the broker.
        self._client_stopped.set()
        self._worker.join(max(0.0, deadline - time.monotonic()))
        left = len(self.spool) if self.spool is not None else 0
        if left:
            log.info("MQTT output closed; %d message(s) stay in the spool %s for the next start",
                     left, self.spool_path)

    def status(self) -> MqttStatus:
        with self._cond:
            return MqttStatus(
                connected=self._connected,
                spooled=len(self.spool) if self.spool is not None else 0,
                inflight=len(self._inflight),
                published=self._published,
                dropped_full_spool=self.spool.dropped if self.spool is not None else 0,
                dropped_inbox=self._dropped_inbox,
                last_error=self._last_error,
            )

    def _message_for(self, event: dict[str, Any]) -> _Outgoing | None:
        kind = event.get("type", "reading")
        if kind == "frame":
            return None  # per-frame events are for local logs; a broker gets decisions, not every frame
        if kind == "reading":
            return _Outgoing(self.topics.state, to_json(event), retain=True, durable=True)
        if kind == "heartbeat":
            # A heartbeat without a reading would overwrite the retained state with nothing.
            has_state = event.get("value") is not None if self.meter else bool(event.get("text"))
            if not (self.config.heartbeats and has_state):
                return None
            return _Outgoing(self.topics.state, to_json(event), retain=True, durable=False)
        # "rejected" (meter rules), "fault" and anything newer: the error topic.
        return _Outgoing(self.topics.error, to_json(event), retain=False, durable=True)

    # -- paho's thread -------------------------------------------------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            text = str(reason)
            hint = ""
            if reason.value in (0x04, 0x05, 0x86, 0x87):  # bad user name or password / not authorised
                user = f"user {self.config.username!r}" if self.config.username else "no user name"
                hint = f" ({user}; check outputs.mqtt.username and the password)"
            self._set_link(
                f"refused:{text}", logging.ERROR,
                f"MQTT broker {self._where} refused the connection: {text}{hint}; "
                f"readings are spooled, retrying (backoff up to {self.config.reconnect_max_s:g} s)",
                error=f"refused: {text}",
            )
            return
        with self._cond:
            self._connected = True
            backlog = (len(self.spool) if self.spool is not None else 0) + len(self._inbox)
            self._cond.notify()
        self._set_link("connected", logging.INFO,
                       f"MQTT connected to {self._where} as {self.config.effective_client_id!r}"
                       + (f"; sending {backlog} spooled message(s)" if backlog else ""))
        client.publish(self.topics.availability, ONLINE, qos=1, retain=True)
        if self._discovery:
            client.subscribe(f"{self.config.discovery.prefix}/status", qos=1)
            self._publish_discovery(client)

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        exc = self._connect_error
        why = f" ({getattr(exc, 'strerror', None) or exc})" if exc is not None else ""
        self._set_link(
            f"unreachable:{type(exc).__name__}", logging.WARNING,
            f"cannot connect to MQTT broker {self._where}{why}; readings are spooled to {self.spool_path}, "
            f"retrying (backoff up to {self.config.reconnect_max_s:g} s)",
            error=f"unreachable{why}",
        )

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        with self._cond:
            was_connected = self._connected
            self._connected = False
            # paho resends what it holds unacknowledged after the next CONNACK; nothing new goes out
            # before those, or the order would break.
            self._barrier = True
            closing = self._closing
            self._cond.notify()
        if was_connected and not closing:
            self._set_link(
                "lost", logging.WARNING,
                f"MQTT connection to {self._where} lost ({reason}); readings are spooled to "
                f"{self.spool_path}, reconnecting",
                error=f"lost: {reason}",
            )

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        with self._cond:
            self._acks.append(mid)
            self._cond.notify()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        # Home Assistant's birth message: it (re)started and forgot non-retained state; say who we are.
        if message.topic == f"{self.config.discovery.prefix}/status" and message.payload == b"online":
            log.info("Home Assistant came online; republishing discovery")
            self._publish_discovery(client)

    def _publish_discovery(self, client: Any) -> None:
        for topic, payload in self._discovery.items():
            client.publish(topic, to_json(payload), qos=1, retain=True)

    def _set_link(self, state: str, level: int, message: str, error: str | None = None) -> None:
        with self._cond:
            changed = state != self._link
            self._link = state
            if error is not None:
                self._last_error = error
        # Once per change of state: a broker that stays away must not flood the journal.
        log.log(level if changed else logging.DEBUG, message)

    # -- the worker thread ---------------------------------------------------------------------------

    def _work(self) -> None:
        lock = self._take_spool()
        if lock is None:
            self._delivery_done.set()
            return
        try:
            self.spool = Spool(self.spool_path, self.config.spool.max_items)
            with self._cond:
                if self._closing:
                    return
                self._started = True
            self._client.connect_async(self.config.host, self.config.effective_port,
                                       keepalive=self.config.keepalive)
            self._client.loop_start()
            self._deliver()
        except OSError as exc:
            log.error("MQTT output stopped: spool %s: %s", self.spool_path, exc)
        except Exception:
            # A bug here must not pass silently; the daemon and its other outputs carry on.
            log.exception("MQTT output stopped")
        finally:
            self._delivery_done.set()
            with self._cond:
                started = self._started
            if started:
                self._client_stopped.wait(timeout=10.0)
            os.close(lock)

    def _take_spool(self) -> int | None:
        """Wait for the spool directory's lock: after a config reload the previous output still owns it
        until the daemon closes it. None when closed while waiting."""
        started = time.monotonic()
        warned = False
        while True:
            with self._cond:
                if self._closing:
                    return None
            try:
                lock = try_lock(self.spool_path)
            except OSError as exc:
                log.error("MQTT output stopped: spool %s: %s", self.spool_path, exc)
                return None
            if lock is not None:
                return lock
            if not warned and time.monotonic() - started > 5.0:
                warned = True
                log.warning("MQTT output: spool %s is in use by another edge-digits output; waiting for it",
                            self.spool_path)
            with self._cond:
                self._cond.wait(timeout=0.1)

    def _deliver(self) -> None:
        assert self.spool is not None
        while True:
            with self._cond:
                if not (self._inbox or self._acks):
                    self._cond.wait(timeout=0.05 if self._closing else 1.0)
                incoming = list(self._inbox)
                self._inbox.clear()
                acks, self._acks = self._acks, []
                closing = self._closing
            try:
                for message in incoming:
                    self._store(message)
                for mid in acks:
                    seq = self._inflight.pop(mid, None)
                    if seq is not None:
                        self.spool.remove(seq)
                if self._may_publish():
                    self._report_drops()
                    self._pump()
            except OSError as exc:
                # A full or failing disk: say so, keep the daemon and this thread alive.
                log.error("MQTT output: spool %s: %s", self.spool_path, exc)
                with self._cond:
                    self._last_error = f"spool: {exc}"
                    self._cond.wait(timeout=1.0)
            if closing:
                with self._cond:
                    connected = self._connected
                    # A first connection still under way may yet take the backlog before the deadline.
                    hopeless = not connected and self._link != "connecting"
                drained = (
                    not self._inflight and self._sent_upto >= self._last_seq() and self._heartbeat is None
                )
                if hopeless or drained or time.monotonic() >= self._close_deadline:
                    return

    def _may_publish(self) -> bool:
        with self._cond:
            if self._barrier and not self._inflight:
                self._barrier = False
            return self._connected and not self._barrier

    def _store(self, message: _Outgoing) -> None:
        if not message.durable:
            self._heartbeat = message
            return
        if message.topic == self.topics.state:
            # A newer reading makes any pending heartbeat stale.
            self._heartbeat = None
        self.spool.append(message.topic, message.payload, self.config.qos, message.retain)

    def _last_seq(self) -> int:
        seqs = self.spool.seqs()
        return seqs[-1] if seqs else 0

    def _pump(self) -> None:
        for seq in self.spool.seqs():
            # Re-checked per message: a link that drops mid-batch must stop the batch (see the barrier).
            if len(self._inflight) >= WINDOW or not self._may_publish():
                return
            if seq <= self._sent_upto:
                continue
            spooled = self.spool.read(seq)
            self._sent_upto = seq
            if spooled is None:
                continue
            info = self._client.publish(
                spooled.topic, spooled.payload, qos=spooled.qos, retain=spooled.retain
            )
            # Even when the link just dropped (rc NO_CONN) paho keeps the message and sends it after
            # reconnecting, so it counts as handed over either way.
            self._inflight[info.mid] = seq
            self._published += 1
        if self._heartbeat is not None and len(self._inflight) < WINDOW and self._may_publish():
            beat, self._heartbeat = self._heartbeat, None
            info = self._client.publish(beat.topic, beat.payload, qos=self.config.qos, retain=beat.retain)
            self._inflight[info.mid] = None

    def _report_drops(self) -> None:
        dropped = self.spool.dropped - self._reported_drops
        if dropped <= 0:
            return
        self._reported_drops = self.spool.dropped
        log.warning("MQTT output: the spool was full while the broker was away; dropped the %d oldest "
                    "message(s) (spool.max_items = %d)", dropped, self.spool.max_items)
        fault = {"ts": _utc_now(), "type": "fault", "source": "mqtt", "reason": "spool_full",
                 "message": f"dropped the {dropped} oldest spooled message(s)", "dropped": dropped}
        # Straight out rather than through the spool, where it would push out one more reading.
        info = self._client.publish(self.topics.error, to_json(fault), qos=self.config.qos, retain=False)
        self._inflight[info.mid] = None
