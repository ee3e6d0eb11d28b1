"""Shared fixtures: a local Bot API server, a real database (SQLite file or PostgreSQL), and the
real Application running against both."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.localapi import LocalBotApi
from bot.migrate import upgrade_database
from tests.harness import RunningBot, make_settings, run_bot

POSTGRES_URL_VARIABLE = "JIYN_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_VARIABLE = "JIYN_REQUIRE_POSTGRES"


def _postgres_admin_url() -> str | None:
    url = os.environ.get(POSTGRES_URL_VARIABLE, "").strip()
    return url or None


@asynccontextmanager
async def fresh_postgres_database(admin_url: str) -> AsyncIterator[str]:
    """Create an empty database on the test server, yield its URL, drop it afterwards."""
    import asyncpg

    url = make_url(admin_url)
    name = f"jiyn_test_{uuid.uuid4().hex[:12]}"
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield url.set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        admin = await asyncpg.connect(dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated, empty database: an SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'jiyn-test.sqlite3'}"
        await asyncio.to_thread(upgrade_database, url)
        yield url
        return
    admin_url = _postgres_admin_url()
    if admin_url is None:
        if os.environ.get(REQUIRE_POSTGRES_VARIABLE) == "1":
            pytest.fail(f"{POSTGRES_URL_VARIABLE} is not set but PostgreSQL tests are required")
        pytest.skip(f"PostgreSQL tests need {POSTGRES_URL_VARIABLE}")
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
