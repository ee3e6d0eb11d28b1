"""Unhandled errors summarised to the administrators in Telegram: the error's class, the handler,
the update's kind and how often it happened; never the update's content or anyone's identity.
At most one message per error class every `SUMMARY_INTERVAL` seconds: a failing handler under
a flood would otherwise flood the administrators."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from bot.core.i18n import gettext_for
from bot.services.component import Component

log = logging.getLogger(__name__)

SUMMARY_INTERVAL = 600.0


@dataclass
class _Seen:
    """An error class: when it was last summarised and what happened since."""

    sent_at: float | None = None
    count: int = 0


class ErrorSummaries(Component):
    """Counts unhandled errors by class and sends the summaries."""

    def __init__(
        self,
        send: Callable[[int, str], Awaitable[object]],
        admin_ids: Iterable[int],
        language_of: Callable[[int], Awaitable[str]],
        interval: float = SUMMARY_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._admin_ids = sorted(admin_ids)
        self._language_of = language_of
        self._interval = interval
        self._clock = clock
        self._seen: dict[str, _Seen] = {}
        self._sending: set[asyncio.Task[None]] = set()

    def record(self, error: str, handler: str, update_kind: str) -> None:
        """An unhandled `error` (a class name) in `handler` (a function name) for an update of
        `update_kind`: summarised now, or counted into the next summary of its class."""
        seen = self._seen.setdefault(error, _Seen())
        seen.count += 1
        now = self._clock()
        if not self._admin_ids or (
            seen.sent_at is not None and now - seen.sent_at < self._interval
        ):
            return
        seen.sent_at, count, seen.count = now, seen.count, 0
        task = asyncio.create_task(self._summarise(error, handler, update_kind, count))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def shutdown(self) -> None:
        """Wait for the summaries being sent."""
        await asyncio.gather(*self._sending, return_exceptions=True)

    async def _summarise(self, error: str, handler: str, update_kind: str, count: int) -> None:
        minutes = round(self._interval / 60)
        for admin_id in self._admin_ids:
            try:
                _ = gettext_for(await self._language_of(admin_id))
                text = "\n".join(
                    [
                        _("⚠️ Unhandled error in the bot: {error}").format(error=error),
                        _("Handler: {handler}").format(handler=handler),
                        _("Update kind: {kind}").format(kind=update_kind),
                        _("Times since the last summary: {count}").format(count=count),
                        _(
                            "The server's log has the details (without personal data). The next "
                            "summary of this error comes in {minutes} min at the earliest."
                        ).format(minutes=minutes),
                    ]
                )
                await self._send(admin_id, text)
            except Exception as failure:  # a summary must never fail anything else
                log.warning("could not send an error summary (%s)", type(failure).__name__)
