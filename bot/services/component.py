"""The one shape of a service: a component held on Services (bot.telegram.context), built once
per Application with what it needs (the session factory, the cipher, the settings), started
before the first update and stopped after the last. Handlers call its methods and never pass
sessions or the cipher around."""

from __future__ import annotations


class Component:
    """A long-lived service. `initialize` runs once before the bot takes updates (load caches,
    start background tasks); `shutdown` once after the last (flush, stop tasks), in the reverse
    order of the components."""

    async def initialize(self) -> None:
        """Nothing to start by default."""

    async def shutdown(self) -> None:
        """Nothing to stop by default."""
