"""Prometheus metrics of one process (prometheus-client), served by bot.health on /metrics.

Labels are only fixed words chosen here (update kinds, outcomes, error classes): never an id,
a name or anything a person typed. Counts that must survive a take-over (reports, unclaimed
urgent reports, alerts waiting for the volunteer chat) are read from the database at each
scrape; the rest counts what this process did since it started.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from telegram import Update
from telegram.error import RetryAfter, TelegramError

from bot.core.db import SessionFactory
from bot.core.models import OutboxMessage, Report, ReportStatus, utcnow

UPDATE_KINDS = (
    "message",
    "edited_message",
    "callback_query",
    "inline_query",
    "my_chat_member",
    "chat_member",
)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def update_kind(update: object) -> str:
    """One of UPDATE_KINDS, or "other"."""
    if isinstance(update, Update):
        for kind in UPDATE_KINDS:
            if getattr(update, kind, None) is not None:
                return kind
    return "other"


class Metrics:
    """The instruments, in a registry of their own (tests run many bots in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.updates = Counter(
            "jiyn_updates", "Updates handled, by kind", ["kind"], registry=registry
        )
        self.update_seconds = Histogram(
            "jiyn_update_seconds",
            "From an update reaching the bot to its handlers finishing (the answer sent)",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.unanswered = Counter(
            "jiyn_questions_unanswered",
            "Questions answered with no answer or a Did-you-mean",
            ["outcome"],
            registry=registry,
        )
        self.telegram_errors = Counter(
            "jiyn_telegram_errors",
            "Bot API calls that failed, by error class",
            ["error"],
            registry=registry,
        )
        self.telegram_retries = Counter(
            "jiyn_telegram_429_retries", "Bot API calls retried after a 429", registry=registry
        )
        self.database_errors = Counter(
            "jiyn_database_errors", "Database statements that failed", registry=registry
        )
        self.handler_errors = Counter(
            "jiyn_handler_errors",
            "Unhandled errors in handlers, by error class",
            ["error"],
            registry=registry,
        )
        self.active = Gauge(
            "jiyn_active", "1 while this process serves, 0 while it waits as a standby",
            registry=registry,
        )
        self.reports = Gauge(
            "jiyn_reports_filed", "Reports in the database", registry=registry
        )
        self.urgent_unclaimed = Gauge(
            "jiyn_urgent_unclaimed", "Urgent reports no volunteer has claimed", registry=registry
        )
        self.urgent_oldest = Gauge(
            "jiyn_urgent_unclaimed_oldest_seconds",
            "Age of the oldest unclaimed urgent report (0 when there is none)",
            registry=registry,
        )
        self.alerts_waiting = Gauge(
            "jiyn_volunteer_alerts_waiting",
            "Reports not yet in an alert to the volunteer chat (waiting for the group's limit, "
            "or for Telegram to take the previous alert; written alerts count in the outbox)",
            registry=registry,
        )
        self.updates_unparsable = Counter(
            "jiyn_updates_unparsable",
            "Updates python-telegram-bot could not read, skipped",
            registry=registry,
        )
        self.outbox_waiting = Gauge(
            "jiyn_outbox_waiting",
            "Messages that must not be lost, waiting in the outbox for Telegram",
            registry=registry,
        )
        self.outbox_delivered = Counter(
            "jiyn_outbox_delivered",
            "Outbox messages Telegram accepted",
            ["kind"],
            registry=registry,
        )
        self.outbox_dropped = Counter(
            "jiyn_outbox_dropped",
            "Outbox messages deleted unsent (expired, blocked, refused, unreadable)",
            ["kind", "reason"],
            registry=registry,
        )
        for kind in (*UPDATE_KINDS, "other"):
            self.updates.labels(kind)  # every series from the start, at 0

    def update_done(self, update: object, seconds: float) -> None:
        """An update's handlers finished `seconds` after it arrived."""
        kind = update_kind(update)
        self.updates.labels(kind).inc()
        self.update_seconds.labels(kind).observe(seconds)

    def telegram_error(self, error: TelegramError) -> None:
        """A Bot API call failed (it may be retried)."""
        self.telegram_errors.labels(type(error).__name__).inc()
        if isinstance(error, RetryAfter):
            self.telegram_retries.inc()

    async def read_database(self, sessions: SessionFactory) -> None:
        """Refresh the gauges that come from the database."""
        async with sessions() as session:
            total = await session.scalar(select(func.count(Report.id)))
            unclaimed, oldest = (
                await session.execute(
                    select(func.count(Report.id), func.min(Report.created_at)).where(
                        Report.urgent.is_(True), Report.status == ReportStatus.NEW
                    )
                )
            ).one()
            waiting = await session.scalar(
                select(func.count(Report.id)).where(Report.notified_at.is_(None))
            )
            outbox = await session.scalar(select(func.count(OutboxMessage.id)))
        self.reports.set(total or 0)
        self.urgent_unclaimed.set(unclaimed or 0)
        age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
        self.urgent_oldest.set(max(age, 0.0))
        self.alerts_waiting.set(waiting or 0)
        self.outbox_waiting.set(outbox or 0)

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)
