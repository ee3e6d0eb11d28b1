"""Turning a knowledge Reply into a Telegram message."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message

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


async def send_reply(message: Message, reply: Reply) -> Message:
    """Send the Reply as an HTML message in the chat of `message`."""
    return await message.chat.send_message(
        reply.html,
        parse_mode="HTML",
        reply_markup=reply_markup(reply),
        disable_web_page_preview=True,
    )
