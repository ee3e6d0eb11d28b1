"""Liveness, readiness and metrics over HTTP, on a loopback port (JIYN_HEALTH_PORT).

- `GET /healthz`: 200 while the process runs (a standby too).
- `GET /readyz`: 200 when this process is the active one and both the database and the Bot API
  answer; 503 otherwise. The JSON body says which: `{"role", "database", "telegram"}`.
- `GET /metrics`: Prometheus' text format (bot.telegram.metrics).

Nothing here shows personal data, the token or the database URL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.db import READS
from bot.telegram.metrics import Metrics

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 3.0


class HealthServer:
    """The HTTP endpoints of one process; `is_active` says whether it serves right now."""

    def __init__(
        self,
        host: str,
        port: int,
        metrics: Metrics,
        engine: AsyncEngine,
        read_database: Callable[[], Awaitable[None]],
        api_url: str,
        is_active: Callable[[], bool],
    ) -> None:
        self._host = host
        self._port = port
        self._metrics = metrics
        self._engine = engine
        self._read_database = read_database
        # {base}/bot{token}/getMe: kept out of every log line and answer.
        self._api_url = api_url
        self._is_active = is_active
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = port

    async def initialize(self) -> None:
        """Start listening."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._scrape)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CHECK_TIMEOUT))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])  # the one chosen when asked for port 0
        log.info("health and metrics on http://%s:%d/", self._host, self.port)

    async def shutdown(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _database_ok(self) -> bool:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                # a read (no SQLite write lock): a database that can be read is up
                reads = self._engine.execution_options(**{READS: True})
                async with reads.connect() as connection:
                    await connection.execute(text("SELECT 1"))
            return True
        except Exception:  # any failure is the same answer: not reachable
            return False

    async def _telegram_ok(self) -> bool:
        assert self._session is not None
        try:
            async with self._session.get(self._api_url) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def _readyz(self, _request: web.Request) -> web.Response:
        database, telegram = await asyncio.gather(self._database_ok(), self._telegram_ok())
        active = self._is_active()
        body = {
            "role": "active" if active else "standby",
            "database": database,
            "telegram": telegram,
        }
        return web.json_response(body, status=200 if active and database and telegram else 503)

    async def _scrape(self, _request: web.Request) -> web.Response:
        self._metrics.active.set(1 if self._is_active() else 0)
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                await self._read_database()
        except Exception:  # the database gauges keep their last values; the error is counted
            log.warning("metrics: could not read the database")
        return web.Response(
            body=self._metrics.exposition(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )
