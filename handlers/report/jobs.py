"""The report journey's scheduled work: a reminder about a report draft left idle."""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import Forbidden, TelegramError

from bot.core.i18n import gettext_for
from bot.telegram.context import JiynApplication, JiynContext

log = logging.getLogger(__name__)

DRAFT_IDLE = timedelta(minutes=15)
REMINDER_INTERVAL = timedelta(minutes=1)


async def remind_unfinished_reports(context: JiynContext) -> None:
    """Remind once about a report draft left idle; the draft itself is kept."""
    services = context.services
    for draft in await services.reports.drafts_to_remind(DRAFT_IDLE):
        language = await services.users.language_of(
            draft.user_id, services.settings.default_language
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


def schedule(application: JiynApplication) -> None:
    """Register the report journey's jobs."""
    application.job_queue.run_repeating(
        remind_unfinished_reports, interval=REMINDER_INTERVAL, first=30, name="draft-reminders"
    )
