"""Processing updates concurrently across chats while keeping each chat's (and user's) order.

python-telegram-bot handles one update at a time by default: at 100 ms per Bot API call that is
about 9 answers a second for the whole bot. `ChatOrderedUpdateProcessor` runs updates of
different chats at the same time, and the updates of one chat (and of one user, who may write in
a private chat, press buttons and type inline queries) strictly one after another, in the order
Telegram delivered them, so a conversation never sees its second message handled before its first.

Use it with `ApplicationBuilder().concurrent_updates(ChatOrderedUpdateProcessor())`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

# How many updates may run handlers at once. Handlers mostly wait on the network and the
# database, so this is far above the core count; the database pool queues what it cannot serve.
DEFAULT_MAX_RUNNING = 256
# How many updates may be held at once, running or waiting for an earlier update of their chat.
# PTB's semaphore counts these; it only has to stay out of the way of the running limit above.
DEFAULT_MAX_PENDING = 8192

OrderingKey = tuple[str, int | str]
# Told of every update once its handlers finished, with the seconds since it arrived.
UpdateDone = Callable[[object, float], None]


def ordering_keys(update: object) -> tuple[OrderingKey, ...]:
    """The sequences an update belongs to: its chat and its sender (empty: no ordering needed)."""
    if not isinstance(update, Update):
        return ()
    keys: list[OrderingKey] = []
    chat = update.effective_chat
    if chat is not None:
        keys.append(("chat", chat.id))
    user = update.effective_user
    if user is not None:
        keys.append(("user", user.id))
    return tuple(keys)


class ChatOrderedUpdateProcessor(BaseUpdateProcessor):
    """Runs updates concurrently, but each chat's and each user's updates in arrival order.

    Every update waits for the previous update of each of its keys (chat, user) to finish, then
    takes one of `max_running` slots. Waiting for a predecessor does not hold a running slot, so
    a user who floods the bot delays only themselves. Arrival order is the order PTB hands updates
    to `process_update`, which is the order Telegram sent them: PTB starts one task per update in
    that order and its semaphore wakes waiters first in, first out.
    """

    __slots__ = ("_max_running", "_on_done", "_running", "_tails")

    def __init__(
        self,
        max_running: int = DEFAULT_MAX_RUNNING,
        max_pending: int = DEFAULT_MAX_PENDING,
        on_done: UpdateDone | None = None,
    ) -> None:
        if max_running < 1:
            raise ValueError("max_running must be at least 1")
        # PTB hands updates over concurrently only when this is above 1.
        super().__init__(max_concurrent_updates=max(max_pending, max_running, 2))
        self._max_running = max_running
        self._running = asyncio.BoundedSemaphore(max_running)
        # The completion signal of the latest update seen for each key.
        self._tails: dict[OrderingKey, asyncio.Event] = {}
        self._on_done = on_done

    @property
    def max_running(self) -> int:
        """How many updates may run handlers at the same time."""
        return self._max_running

    @property
    def sequences_in_progress(self) -> int:
        """How many chats and users have an update running or waiting right now."""
        return len(self._tails)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the update's predecessors in its chat and user, then run it."""
        keys = ordering_keys(update)
        arrived = asyncio.get_running_loop().time()
        # No await before the tails are replaced: that is what fixes the arrival order.
        predecessors = [self._tails[key] for key in keys if key in self._tails]
        done = asyncio.Event()
        for key in keys:
            self._tails[key] = done
        started = handled = False
        try:
            for predecessor in predecessors:
                await predecessor.wait()
            async with self._running:
                started = True
                await coroutine
                handled = True
        finally:
            if not started and isinstance(coroutine, Coroutine):
                coroutine.close()  # cancelled while waiting: never awaited, and that is fine
            done.set()
            for key in keys:
                if self._tails.get(key) is done:
                    del self._tails[key]
            # Only a finished update counts: one cut short is handled again (bot.telegram.delivery).
            if handled and self._on_done is not None:
                self._on_done(update, asyncio.get_running_loop().time() - arrived)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release: Application.stop() already waited for every update."""
