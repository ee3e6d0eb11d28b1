"""The relay between a volunteer and a reporter: who may write, and the messages both ways."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from bot.core.models import Report, ReportEvent, ReportStatus
from bot.core.text import typed
from bot.services.review.records import (
    DECIDED_STATUSES,
    OPEN_STATUSES,
    Contact,
    ReviewBase,
    ReviewError,
)


class Relay(ReviewBase):
    """The relay between a volunteer and a reporter: who may write, and the messages both ways."""

    async def writable_contact(self, report_id: int, actor_id: int, *, admin: bool) -> Contact:
        """The reporter's chat, if this volunteer may write to them: they hold the report (or are
        an admin) and the reporter agreed to be contacted or wrote first."""
        async with self.sessions() as session:
            report = await self._get(session, report_id)
            if report.status not in (*OPEN_STATUSES, *DECIDED_STATUSES):
                raise ReviewError("wrong_status")
            if report.status == ReportStatus.NEW.value:
                raise ReviewError("not_claimed")
            self._require_holder(report, actor_id, admin)
            if not await self._may_write(session, report):
                raise ReviewError("no_consent" if report.reporter_chat_enc else "unreachable")
            chat = self.cipher.decrypt(report.reporter_chat_enc)
        return Contact(report.id, report.code, int(chat or 0), report.reporter_language)

    async def record_message_to_reporter(
        self,
        report_id: int,
        actor_id: int,
        text: str,
        then: Callable[[Any, int, str], object],
    ) -> int:
        """Store a relayed message (encrypted, as `typed` keeps it); returns its event id, which
        the reporter's Reply button names. `then(session, event_id, text)` runs in the same
        transaction with the text as stored, the one to send (the message written to the
        outbox)."""
        kept = typed(text)
        async with self.sessions.begin() as session:
            report = await self._lock(session, report_id)
            event = self._event(report, actor_id, "relay_out", kept)
            session.add(event)
            await session.flush()
            event_id: int = event.id
            then(session, event_id, kept)
            return event_id

    async def check_reporter(self, reporter_id: int, report_id: int) -> None:
        """ReviewError("not_yours") unless `reporter_id` filed the report (and kept its data)."""
        async with self.sessions() as session:
            await self._reporters_report(session, reporter_id, report_id)

    async def _reporters_report(self, session: Any, reporter_id: int, report_id: int) -> Report:
        report: Report | None = await session.get(Report, report_id)
        hashes = self.cipher.lookup_hashes(reporter_id)
        if report is None or report.reporter_hash is None or report.reporter_hash not in hashes:
            raise ReviewError("not_yours")
        return report

    async def reply_route(self, reporter_id: int, report_id: int, event_id: int | None) -> int:
        """The volunteer a reporter's message goes to: the author of the message they reply to,
        else the volunteer holding the report. Raises ReviewError("not_yours") unless
        `reporter_id` filed the report."""
        async with self.sessions() as session:
            report = await self._reporters_report(session, reporter_id, report_id)
            if event_id is not None:
                author = await session.scalar(
                    select(ReportEvent.actor_enc).where(
                        ReportEvent.id == event_id,
                        ReportEvent.report_id == report_id,
                        ReportEvent.action == "relay_out",
                    )
                )
                if author is not None:
                    return int(self.cipher.decrypt_id(author) or 0)
            holder = self.cipher.decrypt_id(report.claimed_by_enc)
            if holder is None or report.status == ReportStatus.CLOSED.value:
                raise ReviewError("no_volunteer")
            return holder

    async def holder_of(self, report_id: int) -> int | None:
        """The volunteer holding an open or decided report, if any."""
        async with self.sessions() as session:
            holder = await session.scalar(
                select(Report.claimed_by_enc).where(
                    Report.id == report_id, Report.status != ReportStatus.CLOSED.value
                )
            )
        return self.cipher.decrypt_id(holder)

    async def record_message_from_reporter(
        self, report_id: int, text: str, then: Callable[[Any, str, str], object]
    ) -> str:
        """Store a reporter's relayed message (encrypted, without who sent it, as `typed` keeps
        it); returns the report's code. `then(session, code, text)` runs in the same
        transaction with the text as stored, the one to send."""
        kept = typed(text)
        async with self.sessions.begin() as session:
            report = await self._lock(session, report_id)
            session.add(self._event(report, None, "relay_in", kept))
            then(session, report.code, kept)
            return report.code
