"""Detention reports. Until the report conversation lands, the entry points say so plainly and
give the detention checklist, so nobody is left with a dead button."""

from __future__ import annotations

from telegram import Update

from bot.context import JiynContext
from handlers.rights import show_rights


async def start_report(update: Update, context: JiynContext) -> None:
    """Entry point of a detention report (menu, /report, the button after a detention message)."""
    _ = context.gettext
    if update.callback_query:
        await update.callback_query.answer()
    await update.effective_message.reply_html(
        _(
            "Reporting a detention through the bot is not available yet. "
            "Write down now: who was detained, when, where, which police unit, and "
            "contact a human rights organisation. Here is what to do:"
        )
    )
    await show_rights(update, context)
