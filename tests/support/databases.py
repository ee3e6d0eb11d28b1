"""The test databases: the PostgreSQL test server and fresh databases on it, and a database's
bytes as they are at rest."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

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
