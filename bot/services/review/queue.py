"""The queue and the report card: what volunteers read (every view is written to report_events)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from bot.core.models import Report, ReportEvent
from bot.core.text import typed
from bot.services.review.records import (
    NOTES_ON_CARD,
    OPEN_STATUSES,
    HistoryLine,
    Note,
    QueueItem,
    ReportCard,
    ReviewBase,
    ReviewError,
)


class QueueReads(ReviewBase):
    """The queue and the report card: what volunteers read (every view is written to
    report_events)."""

    async def queue(
        self, status_filter: str, city: str | None, offset: int, limit: int
    ) -> tuple[list[QueueItem], int]:
        """Reports matching the filter, urgent first, then the longest waiting; and how many
        match in all."""
        conditions = self._queue_conditions(status_filter, city)
        async with self.sessions() as session:
            total = await session.scalar(select(func.count(Report.id)).where(*conditions))
            rows = (
                await session.scalars(
                    select(Report)
                    .where(*conditions)
                    .order_by(Report.urgent.desc(), Report.created_at, Report.id)
                    .offset(offset)
                    .limit(limit)
                )
            ).all()
        items = [QueueItem.of(r, self.cipher) for r in rows]
        return items, int(total or 0)

    def _queue_conditions(self, status_filter: str, city: str | None) -> list[Any]:
        conditions: list[Any] = []
        if status_filter == "open":
            conditions.append(Report.status.in_(OPEN_STATUSES))
        elif status_filter != "all":
            conditions.append(Report.status == status_filter)
        if city == "other":
            conditions.append(or_(Report.city.is_(None), Report.city == "other"))
        elif city is not None:
            conditions.append(Report.city == city)
        return conditions

    async def queue_cities(self, status_filter: str) -> list[str]:
        """The cities that have reports under this status filter ("other" for unknown)."""
        conditions = self._queue_conditions(status_filter, None)
        async with self.sessions() as session:
            cities = (
                await session.scalars(select(Report.city).where(*conditions).distinct())
            ).all()
        return sorted({city or "other" for city in cities})

    async def card(self, report_id: int, viewer_id: int, *, record_view: bool = True) -> ReportCard:
        """The decrypted report; the view is recorded unless it follows the viewer's own action."""
        async with self.sessions() as session:
            report = await self._get(session, report_id)
            note_rows = (
                await session.scalars(
                    select(ReportEvent)
                    .where(ReportEvent.report_id == report.id, ReportEvent.action == "note")
                    .order_by(ReportEvent.created_at.desc(), ReportEvent.id.desc())
                    .limit(NOTES_ON_CARD)
                )
            ).all()
            duplicate_of = (
                await session.scalar(select(Report.code).where(Report.id == report.duplicate_of_id))
                if report.duplicate_of_id
                else None
            )
            may_write = await self._may_write(session, report)
        if record_view:
            async with self.sessions.begin() as session:
                session.add(self._event(report, viewer_id, "viewed"))
        cipher = self.cipher

        def shown(token: bytes | None, *, one_line: bool = True) -> str | None:
            # Typed text is stored as `typed` keeps it; rows stored before it was are kept so
            # here, on the way out.
            return typed(cipher.decrypt(token), one_line=one_line)

        location = cipher.decrypt_json(report.location_enc) if report.location_enc else {}
        notes = [
            Note(
                row.created_at,
                cipher.decrypt_id(row.actor_enc),
                shown(row.detail_enc, one_line=False) or "",
            )
            for row in reversed(note_rows)
            if row.detail_enc is not None
        ]
        return ReportCard(
            id=report.id,
            code=report.code,
            status=report.status,
            urgent=report.urgent,
            city=report.city,
            created_at=report.created_at,
            occurred_at=report.occurred_at,
            reporter_role=report.reporter_role,
            people=report.people,
            town=typed(location.get("town"), one_line=True),
            place=typed(location.get("place"), one_line=True),
            latitude=location.get("lat"),
            longitude=location.get("lon"),
            name=shown(report.detained_name_enc),
            police=shown(report.police_unit_enc),
            details=shown(report.details_enc, one_line=False),
            media=cipher.decrypt_json(report.media_enc) if report.media_enc else [],
            phone=shown(report.contact_phone_enc),
            contact_via_telegram=report.contact_via_telegram,
            consent=report.consent_to_contact,
            claimed_by=cipher.decrypt_id(report.claimed_by_enc),
            claimed_at=report.claimed_at,
            outcome=report.outcome,
            outcome_number=report.outcome_number,
            outcome_date=report.outcome_date,
            duplicate_of=duplicate_of,
            purged=report.purged_at is not None,
            reachable=report.reporter_chat_enc is not None,
            may_write=may_write,
            notes=notes,
        )

    async def history(self, report_id: int, viewer_id: int) -> list[HistoryLine]:
        """Every event of the report, oldest first; looking at it is itself recorded."""
        async with self.sessions() as session:
            await self._get(session, report_id)
        async with self.sessions.begin() as session:
            session.add(
                ReportEvent(
                    report_id=report_id,
                    actor_enc=self.cipher.encrypt(str(viewer_id)),
                    action="history_viewed",
                )
            )
        async with self.sessions() as session:
            rows = (
                await session.scalars(
                    select(ReportEvent)
                    .where(ReportEvent.report_id == report_id)
                    .order_by(ReportEvent.created_at, ReportEvent.id)
                )
            ).all()
        return [
            HistoryLine(row.created_at, self.cipher.decrypt_id(row.actor_enc), row.action)
            for row in rows
        ]

    async def code_of(self, report_id: int) -> str | None:
        """The report's reference code, or None if there is no such report."""
        async with self.sessions() as session:
            return await session.scalar(select(Report.code).where(Report.id == report_id))

    async def require_code(self, report_id: int) -> str:
        """The report's reference code; ReviewError("not_found") if there is no such report."""
        code = await self.code_of(report_id)
        if code is None:
            raise ReviewError("not_found")
        return code
