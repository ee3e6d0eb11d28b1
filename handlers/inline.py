"""Inline mode: `@bot question` in any chat returns a shareable answer."""

from __future__ import annotations

from telegram import InlineQueryResultArticle, InputTextMessageContent, Update

from bot.context import JiynContext
from handlers.questions import MAX_QUESTION_LENGTH, reply_language
from knowledge.answer import answer_question, article_reply, to_plain

# Shown before the person has typed anything: the two things most needed on a bad day.
SUGGESTED_ARTICLES = ("if-detained", "notification-procedure", "approval-procedure")


async def answer_inline(update: Update, context: JiynContext) -> None:
    """Answer an inline query with the best article, ready to share."""
    query = update.inline_query
    knowledge = context.services.knowledge
    text = query.query.strip()[:MAX_QUESTION_LENGTH]
    if text:
        replies = [answer_question(knowledge, text, reply_language(update, context))]
    else:
        replies = [article_reply(knowledge, a, context.language) for a in SUGGESTED_ARTICLES]
    results = []
    for number, reply in enumerate(r for r in replies if r is not None):
        title, _newline, rest = to_plain(reply).strip().partition("\n")
        results.append(
            InlineQueryResultArticle(
                id=f"{reply.topic or 'none'}:{number}"[:64],
                title=title[:100],
                description=" ".join(rest.split())[:200],
                input_message_content=InputTextMessageContent(
                    reply.html, parse_mode="HTML", disable_web_page_preview=True
                ),
            )
        )
    await query.answer(results, cache_time=60, is_personal=True)
