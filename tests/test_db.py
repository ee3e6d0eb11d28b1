"""The two kinds of sessions (bot.core.db.SessionFactory): `sessions()` reads, in a deferred
transaction on SQLite, and refuses to write; `sessions.begin()` writes, and on SQLite takes the
write lock at its BEGIN, so writers queue for the lock instead of failing when a read would
have to turn into a write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, update

from bot.core.db import WriteInReadSession, create_engine, create_session_factory
from bot.core.models import JobState


async def test_reads_begin_deferred_and_units_of_work_take_the_write_lock(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'kinds.sqlite3'}")
    sessions = create_session_factory(engine)
    begun: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("BEGIN"):
            begun.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(JobState.__table__.create)
        begun.clear()
        async with sessions() as session:
            await session.scalar(select(func.count()).select_from(JobState))
        async with sessions.begin() as session:
            session.add(JobState(name="digest", last_key="2026-11-28"))
        async with sessions() as session:
            assert await session.get(JobState, "digest") is not None
        assert begun == ["BEGIN", "BEGIN IMMEDIATE", "BEGIN"]
    finally:
        await engine.dispose()


async def test_a_read_session_refuses_to_write(database_url: str) -> None:
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    try:
        async with sessions.begin() as session:
            session.add(JobState(name="digest", last_key="old"))
        async with sessions() as session:
            session.add(JobState(name="purge", last_key="new"))
            with pytest.raises(WriteInReadSession):
                await session.flush()
        async with sessions() as session:
            with pytest.raises(WriteInReadSession):
                await session.execute(update(JobState).values(last_key="changed"))
        async with sessions() as session:
            row = await session.get(JobState, "digest")
            assert row is not None
            row.last_key = "changed"
            with pytest.raises(WriteInReadSession):
                await session.flush()
        async with sessions() as session:
            rows = (await session.execute(select(JobState.name, JobState.last_key))).all()
        assert rows == [("digest", "old")]
    finally:
        await engine.dispose()
