"""`jiyn run`: wait to be the active process, serve, and stand down when the lock is lost.

A standby has loaded everything (configuration, knowledge base, Application) before it waits,
so taking over costs only the Application's start. The health server (bot.health) answers from
the start, for a standby too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from bot.health import HealthServer
from bot.leader import Leadership
from bot.runner import WebhookOptions, polling, webhook
from bot.telegram.context import JiynApplication, Services

log = logging.getLogger("jiyn")


async def serve(
    application: JiynApplication,
    leadership: Leadership,
    options: WebhookOptions | None,
    on_lost: Callable[[], None],
) -> None:
    """Run until SIGINT or SIGTERM; `on_lost` is called if the active lock is lost."""
    services: Services = application.bot_data["services"]
    settings = services.settings
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    # Ready for traffic only once updates flow, not from the moment the lock is taken.
    serving = asyncio.Event()
    health = None
    if settings.health_port is not None:
        health = HealthServer(
            "127.0.0.1",
            settings.health_port,
            services.metrics,
            services.engine,
            lambda: services.metrics.read_database(services.sessions),
            f"{settings.api_base_url}/bot{application.bot.token}/getMe",
            lambda: leadership.active and serving.is_set(),
        )
        await health.initialize()
    try:
        if leadership.is_postgres:
            waiting = asyncio.create_task(
                leadership.acquire(
                    on_standby=lambda: log.info(
                        "standby: another process is active; taking over when it stops"
                    )
                )
            )
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not waiting.done():
                waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiting
                return
            waiting.result()
        log.info("active: serving")
        leadership.watch(on_lost)
        feed = polling(application) if options is None else webhook(application, options)
        async with feed:
            serving.set()
            await stop.wait()
    finally:
        await leadership.release()
        if health is not None:
            await health.shutdown()
