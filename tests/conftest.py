"""Shared fixtures: a local Bot API server, a real database (SQLite file or PostgreSQL), and the
real Application running against both."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bot.app import JiynApplication, build_application
from bot.config import Settings, load_settings
from bot.localapi import LocalBotApi
from bot.migrate import upgrade_database
from bot.runner import polling

TEST_TOKEN = "123456789:TestTokenForLocalApi"
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


def make_settings(api: LocalBotApi, database_url: str, data_dir: Path, **extra: str) -> Settings:
    """Settings as the real program would read them from its environment."""
    environ = {
        "JIYN_BOT_TOKEN": TEST_TOKEN,
        "JIYN_API_BASE_URL": api.base_url,
        "JIYN_DATABASE_URL": database_url,
        "JIYN_DATA_DIR": str(data_dir),
        "JIYN_ENCRYPTION_KEY": "M2Vh8mW2dGq0n1yXg9yX1o8Vb7mB8k0Qp2tV5h3w2yQ=",
        **extra,
    }
    return load_settings(environ, env_file=data_dir / "no.env")


@dataclass
class RunningBot:
    """The real Application polling the local Bot API server."""

    api: LocalBotApi
    application: JiynApplication
    settings: Settings

    async def say(self, user: dict[str, Any], text: str, *, count: int = 1) -> list[Any]:
        """Send a text as the user and wait for the bot's next `count` messages to them."""
        mark = self.api.mark()
        self.api.send_text(user, text)
        return await self.api.wait_for_call(
            "sendMessage",
            since=mark,
            count=count,
            predicate=lambda call: call.params.get("chat_id") in (user["id"], str(user["id"])),
        )


@asynccontextmanager
async def run_bot(api: LocalBotApi, settings: Settings) -> AsyncIterator[RunningBot]:
    """Build the Application from the settings and run it until the block ends."""
    application = build_application(settings)
    async with polling(application, poll_timeout=1):
        yield RunningBot(api=api, application=application, settings=settings)


@pytest.fixture
async def bot(api: LocalBotApi, database_url: str, tmp_path: Path) -> AsyncIterator[RunningBot]:
    """The real bot running on a fresh database."""
    async with run_bot(api, make_settings(api, database_url, tmp_path)) as running:
        yield running
