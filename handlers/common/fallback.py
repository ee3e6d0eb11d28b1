"""Anything the bot did not expect gets a short reply pointing to the menu."""

from __future__ import annotations

from telegram import Message, Update

from bot.telegram.context import JiynContext
from handlers.common.keyboards import main_menu
from handlers.common.replies import answer


async def reply_unknown_command(update: Update, context: JiynContext) -> None:
    """An unknown /command in a private chat."""
    _ = context.gettext
    await update.effective_message.reply_html(
        _("I don't know this command. Choose from the menu or write your question."),
        reply_markup=main_menu(_),
    )


async def reply_unsupported_message(update: Update, context: JiynContext) -> None:
    """A sticker, voice message, poll or anything else the bot cannot read here."""
    _ = context.gettext
    await update.effective_message.reply_html(
        _("I can't read this kind of message. Please write your question as text or use the menu."),
        reply_markup=main_menu(_),
    )


async def answer_stale_button(update: Update, context: JiynContext) -> None:
    """A button from an old message, or one whose action no longer exists."""
    _ = context.gettext
    query = update.callback_query
    await query.answer(_("This button is no longer active."))
    text = _("That button is out of date. Here is the menu:")
    if isinstance(query.message, Message):
        await answer(update, text, main_menu(_))
    elif query.message is not None:
        await context.bot.send_message(query.message.chat.id, text, reply_markup=main_menu(_))


async def answer_someone_elses_button(update: Update, context: JiynContext) -> None:
    """A button of a message that answers another person in a group: an alert only the presser
    sees; the message, the chat and everyone's settings stay as they are."""
    _ = context.gettext
    await update.callback_query.answer(
        _("This button is for the person who asked."), show_alert=True
    )
