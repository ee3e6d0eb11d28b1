"""Running an Application inside an event loop that someone else owns (`jiyn run`, console,
tests): started, fed by long polling or a webhook, and stopped cleanly."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from telegram import Update
from telegram.error import BadRequest, NetworkError, TelegramError
from telegram.ext import Updater

from bot.telegram.context import JiynApplication

log = logging.getLogger("jiyn.updates")


def _polling_error(error: TelegramError) -> None:
    """A failed getUpdates, in one line: an outage is logged once by bot.telegram.outage, and
    PTB's own report would be a traceback for every failed poll."""
    if not isinstance(error, NetworkError):
        log.warning("getUpdates failed (%s); retrying", type(error).__name__)


@dataclass(frozen=True)
class WebhookOptions:
    """Where Telegram posts updates and where this process listens for them."""

    url: str
    host: str
    port: int
    path: str
    secret_token: str


@asynccontextmanager
async def running(
    application: JiynApplication, start_updates: Callable[[Updater], Awaitable[object]]
) -> AsyncIterator[None]:
    """Start the Application, then its updates (`start_updates`), and stop both on exit,
    running the same post_init/post_stop/post_shutdown hooks as run_polling(). A Telegram
    outage at start (getMe failing) is waited out: the outbox's messages go out once it ends."""
    await _initialize(application)
    if application.post_init:
        await application.post_init(application)
    await application.start()
    assert application.updater is not None
    await start_updates(application.updater)
    try:
        yield
    finally:
        if application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
            if application.post_stop:
                await application.post_stop(application)
        await application.shutdown()
        if application.post_shutdown:
            await application.post_shutdown(application)


async def _initialize(application: JiynApplication) -> None:
    delay = 0.5
    while True:
        try:
            await application.initialize()
            return
        except NetworkError as error:
            if isinstance(error, BadRequest):
                raise
            log.warning("Telegram is not answering at start (%s); waiting", type(error).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


def polling(
    application: JiynApplication, *, poll_timeout: int = 10
) -> AbstractAsyncContextManager[None]:
    """The Application fed by long polling."""
    return running(
        application,
        lambda updater: updater.start_polling(
            poll_interval=0.0,
            timeout=poll_timeout,
            allowed_updates=Update.ALL_TYPES,
            error_callback=_polling_error,
        ),
    )


def webhook(
    application: JiynApplication, options: WebhookOptions
) -> AbstractAsyncContextManager[None]:
    """The Application fed by a webhook, registered with Telegram when it starts."""
    return running(
        application,
        lambda updater: updater.start_webhook(
            listen=options.host,
            port=options.port,
            url_path=options.path,
            webhook_url=options.url,
            secret_token=options.secret_token,
            allowed_updates=Update.ALL_TYPES,
            # One delivery at a time: Telegram sends webhook updates in order only then, and the
            # per-chat ordering of the update processor depends on arrival order.
            max_connections=1,
        ),
    )
