"""What a reporter can see and delete of their own data: /myreports and /forget."""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.core.i18n import N_
from bot.telegram.context import JiynContext
from handlers.common.replies import edit_or_send

FORGET_PATTERN = r"^forget:(confirm|keep)$"

STATUS_NAMES = {
    "new": N_("received, waiting for a volunteer"),
    "in_review": N_("a volunteer is working on it"),
    "verified": N_("verified"),
    "rejected": N_("not confirmed"),
    "duplicate": N_("merged with another report"),
    "closed": N_("closed"),
}


async def list_reports(update: Update, context: JiynContext) -> None:
    """The user's reports with their status."""
    _ = context.gettext
    summaries = await context.services.reports.reports_of(update.effective_user.id)
    if not summaries:
        await update.effective_message.reply_html(_("You have not sent any reports."))
        return
    timezone = context.services.settings.timezone
    lines = [f"<b>{_('Your reports')}</b>"]
    for summary in summaries:
        when = summary.created_at.astimezone(timezone).strftime("%d.%m.%Y %H:%M")
        status = _(STATUS_NAMES.get(summary.status, summary.status))
        lines.append(
            f"• <b>{html.escape(summary.code)}</b> — {html.escape(when)} — {html.escape(status)}"
        )
    await update.effective_message.reply_html("\n".join(lines))


async def ask_forget(update: Update, context: JiynContext) -> None:
    """Explain what /forget deletes and ask for confirmation."""
    _ = context.gettext
    await update.effective_message.reply_html(
        _(
            "This deletes everything personal you sent: names, phone numbers, places, texts, "
            "photos and your contact in all your reports, your unfinished report and your "
            "language setting. Volunteers keep only anonymous counts (city, date, number of "
            "people). This cannot be undone. Delete?"
        ),
        reply_markup=InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(_("Yes, delete my data"), callback_data="forget:confirm")],
                [InlineKeyboardButton(_("No, keep it"), callback_data="forget:keep")],
            ]
        ),
    )


async def confirm_forget(update: Update, context: JiynContext) -> None:
    """Delete the user's personal data and say what was deleted."""
    _ = context.gettext
    query = update.callback_query
    await query.answer()
    if query.data == "forget:keep":
        await edit_or_send(query, _("Nothing was deleted."))
        return
    services = context.services
    cleared, draft_deleted = await services.reports.forget(update.effective_user.id)
    settings_deleted = await services.users.forget(update.effective_user.id)
    if services.outbox is not None:
        # Messages still waiting for Telegram (status updates, relayed messages) to this chat.
        await services.outbox.forget_chat(update.effective_chat.id)
    lines = [_("Done. Deleted:")]
    lines.append(
        context.ngettext(
            "• personal details of {n} report", "• personal details of {n} reports", cleared
        ).format(n=cleared)
    )
    if draft_deleted:
        lines.append(_("• your unfinished report"))
    if settings_deleted:
        lines.append(_("• your language setting"))
    await edit_or_send(query, "\n".join(lines))
