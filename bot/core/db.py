"""Async engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg).

Sessions come in two kinds (SessionFactory): `sessions()` reads, `sessions.begin()` is a unit
of work that writes. On SQLite a writer's transaction takes the write lock at BEGIN
(`BEGIN IMMEDIATE`), a reader's does not (`BEGIN`), so reads go on while the file cannot be
written, and a reader never has to upgrade to a writer (it is refused a write instead)."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import event
from sqlalchemy.engine import Connection, CursorResult, Result, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

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


# The execution option that marks the connections of read sessions (SessionFactory.__call__).
READS = "jiyn_reads"


def _begin(connection: Connection) -> None:
    if connection.get_execution_options().get(READS):
        # A read takes no write lock, so it works on a file that cannot be written.
        connection.exec_driver_sql("BEGIN")
    else:
        # A deferred transaction that reads and then writes cannot wait for the write lock
        # (SQLite answers "database is locked" at once); taking it at BEGIN makes writers
        # queue instead.
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
        event.listen(engine.sync_engine, "begin", _begin)
        event.listen(engine.sync_engine, "handle_error", _sqlite_storage_fault)
        return engine
    return create_async_engine(
        database_url, pool_size=10, max_overflow=20, pool_pre_ping=True, hide_parameters=True
    )


class WriteInReadSession(RuntimeError):
    """A read session (`sessions()`) was asked to write. Refused: on SQLite its deferred
    transaction would have to upgrade to the write lock, which fails at once ("database is
    locked") while another connection holds it, instead of waiting. Writes belong in
    `sessions.begin()`, whose transaction takes the lock at its start."""


class _ReadSession(Session):
    """The synchronous side of a read session; its listeners refuse writes."""


@event.listens_for(_ReadSession, "do_orm_execute")
def _refuse_write_statement(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise WriteInReadSession("a read session cannot write; use sessions.begin()")


@event.listens_for(_ReadSession, "before_flush")
def _refuse_flush(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    if session.new or session.dirty or session.deleted:
        raise WriteInReadSession("a read session cannot write; use sessions.begin()")


class SessionFactory:
    """Sessions of one engine, which keep loaded objects usable after commit.

    `async with sessions() as session:` reads: on SQLite a deferred transaction, which works
    while the file cannot be written; writing in it raises WriteInReadSession.
    `async with sessions.begin() as session:` is a unit of work that writes: committed at the
    end of the block (rolled back on an error), on SQLite under the write lock from its start.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._writes = async_sessionmaker(engine, expire_on_commit=False)
        self._reads = async_sessionmaker(
            engine.execution_options(**{READS: True}),
            expire_on_commit=False,
            sync_session_class=_ReadSession,
        )

    def __call__(self) -> AsyncSession:
        """A session that reads."""
        return self._reads()

    def begin(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session in a transaction that writes, committed when the block ends."""
        return self._writes.begin()


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    """The read and write sessions of the engine."""
    return SessionFactory(engine)
