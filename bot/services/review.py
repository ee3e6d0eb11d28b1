"""Volunteer review of reports: the queue, the report card, claims and status changes, notes,
outcomes, duplicates, the relay between a volunteer and a reporter, and the typed answers a
button asks for. Every view and change is written to report_events (who, what, when); anything
personal in an event (a note, a reason, a relayed message) is encrypted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update

from bot.crypto import Cipher
from bot.db import SessionFactory
from bot.models import JobState, PendingInput, Report, ReportEvent, ReportStatus, utcnow

OPEN_STATUSES = (ReportStatus.NEW.value, ReportStatus.IN_REVIEW.value)
DECIDED_STATUSES = (
    ReportStatus.VERIFIED.value,
    ReportStatus.REJECTED.value,
    ReportStatus.DUPLICATE.value,
)
# "open" (new and in review) and "all" are filters, not statuses.
QUEUE_FILTERS = ("open", *(status.value for status in ReportStatus), "all")
OUTCOMES = ("released", "fined", "arrested", "court", "unknown")
OUTCOME_STATUSES = (ReportStatus.IN_REVIEW.value, ReportStatus.VERIFIED.value)
# Kinds of typed answers, and the review action each one completes.
INPUT_KINDS = {
    "reject": "reject",
    "duplicate": "duplicate",
    "note": "note",
    "fined": "outcome",
    "arrested": "outcome",
    "court": "outcome",
    "write": "write",
    "reply": "reply",
}
INPUT_LIFETIME = timedelta(minutes=30)
MAX_NOTE = 1000
MAX_REASON = 500
MAX_MESSAGE = 2000
MAX_FINE_MCI = 10_000
MAX_ARREST_DAYS = 365
NOTES_ON_CARD = 5
DUPLICATE_CHAIN_LIMIT = 20


class ReviewError(Exception):
    """An action that the report's state or claim does not allow; `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class QueueItem:
    """One line of the queue: enough to triage, nothing personal."""

    id: int
    code: str
    status: str
    urgent: bool
    city: str | None
    created_at: datetime
    claimed_by: int | None
    people: str | None

    @classmethod
    def of(cls, report: Report) -> QueueItem:
        """The queue line of a report."""
        return cls(
            report.id,
            report.code,
            report.status,
            report.urgent,
            report.city,
            report.created_at,
            report.claimed_by,
            report.people,
        )


@dataclass(frozen=True)
class Note:
    """A volunteer's note on a report."""

    created_at: datetime
    actor_id: int | None
    text: str


@dataclass
class ReportCard:
    """Everything a volunteer sees of one report, decrypted."""

    id: int
    code: str
    status: str
    urgent: bool
    city: str | None
    created_at: datetime
    occurred_at: datetime | None
    reporter_role: str
    people: str | None
    town: str | None  # a town the gazetteer does not know, as the reporter typed it
    place: str | None
    latitude: float | None
    longitude: float | None
    name: str | None
    police: str | None
    details: str | None
    media: list[dict[str, str]]
    phone: str | None
    contact_via_telegram: bool
    consent: bool
    claimed_by: int | None
    claimed_at: datetime | None
    outcome: str | None
    outcome_number: int | None
    outcome_date: date | None
    duplicate_of: str | None
    purged: bool
    reachable: bool
    may_write: bool
    notes: list[Note] = field(default_factory=list)


@dataclass(frozen=True)
class Change:
    """A status change, with what is needed to tell the reporter."""

    report_id: int
    code: str
    status: str
    reporter_chat_id: int | None
    reporter_language: str
    claimed_by: int | None
    status_changed: bool = True


@dataclass(frozen=True)
class Pending:
    """A typed answer someone was asked for."""

    kind: str
    report_id: int
    target_id: int | None


@dataclass(frozen=True)
class HistoryLine:
    """One entry of a report's history (no detail: the audit says who did what, when)."""

    created_at: datetime
    actor_id: int | None
    action: str


@dataclass(frozen=True)
class DigestCounts:
    """What the daily digest says: counts only."""

    arrived: int
    arrived_urgent: int
    cities: dict[str, int]
    decided: dict[str, int]
    waiting: int
    waiting_urgent: int
    in_review: int
    stale: int


@dataclass(frozen=True)
class Contact:
    """Where a relayed message goes: the reporter's chat, in their language."""

    report_id: int
    code: str
    chat_id: int
    language: str


class ReviewService:
    """Owns every transaction of the review tools. The application keeps one: it remembers who
    may have a typed answer waiting (see pending_input)."""

    def __init__(self, sessions: SessionFactory, cipher: Cipher) -> None:
        self.sessions = sessions
        self.cipher = cipher
        # Lookup hashes of everyone who may have a question waiting: a superset of the table's
        # owners once loaded, so a person not in it has none and their text needs no query.
        # Only the owner's own updates add or remove their hash, and the update processor runs
        # those one at a time, so the set never misses a waiting question.
        self._maybe_waiting: set[str] = set()
        self._waiting_loaded = False
        # A burst of first messages after a start reads the table once, not once each.
        self._waiting_loading = asyncio.Lock()

    # ------------------------------------------------------------------ queue and card

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
        items = [QueueItem.of(r) for r in rows]
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
                session.add(ReportEvent(report_id=report.id, actor_id=viewer_id, action="viewed"))
        cipher = self.cipher
        location = cipher.decrypt_json(report.location_enc) if report.location_enc else None
        notes = [
            Note(row.created_at, row.actor_id, cipher.decrypt(row.detail_enc) or "")
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
            town=(location or {}).get("town"),
            place=(location or {}).get("place"),
            latitude=(location or {}).get("lat"),
            longitude=(location or {}).get("lon"),
            name=cipher.decrypt(report.detained_name_enc),
            police=cipher.decrypt(report.police_unit_enc),
            details=cipher.decrypt(report.details_enc),
            media=cipher.decrypt_json(report.media_enc) if report.media_enc else [],
            phone=cipher.decrypt(report.contact_phone_enc),
            contact_via_telegram=report.contact_via_telegram,
            consent=report.consent_to_contact,
            claimed_by=report.claimed_by,
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
                ReportEvent(report_id=report_id, actor_id=viewer_id, action="history_viewed")
            )
        async with self.sessions() as session:
            rows = (
                await session.scalars(
                    select(ReportEvent)
                    .where(ReportEvent.report_id == report_id)
                    .order_by(ReportEvent.created_at, ReportEvent.id)
                )
            ).all()
        return [HistoryLine(row.created_at, row.actor_id, row.action) for row in rows]

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

    async def check_decision(self, report_id: int, actor_id: int, *, admin: bool) -> None:
        """Raise ReviewError unless the actor may verify, reject or merge the report now."""
        async with self.sessions() as session:
            report = await self._get(session, report_id)
            if report.status != ReportStatus.IN_REVIEW.value:
                raise ReviewError(
                    "not_claimed" if report.status == ReportStatus.NEW.value else "wrong_status"
                )
            self._require_holder(report, actor_id, admin)

    # ------------------------------------------------------------------ changes

    async def _get(self, session: Any, report_id: int) -> Report:
        report = await session.get(Report, report_id)
        if report is None:
            raise ReviewError("not_found")
        return report

    async def _lock(self, session: Any, report_id: int) -> Report:
        """The report, for a change in this transaction. The transaction starts by writing (its
        updated_at): SQLite then takes the write lock at once, waiting for another writer if
        need be, instead of failing when a read turns into a write; PostgreSQL locks the row,
        so two volunteers changing the same report go one after the other."""
        touched = await session.execute(
            update(Report)
            .where(Report.id == report_id)
            .values(updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if not touched.rowcount:
            raise ReviewError("not_found")
        return await self._get(session, report_id)

    @staticmethod
    def _require_holder(report: Report, actor_id: int, admin: bool) -> None:
        if report.status != ReportStatus.IN_REVIEW.value and report.status in OPEN_STATUSES:
            raise ReviewError("not_claimed")
        if report.claimed_by != actor_id and not admin:
            raise ReviewError("claimed_by_other")

    def _change(self, report: Report) -> Change:
        chat = self.cipher.decrypt(report.reporter_chat_enc)
        return Change(
            report_id=report.id,
            code=report.code,
            status=report.status,
            reporter_chat_id=int(chat) if chat else None,
            reporter_language=report.reporter_language,
            claimed_by=report.claimed_by,
        )

    def _event(self, report: Report, actor_id: int | None, action: str, detail: Any = None) -> Any:
        return ReportEvent(
            report_id=report.id,
            actor_id=actor_id,
            action=action,
            detail_enc=self.cipher.encrypt_json(detail) if detail is not None else None,
        )

    async def claim(self, report_id: int, actor_id: int, *, admin: bool) -> Change:
        """Take a new report into review. An admin may take over another volunteer's claim."""
        now = utcnow()
        claimed = {"claimed_by": actor_id, "claimed_at": now, "stale_reminded_at": None}
        async with self.sessions.begin() as session:
            # A conditional UPDATE, so two volunteers pressing Claim at once cannot both win.
            result = await session.execute(
                update(Report)
                .where(Report.id == report_id, Report.status == ReportStatus.NEW.value)
                .values(status=ReportStatus.IN_REVIEW.value, **claimed)
            )
            report = await self._get(session, report_id)
            await session.refresh(report)
            if result.rowcount:
                session.add(self._event(report, actor_id, "claimed"))
                return self._change(report)
            if report.status != ReportStatus.IN_REVIEW.value:
                raise ReviewError("wrong_status")
            if report.claimed_by == actor_id:
                raise ReviewError("already_yours")
            if not admin:
                raise ReviewError("claimed_by_other")
            previous = report.claimed_by
            taken = await session.execute(
                update(Report)
                .where(
                    Report.id == report_id,
                    Report.status == ReportStatus.IN_REVIEW.value,
                    Report.claimed_by == previous,
                )
                .values(**claimed)
            )
            if not taken.rowcount:
                raise ReviewError("claimed_by_other")
            await session.refresh(report)
            session.add(self._event(report, actor_id, "taken_over"))
            return replace(self._change(report), status_changed=False)

    async def release(self, report_id: int, actor_id: int, *, admin: bool) -> Change:
        """Give a claimed report back to the queue."""
        async with self.sessions.begin() as session:
            report = await self._lock(session, report_id)
            if report.status != ReportStatus.IN_REVIEW.value:
                raise ReviewError("wrong_status")
            self._require_holder(report, actor_id, admin)
            report.status = ReportStatus.NEW.value
            report.claimed_by = None
            report.claimed_at = None
            session.add(self._event(report, actor_id, "released"))
            return self._change(report)

    async def release_all_of(self, volunteer_id: int, actor_id: int) -> int:
        """Give back every report a volunteer holds (they lost the role); returns how many."""
        async with self.sessions.begin() as session:
            released = (
                await session.execute(
                    update(Report)
                    .where(
                        Report.claimed_by == volunteer_id,
                        Report.status == ReportStatus.IN_REVIEW.value,
                    )
                    .values(status=ReportStatus.NEW.value, claimed_by=None, claimed_at=None)
                    .returning(Report.id)
                    .execution_options(synchronize_session=False)
                )
            ).all()
            for (report_id,) in released:
                session.add(ReportEvent(report_id=report_id, actor_id=actor_id, action="released"))
            return len(released)

    async def _decide(
        self,
        report_id: int,
        actor_id: int,
        admin: bool,
        status: ReportStatus,
        detail: Any = None,
    ) -> tuple[Change, Report]:
        async with self.sessions.begin() as session:
            report = await self._lock(session, report_id)
            if report.status != ReportStatus.IN_REVIEW.value:
                raise ReviewError("wrong_status")
            self._require_holder(report, actor_id, admin)
            report.status = status.value
            session.add(self._event(report, actor_id, status.value, detail))
            return self._change(report), report

    async def verify(self, report_id: int, actor_id: int, *, admin: bool) -> Change:
        """The report is confirmed."""
        change, _report = await self._decide(report_id, actor_id, admin, ReportStatus.VERIFIED)
        return change

    async def reject(self, report_id: int, actor_id: int, reason: str, *, admin: bool) -> Change:
        """The report could not be confirmed; the reason stays with the volunteers."""
        text = reason.strip()
        if not text or len(text) > MAX_REASON:
            raise ReviewError("bad_text")
        change, _report = await self._decide(
            report_id, actor_id, admin, ReportStatus.REJECTED, text
        )
        return change

    async def mark_duplicate(
        self, report_id: int, actor_id: int, original_code: str, *, admin: bool
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
            return self._change(report), original.code

    async def close(self, report_id: int, actor_id: int, *, admin: bool) -> Change:
        """Close a decided report; its personal data is purged after the retention period."""
        async with self.sessions.begin() as session:
            report = await self._lock(session, report_id)
            if report.status not in DECIDED_STATUSES:
                raise ReviewError("wrong_status")
            self._require_holder(report, actor_id, admin)
            report.status = ReportStatus.CLOSED.value
            report.closed_at = utcnow()
            session.add(self._event(report, actor_id, "closed"))
            return self._change(report)

    async def add_note(self, report_id: int, actor_id: int, text: str) -> None:
        """A note for the other volunteers (encrypted)."""
        note = text.strip()
        if not note or len(note) > MAX_NOTE:
            raise ReviewError("bad_text")
        async with self.sessions.begin() as session:
            report = await self._lock(session, report_id)
            session.add(
                ReportEvent(
                    report_id=report.id,
                    actor_id=actor_id,
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

    # ------------------------------------------------------------------ typed answers

    async def expect_input(
        self, owner_id: int, kind: str, report_id: int, target_id: int | None = None
    ) -> None:
        """Remember that the owner's next text answers `kind` for this report (replacing any
        earlier question); it expires after INPUT_LIFETIME."""
        if kind not in INPUT_KINDS:
            raise ValueError(f"unknown input kind {kind!r}")
        hashes = self.cipher.lookup_hashes(owner_id)
        self._maybe_waiting.add(hashes[0])  # before the write: never a moment it is missed
        async with self.sessions.begin() as session:
            await session.execute(delete(PendingInput).where(PendingInput.owner_hash.in_(hashes)))
            now = utcnow()
            session.add(
                PendingInput(
                    owner_hash=hashes[0],
                    kind=kind,
                    report_id=report_id,
                    target_id=target_id,
                    created_at=now,
                    expires_at=now + INPUT_LIFETIME,
                )
            )

    async def pending_input(self, owner_id: int) -> Pending | None:
        """What the owner was asked to type, if the question has not expired. Called with the
        owner's own updates (their text, their button presses)."""
        hashes = self.cipher.lookup_hashes(owner_id)
        if not await self._may_be_waiting(hashes):
            return None
        async with self.sessions() as session:
            row = await session.scalar(
                select(PendingInput).where(
                    PendingInput.owner_hash.in_(hashes), PendingInput.expires_at > utcnow()
                )
            )
        if row is None:
            self._maybe_waiting.difference_update(hashes)
            return None
        return Pending(row.kind, row.report_id, row.target_id)

    async def _may_be_waiting(self, hashes: list[str]) -> bool:
        if not self._waiting_loaded:
            async with self._waiting_loading:
                if not self._waiting_loaded:
                    # Questions asked before a restart: read once.
                    async with self.sessions() as session:
                        owners = await session.scalars(
                            select(PendingInput.owner_hash).where(
                                PendingInput.expires_at > utcnow()
                            )
                        )
                        self._maybe_waiting.update(owners.all())
                    self._waiting_loaded = True
        return any(lookup in self._maybe_waiting for lookup in hashes)

    async def clear_input(self, owner_id: int) -> bool:
        """Forget what the owner was asked to type; True if there was something."""
        hashes = self.cipher.lookup_hashes(owner_id)
        async with self.sessions.begin() as session:
            result = await session.execute(
                delete(PendingInput).where(PendingInput.owner_hash.in_(hashes))
            )
        self._maybe_waiting.difference_update(hashes)
        return bool(result.rowcount)

    async def delete_expired_inputs(self) -> int:
        """Drop questions nobody answered in time; returns how many."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                delete(PendingInput).where(PendingInput.expires_at <= utcnow())
            )
            return int(result.rowcount or 0)

    # ------------------------------------------------------------------ relay

    async def _may_write(self, session: Any, report: Report) -> bool:
        if report.reporter_chat_enc is None:
            return False
        if report.consent_to_contact:
            return True
        started = await session.scalar(
            select(ReportEvent.id)
            .where(ReportEvent.report_id == report.id, ReportEvent.action == "relay_in")
            .limit(1)
        )
        return started is not None

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
        then: Callable[[Any, int], object] | None = None,
    ) -> int:
        """Store a relayed message (encrypted); returns its event id, which the reporter's
        Reply button names. `then(session, event_id)` runs in the same transaction (the
        message written to the outbox)."""
        async with self.sessions.begin() as session:
            report = await self._lock(session, report_id)
            event = self._event(report, actor_id, "relay_out", text)
            session.add(event)
            await session.flush()
            if then is not None:
                then(session, event.id)
            return event.id

    async def check_reporter(self, reporter_id: int, report_id: int) -> None:
        """ReviewError("not_yours") unless `reporter_id` filed the report (and kept its data)."""
        async with self.sessions() as session:
            await self._reporters_report(session, reporter_id, report_id)

    async def _reporters_report(self, session: Any, reporter_id: int, report_id: int) -> Report:
        report = await session.get(Report, report_id)
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
                    select(ReportEvent.actor_id).where(
                        ReportEvent.id == event_id,
                        ReportEvent.report_id == report_id,
                        ReportEvent.action == "relay_out",
                    )
                )
                if author is not None:
                    return int(author)
            if report.claimed_by is None or report.status == ReportStatus.CLOSED.value:
                raise ReviewError("no_volunteer")
            return int(report.claimed_by)

    async def holder_of(self, report_id: int) -> int | None:
        """The volunteer holding an open or decided report, if any."""
        async with self.sessions() as session:
            return await session.scalar(
                select(Report.claimed_by).where(
                    Report.id == report_id, Report.status != ReportStatus.CLOSED.value
                )
            )

    async def record_message_from_reporter(
        self, report_id: int, text: str, then: Callable[[Any, str], object] | None = None
    ) -> str:
        """Store a reporter's relayed message (encrypted, without who sent it); returns the
        report's code. `then(session, code)` runs in the same transaction."""
        async with self.sessions.begin() as session:
            report = await self._lock(session, report_id)
            session.add(self._event(report, None, "relay_in", text))
            if then is not None:
                then(session, report.code)
            return report.code

    # ------------------------------------------------------------------ scheduled work

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
        return [QueueItem.of(r) for r in rows]

    async def mark_escalated(self, report_ids: list[int]) -> None:
        """Record that the volunteer chat was told about these reports."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(Report).where(Report.id.in_(report_ids)).values(escalated_at=utcnow())
            )
            for report_id in report_ids:
                session.add(ReportEvent(report_id=report_id, action="escalated"))

    async def due_stale_claims(self, older_than: timedelta) -> list[QueueItem]:
        """Reports held in review for `older_than` whose holder was not reminded yet."""
        async with self.sessions() as session:
            rows = (
                await session.scalars(
                    select(Report)
                    .where(
                        Report.status == ReportStatus.IN_REVIEW.value,
                        Report.claimed_by.is_not(None),
                        Report.claimed_at <= utcnow() - older_than,
                        Report.stale_reminded_at.is_(None),
                    )
                    .order_by(Report.claimed_at, Report.id)
                )
            ).all()
        return [QueueItem.of(r) for r in rows]

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
            if not updated.rowcount:
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
