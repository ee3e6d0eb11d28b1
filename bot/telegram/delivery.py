"""Acknowledging updates to Telegram only once they are handled.

getUpdates confirms every update below its `offset`. python-telegram-bot asks for the next batch
(and so confirms the last one) as soon as a batch is queued, while its updates are still being
handled: a process killed then loses them, and a standby taking over would never see them.
`UpdateAcks` keeps the ids handed out but not yet handled; while there are any, the next
getUpdates asks from the oldest of them (Telegram sends the unconfirmed ones again, and they are
dropped here because they were handed out already), so the confirmation moves past an update
only after its handler finished. A process that dies leaves its unfinished updates to the next
one. An update whose handler finished just before the kill, in the moment before the next poll
confirmed it, is handled twice: at least once, never lost.

Holding back must not let one chat stall everyone: a getUpdates page holds at most 100 updates,
so 100 unfinished ones would hide every newer update. An update in flight for longer than
`HOLD_BACK_LIMIT` (a flooding chat, one waiting out a long 429) is confirmed anyway, and so is
a whole page that brought nothing new: those few lose the guarantee, never the others their
answers.
"""

from __future__ import annotations

import asyncio
import time

# While updates are being handled, how often to look for new ones (each look gets the updates
# in flight again, which costs parsing them).
HOLD_BACK_POLL_SECONDS = 0.25
# Longer than any answer takes under Telegram's limits (100 in flight at 30 messages a second).
HOLD_BACK_LIMIT = 10.0


class UpdateAcks:
    """Update ids handed to the Application and not yet handled."""

    def __init__(self) -> None:
        # update id -> when it was handed out (time.monotonic), or -inf once given up on
        self._in_flight: dict[int, float] = {}
        self._highest = -1
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def in_flight(self) -> int:
        """How many updates are being handled."""
        return len(self._in_flight)

    def _held(self) -> list[int]:
        since = time.monotonic() - HOLD_BACK_LIMIT
        return [update_id for update_id, at in self._in_flight.items() if at > since]

    @property
    def holding_back(self) -> bool:
        """Whether the next getUpdates must ask from an unfinished update."""
        return bool(self._held())

    def offset(self, requested: int | None) -> int | None:
        """The offset to ask Telegram with: from the oldest unhandled update still held back,
        else past every update handed out (and past those skipped without being handed to
        the Application: PTB does not know of them), else the one asked for."""
        held = self._held()
        if held:
            return min(held)
        if self._highest >= 0:
            return max(requested or 0, self._highest + 1)
        return requested

    def take_new(self, update_ids: list[int]) -> list[int]:
        """Of the ids Telegram sent, those not handed out before (now in flight)."""
        fresh = [update_id for update_id in update_ids if update_id > self._highest]
        if fresh:
            self._highest = max(fresh)
            now = time.monotonic()
            self._in_flight.update((update_id, now) for update_id in fresh)
            self._idle.clear()
        return fresh

    def give_up(self) -> None:
        """Stop holding back what is in flight now (a page of them hides newer updates)."""
        for update_id in self._in_flight:
            self._in_flight[update_id] = float("-inf")

    def done(self, update_id: int) -> None:
        """The update's handlers finished (or failed: the error handler had its turn)."""
        self._in_flight.pop(update_id, None)
        if not self._in_flight:
            self._idle.set()

    async def wait_for_idle(self, seconds: float) -> None:
        """Return when nothing is in flight, or after `seconds`."""
        try:
            await asyncio.wait_for(self._idle.wait(), seconds)
        except TimeoutError:
            pass
