"""Runs before every handler: registers the user and settles the update's language."""

from __future__ import annotations

from telegram import Update

from bot.context import JiynContext
from bot.i18n import choose_language
from bot.services import users


async def load_user(update: Update, context: JiynContext) -> None:
    """Create or refresh the user row and set context.language from the saved choice."""
    tg_user = update.effective_user
    if tg_user is None or tg_user.is_bot:
        return
    settings = context.services.settings
    user = await users.touch_user(
        context.services.sessions,
        tg_user.id,
        tg_user.language_code,
        admin=tg_user.id in settings.admin_ids,
    )
    context.saved_language = user.language
    context.language = choose_language(
        user.language, tg_user.language_code, settings.default_language
    )
