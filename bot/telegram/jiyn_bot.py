"""The bot object: python-telegram-bot's ExtBot with what Jiyn's handlers need on top."""

from __future__ import annotations

import datetime as dtm
import logging
from collections.abc import Callable, Sequence
from typing import Any

from telegram import InlineKeyboardMarkup, LinkPreviewOptions, ReplyParameters, Update
from telegram._utils.defaultvalue import DefaultValue
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError
from telegram.ext import ExtBot

from bot.telegram.delivery import HOLD_BACK_POLL_SECONDS, UpdateAcks
from bot.telegram.http import OUTBOX_SEND
from bot.telegram.outage import TelegramOutage

MAX_UPDATES_PER_PAGE = 100  # getUpdates' default and maximum limit

log = logging.getLogger("jiyn.updates")


class JiynBot(ExtBot[None]):
    """ExtBot whose answer to a button press never fails the handler that sends it, which
    sends long answers without reading Telegram's copy of them back, and which confirms updates
    to Telegram only once they are handled (bot.telegram.delivery)."""

    def __init__(
        self,
        *args: Any,
        outage: TelegramOutage | None = None,
        on_unparsable: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._acks = UpdateAcks()
        self._outage = outage or TelegramOutage()
        # getUpdates has an outage of its own: it may work while sending fails, or the reverse.
        self._updates_outage = TelegramOutage("getUpdates")
        self._on_unparsable = on_unparsable

    @property
    def outage(self) -> TelegramOutage:
        """Whether the Bot API answers, logged once per outage."""
        return self._outage

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
            raw = await self._get_raw_updates(
                offset=self.acks.offset(offset),
                limit=limit,
                # Unconfirmed updates come back at once, so a long poll would not wait anyway.
                timeout=0 if holding_back else timeout,
                allowed_updates=allowed_updates,
                **kwargs,
            )
            ids = [item["update_id"] for item in raw]
            fresh = set(self.acks.take_new(ids))
            updates = [
                update
                for update in (self._parse(item) for item in raw if item["update_id"] in fresh)
                if update is not None
            ]
            if fresh or not raw:
                return tuple(updates)
            if len(raw) >= (limit or MAX_UPDATES_PER_PAGE):
                self.acks.give_up()  # a full page of unfinished updates hides the newer ones

    def _parse(self, item: dict[str, Any]) -> Update | None:
        """The Update, or None for one python-telegram-bot cannot read (a newer or older Bot
        API than the library's): it is skipped, so the updates after it are not stalled."""
        try:
            update = Update.de_json(item, self)
        except Exception as error:
            update_id = item["update_id"]
            self.acks.done(update_id)  # confirmed with the next getUpdates: never comes again
            kinds = ",".join(sorted(key for key in item if key != "update_id")) or "none"
            # Ids, field names and the error's class only: the content may be personal.
            log.warning(
                "skipped update %d that python-telegram-bot cannot read (kind=%s, %s)",
                update_id,
                kinds[:64],
                type(error).__name__,
            )
            if self._on_unparsable is not None:
                self._on_unparsable()
            return None
        self.insert_callback_data(update)
        return update

    async def _get_raw_updates(
        self,
        offset: int | None,
        limit: int | None,
        timeout: Any,  # noqa: ASYNC109 - the Bot API parameter
        allowed_updates: Sequence[str] | None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
        api_kwargs: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """getUpdates as Bot.get_updates makes it, without turning the answer into Updates:
        PTB parses the whole page at once, so one update it cannot read would fail every poll
        (and PTB would log the page's content)."""
        data: dict[str, Any] = {
            "timeout": timeout,
            "offset": offset,
            "limit": limit,
            "allowed_updates": allowed_updates,
        }
        if read_timeout is not None and not isinstance(read_timeout, DefaultValue):
            base_read_timeout: float = read_timeout or 0
        else:
            base_read_timeout = self._request[0].read_timeout or 0
        if isinstance(timeout, dtm.timedelta):
            total_read_timeout = base_read_timeout + timeout.total_seconds()
        else:
            total_read_timeout = base_read_timeout + (timeout or 0)
        extra: dict[str, Any] = {}
        for name, value in (
            ("write_timeout", write_timeout),
            ("connect_timeout", connect_timeout),
            ("pool_timeout", pool_timeout),
        ):
            if value is not None:
                extra[name] = value
        try:
            result = await self._post(
                "getUpdates",
                data,
                read_timeout=total_read_timeout,
                api_kwargs=api_kwargs,
                **extra,
            )
        except NetworkError as error:
            if not isinstance(error, BadRequest):
                self._updates_outage.failed(error)
            raise
        self._updates_outage.answered()
        return list(result or [])

    async def answer_callback_query(self, *args: Any, **kwargs: Any) -> bool:
        """Answer the press; False when Telegram no longer takes an answer to it, or does not
        answer at all (an outage: the answer is only the button's spinner or a toast, and the
        press must still be acted on, without waiting out the outage)."""
        kwargs.setdefault("rate_limit_args", OUTBOX_SEND)
        try:
            return await super().answer_callback_query(*args, **kwargs)
        except BadRequest as error:
            # The press was answered already (an error handler ran before the handler, or the
            # update came again after a crash) or is too old (the bot was down): the answer only
            # stops the button's spinner, the press itself must still be acted on.
            if "query is too old" in error.message.lower():
                return False
            raise
        except NetworkError:
            return False

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
