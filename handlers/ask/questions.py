"""Free-text questions, related-article and source buttons, 👍/👎 feedback, and the gaps log."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.error import BadRequest

from bot.core.db import DATABASE_ERRORS
from bot.core.i18n import normalize_language
from bot.telegram.context import JiynContext
from handlers.common.replies import asked_message, send_reply
from knowledge.answer import Reply, answer_question, article_reply, sources_reply
from knowledge.model import KnowledgeBase

# The buttons of knowledge/answer.py's replies (tests/test_answers_e2e.py checks that every
# button of every reply matches one of the patterns the Application registers).
SHOW_PATTERN = r"^kb:show:[a-z0-9-]+$"
SOURCES_PATTERN = r"^kb:src:[a-z0-9-]+$"
VOTE_PATTERN = r"^kb:fb:[a-z0-9-]+:(up|down)$"

log = logging.getLogger(__name__)

# Telegram caps a message at 4096 characters; longer input is not a question we can answer well.
MAX_QUESTION_LENGTH = 1000


def reply_language(update: Update, context: JiynContext) -> str | None:
    """The user's saved choice, else Telegram's language_code; None lets the question decide."""
    user = update.effective_user
    return context.saved_language or normalize_language(user.language_code if user else None)


async def answer_text(update: Update, context: JiynContext) -> None:
    """Answer a question typed in the chat."""
    message = update.effective_message
    question = (message.text or "")[:MAX_QUESTION_LENGTH]
    reply = answer_question(context.services.knowledge, question, reply_language(update, context))
    await send_reply(message, reply, quote=True)
    if reply.kind in ("no_answer", "clarify"):
        context.services.metrics.unanswered.labels(reply.kind).inc()
        await keep_gap(context, question, reply, reply.kind)


async def keep_gap(context: JiynContext, question: str, reply: Reply, outcome: str) -> None:
    """Keep a question the bot could not answer well for the editors; never fails the answer."""
    try:
        await context.services.gaps.record(question, reply.language, outcome, reply.topic)
    except DATABASE_ERRORS:
        log.warning("could not keep an unanswered question: database unavailable")


async def show_sources(update: Update, context: JiynContext) -> None:
    """Send the full list of an article's sources, titles in the reader's language."""
    await send_for_button(update, context, sources_reply)


async def send_for_button(
    update: Update,
    context: JiynContext,
    compose: Callable[[KnowledgeBase, str, str], Reply | None],
) -> None:
    """Send what `compose` makes of the article id a kb: button carries."""
    query = update.callback_query
    article_id = query.data.split(":", 2)[2]
    reply = compose(context.services.knowledge, article_id, context.language)
    if reply is None:
        _ = context.gettext
        await query.answer(_("This button is no longer active."))
        return
    await query.answer()
    await send_reply(asked_message(update), reply)


async def show_article(update: Update, context: JiynContext) -> None:
    """Send the article a related-article or "Did you mean…" button points to."""
    await send_for_button(update, context, article_reply)


async def record_vote(update: Update, context: JiynContext) -> None:
    """Store a 👍/👎 and take the vote buttons away so it is counted once."""
    _ = context.gettext
    query = update.callback_query
    _prefix, _action, article_id, vote = query.data.split(":", 3)
    if context.services.knowledge.get(article_id) is None:
        await query.answer(_("This button is no longer active."))
        return
    await context.services.feedback.record(article_id, vote == "up", context.language)
    await query.answer(_("Thank you! This helps us improve the answers."))
    asked = getattr(query.message, "reply_to_message", None)
    # In a group an answer quotes the command it answers (handlers.common.replies), never a
    # question: questions are answered in the private chat only.
    private = update.effective_chat.type == ChatType.PRIVATE
    if vote != "up" and private and asked is not None and asked.text:
        down = Reply(context.language, article_id, "article", "")
        await keep_gap(context, asked.text, down, "thumbs_down")
    markup = query.message.reply_markup if query.message else None
    if markup is not None:
        kept = [
            row
            for row in markup.inline_keyboard
            if not any((b.callback_data or "").startswith("kb:fb:") for b in row)
        ]
        # Taking the buttons away is cosmetic: a message that is gone or unchanged is fine.
        with contextlib.suppress(BadRequest):
            await query.edit_message_reply_markup(InlineKeyboardMarkup(kept) if kept else None)
