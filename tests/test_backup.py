"""`jiyn backup` while the bot runs and `jiyn restore` into an empty database, on SQLite and
PostgreSQL: the round trip loses nothing, personal fields stay encrypted in the copy, and the key
is not in it."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.core.backup import _pg_tool
from bot.core.db import create_engine
from bot.core.models import Base
from tests.support.databases import fresh_postgres_database, postgres_server_url
from tests.support.harness import TEST_KEY, Person, RunningBot, run_cli

NAME = "Айгерим Backupova"
PLACE = "Площадь у акимата"


async def _everything(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the schema, in a stable order."""
    engine = create_engine(database_url)
    tables: dict[str, list[tuple[Any, ...]]] = {}
    try:
        async with engine.connect() as connection:
            for table in Base.metadata.sorted_tables:
                rows = (await connection.execute(select(table))).all()
                tables[table.name] = sorted((tuple(row) for row in rows), key=repr)
    finally:
        await engine.dispose()
    return tables


@contextlib.asynccontextmanager
async def _empty_database_like(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the same kind (no tables, not migrated)."""
    if make_url(database_url).get_backend_name() == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    admin_url = postgres_server_url()
    assert admin_url is not None
    async with fresh_postgres_database(admin_url) as url:
        yield url


async def _readable(copy: Path, database_url: str) -> bytes:
    """The copy's bytes as they can be read: pg_dump's compressed format turned into SQL."""
    if make_url(database_url).get_backend_name() == "sqlite":
        return await asyncio.to_thread(copy.read_bytes)
    result = await asyncio.to_thread(
        subprocess.run,
        [_pg_tool("pg_restore"), "--file=-", str(copy)],
        capture_output=True,
        check=True,
    )
    return result.stdout


def _environment(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "JIYN_DATABASE_URL": database_url,
        "JIYN_DATA_DIR": str(tmp_path),
        "JIYN_ENCRYPTION_KEY": TEST_KEY,
    }


async def test_backup_while_running_and_restore_lose_nothing(
    bot: RunningBot, database_url: str, tmp_path: Path
) -> None:
    person = Person(bot, bot.api.user(8801, language_code="en"))
    await person.says("/report")
    await person.taps("report:role:now")  # an urgent report, filed at once
    await person.says(PLACE)  # and its draft goes on
    await person.says("What is the fine for joining an unauthorised rally?")
    await bot.application.bot_data["services"].users.flush()

    copy = tmp_path / "jiyn.backup"
    result = await run_cli("backup", str(copy), **_environment(database_url, tmp_path))
    assert result.returncode == 0, result.stderr
    assert copy.stat().st_mode & 0o077 == 0  # readable by its owner only
    raw = await _readable(copy, database_url)
    assert TEST_KEY.encode() not in raw
    # The typed answers are ciphertext in the copy (PostgreSQL dumps bytes as hex).
    assert PLACE.encode() not in raw and PLACE.encode().hex().encode() not in raw

    source = await _everything(database_url)
    assert source["reports"] and source["report_drafts"] and source["users"]
    async with _empty_database_like(database_url, tmp_path) as target:
        result = await run_cli("restore", str(copy), **_environment(target, tmp_path))
        assert result.returncode == 0, result.stderr
        assert await _everything(target) == source
        # A database that is not empty is refused, with one line saying so.
        again = await run_cli("restore", str(copy), **_environment(target, tmp_path))
        assert again.returncode == 1 and "not empty" in again.stderr
        assert len(again.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["backup", "restore"])
async def test_backup_problems_are_one_line(command: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing.sqlite3'}"
    result = await run_cli(command, str(tmp_path / "nothing.backup"), **_environment(url, tmp_path))
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"jiyn: {command} failed: ")
