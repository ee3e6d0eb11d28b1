"""The bot object: python-telegram-bot's ExtBot with what Jiyn's handlers need on top."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from telegram import InlineKeyboardMarkup, LinkPreviewOptions, ReplyParameters, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ExtBot

from bot.telegram.delivery import HOLD_BACK_POLL_SECONDS, UpdateAcks

MAX_UPDATES_PER_PAGE = 100  # getUpdates' default and maximum limit


class JiynBot(ExtBot[None]):
    """ExtBot whose answer to a button press never fails the handler that sends it, which
    sends long answers without reading Telegram's copy of them back, and which confirms updates
    to Telegram only once they are handled (bot.telegram.delivery)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acks = UpdateAcks()

    @property
    def acks(self) -> UpdateAcks:
        """The updates handed out and not yet handled."""
        return self._acks

    async def get_updates(
        self,
        offset: int | None = None,
        limit: int | None = None,
        timeout: Any = None,  # noqa: ASYNC109 - the Bot API parameter, same name as PTB
        allowed_updates: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> tuple[Update, ...]:
        """New updates; the confirmation (`offset`) never passes an update still in flight."""
        while True:
            if self.acks.holding_back:
                await self.acks.wait_for_idle(HOLD_BACK_POLL_SECONDS)
            holding_back = self.acks.holding_back
            updates = await super().get_updates(
                offset=self.acks.offset(offset),
                limit=limit,
                # Unconfirmed updates come back at once, so a long poll would not wait anyway.
                timeout=0 if holding_back else timeout,
                allowed_updates=allowed_updates,
                **kwargs,
            )
            fresh = set(self.acks.take_new([update.update_id for update in updates]))
            if fresh or not updates:
                return tuple(update for update in updates if update.update_id in fresh)
            if len(updates) >= (limit or MAX_UPDATES_PER_PAGE):
                self.acks.give_up()  # a full page of unfinished updates hides the newer ones

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
