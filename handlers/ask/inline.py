"""Inline mode: `@bot question` in any chat returns a shareable answer."""

from __future__ import annotations

from telegram import InlineQueryResultArticle, InputTextMessageContent, Update

from bot.telegram.context import JiynContext
from handlers.ask.questions import MAX_QUESTION_LENGTH, reply_language
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
        if replies[0].kind == "clarify":
            # A shared message has no buttons: offer each candidate as its own result instead.
            choices = [
                button.callback_data.removeprefix("kb:show:")
                for row in replies[0].buttons
                for button in row
                if button.callback_data
            ]
            replies = [article_reply(knowledge, a, replies[0].language) for a in choices]
    else:
        replies = [article_reply(knowledge, a, context.language) for a in SUGGESTED_ARTICLES]
    results = []
    for number, reply in enumerate(r for r in replies if r is not None):
        first_line, _newline, rest = to_plain(reply).strip().partition("\n")
        article = knowledge.get(reply.topic) if reply.topic else None
        # The answer starts with the direct answer; the list shows the topic, then that answer.
        title = article.text(reply.language).title if article is not None else first_line
        if article is not None:
            rest = to_plain(reply)
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
