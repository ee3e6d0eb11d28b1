"""Choosing the interface language with /language; the choice is saved in the database."""

from __future__ import annotations

from telegram import Update

from bot.telegram.context import JiynContext
from handlers.common.keyboards import language_picker, main_menu
from handlers.common.replies import answer, edit_or_send

MENU_PATTERN = r"^menu:language$"
SET_PATTERN = r"^lang:set:(kk|ru|en)$"


async def ask_language(update: Update, context: JiynContext) -> None:
    """Show the language buttons."""
    _ = context.gettext
    if update.callback_query:
        await update.callback_query.answer()
    await answer(update, _("Choose your language:"), language_picker())


async def set_language(update: Update, context: JiynContext) -> None:
    """Save the chosen language and confirm in it."""
    query = update.callback_query
    language = query.data.rsplit(":", 1)[-1]
    await context.services.users.set_language(update.effective_user.id, language)
    context.language = language
    _ = context.gettext
    await query.answer()
    await edit_or_send(query, _("Language: English. You can change it with /language."))
    await answer(update, _("What do you need?"), main_menu(_))
