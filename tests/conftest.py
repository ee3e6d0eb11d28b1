"""Shared fixtures: a local Bot API server, a real database (SQLite file or PostgreSQL), and the
real Application running against both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.migrate import upgrade_database
from bot.localapi.server import LocalBotApi
from tests.support.databases import (
    fresh_postgres_database,
    postgres_server_url,
)
from tests.support.harness import RunningBot, make_settings, run_bot


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated, empty database: an SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'jiyn-test.sqlite3'}"
        await asyncio.to_thread(upgrade_database, url)
        yield url
        return
    admin_url = postgres_server_url()
    async with fresh_postgres_database(admin_url) as url:
        await asyncio.to_thread(upgrade_database, url)
        yield url


@pytest.fixture
async def api() -> AsyncIterator[LocalBotApi]:
    """A local Bot API server on loopback."""
    server = LocalBotApi()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def bot(api: LocalBotApi, database_url: str, tmp_path: Path) -> AsyncIterator[RunningBot]:
    """The real bot running on a fresh database."""
    async with run_bot(api, make_settings(api, database_url, tmp_path)) as running:
        yield running
