"""Confirming updates to Telegram only once they are handled (bot.telegram.delivery): the next
poll asks from the oldest unfinished update, never hands an update out twice, and stops holding
back for updates stuck longer than the limit or filling a whole page."""

from __future__ import annotations

import pytest

from bot.telegram import delivery
from bot.telegram.delivery import UpdateAcks


def test_the_offset_waits_for_the_oldest_unfinished_update() -> None:
    acks = UpdateAcks()
    assert acks.take_new([10, 11, 12]) == [10, 11, 12]
    assert acks.offset(13) == 10
    acks.done(10)
    acks.done(12)
    assert acks.offset(13) == 11  # 12 is done, but 11 is not: nothing past 11 is confirmed
    # Telegram sends 11 and 12 again with the new 13: only 13 is handed out.
    assert acks.take_new([11, 12, 13]) == [13]
    acks.done(11)
    acks.done(13)
    assert not acks.holding_back and acks.offset(14) == 14


def test_stuck_or_page_filling_updates_stop_holding_back(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(delivery.time, "monotonic", lambda: now[0])
    acks = UpdateAcks()
    acks.take_new([1, 2])
    now[0] += delivery.HOLD_BACK_LIMIT / 2
    acks.take_new([3])
    acks.done(2)
    assert acks.offset(4) == 1
    now[0] += delivery.HOLD_BACK_LIMIT / 2 + 1  # 1 is stuck: confirmed anyway, 3 is not
    assert acks.offset(4) == 3
    acks.give_up()
    assert not acks.holding_back and acks.offset(4) == 4
    assert acks.in_flight == 2  # still running, and done() still clears them
    acks.done(1)
    acks.done(3)
    assert acks.in_flight == 0
