"""The test databases: the PostgreSQL test server and fresh databases on it, a database's bytes
as they are at rest, and an SQLite database failing as its disk would."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from tests.support.harness import RunningBot

from bot.core.db import create_engine
from bot.core.models import Report

POSTGRES_URL_VARIABLE = "JIYN_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_VARIABLE = "JIYN_REQUIRE_POSTGRES"


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


def postgres_server_url() -> str:
    """The PostgreSQL test server's URL; skip (or fail, in CI) without one."""
    url = os.environ.get(POSTGRES_URL_VARIABLE, "").strip()
    if not url:
        if os.environ.get(REQUIRE_POSTGRES_VARIABLE) == "1":
            pytest.fail(f"{POSTGRES_URL_VARIABLE} is not set but PostgreSQL tests are required")
        pytest.skip(f"needs {POSTGRES_URL_VARIABLE}")
    return url


async def database_bytes(database_url: str, tmp_path: Path) -> bytes:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        paths = glob.glob(f"{url.database}*")  # the file, its -wal and -shm
        chunks = await asyncio.gather(*(asyncio.to_thread(Path(p).read_bytes) for p in paths))
        return b"".join(chunks)
    pg_dump = shutil.which("pg_dump") or sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))[-1]
    dump = tmp_path / "dump.sql"
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    await asyncio.to_thread(
        subprocess.run, [pg_dump, "--dbname", dsn, "--file", str(dump)], check=True
    )
    return await asyncio.to_thread(dump.read_bytes)


async def report_rows(database_url: str) -> list[Any]:
    """Every row of the reports table, as stored (ciphertexts and all)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(select(Report))).all())
    finally:
        await engine.dispose()


@contextmanager
def sqlite_failing(bot: RunningBot, kind: str) -> Iterator[None]:
    """Make statements on the bot's SQLite database fail as the disk would, until the block
    ends: "readonly" (the file or its folder turned read-only: reads and a deferred BEGIN
    work, a write or a BEGIN IMMEDIATE, which takes the write lock, gets "attempt to write a
    readonly database"; test_db checks that on a real read-only folder) or "io" (every
    statement gets "disk I/O error")."""
    engine = bot.application.bot_data["services"].engine.sync_engine
    message = "attempt to write a readonly database" if kind == "readonly" else "disk I/O error"

    def fail(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words = statement.split()
        reads = words[:1] in (["SELECT"], ["PRAGMA"]) or words == ["BEGIN"]
        if kind == "io" or not reads:
            raise sqlite3.OperationalError(message)

    event.listen(engine, "before_cursor_execute", fail)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", fail)
