"""What the review journeys share: the service, labels, dates, error messages and telling a
reporter that their report changed."""

from __future__ import annotations

import contextlib
import html
import logging
from collections.abc import Callable
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.core.i18n import N_, gettext_for
from bot.core.models import OutboxMessage, ReportStatus, utcnow
from bot.services.review.workflow import Change, ReviewError, ReviewService
from bot.telegram.context import JiynContext
from bot.telegram.outbox import STATUS
from handlers.common.my_data import STATUS_NAMES

log = logging.getLogger(__name__)

# Volunteer-facing names; reporters see handlers.common.my_data.STATUS_NAMES.
STATUS_LABELS = {
    "new": N_("new"),
    "in_review": N_("in review"),
    "verified": N_("verified"),
    "rejected": N_("rejected"),
    "duplicate": N_("duplicate"),
    "closed": N_("closed"),
}
QUEUE_FILTER_LABELS = {
    "open": N_("open"),
    **STATUS_LABELS,
    "all": N_("all"),
}
REPORTER_ROLES = {
    "now": N_("being detained right now"),
    "self": N_("was detained"),
    "witness": N_("a witness"),
    "relative": N_("a relative or friend"),
}
OUTCOME_LABELS = {
    "released": N_("released"),
    "fined": N_("fined"),
    "arrested": N_("arrested"),
    "court": N_("court date set"),
    "unknown": N_("unknown"),
    "none": N_("not recorded"),
}
ERRORS = {
    "not_found": N_("There is no such report."),
    "wrong_status": N_("This cannot be done in the report's current status."),
    "not_claimed": N_("Claim the report first."),
    "claimed_by_other": N_("Another volunteer is working on this report."),
    "already_yours": N_("You are already working on this report."),
    "unknown_code": N_("There is no report with this code."),
    "same_report": N_("A report cannot duplicate itself."),
    "bad_text": N_("Please type some text, not too long."),
    "bad_number": N_("Please type a whole number, like 5."),
    "bad_date": N_("Please type a date like 25.11.2026."),
    "bad_outcome": N_("This outcome is not known."),
    "no_consent": N_(
        "The reporter did not agree to be contacted and has not written to volunteers."
    ),
    "unreachable": N_("The reporter deleted their data; they cannot be contacted."),
    "not_yours": N_("This button is no longer active."),
    "no_volunteer": N_("No volunteer is working on your report right now."),
}


def review_service(context: JiynContext) -> ReviewService:
    """The application's review service (one, as it remembers who has a question waiting)."""
    return context.services.review


def local_time(context: JiynContext, moment: datetime | None) -> str:
    """A moment as dd.mm.yyyy hh:mm in the configured time zone."""
    if moment is None:
        return "—"
    return moment.astimezone(context.services.settings.timezone).strftime("%d.%m.%Y %H:%M")


def age_label(_: Callable[[str], str], moment: datetime) -> str:
    """How long ago, short: 5 min, 3 h, 2 d."""
    minutes = max(0, int((utcnow() - moment).total_seconds() // 60))
    if minutes < 60:
        return _("{n} min").format(n=minutes)
    if minutes < 48 * 60:
        return _("{n} h").format(n=minutes // 60)
    return _("{n} d").format(n=minutes // (24 * 60))


def error_text(context: JiynContext, error: ReviewError) -> str:
    """The localized message of a refused review action."""
    _ = context.gettext
    return _(ERRORS.get(error.reason, ERRORS["wrong_status"]))


async def tell(update: Update, text: str) -> None:
    """A short answer: a toast for a button, a reply for a message."""
    if update.callback_query is not None:
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)


def _status_message(change: Change) -> tuple[int, str, InlineKeyboardMarkup | None] | None:
    """What the reporter is told of a change, in their language: their chat, the HTML text and
    its button; None when nothing is to be said (they deleted their data, or only the volunteer
    changed). While a volunteer holds the report, the message offers to write to them."""
    if change.reporter_chat_id is None or not change.status_changed:
        return None
    _ = gettext_for(change.reporter_language)
    text = _("Update on your report {code}: {status}.").format(
        code=html.escape(change.code), status=html.escape(_(STATUS_NAMES[change.status]))
    )
    markup = None
    if change.claimed_by is not None and change.status != ReportStatus.CLOSED.value:
        text += "\n" + _("You can write to the volunteer here: they will not see your account.")
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("✉️ Write to the volunteer"), callback_data=f"rl:new:{change.report_id}"
                    )
                ]
            ]
        )
    return change.reporter_chat_id, text, markup


class ReporterUpdate:
    """Tells the reporter that their report's status changed. Pass it as the review service's
    `then`: the message is written to the outbox in the transaction of the change (both are
    saved, or neither); then `deliver()` sends it now, or the outbox does when Telegram answers
    again (a blocked bot: dropped)."""

    def __init__(self, context: JiynContext) -> None:
        self._context = context
        self._rows: list[OutboxMessage] = []
        self._direct: tuple[int, str, InlineKeyboardMarkup | None] | None = None

    def __call__(self, session: object, change: Change) -> None:
        message = _status_message(change)
        if message is None:
            return
        outbox = self._context.services.outbox
        if outbox is None:
            self._direct = message
            return
        chat_id, text, markup = message
        self._rows.append(outbox.add(session, STATUS, chat_id, text, reply_markup=markup))

    async def deliver(self) -> None:
        """Send what the change wrote (after its transaction was committed)."""
        outbox = self._context.services.outbox
        if outbox is not None:
            if self._rows:
                await outbox.deliver_now([row.id for row in self._rows])
            return
        if self._direct is None:
            return
        chat_id, text, markup = self._direct
        try:
            await self._context.bot.send_message(
                chat_id, text, parse_mode="HTML", reply_markup=markup
            )
        except Forbidden:
            pass  # the reporter blocked the bot
        except TelegramError:
            log.warning("could not tell a reporter about a status change")


async def edit_or_send(update: Update, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Replace the pressed message (HTML); send a new one if it cannot be edited."""
    try:
        await update.callback_query.edit_message_text(text, parse_mode="HTML", reply_markup=markup)
    except BadRequest as error:
        if "not modified" in str(error).lower():
            return
        await update.effective_chat.send_message(text, parse_mode="HTML", reply_markup=markup)
