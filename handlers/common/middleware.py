"""Runs before every handler: drops edits, registers the user, settles the update's language,
and answers buttons the handlers cannot act on (someone else's in a group, a vanished message,
data the bot did not write)."""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Message, Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot.core.db import DATABASE_ERRORS
from bot.core.i18n import choose_language
from bot.telegram.context import JiynContext
from handlers.common import fallback

log = logging.getLogger(__name__)


async def ignore_edit(_update: Update, _context: JiynContext) -> None:
    """Stop an edited message before any handler: an edit is not a new request (an edited
    "/queue" would run the command again; a live location sends an edit every few seconds)."""
    raise ApplicationHandlerStop


async def load_user(update: Update, context: JiynContext) -> None:
    """Create or refresh the user row and set context.language from the saved choice; a button
    of someone else's message (see _pressed_by_asker) is answered with a short alert to the
    presser, one the handlers cannot act on (see _acceptable_button) as out of date, and
    neither goes further."""
    tg_user = update.effective_user
    if tg_user is None or tg_user.is_bot:
        return
    settings = context.services.settings
    try:
        saved_language = await context.services.users.saved_language(
            tg_user.id, tg_user.language_code
        )
    except DATABASE_ERRORS:
        # The database is down: still answer (a report goes on from memory), in Telegram's
        # language, as the saved choice cannot be read.
        log.warning("database unavailable: answering without the saved language")
        saved_language = None
    context.saved_language = saved_language
    context.language = choose_language(
        saved_language, tg_user.language_code, settings.default_language
    )
    query = update.callback_query
    if query is not None and not _pressed_by_asker(query):
        await fallback.answer_someone_elses_button(update, context)
        raise ApplicationHandlerStop
    if query is not None and not _acceptable_button(query):
        await fallback.answer_stale_button(update, context)
        raise ApplicationHandlerStop


def _pressed_by_asker(query: CallbackQuery) -> bool:
    """Whether the press may act: always in a private chat (no one else sees its buttons); in a
    group only if the button's message answers the presser's own message. The bot answers there
    quoting the message it answers, also when it answers a button (handlers.common.replies), so
    the quote says whose the buttons are; a message that quotes nobody's (an answer whose
    question was deleted) has buttons for no one there. An inaccessible message is answered as
    out of date next."""
    message = query.message
    if not isinstance(message, Message) or message.chat.type == ChatType.PRIVATE:
        return True
    asked = message.reply_to_message
    asker = asked.from_user if asked is not None else None
    return asker is not None and asker.id == query.from_user.id


def _acceptable_button(query: CallbackQuery) -> bool:
    """A press the handlers can act on: its message is there (handlers reply next to it; a
    button under a message sent in inline mode has none, only an inline_message_id), and it
    has data that could be ours (the bot writes it in printable ASCII without spaces, so
    anything else was forged, and would slip through patterns like "^...$" with a trailing
    newline)."""
    if not isinstance(query.message, Message):
        return False
    data = query.data
    return data is not None and data.isascii() and data.isprintable() and " " not in data
