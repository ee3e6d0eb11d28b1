"""Claims and decisions: claim, release, verify, reject, duplicate, close, notes and outcomes."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select, update

from bot.core.db import rowcount
from bot.core.models import Report, ReportEvent, ReportStatus, utcnow
from bot.core.text import typed
from bot.services.review.records import (
    DECIDED_STATUSES,
    DUPLICATE_CHAIN_LIMIT,
    MAX_ARREST_DAYS,
    MAX_FINE_MCI,
    MAX_NOTE,
    MAX_REASON,
    OUTCOME_STATUSES,
    OUTCOMES,
    Change,
    InTransaction,
    ReviewBase,
    ReviewError,
)


class Decisions(ReviewBase):
    """Claims and decisions: claim, release, verify, reject, duplicate, close, notes and
    outcomes."""

    async def check_decision(self, report_id: int, actor_id: int, *, admin: bool) -> None:
        """Raise ReviewError unless the actor may verify, reject or merge the report now."""
        async with self.sessions() as session:
            report = await self._get(session, report_id)
            if report.status != ReportStatus.IN_REVIEW.value:
                raise ReviewError(
                    "not_claimed" if report.status == ReportStatus.NEW.value else "wrong_status"
                )
            self._require_holder(report, actor_id, admin)

    async def claim(
        self, report_id: int, actor_id: int, *, admin: bool, then: InTransaction | None = None
    ) -> Change:
        """Take a new report into review. An admin may take over another volunteer's claim.
        `then(session, change)` runs in the same transaction (the reporter's update written to
        the outbox); so it does for every status change below."""
        now = utcnow()
        claimed = {
            "claimed_by_hash": self.cipher.lookup_hash(actor_id),
            "claimed_by_enc": self.cipher.encrypt(str(actor_id)),
            "claimed_at": now,
            "stale_reminded_at": None,
        }
        async with self.sessions.begin() as session:
            # A conditional UPDATE, so two volunteers pressing Claim at once cannot both win.
            result = await session.execute(
                update(Report)
                .where(Report.id == report_id, Report.status == ReportStatus.NEW.value)
                .values(status=ReportStatus.IN_REVIEW.value, **claimed)
            )
            report = await self._get(session, report_id)
            await session.refresh(report)
            if rowcount(result):
                session.add(self._event(report, actor_id, "claimed"))
                return self._change(session, report, then)
            if report.status != ReportStatus.IN_REVIEW.value:
                raise ReviewError("wrong_status")
            if self._holds(report, actor_id):
                raise ReviewError("already_yours")
            if not admin:
                raise ReviewError("claimed_by_other")
            previous = report.claimed_by_hash
            taken = await session.execute(
                update(Report)
                .where(
                    Report.id == report_id,
                    Report.status == ReportStatus.IN_REVIEW.value,
                    Report.claimed_by_hash == previous,
                )
                .values(**claimed)
            )
            if not rowcount(taken):
                raise ReviewError("claimed_by_other")
            await session.refresh(report)
            session.add(self._event(report, actor_id, "taken_over"))
            return self._change(session, report, then, status_changed=False)

    async def release(self, report_id: int, actor_id: int, *, admin: bool) -> Change:
        """Give a claimed report back to the queue."""
        async with self.sessions.begin() as session:
            report = await self._lock(session, report_id)
            if report.status != ReportStatus.IN_REVIEW.value:
                raise ReviewError("wrong_status")
            self._require_holder(report, actor_id, admin)
            report.status = ReportStatus.NEW.value
            report.claimed_by_hash = None
            report.claimed_by_enc = None
            report.claimed_at = None
            session.add(self._event(report, actor_id, "released"))
            return self._change(session, report, None)

    async def release_all_of(self, volunteer_id: int, actor_id: int) -> int:
        """Give back every report a volunteer holds (they lost the role); returns how many."""
        async with self.sessions.begin() as session:
            released = (
                await session.execute(
                    update(Report)
                    .where(
                        Report.claimed_by_hash.in_(self.cipher.lookup_hashes(volunteer_id)),
                        Report.status == ReportStatus.IN_REVIEW.value,
                    )
                    .values(
                        status=ReportStatus.NEW.value,
                        claimed_by_hash=None,
                        claimed_by_enc=None,
                        claimed_at=None,
                    )
                    .returning(Report.id)
                    .execution_options(synchronize_session=False)
                )
            ).all()
            for (report_id,) in released:
                session.add(
                    ReportEvent(
                        report_id=report_id,
                        actor_enc=self.cipher.encrypt(str(actor_id)),
                        action="released",
                    )
                )
            return len(released)

    async def _decide(
        self,
        report_id: int,
        actor_id: int,
        admin: bool,
        status: ReportStatus,
        then: InTransaction | None,
        detail: Any = None,
    ) -> Change:
        async with self.sessions.begin() as session:
            report = await self._lock(session, report_id)
            if report.status != ReportStatus.IN_REVIEW.value:
                raise ReviewError("wrong_status")
            self._require_holder(report, actor_id, admin)
            report.status = status.value
            session.add(self._event(report, actor_id, status.value, detail))
            return self._change(session, report, then)

    async def verify(
        self, report_id: int, actor_id: int, *, admin: bool, then: InTransaction | None = None
    ) -> Change:
        """The report is confirmed."""
        return await self._decide(report_id, actor_id, admin, ReportStatus.VERIFIED, then)

    async def reject(
        self,
        report_id: int,
        actor_id: int,
        reason: str,
        *,
        admin: bool,
        then: InTransaction | None = None,
    ) -> Change:
        """The report could not be confirmed; the reason stays with the volunteers."""
        text = typed(reason).strip()
        if not text or len(text) > MAX_REASON:
            raise ReviewError("bad_text")
        return await self._decide(report_id, actor_id, admin, ReportStatus.REJECTED, then, text)

    async def mark_duplicate(
        self,
        report_id: int,
        actor_id: int,
        original_code: str,
        *,
        admin: bool,
        then: InTransaction | None = None,
    ) -> tuple[Change, str]:
        """Merge the report into another one (the first of a chain of duplicates); returns the
        change and the code it was merged into."""
        code = original_code.strip().upper()
        if not code.startswith("R-"):
            code = "R-" + code
        async with self.sessions.begin() as session:
            report = await self._lock(session, report_id)
            if report.status != ReportStatus.IN_REVIEW.value:
                raise ReviewError("wrong_status")
            self._require_holder(report, actor_id, admin)
            original = await session.scalar(select(Report).where(Report.code == code))
            for _hop in range(DUPLICATE_CHAIN_LIMIT):
                if original is None or original.duplicate_of_id is None:
                    break
                original = await session.get(Report, original.duplicate_of_id)
            if original is None:
                raise ReviewError("unknown_code")
            if original.id == report.id:
                raise ReviewError("same_report")
            report.status = ReportStatus.DUPLICATE.value
            report.duplicate_of_id = original.id
            session.add(self._event(report, actor_id, "duplicate", original.code))
            session.add(self._event(original, actor_id, "merged", report.code))
            return self._change(session, report, then), original.code

    async def close(
        self, report_id: int, actor_id: int, *, admin: bool, then: InTransaction | None = None
    ) -> Change:
        """Close a decided report; its personal data is purged after the retention period."""
        async with self.sessions.begin() as session:
            report = await self._lock(session, report_id)
            if report.status not in DECIDED_STATUSES:
                raise ReviewError("wrong_status")
            self._require_holder(report, actor_id, admin)
            report.status = ReportStatus.CLOSED.value
            report.closed_at = utcnow()
            session.add(self._event(report, actor_id, "closed"))
            return self._change(session, report, then)

    async def add_note(self, report_id: int, actor_id: int, text: str) -> None:
        """A note for the other volunteers (encrypted)."""
        note = typed(text).strip()
        if not note or len(note) > MAX_NOTE:
            raise ReviewError("bad_text")
        async with self.sessions.begin() as session:
            report = await self._lock(session, report_id)
            session.add(
                ReportEvent(
                    report_id=report.id,
                    actor_enc=self.cipher.encrypt(str(actor_id)),
                    action="note",
                    detail_enc=self.cipher.encrypt(note),
                )
            )

    async def check_outcome(self, report_id: int, actor_id: int, *, admin: bool) -> None:
        """Raise ReviewError unless the actor may record an outcome on the report now."""
        async with self.sessions() as session:
            report = await self._get(session, report_id)
            if report.status not in OUTCOME_STATUSES:
                raise ReviewError("wrong_status")
            self._require_holder(report, actor_id, admin)

    async def record_outcome(
        self,
        report_id: int,
        actor_id: int,
        kind: str,
        *,
        admin: bool,
        number: int | None = None,
        on: date | None = None,
    ) -> None:
        """What happened to the detained: released, fined N MCI, arrested N days, a court date,
        or unknown."""
        if kind not in OUTCOMES:
            raise ReviewError("bad_outcome")
        if kind == "fined" and not (number and 1 <= number <= MAX_FINE_MCI):
            raise ReviewError("bad_number")
        if kind == "arrested" and not (number and 1 <= number <= MAX_ARREST_DAYS):
            raise ReviewError("bad_number")
        if kind == "court" and on is None:
            raise ReviewError("bad_date")
        async with self.sessions.begin() as session:
            report = await self._lock(session, report_id)
            if report.status not in OUTCOME_STATUSES:
                raise ReviewError("wrong_status")
            self._require_holder(report, actor_id, admin)
            report.outcome = kind
            report.outcome_number = number if kind in ("fined", "arrested") else None
            report.outcome_date = on if kind == "court" else None
            detail = {"kind": kind, "number": report.outcome_number}
            if on is not None:
                detail["date"] = on.isoformat()
            session.add(self._event(report, actor_id, "outcome", detail))
