"""Volunteer review of reports: the queue, the report card, claims and status changes, notes,
outcomes, duplicates, the relay between a volunteer and a reporter, and the typed answers a
button asks for. Every view and change is written to report_events (who, what, when); anything
personal in an event (a note, a reason, a relayed message) is encrypted."""

from __future__ import annotations

from bot.services.review.decisions import Decisions
from bot.services.review.inputs import PendingInputs
from bot.services.review.job_queries import JobQueries
from bot.services.review.queue import QueueReads
from bot.services.review.records import (
    DECIDED_STATUSES,
    DUPLICATE_CHAIN_LIMIT,
    INPUT_KINDS,
    INPUT_LIFETIME,
    MAX_ARREST_DAYS,
    MAX_FINE_MCI,
    MAX_MESSAGE,
    MAX_NOTE,
    MAX_REASON,
    NOTES_ON_CARD,
    OPEN_STATUSES,
    OUTCOME_STATUSES,
    OUTCOMES,
    QUEUE_FILTERS,
    Change,
    Contact,
    DigestCounts,
    HistoryLine,
    Note,
    Pending,
    QueueItem,
    ReportCard,
    ReviewError,
)
from bot.services.review.relay import Relay

__all__ = [
    "DECIDED_STATUSES",
    "DUPLICATE_CHAIN_LIMIT",
    "INPUT_KINDS",
    "INPUT_LIFETIME",
    "MAX_ARREST_DAYS",
    "MAX_FINE_MCI",
    "MAX_MESSAGE",
    "MAX_NOTE",
    "MAX_REASON",
    "NOTES_ON_CARD",
    "OPEN_STATUSES",
    "OUTCOMES",
    "OUTCOME_STATUSES",
    "QUEUE_FILTERS",
    "Change",
    "Contact",
    "DigestCounts",
    "HistoryLine",
    "Note",
    "Pending",
    "QueueItem",
    "ReportCard",
    "ReviewError",
    "ReviewService",
]


class ReviewService(QueueReads, Decisions, PendingInputs, Relay, JobQueries):
    """Owns every transaction of the review tools. The application keeps one: it remembers who
    may have a typed answer waiting (see pending_input)."""
