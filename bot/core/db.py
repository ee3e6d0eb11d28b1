"""Async engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any, cast

from sqlalchemy import event
from sqlalchemy.engine import CursorResult, Result, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SessionFactory = async_sessionmaker[AsyncSession]

# What a statement may raise when the database is down or slow: callers that can answer
# without it catch these.
DATABASE_ERRORS = (SQLAlchemyError, OSError, asyncio.TimeoutError)


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched (its result is a CursorResult)."""
    return int(cast("CursorResult[Any]", result).rowcount or 0)


def _enable_sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets readers proceed while a writer commits; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
    # Let SQLAlchemy issue BEGIN itself (below), instead of the driver's deferred BEGIN.
    dbapi_connection.isolation_level = None


def _begin_immediate(connection) -> None:  # type: ignore[no-untyped-def]
    # A deferred transaction that reads and then writes cannot wait for the write lock (SQLite
    # answers "database is locked" at once); taking it at BEGIN makes writers queue instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


# SQLite errors after which the connection is not to be trusted: the file turned read-only (a
# connection that opened it so stays read-only after the file is writable again), the disk
# failed, or the file went away. The pool drops the connection (as for a PostgreSQL server that
# went down), so the next statement opens the file again and the drafts kept in memory meanwhile
# are saved as soon as writing works.
SQLITE_STORAGE_FAULTS = (
    "attempt to write a readonly database",
    "disk i/o error",
    "unable to open database file",
    "database or disk is full",
)


def _sqlite_storage_fault(context: Any) -> None:
    error = context.original_exception
    if isinstance(error, sqlite3.Error) and any(
        fault in str(error).lower() for fault in SQLITE_STORAGE_FAULTS
    ):
        context.is_disconnect = True


def ensure_sqlite_directory(database_url: str) -> None:
    """Create the folder of an SQLite database file if it does not exist yet."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def create_engine(database_url: str) -> AsyncEngine:
    """An async engine for the URL, with SQLite tuned for one process and many coroutines."""
    ensure_sqlite_directory(database_url)
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        # One connection: SQLite runs one write at a time anyway, and coroutines queueing for
        # the pool (first come, first served) beat connections polling for the file lock, which
        # under a burst made writers sleep, time out and report "database is locked". Reads are
        # a fraction of a millisecond, so they lose little by queueing too.
        pooling: dict[str, Any] = (
            {"pool_size": 1, "max_overflow": 0, "pool_timeout": 30}
            if url.database and url.database != ":memory:"
            else {}
        )
        engine = create_async_engine(
            database_url, connect_args={"timeout": 30}, hide_parameters=True, **pooling
        )
        event.listen(engine.sync_engine, "connect", _enable_sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        event.listen(engine.sync_engine, "handle_error", _sqlite_storage_fault)
        return engine
    return create_async_engine(
        database_url, pool_size=10, max_overflow=20, pool_pre_ping=True, hide_parameters=True
    )


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)
