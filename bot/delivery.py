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
"""

from __future__ import annotations

import asyncio

# While updates are being handled, how often to look for new ones (each look gets the updates
# in flight again, which costs parsing them).
HOLD_BACK_POLL_SECONDS = 0.25


class UpdateAcks:
    """Update ids handed to the Application and not yet handled."""

    def __init__(self) -> None:
        self._in_flight: set[int] = set()
        self._highest = -1
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def in_flight(self) -> int:
        """How many updates are being handled."""
        return len(self._in_flight)

    def offset(self, requested: int | None) -> int | None:
        """The offset to ask Telegram with: from the oldest unhandled update, if any."""
        return min(self._in_flight) if self._in_flight else requested

    def take_new(self, update_ids: list[int]) -> list[int]:
        """Of the ids Telegram sent, those not handed out before (now in flight)."""
        fresh = [update_id for update_id in update_ids if update_id > self._highest]
        if fresh:
            self._highest = max(fresh)
            self._in_flight.update(fresh)
            self._idle.clear()
        return fresh

    def done(self, update_id: int) -> None:
        """The update's handlers finished (or failed: the error handler had its turn)."""
        self._in_flight.discard(update_id)
        if not self._in_flight:
            self._idle.set()

    async def wait_for_idle(self, seconds: float) -> None:
        """Return when nothing is in flight, or after `seconds`."""
        try:
            await asyncio.wait_for(self._idle.wait(), seconds)
        except TimeoutError:
            pass
