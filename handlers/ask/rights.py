"""/rights: what to do when detained, straight away."""

from __future__ import annotations

from telegram import Update

from bot.telegram.context import JiynContext
from handlers.common.replies import answer, asked_message, send_reply
from knowledge.answer import article_reply

ASK_PATTERN = r"^menu:ask$"
MENU_PATTERN = r"^menu:rights$"

RIGHTS_ARTICLE = "if-detained"
RELATIVES_ARTICLE = "relatives-of-detained"


async def show_rights(update: Update, context: JiynContext) -> None:
    """Send the detention checklist."""
    if update.callback_query:
        await update.callback_query.answer()
    await send_checklist(update, context)


async def send_checklist(update: Update, context: JiynContext) -> None:
    """The detention checklist, as part of another answer."""
    reply = article_reply(context.services.knowledge, RIGHTS_ARTICLE, context.language)
    await send_reply(asked_message(update), reply)


async def send_relatives_steps(update: Update, context: JiynContext) -> None:
    """What a relative or a witness can do for the detained person (not the detainee's own
    checklist): the knowledge base's article, with its sources and its flags."""
    reply = article_reply(context.services.knowledge, RELATIVES_ARTICLE, context.language)
    await send_reply(asked_message(update), reply)


async def prompt_question(update: Update, context: JiynContext) -> None:
    """The "Ask a question" menu button: invite the person to type."""
    _ = context.gettext
    await update.callback_query.answer()
    await answer(
        update,
        _(
            "Write your question in your own words, for example: "
            "<i>Do I need approval for a march?</i>"
        ),
    )
