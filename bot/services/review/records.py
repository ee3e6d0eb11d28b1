"""The review service's records (the queue's items, the card, a change, a typed answer waiting,
the digest's counts), its limits, its errors, and the base the parts of the service share."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from bot.core.crypto import Cipher
from bot.core.db import SessionFactory, rowcount
from bot.core.models import Report, ReportEvent, ReportStatus, utcnow
from bot.services.component import Component

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
    def of(cls, report: Report, cipher: Cipher) -> QueueItem:
        """The queue line of a report."""
        return cls(
            report.id,
            report.code,
            report.status,
            report.urgent,
            report.city,
            report.created_at,
            cipher.decrypt_id(report.claimed_by_enc),
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


# Run inside the transaction of a status change, with the change: the reporter's update is
# written to the outbox there, so the change and its message are saved together or not at all.
InTransaction = Callable[[Any, Change], object]


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

class ReviewBase(Component):
    """What every part of the review service shares: the session factory, the cipher, the
    memory of who may have a typed answer waiting, and the helpers of a change."""

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

    async def _get(self, session: Any, report_id: int) -> Report:
        report: Report | None = await session.get(Report, report_id)
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
        if not rowcount(touched):
            raise ReviewError("not_found")
        return await self._get(session, report_id)

    def _holds(self, report: Report, actor_id: int) -> bool:
        """Whether the actor is the volunteer holding the report (compared by keyed hash)."""
        return report.claimed_by_hash is not None and report.claimed_by_hash in (
            self.cipher.lookup_hashes(actor_id)
        )

    def _require_holder(self, report: Report, actor_id: int, admin: bool) -> None:
        if report.status != ReportStatus.IN_REVIEW.value and report.status in OPEN_STATUSES:
            raise ReviewError("not_claimed")
        if not self._holds(report, actor_id) and not admin:
            raise ReviewError("claimed_by_other")

    def _change(
        self,
        session: Any,
        report: Report,
        then: InTransaction | None,
        *,
        status_changed: bool = True,
    ) -> Change:
        """The change made to the report in this transaction, after `then` ran in it."""
        chat = self.cipher.decrypt(report.reporter_chat_enc)
        change = Change(
            report_id=report.id,
            code=report.code,
            status=report.status,
            reporter_chat_id=int(chat) if chat else None,
            reporter_language=report.reporter_language,
            claimed_by=self.cipher.decrypt_id(report.claimed_by_enc),
            status_changed=status_changed,
        )
        if then is not None:
            then(session, change)
        return change

    def _event(self, report: Report, actor_id: int | None, action: str, detail: Any = None) -> Any:
        return ReportEvent(
            report_id=report.id,
            actor_enc=self.cipher.encrypt(str(actor_id)) if actor_id is not None else None,
            action=action,
            detail_enc=self.cipher.encrypt_json(detail) if detail is not None else None,
        )

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
