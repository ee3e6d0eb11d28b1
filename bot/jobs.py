"""Scheduled work (PTB's JobQueue on APScheduler). Jobs read their state from the database, so
a restart loses nothing: a missed run simply finds more to do."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import Forbidden, TelegramError

from bot.context import JiynContext
from bot.i18n import gettext_for
from bot.services import users

if TYPE_CHECKING:
    from bot.app import JiynApplication

log = logging.getLogger(__name__)

DRAFT_IDLE = timedelta(minutes=15)
REMINDER_INTERVAL = timedelta(minutes=1)
PURGE_INTERVAL = timedelta(hours=6)


async def remind_unfinished_reports(context: JiynContext) -> None:
    """Remind once about a report draft left idle; the draft itself is kept."""
    services = context.services
    for draft in await services.reports.drafts_to_remind(DRAFT_IDLE):
        language = await users.user_language(
            services.sessions, draft.user_id, services.settings.default_language
        )
        _ = gettext_for(language)
        try:
            await context.bot.send_message(
                draft.chat_id,
                _("You have an unfinished detention report. It is saved: continue when you can."),
                reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton(_("Continue"), callback_data="report:resume")]]
                ),
            )
        except Forbidden:
            pass  # the person blocked the bot; the draft stays until /forget or the purge
        except TelegramError:
            log.warning("could not send a draft reminder")


async def purge_personal_data(context: JiynContext) -> None:
    """Clear personal data of reports closed longer ago than JIYN_RETENTION_DAYS."""
    services = context.services
    purged = await services.reports.purge_closed(services.settings.retention_days)
    if purged:
        log.info("purged personal data of %d closed reports", purged)


def schedule(application: JiynApplication) -> None:
    """Register the repeating jobs."""
    queue = application.job_queue
    queue.run_repeating(
        remind_unfinished_reports, interval=REMINDER_INTERVAL, first=30, name="draft-reminders"
    )
    queue.run_repeating(purge_personal_data, interval=PURGE_INTERVAL, first=10, name="purge")
