"""The on-disk spool behind the MQTT output: order, bounds, persistence and crash leftovers."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_digits.outputs.spool import Spool


def payloads(spool: Spool) -> list[str]:
    out = []
    for seq in spool.seqs():
        message = spool.read(seq)
        assert message is not None
        out.append(message.payload)
    return out


def test_messages_come_back_in_order_with_their_fields(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    a = spool.append("t/state", '{"text":"1"}', qos=1, retain=True)
    b = spool.append("t/error", '{"reason":"x"}', qos=0, retain=False)
    assert a < b and spool.seqs() == [a, b]
    first = spool.read(a)
    assert first is not None
    assert (first.topic, first.payload, first.qos, first.retain) == ("t/state", '{"text":"1"}', 1, True)
    second = spool.read(b)
    assert second is not None and (second.topic, second.qos, second.retain) == ("t/error", 0, False)


def test_survives_reopening_and_keeps_numbering_after_the_last(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(5):
        spool.append("t", str(i))
    spool.remove(spool.seqs()[0])
    reopened = Spool(tmp_path)
    assert payloads(reopened) == ["1", "2", "3", "4"]
    new = reopened.append("t", "5")
    assert new > max(spool.seqs())
    assert payloads(Spool(tmp_path)) == ["1", "2", "3", "4", "5"]


def test_full_spool_drops_the_oldest_and_counts_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path, max_items=3)
    with caplog.at_level(logging.WARNING):
        for i in range(7):
            spool.append("t", str(i))
    assert payloads(spool) == ["4", "5", "6"]
    assert spool.dropped == 4
    assert len(list(tmp_path.glob("*.msg"))) == 3
    assert "full" in caplog.text and str(tmp_path) in caplog.text


def test_reopening_with_a_smaller_limit_trims_the_oldest(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_items=10)
    for i in range(6):
        spool.append("t", str(i))
    smaller = Spool(tmp_path, max_items=2)
    assert payloads(smaller) == ["4", "5"] and smaller.dropped == 4


def test_remove_is_idempotent_and_out_of_order_removal_works(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    seqs = [spool.append("t", str(i)) for i in range(4)]
    spool.remove(seqs[2])
    spool.remove(seqs[2])
    spool.remove(10**9)
    assert payloads(spool) == ["0", "1", "3"]
    assert len(spool) == 3


def test_crash_leftovers_are_cleaned_and_corrupt_files_set_aside(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    good = spool.append("t", "ok")
    # A write interrupted before its rename, and a message file that got mangled.
    (tmp_path / ".abc123.tmp").write_text('{"topic": "t", "payl')
    bad = spool.append("t", "soon broken")
    (tmp_path / f"{bad:020d}.msg").write_text("{not json")
    reopened = Spool(tmp_path)
    assert not list(tmp_path.glob(".*.tmp"))
    assert reopened.read(bad) is None
    assert reopened.seqs() == [good]
    assert (tmp_path / f"{bad:020d}.bad").exists()


def test_a_message_deleted_behind_its_back_is_skipped(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    a = spool.append("t", "a")
    b = spool.append("t", "b")
    (tmp_path / f"{a:020d}.msg").unlink()
    assert spool.read(a) is None
    assert spool.seqs() == [b]


def test_rejects_a_zero_limit(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_items"):
        Spool(tmp_path, max_items=0)


@settings(max_examples=25, deadline=None)
@given(ops=st.lists(st.one_of(st.just("remove"), st.text(max_size=5)), max_size=25), limit=st.integers(1, 6))
def test_behaves_like_a_bounded_fifo(
    tmp_path_factory: pytest.TempPathFactory, ops: list[str], limit: int
) -> None:
    path = tmp_path_factory.mktemp("spool")
    spool = Spool(path, max_items=limit)
    model: list[str] = []
    for op in ops:
        if op == "remove":
            if spool.seqs():
                spool.remove(spool.seqs()[0])
                model.pop(0)
        else:
            spool.append("t", op)
            model = [*model, op][-limit:]
    assert payloads(spool) == model
    assert payloads(Spool(path, max_items=limit)) == model
