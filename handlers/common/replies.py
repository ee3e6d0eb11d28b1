"""Answering in the right place: a knowledge Reply as a Telegram message, an answer next to what
it answers (in a group, quoting the asker's message), and replacing the message of a button."""

from __future__ import annotations

from typing import cast

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest

from bot.telegram.jiyn_bot import JiynBot
from knowledge.answer import Reply


def reply_markup(reply: Reply) -> InlineKeyboardMarkup | None:
    """The Reply's button rows as an inline keyboard."""
    rows = []
    for row in reply.buttons:
        buttons = []
        for button in row:
            if button.callback_data:
                buttons.append(
                    InlineKeyboardButton(button.label, callback_data=button.callback_data)
                )
            elif button.url:
                buttons.append(InlineKeyboardButton(button.label, url=button.url))
            elif button.switch_inline_query is not None:
                buttons.append(
                    InlineKeyboardButton(
                        button.label, switch_inline_query=button.switch_inline_query
                    )
                )
        if buttons:
            rows.append(buttons)
    return InlineKeyboardMarkup(rows) if rows else None


def asked_message(update: Update) -> Message:
    """The person's message an answer goes with: the update's own message, or, for a button
    pressed in a group, the person's message that the button's message answered. Answers in a
    group quote it: that makes the buttons of the answer the asker's too, and no one else's
    (handlers.common.middleware)."""
    message = cast(Message, update.effective_message)  # every update that is answered has one
    asked = message.reply_to_message if update.callback_query is not None else None
    if asked is not None and message.chat.type != ChatType.PRIVATE:
        return asked
    return message


async def answer(
    update: Update, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    """Send an HTML answer in the update's chat; in a group quoting the asker's message (see
    asked_message), or quoting nothing if it was deleted meanwhile."""
    await asked_message(update).reply_html(
        text, reply_markup=reply_markup, allow_sending_without_reply=True
    )


async def send_reply(message: Message, reply: Reply, quote: bool = False) -> int:
    """Send the Reply as an HTML message in the chat of `message`; its message id. With
    `quote`, and always in a group, as a reply to `message` (a 👎 on the answer then knows what
    was asked; in a group, the quote says whose the answer's buttons are)."""
    bot = cast(JiynBot, message.get_bot())
    quoted = quote or message.chat.type != ChatType.PRIVATE
    reply_to = message.message_id if quoted else None
    return await bot.send_html(message.chat_id, reply.html, reply_markup(reply), reply_to)


async def edit_or_send(
    query: CallbackQuery, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    """Replace the text of the message whose button was pressed; when that message cannot be
    edited any more (deleted, too old, inaccessible), send the text as a new message."""
    message = query.message
    try:
        if isinstance(message, Message):
            await message.edit_text(text, reply_markup=reply_markup)
            return
    except BadRequest as error:
        if "not modified" in error.message.lower():
            return  # a second tap on the same button: the message already says this
    if message is not None:
        await query.get_bot().send_message(message.chat.id, text, reply_markup=reply_markup)
