"""The bot object: python-telegram-bot's ExtBot with what Jiyn's handlers need on top."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, LinkPreviewOptions, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ExtBot


class JiynBot(ExtBot[None]):
    """ExtBot whose answer to a button press never fails the handler that sends it, and which
    sends long answers without reading Telegram's copy of them back."""

    async def answer_callback_query(self, *args: Any, **kwargs: Any) -> bool:
        """Answer the press; False when Telegram no longer takes an answer to it."""
        try:
            return await super().answer_callback_query(*args, **kwargs)
        except BadRequest as error:
            # The press was answered already (an error handler ran before the handler, or the
            # update came again after a crash) or is too old (the bot was down): the answer only
            # stops the button's spinner, the press itself must still be acted on.
            if "query is too old" in error.message.lower():
                return False
            raise

    async def send_html(
        self,
        chat_id: int,
        html: str,
        reply_markup: InlineKeyboardMarkup | None = None,
        reply_to: int | None = None,
    ) -> int:
        """Send an HTML message without link previews; returns its message id. Unlike
        send_message, Telegram's copy of the message is not turned into a Message: for a long
        answer with many entities that costs more CPU than everything else in sending it."""
        data: dict[str, Any] = {
            "chat_id": chat_id,
            "text": html,
            "parse_mode": ParseMode.HTML,
            "link_preview_options": LinkPreviewOptions(is_disabled=True),
            "reply_markup": reply_markup,
        }
        if reply_to is not None:
            # A question deleted meanwhile must not cost the person their answer.
            data["reply_parameters"] = ReplyParameters(reply_to, allow_sending_without_reply=True)
        # _post is the one path of every Bot method: defaults, then our rate limiter and client.
        result = await self._post("sendMessage", data)
        return int(result["message_id"])
