"""The systemd notify protocol, received by a test-owned Unix datagram socket."""

from __future__ import annotations

import os

import pytest

from edge_digits.notify import Notifier, watchdog_interval
from tests.harness import NotifySocket, wait_for


@pytest.mark.parametrize("abstract", [False, True])
def test_messages_arrive_on_path_and_abstract_sockets(abstract: bool) -> None:
    sock = NotifySocket(abstract=abstract)
    try:
        n = Notifier({"NOTIFY_SOCKET": sock.address})
        assert n.enabled
        n.ready("reading camera:0")
        n.status("4.9 fps, last reading '1234'")
        n.stopping()
        wait_for(lambda: "STOPPING=1" in sock.fields(), 5, "STOPPING=1")
        fields = sock.fields()
        assert fields.index("READY=1") < fields.index("STOPPING=1")
        assert "STATUS=reading camera:0" in fields
        assert f"MAINPID={os.getpid()}" in fields
        assert "STATUS=4.9 fps, last reading '1234'" in fields
        n.close()
    finally:
        sock.close()


def test_watchdog_pings_at_half_the_interval_only_when_frames_flow() -> None:
    sock = NotifySocket()
    try:
        n = Notifier({"NOTIFY_SOCKET": sock.address, "WATCHDOG_USEC": "2000000"})
        assert n.watchdog_every == 1.0
        # The frame loop calls frame_flowing() per frame; virtual time: 10 frames a second for 3 s.
        sent = [n.frame_flowing(now=100.0 + i / 10) for i in range(30)]
        assert sum(sent) == 3  # at 100.0, 101.0, 102.0
        wait_for(lambda: sock.count("WATCHDOG=1") == 3, 5, "three watchdog pings")
    finally:
        sock.close()


def test_watchdog_settings_from_the_environment() -> None:
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None  # meant for another


def test_without_systemd_everything_is_a_no_op() -> None:
    n = Notifier({})
    assert not n.enabled
    n.ready()
    assert n.frame_flowing() is False
    n.stopping()


def test_a_vanished_socket_is_not_fatal(tmp_path: os.PathLike[str], caplog: pytest.LogCaptureFixture) -> None:
    n = Notifier({"NOTIFY_SOCKET": os.path.join(str(tmp_path), "gone.sock")})
    assert n.send("STATUS=x") is False
    assert n.send("STATUS=y") is False
    assert len([r for r in caplog.records if "notify socket" in r.getMessage()]) == 1
