"""Detention reports: drafts that survive restarts, submission with a reference code, the
reporter's own list, /forget and the retention purge. Personal fields are always encrypted."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.crypto import Cipher
from bot.core.db import DATABASE_ERRORS, SessionFactory, rowcount
from bot.core.models import (
    PEOPLE_RANGES,
    UNKNOWN_PEOPLE,
    Report,
    ReportDraft,
    ReportEvent,
    ReportStatus,
    utcnow,
)
from bot.core.text import typed
from bot.services.component import Component

# Called inside the transaction that files a report, with its code (bot.telegram.outbox writes the
# confirmation there, so a filed report always has its confirmation waiting).
Filed = Callable[[Any, str], object]

log = logging.getLogger(__name__)

__all__ = ["DATABASE_ERRORS", "PEOPLE_RANGES", "UNKNOWN_PEOPLE"]  # re-exported from the core

DRAFT_CACHE_SIZE = 10_000
FLUSH_RETRY_SECONDS = 2.0

# No 0/O, 1/I/L: codes are read aloud over the phone and copied from screenshots.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 4

MAX_NAME = 200
MAX_PLACE = 300
MAX_TOWN = 100
MAX_POLICE = 300
MAX_DETAILS = 3000
MAX_PHONE = 32
MAX_MEDIA = 10
MAX_PEOPLE = 100_000
REPORTS_PER_DAY = 10
# Earlier versions kept a count as an integer, the buttons as their upper bound; these ranges
# stay true of either reading (see migration 0005).
_OLD_BUTTON_COUNTS = {5: "2-5", 20: "6-20", 21: "20+"}


class TooManyReports(Exception):
    """The per-user daily limit of reports is reached."""


# The answers a person types (or shares: a contact's number), stored as `typed` makes them.
# Typed answers; all but the details are shown on one line of a volunteer's card.
TYPED_ANSWERS = ("place", "town", "name", "police", "details", "phone")
MULTILINE_ANSWERS = ("details",)


@dataclass
class DraftData:
    """The answers of a report being written (stored encrypted as JSON)."""

    role: str | None = None
    occurred_at: str | None = None  # ISO 8601, UTC
    latitude: float | None = None
    longitude: float | None = None
    place: str | None = None
    city: str | None = None  # a gazetteer key, or "other"
    town: str | None = None  # a town typed that the gazetteer does not know, as typed
    people: str | None = None  # see PEOPLE_RANGES
    name: str | None = None
    police: str | None = None
    details: str | None = None
    media: list[dict[str, str]] = field(default_factory=list)
    contact: str = "telegram"  # "telegram" | "phone"
    phone: str | None = None
    consent: bool | None = None
    editing: bool = False
    urgent: bool = False
    paused_step: int | None = None  # the step to go back to after another command

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DraftData:
        """Rebuild from stored JSON, ignoring keys this version does not know."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        old_count = data.get("people_count")
        if isinstance(old_count, int) and "people" not in data:  # a draft from before 0005
            known["people"] = _OLD_BUTTON_COUNTS.get(old_count, str(old_count))
        return cls(**known)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return dict(self.__dict__)

    def as_kept(self) -> DraftData:
        """A copy with the typed answers as the bot stores them (bot.core.text.typed)."""
        kept = copy.deepcopy(self)
        for name in TYPED_ANSWERS:
            one_line = name not in MULTILINE_ANSWERS
            setattr(kept, name, typed(getattr(kept, name), one_line=one_line))
        return kept


@dataclass
class Draft:
    """A decrypted draft: who owns it, which step it is at, and the answers."""

    id: int
    chat_id: int
    user_id: int
    step: int
    data: DraftData
    report_id: int | None
    updated_at: datetime


@dataclass
class ReportSummary:
    """What the reporter sees of one of their reports."""

    code: str
    status: str
    created_at: datetime
    city: str | None
    urgent: bool


class ReportService(Component):
    """Owns every transaction about reports and drafts."""

    def __init__(self, sessions: SessionFactory, cipher: Cipher) -> None:
        self.sessions = sessions
        self.cipher = cipher
        # Drafts of people writing now, newest state (write-through), so a conversation goes on
        # when the database is briefly down; `_unsaved` holds those not yet in the database.
        self._drafts: OrderedDict[int, Draft] = OrderedDict()
        self._unsaved: dict[int, Draft] = {}
        self._flusher: asyncio.Task[None] | None = None

    def _remember(self, draft: Draft) -> None:
        self._drafts[draft.user_id] = draft
        self._drafts.move_to_end(draft.user_id)
        while len(self._drafts) > DRAFT_CACHE_SIZE:
            oldest = next(iter(self._drafts))
            if oldest in self._unsaved:
                break
            del self._drafts[oldest]

    def _forget_cached(self, user_id: int) -> None:
        self._drafts.pop(user_id, None)
        self._unsaved.pop(user_id, None)

    @property
    def unsaved_drafts(self) -> int:
        """How many drafts wait for the database to come back."""
        return len(self._unsaved)

    async def flush_unsaved(self) -> int:
        """Write the drafts kept in memory while the database was down; returns how many are
        still waiting."""
        for user_id, draft in list(self._unsaved.items()):
            try:
                await self._write_draft(draft)
            except DATABASE_ERRORS:
                break
            if self._unsaved.get(user_id) is draft:
                del self._unsaved[user_id]
        return len(self._unsaved)

    async def _flush_until_empty(self) -> None:
        while True:
            if not await self.flush_unsaved():
                break
            await asyncio.sleep(FLUSH_RETRY_SECONDS)
        log.info("the database is back: every kept draft is saved")

    async def shutdown(self) -> None:
        """Try once more to save what is waiting, then stop retrying."""
        if self._unsaved:
            await self.flush_unsaved()
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None

    # ------------------------------------------------------------------ drafts

    def _draft(self, row: ReportDraft) -> Draft:
        chat_id, user_id = self.cipher.decrypt_json(row.owner_enc)
        return Draft(
            id=row.id,
            chat_id=chat_id,
            user_id=user_id,
            step=row.step,
            data=DraftData.from_json(self.cipher.decrypt_json(row.data_enc)),
            report_id=row.report_id,
            updated_at=row.updated_at,
        )

    async def get_draft(self, user_id: int) -> Draft | None:
        """The user's draft, if they are writing a report."""
        cached = self._drafts.get(user_id)
        if cached is not None:
            return copy.deepcopy(cached)
        async with self.sessions() as session:
            row = await session.scalar(
                select(ReportDraft).where(
                    self._owned_by(user_id)
                )
            )
            if row is None:
                return None
            draft = self._draft(row)
        self._remember(draft)
        return copy.deepcopy(draft)

    async def save_draft(
        self, chat_id: int, user_id: int, step: int, data: DraftData, report_id: int | None = None
    ) -> bool:
        """Create or update the user's draft with its current step and answers. False means the
        database is down: the draft is kept in memory and saved as soon as it is back."""
        previous = self._drafts.get(user_id)
        draft = Draft(
            id=previous.id if previous else 0,
            chat_id=chat_id,
            user_id=user_id,
            step=int(step),
            data=copy.deepcopy(data),
            report_id=report_id or (previous.report_id if previous else None),
            updated_at=utcnow(),
        )
        self._remember(draft)
        try:
            await self._write_draft(draft)
        except DATABASE_ERRORS:
            log.warning("database unavailable: a report draft is kept in memory until it is back")
            self._unsaved[user_id] = draft
            if self._flusher is None or self._flusher.done():
                self._flusher = asyncio.create_task(self._flush_until_empty())
            return False
        self._unsaved.pop(user_id, None)
        return True

    def _owned_by(self, user_id: int) -> ColumnElement[bool]:
        """The draft rows of this person, under any configured key."""
        return ReportDraft.owner_hash.in_(self.cipher.lookup_hashes(user_id))

    async def _store_draft(
        self, session: AsyncSession, chat_id: int, user_id: int, step: int, data: DraftData
    ) -> ReportDraft:
        """The person's draft row, created when missing, holding this step and these answers."""
        row = await session.scalar(select(ReportDraft).where(self._owned_by(user_id)))
        if row is None:
            row = ReportDraft(owner_enc=self.cipher.encrypt_json([chat_id, user_id]))
            session.add(row)
        row.owner_hash = self.cipher.lookup_hash(user_id)
        row.step = int(step)
        row.data_enc = self.cipher.encrypt_json(data.as_kept().to_json())
        row.updated_at = utcnow()
        return row

    async def _write_draft(self, draft: Draft) -> None:
        chat_id, user_id, data = draft.chat_id, draft.user_id, draft.data
        step, report_id = draft.step, draft.report_id
        async with self.sessions.begin() as session:
            row = await self._store_draft(session, chat_id, user_id, step, data)
            if report_id is not None:
                row.report_id = report_id
            row.reminded_at = None

    async def delete_draft(self, user_id: int) -> bool:
        """Drop the user's draft; True if there was one."""
        had_unsaved = self._unsaved.get(user_id) is not None
        self._forget_cached(user_id)
        async with self.sessions.begin() as session:
            result = await session.execute(
                delete(ReportDraft).where(
                    self._owned_by(user_id)
                )
            )
            return bool(rowcount(result)) or had_unsaved

    async def conversation_states(self) -> dict[tuple[int, int], int]:
        """(chat_id, user_id) → step of every draft: restores the conversation after a restart."""
        async with self.sessions() as session:
            rows = (await session.scalars(select(ReportDraft))).all()
        states = {}
        for row in rows:
            chat_id, user_id = self.cipher.decrypt_json(row.owner_enc)
            states[(chat_id, user_id)] = row.step
        return states

    async def drafts_to_remind(self, idle: timedelta) -> list[Draft]:
        """Drafts untouched for `idle` whose owner has not been reminded yet; marks them."""
        threshold = utcnow() - idle
        async with self.sessions.begin() as session:
            rows = (
                await session.scalars(
                    select(ReportDraft).where(
                        ReportDraft.updated_at < threshold, ReportDraft.reminded_at.is_(None)
                    )
                )
            ).all()
            for row in rows:
                row.reminded_at = utcnow()
            drafts = [self._draft(row) for row in rows]
        for draft in drafts:  # idle: no need to keep them in memory
            if draft.user_id not in self._unsaved:
                self._drafts.pop(draft.user_id, None)
        return drafts

    # ------------------------------------------------------------------ reports

    async def _unique_code(self, session: Any) -> str:
        while True:
            code = "R-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if await session.scalar(select(Report.id).where(Report.code == code)) is None:
                return code

    def _apply(self, report: Report, data: DraftData) -> None:
        cipher = self.cipher
        data = data.as_kept()
        report.reporter_role = data.role or "witness"
        report.urgent = data.urgent
        report.occurred_at = datetime.fromisoformat(data.occurred_at) if data.occurred_at else None
        report.city = data.city
        location = None
        if data.latitude is not None or data.place or data.town:
            location = {
                "lat": data.latitude,
                "lon": data.longitude,
                "place": data.place,
                "town": data.town,
            }
        report.location_enc = cipher.encrypt_json(location) if location else None
        report.people = data.people
        report.detained_name_enc = cipher.encrypt(data.name)
        report.police_unit_enc = cipher.encrypt(data.police)
        report.details_enc = cipher.encrypt(data.details)
        report.media_enc = cipher.encrypt_json(data.media) if data.media else None
        report.contact_phone_enc = cipher.encrypt(data.phone)
        report.contact_via_telegram = data.contact == "telegram"
        report.consent_to_contact = bool(data.consent)

    async def submit(
        self,
        chat_id: int,
        user_id: int,
        language: str,
        data: DraftData,
        report_id: int | None,
        filed: Filed | None = None,
    ) -> str:
        """Turn the answers into a report (or complete the quick report already filed); returns
        its code. The draft is deleted in the same transaction, and `filed(session, code)` runs
        in it (the confirmation written to the outbox)."""
        owner_hash = self.cipher.lookup_hash(user_id)
        async with self.sessions.begin() as session:
            report = await session.get(Report, report_id) if report_id else None
            if report is None:
                await self._check_daily_limit(session, user_id)
                report = Report(
                    code=await self._unique_code(session),
                    reporter_hash=owner_hash,
                    reporter_chat_enc=self.cipher.encrypt(str(chat_id)),
                    reporter_language=language,
                )
                session.add(report)
                action = "created"
            else:
                action = "completed"
            self._apply(report, data)
            await session.flush()
            session.add(ReportEvent(report_id=report.id, action=action))
            await session.execute(
                delete(ReportDraft).where(
                    self._owned_by(user_id)
                )
            )
            code = report.code
            if filed is not None:
                filed(session, code)
        self._forget_cached(user_id)
        return code

    async def submit_quick(
        self,
        chat_id: int,
        user_id: int,
        language: str,
        data: DraftData,
        step: int,
        filed: Filed | None = None,
    ) -> str:
        """File an urgent report at once ("I am being detained now") and keep the draft going so
        the person can add details if they still can; `filed(session, code)` runs in the same
        transaction."""
        owner_hash = self.cipher.lookup_hash(user_id)
        async with self.sessions.begin() as session:
            await self._check_daily_limit(session, user_id)
            report = Report(
                code=await self._unique_code(session),
                reporter_hash=owner_hash,
                reporter_chat_enc=self.cipher.encrypt(str(chat_id)),
                reporter_language=language,
            )
            self._apply(report, data)
            session.add(report)
            await session.flush()
            session.add(ReportEvent(report_id=report.id, action="created_urgent"))
            draft = await self._store_draft(session, chat_id, user_id, step, data)
            draft.report_id = report.id
            code, report_id = report.code, report.id
            if filed is not None:
                filed(session, code)
        self._remember(
            Draft(draft.id, chat_id, user_id, int(step), copy.deepcopy(data), report_id, utcnow())
        )
        self._unsaved.pop(user_id, None)
        return code

    async def update_quick(self, report_id: int, data: DraftData) -> None:
        """Add what the person sent after a quick report (e.g. the location) to that report."""
        async with self.sessions.begin() as session:
            report = await session.get(Report, report_id)
            if report is not None:
                self._apply(report, data)

    async def _check_daily_limit(self, session: Any, user_id: int) -> None:
        since = utcnow() - timedelta(days=1)
        recent = (
            await session.scalars(
                select(Report.id).where(
                    Report.reporter_hash.in_(self.cipher.lookup_hashes(user_id)),
                    Report.created_at >= since,
                )
            )
        ).all()
        if len(recent) >= REPORTS_PER_DAY:
            raise TooManyReports

    async def reports_of(self, user_id: int) -> list[ReportSummary]:
        """The user's reports, newest first."""
        async with self.sessions() as session:
            rows = (
                await session.scalars(
                    select(Report)
                    .where(Report.reporter_hash.in_(self.cipher.lookup_hashes(user_id)))
                    .order_by(Report.created_at.desc())
                )
            ).all()
        return [
            ReportSummary(
                code=r.code, status=r.status, created_at=r.created_at, city=r.city, urgent=r.urgent
            )
            for r in rows
        ]

    async def code_of(self, report_id: int) -> str | None:
        """The reference code of a report."""
        async with self.sessions() as session:
            return await session.scalar(select(Report.code).where(Report.id == report_id))

    # ------------------------------------------------------------------ deletion

    async def forget(self, user_id: int) -> tuple[int, bool]:
        """Delete the user's personal data: every personal field of their reports (the anonymous
        shell — city, date, count, status — stays for statistics, unlinked from them) and their
        draft. Returns (reports cleared, draft deleted)."""
        hashes = self.cipher.lookup_hashes(user_id)
        self._forget_cached(user_id)
        async with self.sessions.begin() as session:
            ids = (
                await session.scalars(select(Report.id).where(Report.reporter_hash.in_(hashes)))
            ).all()
            await _clear_personal(session, ids, "forgotten")
            draft = await session.execute(
                delete(ReportDraft).where(ReportDraft.owner_hash.in_(hashes))
            )
            return len(ids), bool(rowcount(draft))

    async def purge_closed(self, older_than_days: int) -> int:
        """Clear personal fields of reports closed more than N days ago; returns how many."""
        threshold = utcnow() - timedelta(days=older_than_days)
        async with self.sessions.begin() as session:
            ids = (
                await session.scalars(
                    select(Report.id).where(
                        Report.status == ReportStatus.CLOSED.value,
                        Report.closed_at < threshold,
                        Report.purged_at.is_(None),
                    )
                )
            ).all()
            await _clear_personal(session, ids, "purged")
            return len(ids)


async def _clear_personal(session: Any, ids: Sequence[int], action: str) -> None:
    """Clear every personal field of these reports and their notes; record why."""
    if not ids:
        return
    await session.execute(update(Report).where(Report.id.in_(ids)).values(**_cleared_fields()))
    await session.execute(
        update(ReportEvent).where(ReportEvent.report_id.in_(ids)).values(detail_enc=None)
    )
    for report_id in ids:
        session.add(ReportEvent(report_id=report_id, action=action))


def _cleared_fields() -> dict[str, Any]:
    return {
        "reporter_hash": None,
        "reporter_chat_enc": None,
        "location_enc": None,
        "detained_name_enc": None,
        "police_unit_enc": None,
        "details_enc": None,
        "media_enc": None,
        "contact_phone_enc": None,
        "consent_to_contact": False,
        "purged_at": utcnow(),
    }
