"""Running an Application inside an event loop that someone else owns (console, tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from telegram import Update

from bot.app import JiynApplication


@asynccontextmanager
async def polling(application: JiynApplication, *, poll_timeout: int = 10) -> AsyncIterator[None]:
    """Start the Application with long polling and stop it cleanly on exit, running the same
    post_init/post_shutdown hooks as run_polling()."""
    await application.initialize()
    if application.post_init:
        await application.post_init(application)
    await application.start()
    await application.updater.start_polling(
        poll_interval=0.0, timeout=poll_timeout, allowed_updates=Update.ALL_TYPES
    )
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
