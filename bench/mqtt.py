"""MQTT output: what emit() costs the frame loop, what the disk spool costs per message, and how fast a
backlog drains into a local Mosquitto after an outage (`python -m bench mqtt`; needs mosquitto)."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from bench import wait_until
from edge_digits.outputs.mqtt import MqttConfig, MqttOutput
from edge_digits.outputs.spool import Spool

SPOOL_MESSAGES = 300
EMITS = 2000
BACKLOG = 1000


def _event(i: int) -> dict[str, object]:
    text = f"{i:06d}"
    return {"ts": "2024-05-01T12:00:00.000Z", "type": "reading", "source": "/dev/video0", "frame": i,
            "latency_ms": 21.5, "text": text, "lines": [text], "confidence": [0.99] * 6, "stable": True,
            "votes": "3/5"}


def _spool_costs(directory: Path) -> tuple[float, float]:
    spool = Spool(directory / "spool", max_items=SPOOL_MESSAGES + 1)
    payload = json.dumps(_event(1))
    appends, removes = [], []
    for _ in range(SPOOL_MESSAGES):
        t = time.perf_counter()
        seq = spool.append("edge-digits/bench/state", payload, 1, True)
        appends.append(time.perf_counter() - t)
        t = time.perf_counter()
        spool.remove(seq)
        removes.append(time.perf_counter() - t)
    return statistics.median(appends) * 1e3, statistics.median(removes) * 1e3


def run() -> str:
    from tests.mosquitto import Broker, mosquitto_binary

    binary = mosquitto_binary()
    if binary is None:
        return "Skipped: mosquitto is not installed (bash tools/system-deps.sh)."
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        append_ms, remove_ms = _spool_costs(root)
        broker = Broker(binary, root / "broker")
        broker.start()
        config = MqttConfig(host=broker.host, port=broker.port, device_id="bench", discovery=False,
                            reconnect_min_s=0.05, reconnect_max_s=0.2)
        output = MqttOutput(config, state_dir=root / "state", close_timeout_s=5)

        def drained() -> bool:
            return output.status().spooled == 0 and output.status().inflight == 0

        try:
            wait_until(lambda: output.status().connected, 120.0, "the connection", 0.002)
            # emit(): what the frame loop pays per event, link up.
            events = [_event(i) for i in range(EMITS)]
            t = time.perf_counter()
            for event in events:
                output.emit(event)
            emit_us = (time.perf_counter() - t) / EMITS * 1e6
            wait_until(drained, 120.0, "the spool to drain", 0.002)
            live_s = time.perf_counter() - t

            # An outage: BACKLOG readings spooled, then the broker comes back.
            broker.stop()
            wait_until(lambda: not output.status().connected, 120.0, "the outage to be noticed", 0.002)
            for i in range(BACKLOG):
                output.emit(_event(i))
            wait_until(lambda: output.status().spooled == BACKLOG, 120.0, "the backlog in the spool", 0.002)
            t = time.perf_counter()
            broker.start()
            wait_until(drained, 120.0, "the spool to drain", 0.002)
            drain_s = time.perf_counter() - t
        finally:
            output.close()
            broker.stop()
    return "\n".join([
        "| measure | value |",
        "|---|---|",
        f"| `emit()` per event (serialise + queue; the frame loop's cost) | {emit_us:.1f} µs |",
        f"| spool append (temp file, fsync, rename, fsync dir) | {append_ms:.2f} ms (median of "
        f"{SPOOL_MESSAGES}) |",
        f"| spool remove after PUBACK | {remove_ms:.3f} ms (median) |",
        f"| {EMITS} readings emitted with the link up, until all acknowledged | {live_s:.2f} s "
        f"({EMITS / live_s:.0f} msg/s) |",
        f"| backlog of {BACKLOG} spooled readings, broker restart to all acknowledged | {drain_s:.2f} s "
        f"({BACKLOG / drain_s:.0f} msg/s) |",
        "",
        "Broker: Debian mosquitto on 127.0.0.1, QoS 1, window of 10 unacknowledged messages. The spool "
        "costs are the disk's fsync latency: expect several milliseconds on an SD card.",
    ])
