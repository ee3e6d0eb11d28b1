"""Alerts to the volunteer chat. Telegram allows about 20 messages a minute in a group, so the
notifier writes at most one message per slot; whatever is waiting when a slot opens goes out
together as a digest. The queue is the database (reports with notified_at unset), so nothing is
dropped and a restart resumes where it stopped.

An alert is written to the outbox (bot.telegram.outbox) in the transaction that marks its
reports notified, so a Telegram outage or a restart neither loses nor repeats it (but for the
outbox's own one-statement window, see there). While an alert still waits there for Telegram,
no new one is written: the reports that arrive meanwhile are folded into the next, instead of
piling up one message per slot."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.db import DATABASE_ERRORS, SessionFactory
from bot.core.i18n import gettext_for, ngettext_for
from bot.core.models import UNKNOWN_PEOPLE, OutboxMessage, Report, utcnow
from bot.services.component import Component

log = logging.getLogger(__name__)

GROUP_MESSAGES_PER_MINUTE = 18  # below Telegram's 20, leaving room for other messages
MESSAGE_LIMIT = 4000  # Telegram's limit is 4096 characters
ALERT = "alert"  # the outbox kind of these alerts


@dataclass(frozen=True)
class PendingAlert:
    """What volunteers are told about a new report: no personal data, only the facts to triage."""

    report_id: int
    code: str
    city: str | None
    occurred_at: datetime | None
    created_at: datetime
    urgent: bool
    people: str | None  # as the reporter gave it: "3", "2-5", "20+", "unknown"


SendMessage = Callable[[int, str], Awaitable[object]]


class AlertOutbox(Protocol):
    """The outbox as the notifier uses it (bot.telegram.outbox.Outbox)."""

    def add(self, session: AsyncSession, kind: str, chat_id: int, text: str) -> OutboxMessage:
        """Put a message into the caller's transaction."""

    async def deliver_now(self, row_ids: list[int]) -> dict[int, str]:
        """Try to send these rows at once (else they wait for the outbox's loop)."""


class VolunteerNotifier(Component):
    """Paces alerts to the volunteer chat and folds bursts into digests."""

    def __init__(
        self,
        sessions: SessionFactory,
        outbox: AlertOutbox,
        send: SendMessage,
        chat_id: int,
        language: str,
        timezone: ZoneInfo,
        city_name: Callable[[str, str], str],
        per_minute: int = GROUP_MESSAGES_PER_MINUTE,
    ) -> None:
        """Alerts go through `outbox`; `send` sends the other messages of the volunteer chat
        (send_paced)."""
        self.sessions = sessions
        self.outbox = outbox
        self.send = send
        self.chat_id = chat_id
        self.language = language
        self.timezone = timezone
        self.city_name = city_name
        self.interval = 60.0 / per_minute
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_sent = float("-inf")
        self._paced = asyncio.Lock()
        self._failures = 0

    async def initialize(self) -> None:
        """Run the sending loop in the background."""
        self._task = asyncio.create_task(self._run(), name="volunteer-notifier")
        self._wake.set()  # catch up on anything left from before a restart

    async def shutdown(self) -> None:
        """Stop the loop; unsent alerts stay in the database for the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for the next of the volunteer chat's message slots and take it, so that alerts,
        escalations and digests together stay under the group's limit."""
        async with self._paced:
            loop = asyncio.get_running_loop()
            delay = self._last_sent + self.interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            # Take the slot before sending: the alert loop then waits for the next one.
            self._last_sent = loop.time()
            yield

    async def send_paced(self, text: str) -> None:
        """Send another message to the volunteer chat in one of the notifier's slots."""
        async with self.slot():
            await self.send(self.chat_id, text)

    def wake(self) -> None:
        """A report was filed: send soon."""
        self._wake.set()

    async def _pending(self) -> list[PendingAlert]:
        async with self.sessions() as session:
            rows = (
                await session.scalars(
                    select(Report)
                    .where(Report.notified_at.is_(None))
                    .order_by(Report.urgent.desc(), Report.created_at, Report.id)
                )
            ).all()
        return [
            PendingAlert(r.id, r.code, r.city, r.occurred_at, r.created_at, r.urgent, r.people)
            for r in rows
        ]

    async def _alert_waiting(self) -> bool:
        """Whether an alert written earlier still waits in the outbox for Telegram."""
        async with self.sessions() as session:
            waiting = await session.scalar(
                select(func.count(OutboxMessage.id)).where(OutboxMessage.kind == ALERT)
            )
        return bool(waiting)

    async def _write(self, text: str, report_ids: list[int]) -> int:
        """The alert into the outbox and its reports marked notified, in one transaction;
        returns the outbox row's id."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(Report).where(Report.id.in_(report_ids)).values(notified_at=utcnow())
            )
            row = self.outbox.add(session, ALERT, self.chat_id, text)
            await session.flush()
            return row.id

    def _line(self, alert: PendingAlert) -> str:
        _ = gettext_for(self.language)
        when = (alert.occurred_at or alert.created_at).astimezone(self.timezone)
        parts = [
            ("🚨 " if alert.urgent else "") + f"<b>{html.escape(alert.code)}</b>",
            html.escape(self.city_name(alert.city, self.language)) if alert.city else _("city?"),
            when.strftime("%d.%m %H:%M"),
        ]
        people = alert.people
        if people and people.isdecimal():
            ngettext = ngettext_for(self.language)
            parts.append(ngettext("{n} person", "{n} people", int(people)).format(n=int(people)))
        elif people == "20+":
            parts.append(_("more than 20 people"))
        elif people and people != UNKNOWN_PEOPLE:
            parts.append(_("{range} people").format(range=people.replace("-", "–")))
        return " · ".join(parts)

    def compose(self, alerts: list[PendingAlert]) -> tuple[str, list[int]]:
        """One message for as many waiting alerts as fit; returns its text and their ids."""
        _ = gettext_for(self.language)
        if len(alerts) == 1:
            alert = alerts[0]
            header = (
                _("🚨 URGENT: new detention report") if alert.urgent else _("New detention report")
            )
            return f"{header}\n{self._line(alert)}\n{_('Open /queue to review.')}", [
                alert.report_id
            ]
        lines: list[str] = []
        ids: list[int] = []
        urgent = sum(1 for a in alerts if a.urgent)
        ngettext = ngettext_for(self.language)
        header = ngettext(
            "{n} new report ({urgent} urgent)", "{n} new reports ({urgent} urgent)", len(alerts)
        ).format(n=len(alerts), urgent=urgent)
        budget = MESSAGE_LIMIT - len(header) - 200
        for alert in alerts:
            line = self._line(alert)
            if len(line) + 1 > budget:
                break
            lines.append(line)
            ids.append(alert.report_id)
            budget -= len(line) + 1
        footer = _("Open /queue to review.")
        if len(ids) < len(alerts):
            footer = _("More follow in the next message. ") + footer
        return "\n".join([f"<b>{html.escape(header)}</b>", *lines, footer]), ids

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while True:
                # Wait for the next slot first: reports arriving meanwhile join this message.
                delay = self._last_sent + self.interval - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                try:
                    alerts = await self._pending()
                    if not alerts:
                        break
                    if await self._alert_waiting():
                        # Telegram has not taken the last alert yet (an outage): look again in
                        # a slot, and fold what arrives meanwhile into the next message.
                        self._last_sent = loop.time()
                        continue
                    text, ids = self.compose(alerts)
                    row_id = await self._write(text, ids)
                    self._last_sent = loop.time()
                    await self.outbox.deliver_now([row_id])
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    # The database is down (one line, as for every storage fault) or a bug: keep
                    # the alerts and try again, waiting longer each time.
                    self._failures += 1
                    if isinstance(error, DATABASE_ERRORS):
                        log.warning(
                            "volunteer alert not written (%s); will retry", type(error).__name__
                        )
                    else:
                        log.exception("volunteer alert failed; will retry")
                    backoff = min(60.0, self.interval * 2 ** min(self._failures, 10))
                    self._last_sent = loop.time() + backoff - self.interval
                else:
                    self._failures = 0
