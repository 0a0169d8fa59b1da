"""The MQTT output against a real Mosquitto broker: topics, payloads, retain flags, Home Assistant
discovery, a broker that goes away and comes back, authentication and TLS."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from edge_digits.config import ConfigError
from edge_digits.config import validate as validate_config
from edge_digits.outputs.mqtt import (
    MqttConfig,
    MqttOutput,
    MqttUnavailableError,
    SpoolConfig,
    Topics,
    discovery_messages,
    ha_node_id,
)
from edge_digits.outputs.spool import Spool
from tests.harness import json_lines, run_cli, wait_for
from tests.mosquitto import (  # noqa: F401 (fixtures)
    AUTH_PASSWORD,
    AUTH_USER,
    Broker,
    Collector,
    auth_broker_fixture,
    broker_fixture,
    require_mosquitto,
)

DEVICE = "meter-1"
STATE = f"edge-digits/{DEVICE}/state"
AVAILABILITY = f"edge-digits/{DEVICE}/availability"
ERROR = f"edge-digits/{DEVICE}/error"
PROBE = "test/probe"
READING_CONFIG = f"homeassistant/sensor/{DEVICE}/reading/config"
ERROR_CONFIG = f"homeassistant/sensor/{DEVICE}/last_error/config"


def reading(frame: int, *, value: float | None = None) -> dict[str, Any]:
    text = f"{frame:05d}"
    event: dict[str, Any] = {
        "ts": datetime(2024, 5, 1, 12, 0, frame % 60, tzinfo=timezone.utc).isoformat().replace("+00:00", "Z"),
        "type": "reading",
        "text": text,
        "lines": [{"text": text, "box": [10, 20, 100, 30], "digits": []}],
        "confidence": [0.99] * len(text),
        "stable": True,
        "frame": frame,
        "source": "test-clip.mp4",
        "latency_ms": 21.5,
    }
    if value is not None:
        event["value"] = value
        event["reason"] = None
    return event


def frames(messages: list[Any]) -> list[int]:
    return [json.loads(m.payload)["frame"] for m in messages]


def settle(collector: Collector, publisher: Collector) -> None:
    """Wait until everything the broker had queued for `collector` has arrived: a probe published after
    it reaches the collector behind it (one broker, one connection, in order)."""
    before = len(collector.on(PROBE))
    for client in (collector, publisher):
        wait_for(client.client.is_connected, 10.0, "the test client to be connected")
    publisher.client.publish(PROBE, "probe", qos=1).wait_for_publish(5)
    collector.wait_for(PROBE, before + 1)


@pytest.fixture
def make_output(tmp_path: Path) -> Iterator[Callable[..., MqttOutput]]:
    made: list[MqttOutput] = []

    def make(broker: Broker, *, meter: bool = False, **overrides: Any) -> MqttOutput:
        settings: dict[str, Any] = {
            "host": broker.host,
            "port": broker.port,
            "device_id": DEVICE,
            "reconnect_min_s": 0.05,
            "reconnect_max_s": 0.3,
            **overrides,
        }
        output = MqttOutput(MqttConfig(**settings), state_dir=tmp_path / "state", meter=meter)
        made.append(output)
        return output

    yield make
    for output in made:
        output.close()


def drained(output: MqttOutput) -> bool:
    status = output.status()
    return status.connected and status.spooled == 0 and status.inflight == 0


# -- configuration ---------------------------------------------------------------------------------


def test_config_defaults_and_shorthands() -> None:
    config = MqttConfig(device_id="pi", tls=True, discovery=False)
    assert config.effective_port == 8883 and config.tls is not None and not config.tls.insecure
    assert config.effective_client_id == "edge-digits-pi"
    assert not config.discovery.enabled and config.discovery.prefix == "homeassistant"
    assert MqttConfig().effective_port == 1883 and MqttConfig().device_id  # host name by default
    assert Topics.for_config(config).state == "edge-digits/pi/state"


def test_password_is_masked_and_sources_are_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = MqttConfig(username="u", password="hunter2-secret")
    assert "hunter2-secret" not in repr(config) and "hunter2-secret" not in str(config.model_dump())
    assert config.resolve_password() == "hunter2-secret"
    monkeypatch.setenv("EDGE_MQTT_PW", "from-env")
    assert MqttConfig(username="u", password_env="EDGE_MQTT_PW").resolve_password() == "from-env"
    secret = tmp_path / "mqtt.secret"
    secret.write_text("from-file\n")
    assert MqttConfig(username="u", password_file=secret).resolve_password() == "from-file"
    assert MqttConfig().resolve_password() is None


@pytest.mark.parametrize(
    ("settings", "key", "says"),
    [
        ({"device_id": "a/b"}, "device_id", "one topic level"),
        ({"device_id": "kitchen meter"}, "device_id", "one topic level"),
        ({"topic_prefix": "home/#"}, "topic_prefix", "topic path"),
        ({"qos": 3}, "qos", ""),
        ({"port": 70000}, "port", ""),
        ({"bogus": 1}, "bogus", "Extra inputs"),
        ({"password_env": "EDGE_DIGITS_SURELY_UNSET"}, "password_env", "EDGE_DIGITS_SURELY_UNSET is not set"),
        ({"password_file": "/nonexistent/secret"}, "password_file", ""),
        ({"password": "hunter2-secret"}, "", "username is not"),
        ({"username": "u", "password": "hunter2-secret", "password_file": __file__}, "", "only one of"),
        ({"tls": {"keyfile": __file__}}, "tls", "needs its certificate"),
        ({"reconnect_min_s": 5, "reconnect_max_s": 1}, "", "reconnect_max_s"),
    ],
)
def test_bad_config_names_the_key_and_never_echoes_the_password(
    settings: dict[str, Any], key: str, says: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        MqttConfig(**settings)
    error = caught.value.errors()[0]
    assert ".".join(str(part) for part in error["loc"]).startswith(key)
    assert says in error["msg"]
    assert "hunter2-secret" not in str(caught.value)


def test_without_paho_the_config_loads_and_the_output_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "paho.mqtt.client", None)  # as if paho-mqtt were not installed
    config = MqttConfig(device_id="pi")
    with pytest.raises(MqttUnavailableError, match=r"paho-mqtt.*pip install"):
        MqttOutput(config, state_dir=tmp_path)


def test_config_errors_through_the_daemon_loader_never_show_the_password() -> None:
    for section in ({"username": "u", "password": 12345678}, {"username": "u", "password": ["s3cr3t-x"]},
                    {"password": "s3cr3t-x"}, {"username": "u", "password": "s3cr3t-x", "port": "x"}):
        with pytest.raises(ConfigError) as caught:
            validate_config({"outputs": {"mqtt": section}})
        message = str(caught.value)
        assert "outputs.mqtt" in message
        assert "12345678" not in message and "s3cr3t-x" not in message, message


# -- Home Assistant discovery payloads (no broker needed) ---------------------------------------


REQUIRED_DISCOVERY_KEYS = {"name", "unique_id", "state_topic", "value_template", "json_attributes_topic",
                           "availability", "device", "icon"}


def render(template: str, payload: dict[str, Any]) -> str:
    # Home Assistant renders these with Jinja2 (sandboxed); the templates use only plain Jinja2.
    sandbox = pytest.importorskip("jinja2.sandbox")
    return sandbox.ImmutableSandboxedEnvironment().from_string(template).render(value_json=payload)


def test_text_sensor_discovery_has_no_state_class_and_renders_the_text() -> None:
    config = MqttConfig(device_id="pi.lan")
    messages = discovery_messages(config)
    assert set(messages) == {"homeassistant/sensor/pi_lan/reading/config",
                             "homeassistant/sensor/pi_lan/last_error/config"}
    entity = messages["homeassistant/sensor/pi_lan/reading/config"]
    assert set(entity) >= REQUIRED_DISCOVERY_KEYS
    # Home Assistant refuses a non-numeric state for a sensor with a state_class or unit.
    assert "state_class" not in entity and "unit_of_measurement" not in entity
    assert entity["state_topic"] == entity["json_attributes_topic"] == "edge-digits/pi.lan/state"
    assert entity["availability"] == [{"topic": "edge-digits/pi.lan/availability",
                                       "payload_available": "online", "payload_not_available": "offline"}]
    assert entity["device"]["identifiers"] == ["edge_digits_pi_lan"]
    assert {"name", "model", "manufacturer", "sw_version"} <= set(entity["device"])
    event = reading(42)
    assert render(entity["value_template"], event) == "00042"  # leading zeros kept
    attributes = json.loads(render(entity["json_attributes_template"], event))
    assert attributes["frame"] == 42 and attributes["reason"] is None and "lines" not in attributes
    error_entity = messages["homeassistant/sensor/pi_lan/last_error/config"]
    assert error_entity["state_topic"] == "edge-digits/pi.lan/error"
    assert error_entity["entity_category"] == "diagnostic"
    rejected = {"type": "rejected", "reason": "rate_too_high"}
    assert render(error_entity["value_template"], rejected) == "rate_too_high"
    assert ha_node_id("pi.lan") == "pi_lan"


def test_meter_discovery_is_total_increasing_with_unit_and_numeric_value() -> None:
    config = MqttConfig(device_id="water", discovery={"unit_of_measurement": "m³", "device_class": "water"})
    entity = discovery_messages(config, meter=True)["homeassistant/sensor/water/reading/config"]
    assert entity["state_class"] == "total_increasing"
    assert entity["unit_of_measurement"] == "m³" and entity["device_class"] == "water"
    assert render(entity["value_template"], reading(7, value=1234.5)) == "1234.5"
    # A text reader asked to be numeric: a text that is no number leaves the state unknown.
    numeric = discovery_messages(MqttConfig(device_id="x", discovery={"state_class": "measurement"}))
    template = numeric["homeassistant/sensor/x/reading/config"]["value_template"]
    assert render(template, {"text": "21"}) == "21.0" and render(template, {"text": "2?"}) == "None"


# -- against the broker --------------------------------------------------------------------------


def test_readings_errors_and_availability_arrive_with_the_right_topics_and_flags(
    broker: Broker, make_output: Callable[..., MqttOutput]
) -> None:
    live = Collector(broker, ["edge-digits/#", PROBE])
    output = make_output(broker)
    events = [reading(i) for i in range(3)]
    output.emit({"type": "heartbeat", "text": "", "frame": 0})  # nothing read yet: not published
    for event in events:
        output.emit(event)
    rejected = {**reading(3), "type": "rejected", "value": None, "reason": "rate_too_high"}
    output.emit(rejected)
    heartbeat = {**reading(4), "type": "heartbeat"}
    output.emit(heartbeat)

    states = live.wait_for(STATE, 4)
    assert [json.loads(m.payload) for m in states] == [*events, heartbeat]
    assert all(m.qos == 1 for m in states)
    assert [json.loads(m.payload) for m in live.wait_for(ERROR, 1)] == [rejected]
    assert live.wait_for(AVAILABILITY, 1)[0].text == "online"
    wait_for(lambda: drained(output), 10.0, "the spool to drain")
    settle(live, live)
    assert len(live.on(STATE)) == 4 and len(live.on(ERROR)) == 1

    # A subscriber that comes later gets what is retained: the last state and "online", no error.
    late = Collector(broker, ["edge-digits/#", PROBE], client_id="late")
    settle(late, live)
    assert [(m.retain, m.qos, json.loads(m.payload)) for m in late.on(STATE)] == [(True, 1, heartbeat)]
    assert [(m.retain, m.text) for m in late.on(AVAILABILITY)] == [(True, "online")]
    assert late.on(ERROR) == []
    late.close()

    output.close()
    after = Collector(broker, [AVAILABILITY, PROBE], client_id="after-close")
    settle(after, live)
    assert [(m.retain, m.text) for m in after.on(AVAILABILITY)] == [(True, "offline")]
    for c in (after, live):
        c.close()


def test_discovery_is_retained_valid_json_and_republished_when_home_assistant_starts(
    broker: Broker, make_output: Callable[..., MqttOutput]
) -> None:
    first = Collector(broker, ["homeassistant/#"], client_id="first")
    make_output(broker, meter=True)
    first.wait_for(READING_CONFIG, 1)
    first.wait_for(ERROR_CONFIG, 1)
    first.close()
    # Home Assistant connecting later finds the configs retained.
    ha = Collector(broker, ["homeassistant/#"], client_id="home-assistant")
    configs = {m.topic: m for m in (ha.wait_for(READING_CONFIG, 1)[:1] + ha.wait_for(ERROR_CONFIG, 1)[:1])}
    for topic, message in configs.items():
        assert message.retain, topic
        payload = json.loads(message.payload)
        assert set(payload) >= REQUIRED_DISCOVERY_KEYS
        assert payload["availability"][0]["topic"] == AVAILABILITY
    assert json.loads(configs[READING_CONFIG].payload)["state_class"] == "total_increasing"

    # Home Assistant's birth message: every config is sent again.
    ha.client.publish("homeassistant/status", "online", qos=1)
    ha.wait_for(READING_CONFIG, 2)
    ha.wait_for(ERROR_CONFIG, 2)
    ha.close()


def test_broker_restart_every_reading_arrives_once_and_in_order(
    broker: Broker, make_output: Callable[..., MqttOutput], caplog: pytest.LogCaptureFixture
) -> None:
    # A persistent session: the broker keeps our subscription and queues for us across its restart.
    consumer = Collector(broker, [STATE, PROBE], client_id="consumer", persistent=True)
    output = make_output(broker)
    for i in range(5):
        output.emit(reading(i))
    consumer.wait_for(STATE, 5)
    wait_for(lambda: drained(output), 10.0, "the first readings to be acknowledged")
    # The consumer's own acknowledgements reach the broker before it stops, or it would (rightly)
    # deliver those again from the saved session.
    settle(consumer, consumer)

    with caplog.at_level(logging.INFO, logger="edge_digits.outputs.mqtt"):
        broker.stop()
        wait_for(lambda: not output.status().connected, 10.0, "the output to notice the broker is gone")
        for i in range(5, 25):
            output.emit(reading(i))  # returns at once: the daemon's frame loop carries on
        wait_for(lambda: output.status().spooled == 20, 10.0, "20 readings in the spool")
        assert len(list(output.spool.path.glob("*.msg"))) == 20
        broker.start()
        consumer.wait_for(STATE, 25)
        wait_for(lambda: drained(output), 10.0, "the spool to drain")
    settle(consumer, consumer)
    assert frames(consumer.on(STATE)) == list(range(25))
    assert f"{broker.host}:{broker.port}" in caplog.text and "lost" in caplog.text
    assert "sending 20 spooled message(s)" in caplog.text
    consumer.close()


def test_wrong_password_is_a_clear_error_and_the_output_keeps_retrying(
    auth_broker: Broker, make_output: Callable[..., MqttOutput], caplog: pytest.LogCaptureFixture
) -> None:
    consumer = Collector(auth_broker, [STATE, PROBE], username=AUTH_USER, password=AUTH_PASSWORD)
    # The broker knows the device by another password than the one it is configured with.
    auth_broker.users["device"] = "the-real-one"
    auth_broker.reload()
    wrong = "Wr0ng-pa55word"
    with caplog.at_level(logging.DEBUG, logger="edge_digits.outputs.mqtt"):
        output = make_output(auth_broker, username="device", password=wrong)
        for i in range(3):
            output.emit(reading(i))
        wait_for(lambda: "refused" in caplog.text, 10.0, "the refusal to be logged")
        wait_for(lambda: auth_broker.log_text().count("not authorised") >= 3, 10.0, "three refused attempts")
        assert output.status().spooled == 3 and not output.status().connected
        assert output.status().last_error is not None and "refused" in output.status().last_error
        output.emit(reading(3))  # still accepted while refused

        # The broker is told the password the device uses; the output, still retrying, gets through.
        auth_broker.users["device"] = wrong
        auth_broker.reload()
        states = consumer.wait_for(STATE, 4)
    assert frames(states) == [0, 1, 2, 3]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors  # once per change of state, not once per attempt
    assert f"{auth_broker.host}:{auth_broker.port}" in errors[0]
    assert "'device'" in errors[0] and ("authori" in errors[0].lower() or "password" in errors[0].lower())
    assert wrong not in caplog.text and wrong not in repr(output.config)
    consumer.close()


def test_password_from_a_file_authenticates(
    auth_broker: Broker, make_output: Callable[..., MqttOutput], tmp_path: Path
) -> None:
    consumer = Collector(auth_broker, [STATE], username=AUTH_USER, password=AUTH_PASSWORD)
    secret = tmp_path / "mqtt-password"
    secret.write_text(AUTH_PASSWORD + "\n")
    output = make_output(auth_broker, username=AUTH_USER, password_file=secret)
    output.emit(reading(7))
    assert frames(consumer.wait_for(STATE, 1)) == [7]
    consumer.close()


def test_spool_outlives_the_output_and_a_full_spool_drops_the_oldest(
    broker: Broker, make_output: Callable[..., MqttOutput], caplog: pytest.LogCaptureFixture
) -> None:
    # A consumer with a persistent session, then the broker goes down before the daemon starts.
    consumer = Collector(broker, [STATE, ERROR, PROBE], client_id="consumer", persistent=True)
    broker.stop()
    first = make_output(broker, spool=SpoolConfig(max_items=5))
    first.emit(reading(0))
    first.emit(reading(1))
    wait_for(lambda: first.status().spooled == 2, 10.0, "2 readings in the spool")
    first.close()
    assert len(Spool(first.spool.path)) == 2

    # The daemon restarts, still without a broker, and reads six more: one too many for the spool.
    with caplog.at_level(logging.WARNING, logger="edge_digits.outputs"):
        second = make_output(broker, spool=SpoolConfig(max_items=5))
        for i in range(2, 8):
            second.emit(reading(i))
        wait_for(lambda: second.status().dropped_full_spool == 3, 10.0, "3 readings dropped")
        broker.start()
        wait_for(lambda: drained(second), 10.0, "the spool to drain")
    settle(consumer, consumer)
    assert frames(consumer.on(STATE)) == [3, 4, 5, 6, 7]
    faults = [json.loads(m.payload) for m in consumer.on(ERROR)]
    assert [(f["type"], f["reason"], f["dropped"]) for f in faults] == [("fault", "spool_full", 3)]
    assert "dropped the 3 oldest" in caplog.text
    consumer.close()


def test_tls_with_a_private_ca(
    tmp_path: Path, make_output: Callable[..., MqttOutput], caplog: pytest.LogCaptureFixture
) -> None:
    pki = make_test_pki(tmp_path / "pki")
    tls_broker = Broker(require_mosquitto(), tmp_path / "broker", tls=pki)
    tls_broker.start()
    try:
        consumer = Collector(tls_broker, [STATE])
        output = make_output(tls_broker, port=tls_broker.tls_port, tls={"ca_file": pki["cafile"]})
        output.emit(reading(9))
        assert frames(consumer.wait_for(STATE, 1)) == [9]
        # Without the private CA the broker's certificate is not trusted, and the log says so.
        with caplog.at_level(logging.WARNING, logger="edge_digits.outputs.mqtt"):
            untrusting = make_output(tls_broker, port=tls_broker.tls_port, tls=True, device_id="other",
                                     spool={"path": tmp_path / "other-spool"})
            wait_for(lambda: "certificate verify failed" in caplog.text, 10.0, "the TLS error in the log")
        assert not untrusting.status().connected
        assert f"{tls_broker.host}:{tls_broker.tls_port}" in caplog.text
        consumer.close()
    finally:
        tls_broker.stop()


def make_test_pki(directory: Path) -> dict[str, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 (EC keys: fast to make)."""
    directory.mkdir(parents=True)
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key, csr, crt = directory / "server.key", directory / "server.csr", directory / "server.crt"
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl("req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca_crt), "-days", "2",
            "-subj", "/CN=test-ca")
    openssl("req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
            "-out", str(crt), "-days", "2", "-extfile", str(ext))
    return {"cafile": ca_crt, "certfile": crt, "keyfile": key}


def test_a_reloaded_output_waits_for_its_predecessor_and_keeps_the_order(
    broker: Broker, make_output: Callable[..., MqttOutput]
) -> None:
    # SIGHUP builds the new outputs before closing the old ones: both point at the same spool and the
    # same client id for a moment.
    consumer = Collector(broker, [STATE, PROBE])
    old = make_output(broker)
    for i in range(3):
        old.emit(reading(i))
    wait_for(lambda: drained(old), 10.0, "the old output to deliver")
    new = make_output(broker)
    for i in range(3, 6):
        new.emit(reading(i))
    old.emit(reading(99))  # the frame loop may still hand the old output an event before the swap
    assert not new.status().connected  # it has not taken the spool (nor the client id) yet
    old.close()
    consumer.wait_for(STATE, 7)
    wait_for(lambda: drained(new), 10.0, "the new output to deliver")
    settle(consumer, consumer)
    assert frames(consumer.on(STATE)) == [0, 1, 2, 99, 3, 4, 5]
    consumer.close()


LAST_WILL_SCRIPT = """
import sys, time
from edge_digits.outputs.mqtt import MqttConfig, MqttOutput
MqttOutput(MqttConfig(host="127.0.0.1", port=int(sys.argv[1]), device_id=sys.argv[2]), state_dir=sys.argv[3])
time.sleep(60)
"""


def test_a_device_that_dies_is_marked_offline_by_its_last_will(broker: Broker, tmp_path: Path) -> None:
    watcher = Collector(broker, [AVAILABILITY])
    device = subprocess.Popen(
        [sys.executable, "-c", LAST_WILL_SCRIPT, str(broker.port), DEVICE, str(tmp_path)],
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert watcher.wait_for(AVAILABILITY, 1)[0].text == "online"
        device.kill()  # no close(), no goodbye: only the broker can say it
        device.wait(10)
        assert [m.text for m in watcher.wait_for(AVAILABILITY, 2)] == ["online", "offline"]
    finally:
        if device.poll() is None:
            device.kill()
            device.wait(10)
    watcher.close()


# -- end to end: the daemon with an mqtt output ---------------------------------------------------


def daemon_config(path: Path, broker: Broker, **mqtt: Any) -> Path:
    import yaml

    settings = {
        "process": {"max_fps": 0},
        "heartbeat": {"interval_s": 0},
        "outputs": {"mqtt": {"host": broker.host, "port": broker.port, "device_id": "e2e",
                             "reconnect_min_s": 0.05, "reconnect_max_s": 0.3, **mqtt}},
    }
    path.write_text(yaml.safe_dump(settings))
    return path


def test_daemon_publishes_what_it_prints_and_spools_through_a_wrong_password(
    auth_broker: Broker, tmp_path: Path
) -> None:
    from convert.synth.clips import number_clip

    clip = number_clip(tmp_path / "clip.avi", seed=3, fps=10, seconds=8)
    state_dir = tmp_path / "state"
    env = {"STATE_DIRECTORY": str(state_dir), "EDGE_MQTT_PASSWORD": AUTH_PASSWORD}
    consumer = Collector(auth_broker, ["edge-digits/#", "homeassistant/#"], username=AUTH_USER,
                         password=AUTH_PASSWORD)

    # Run 1: a wrong password. The daemon reads the whole clip, prints every reading, logs one clear
    # error, exits 0, and leaves the readings in the spool.
    wrong = "not-the-password"
    first = run_cli(["run", "--config", str(daemon_config(tmp_path / "wrong.yaml", auth_broker,
                                                          username=AUTH_USER, password=wrong)),
                     "--source", str(clip.path)], env=env)
    assert first.returncode == 0, first.stderr
    printed_first = json_lines(first.stdout.splitlines())
    readings_first = [e for e in printed_first if e["type"] in ("reading", "rejected")]
    assert readings_first, first.stdout
    refused = [line for line in first.stderr.splitlines() if "refused" in line]
    assert refused and f"{auth_broker.host}:{auth_broker.port}" in refused[0], first.stderr
    assert wrong not in first.stderr
    assert len(list((state_dir / "mqtt-spool").glob("*.msg"))) == len(readings_first)
    assert consumer.on("edge-digits/e2e/state") == []

    # Run 2: the right password, from an environment variable. The spool goes out first, then this
    # run's readings: the broker sees exactly what the two runs printed, in order.
    second = run_cli(["run", "--config", str(daemon_config(tmp_path / "right.yaml", auth_broker,
                                                           username=AUTH_USER,
                                                           password_env="EDGE_MQTT_PASSWORD")),
                      "--source", str(clip.path)], env=env)
    assert second.returncode == 0, second.stderr
    printed_second = json_lines(second.stdout.splitlines())
    expected = readings_first + [e for e in printed_second if e["type"] in ("reading", "rejected")]
    topic = {"reading": "edge-digits/e2e/state", "rejected": "edge-digits/e2e/error"}
    for kind, name in topic.items():
        want = [e for e in expected if e["type"] == kind]
        got = consumer.wait_for(name, len(want)) if want else []
        assert [json.loads(m.payload) for m in got] == want
    availability = consumer.wait_for("edge-digits/e2e/availability", 2)
    assert [m.text for m in availability][-2:] == ["online", "offline"]
    assert consumer.wait_for("homeassistant/sensor/e2e/reading/config", 1)
    assert not list((state_dir / "mqtt-spool").glob("*.msg"))
    consumer.close()
