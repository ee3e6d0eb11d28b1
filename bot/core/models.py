"""SQLAlchemy 2 typed ORM models."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# How many people were detained, as the reporter gave it (Report.people): a number ("3"), one of
# these ranges, or UNKNOWN_PEOPLE ("I don't know").
PEOPLE_RANGES = ("2-5", "6-20", "20+")
UNKNOWN_PEOPLE = "unknown"


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A moment stored in UTC and always read back as an aware UTC datetime. SQLite keeps no
    time zone: its values come back naive, and Python takes a naive datetime for the host's
    local time, so on a server not set to UTC every time shown would be off."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        """Aware moments are converted to UTC; a naive one is taken as UTC already."""
        if value is None:
            return None
        moment: datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """The stored moment, aware, in UTC."""
        if value is None:
            return None
        moment: datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""


class Role(enum.StrEnum):
    """What a Telegram user may do in Jiyn."""

    USER = "user"
    VOLUNTEER = "volunteer"
    ADMIN = "admin"


def utctoday() -> date:
    """Today's date in UTC."""
    return utcnow().date()


class User(Base):
    """A Telegram user who has talked to the bot. No Telegram id in the clear: the row is found
    by the keyed hash reports use (bot.core.crypto.Cipher.lookup_hash), and the id is kept encrypted
    (with a Fernet timestamp of 0, so the ciphertext does not say when it was written) only so
    that volunteers can be written to and `jiyn keys rotate` can recompute the hash. The day of
    the first contact, never the time: a time would link a person to a report filed just after."""

    __tablename__ = "users"
    # SQLite keeps the rows in the order of the hash, not of first contact (a rowid would count
    # first contacts, and its order against the reports' would hint at who reported).
    __table_args__ = ({"sqlite_with_rowid": False},)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    telegram_enc: Mapped[bytes] = mapped_column(LargeBinary)
    language: Mapped[str | None] = mapped_column(String(8))
    telegram_language: Mapped[str | None] = mapped_column(String(16))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, values_callable=lambda r: [m.value for m in r]),
        default=Role.USER,
    )
    created_on: Mapped[date] = mapped_column(Date, default=utctoday)


class Feedback(Base):
    """A 👍/👎 on an answer. No user id: votes are counted, not attributed."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[str] = mapped_column(String(64), index=True)
    helpful: Mapped[bool]
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuestionGap(Base):
    """A question the bot could not answer well (no answer, a "Did you mean…", a 👎), kept for
    the editors. Nothing identifies the person: no user id, the day without the time, and the
    text scrubbed of digits, e-mail addresses, links and @names before it is stored."""

    __tablename__ = "question_gaps"

    id: Mapped[int] = mapped_column(primary_key=True)
    question: Mapped[str] = mapped_column(String(1000))
    language: Mapped[str] = mapped_column(String(8))
    outcome: Mapped[str] = mapped_column(String(16))  # no_answer | clarify | thumbs_down
    article_id: Mapped[str | None] = mapped_column(String(64))
    created_on: Mapped[date] = mapped_column(Date, index=True)


class ReportStatus(enum.StrEnum):
    """Where a report is in the volunteers' workflow."""

    NEW = "new"
    IN_REVIEW = "in_review"
    VERIFIED = "verified"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    CLOSED = "closed"


class Report(Base):
    """A confirmed detention report. Every *_enc column is Fernet ciphertext (bot.core.crypto)."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=ReportStatus.NEW.value, index=True)
    urgent: Mapped[bool] = mapped_column(default=False)
    reporter_role: Mapped[str] = mapped_column(String(16))
    reporter_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    reporter_chat_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    reporter_language: Mapped[str] = mapped_column(String(8))
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    city: Mapped[str | None] = mapped_column(String(32), index=True)
    location_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # As the reporter gave it: a number ("3"), a range ("2-5", "6-20", "20+") or "unknown".
    people: Mapped[str | None] = mapped_column(String(16))
    detained_name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    police_unit_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    details_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    media_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    contact_phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    contact_via_telegram: Mapped[bool] = mapped_column(default=True)
    consent_to_contact: Mapped[bool] = mapped_column(default=False)
    # When the report's alert to the volunteer chat was written to the outbox (unset: waiting).
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Volunteer review. duplicate_of_id has no foreign key: SQLite cannot add one to an existing
    # table without rebuilding it, and reports are never deleted (only their fields cleared).
    # The volunteer holding the report: keyed hash (to compare) and encrypted id (to write to).
    claimed_by_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    claimed_by_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stale_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duplicate_of_id: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_number: Mapped[int | None] = mapped_column(Integer)
    outcome_date: Mapped[date | None] = mapped_column(Date)


class ReportDraft(Base):
    """A report being written: the conversation's step and answers so far, encrypted, so a
    restart or a crash in the middle loses nothing."""

    __tablename__ = "report_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_hash: Mapped[str] = mapped_column(String(64), unique=True)
    owner_enc: Mapped[bytes] = mapped_column(LargeBinary)
    step: Mapped[int] = mapped_column(Integer)
    data_enc: Mapped[bytes] = mapped_column(LargeBinary)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReportEvent(Base):
    """History and audit trail of a report: who did what, when. detail_enc may hold notes."""

    __tablename__ = "report_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    actor_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # the volunteer, encrypted
    action: Mapped[str] = mapped_column(String(32))
    detail_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PendingInput(Base):
    """What a person is asked to type next after pressing a review or relay button (a reject
    reason, a note, a message...). In the database so a restart does not lose it; the owner is a
    keyed hash, as for drafts, because reporters reply through it too."""

    __tablename__ = "pending_inputs"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The owner's id, encrypted: only so that `jiyn keys rotate` can recompute owner_hash.
    owner_enc: Mapped[bytes] = mapped_column(LargeBinary)
    kind: Mapped[str] = mapped_column(String(16))
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    target_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class VolunteerInvite(Base):
    """A single-use, expiring invite link that makes its first user a volunteer. Only a hash of
    the token is stored: a copy of the database does not hold usable links."""

    __tablename__ = "volunteer_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_by_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Audit log of what is not a change to one report (report views and changes are in
    report_events): role changes, invites, exports, statistics, queue views, refused attempts."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # who, encrypted
    action: Mapped[str] = mapped_column(String(32))
    allowed: Mapped[bool] = mapped_column(default=True)
    # No foreign key: a refused, forged button may name a report that does not exist.
    report_id: Mapped[int | None] = mapped_column(Integer)
    detail_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class JobState(Base):
    """When a scheduled job last did its work (e.g. the digest's date), so a restart neither
    repeats nor skips it."""

    __tablename__ = "job_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_key: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(Base):
    """A message that must reach a person or the volunteer chat (a report's confirmation, a
    status update, a relayed message, an alert, an escalation), kept until Telegram accepted it
    (bot.telegram.outbox). The chat id, the text and the buttons are one Fernet ciphertext;
    the row says only its kind and when to try again."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    payload_enc: Mapped[bytes] = mapped_column(LargeBinary)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_on: Mapped[date] = mapped_column(Date)
