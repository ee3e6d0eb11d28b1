"""What the review jobs read and mark: escalations, stale claims, the digest and its state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from bot.core.db import rowcount
from bot.core.models import JobState, Report, ReportEvent, ReportStatus, utcnow
from bot.services.review.records import (
    DECIDED_STATUSES,
    OPEN_STATUSES,
    DigestCounts,
    QueueItem,
    ReviewBase,
)


class JobQueries(ReviewBase):
    """What the review jobs read and mark: escalations, stale claims, the digest and its state."""

    async def due_escalations(self, older_than: timedelta) -> list[QueueItem]:
        """Urgent reports nobody claimed for `older_than` and not escalated yet."""
        async with self.sessions() as session:
            rows = (
                await session.scalars(
                    select(Report)
                    .where(
                        Report.urgent.is_(True),
                        Report.status == ReportStatus.NEW.value,
                        Report.escalated_at.is_(None),
                        Report.created_at <= utcnow() - older_than,
                    )
                    .order_by(Report.created_at, Report.id)
                )
            ).all()
        return [QueueItem.of(r, self.cipher) for r in rows]

    async def mark_escalated(
        self, report_ids: list[int], then: Callable[[Any], object] | None = None
    ) -> None:
        """Record that the volunteer chat is told about these reports; `then(session)` runs in
        the same transaction (the escalation written to the outbox), so the mark and the
        message are saved together or not at all."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(Report).where(Report.id.in_(report_ids)).values(escalated_at=utcnow())
            )
            for report_id in report_ids:
                session.add(ReportEvent(report_id=report_id, action="escalated"))
            if then is not None:
                then(session)

    async def due_stale_claims(self, older_than: timedelta) -> list[QueueItem]:
        """Reports held in review for `older_than` whose holder was not reminded yet."""
        async with self.sessions() as session:
            rows = (
                await session.scalars(
                    select(Report)
                    .where(
                        Report.status == ReportStatus.IN_REVIEW.value,
                        Report.claimed_by_hash.is_not(None),
                        Report.claimed_at <= utcnow() - older_than,
                        Report.stale_reminded_at.is_(None),
                    )
                    .order_by(Report.claimed_at, Report.id)
                )
            ).all()
        return [QueueItem.of(r, self.cipher) for r in rows]

    async def mark_reminded(self, report_id: int) -> None:
        """Record that the holder of the report was reminded of it."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(Report).where(Report.id == report_id).values(stale_reminded_at=utcnow())
            )
            session.add(ReportEvent(report_id=report_id, action="stale_reminder"))

    async def job_state(self, name: str) -> tuple[str, datetime] | None:
        """What a scheduled job last recorded (its key, e.g. a date) and when."""
        async with self.sessions() as session:
            row = await session.get(JobState, name)
            return (row.last_key, row.updated_at) if row else None

    async def save_job_state(self, name: str, key: str) -> None:
        """Record that a scheduled job did the work identified by `key`."""
        async with self.sessions.begin() as session:
            updated = await session.execute(
                update(JobState)
                .where(JobState.name == name)
                .values(last_key=key, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if not rowcount(updated):
                session.add(JobState(name=name, last_key=key, updated_at=utcnow()))

    async def digest_counts(self, since: datetime, stale_after: timedelta) -> DigestCounts:
        """Counts for the daily digest: what arrived and was decided since `since`, and what is
        open now. Nothing personal."""
        now = utcnow()
        async with self.sessions() as session:
            arrived = (
                await session.execute(
                    select(Report.urgent, Report.city).where(Report.created_at >= since)
                )
            ).all()
            decided = dict(
                (
                    await session.execute(
                        select(ReportEvent.action, func.count(ReportEvent.id))
                        .where(
                            ReportEvent.created_at >= since,
                            ReportEvent.action.in_(["verified", "rejected", "duplicate", "closed"]),
                        )
                        .group_by(ReportEvent.action)
                    )
                ).all()
            )
            open_rows = (
                await session.execute(
                    select(Report.status, Report.urgent, Report.claimed_at).where(
                        Report.status.in_(OPEN_STATUSES)
                    )
                )
            ).all()
        cities: dict[str, int] = {}
        for _urgent, city in arrived:
            cities[city or "other"] = cities.get(city or "other", 0) + 1
        waiting = [row for row in open_rows if row.status == ReportStatus.NEW.value]
        in_review = [row for row in open_rows if row.status == ReportStatus.IN_REVIEW.value]
        return DigestCounts(
            arrived=len(arrived),
            arrived_urgent=sum(1 for urgent, _city in arrived if urgent),
            cities=dict(sorted(cities.items(), key=lambda item: (-item[1], item[0]))),
            decided={key: int(decided.get(key, 0)) for key in (*DECIDED_STATUSES, "closed")},
            waiting=len(waiting),
            waiting_urgent=sum(1 for row in waiting if row.urgent),
            in_review=len(in_review),
            stale=sum(
                1
                for row in in_review
                if row.claimed_at is not None and row.claimed_at <= now - stale_after
            ),
        )
