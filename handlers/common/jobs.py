"""Scheduled work of every journey: the purge of personal data and unanswered questions past
their retention."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.telegram.context import JiynApplication, JiynContext

log = logging.getLogger(__name__)

PURGE_INTERVAL = timedelta(hours=6)


async def purge_personal_data(context: JiynContext) -> None:
    """Clear personal data of reports closed longer ago than JIYN_RETENTION_DAYS, and unanswered
    questions older than JIYN_GAPS_RETENTION_DAYS."""
    services = context.services
    purged = await services.reports.purge_closed(services.settings.retention_days)
    if purged:
        log.info("purged personal data of %d closed reports", purged)
    dropped = await services.gaps.purge(services.settings.gaps_retention_days)
    if dropped:
        log.info("deleted %d unanswered questions past their retention", dropped)


def schedule(application: JiynApplication) -> None:
    """Register the purge."""
    application.job_queue.run_repeating(
        purge_personal_data, interval=PURGE_INTERVAL, first=10, name="purge"
    )
