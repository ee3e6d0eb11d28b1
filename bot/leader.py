"""Which `jiyn run` process is active: one per database, the others wait as standbys.

Telegram gives a token's updates to one consumer, and the bot keeps per-chat order and caches in
memory, so two active processes would be wrong. On PostgreSQL the active process holds a
session-level advisory lock on a connection of its own, kept for as long as it is active; a
standby waits for the lock on the server (`pg_advisory_lock`), which grants it the moment the
active session ends. When the active process dies, PostgreSQL ends its session: at once after
a crash or SIGKILL (the socket closes), and after `SERVER_GIVE_UP_MS` when the machine or its
network is gone (TCP keepalives and a user timeout set on the lock's connection). The active
process checks the lock's connection every `KEEPALIVE_SECONDS` and gives up (`on_lost`) as soon
as a check fails or takes longer than `KEEPALIVE_TIMEOUT`: always before the server can hand the
lock to a standby, so two processes are never active together.

On SQLite there is no server to coordinate: a second process on the same file is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

import asyncpg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

# The advisory lock's key: any fixed 64-bit number; derived from a name so it says what it is.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"jiyn:active-process").digest()[:8], "big", signed=True)
RETRY_SECONDS = 1.0
CONNECT_TIMEOUT = 10.0
WAIT_SECONDS = 30.0
KEEPALIVE_SECONDS = 1.0
KEEPALIVE_TIMEOUT = 3.0
# The server ends a silent session after this; it must stay above KEEPALIVE_SECONDS +
# KEEPALIVE_TIMEOUT, the longest the active process may take to notice the same silence.
SERVER_GIVE_UP_MS = 10_000
_SERVER_SETTINGS = {
    "application_name": "jiyn-active",
    "tcp_keepalives_idle": "2",
    "tcp_keepalives_interval": "2",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": str(SERVER_GIVE_UP_MS),
}


class AlreadyRunning(Exception):
    """Another process serves this SQLite database; the message says which file."""


class Leadership:
    """The right to serve. `acquire` waits until this process holds it; `watch` then calls
    `on_lost` once if it is lost; `release` gives it up."""

    def __init__(self, database_url: str) -> None:
        self._url = make_url(database_url)
        self._connection: asyncpg.Connection | None = None
        self._file: IO[bytes] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.active = False

    @property
    def is_postgres(self) -> bool:
        """Whether the lock is PostgreSQL's (standbys wait) rather than a file (refused)."""
        return self._url.get_backend_name() == "postgresql"

    def claim_sqlite(self) -> None:
        """Take the SQLite file's lock or raise AlreadyRunning: there, a second process could
        only wait for the first one's end with no way to know it came, so it is refused."""
        database = Path(self._url.database or "jiyn.sqlite3").expanduser().resolve()
        lock_path = database.with_name(database.name + ".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = lock_path.open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise AlreadyRunning(
                f"another jiyn process is running on {database}; a standby needs PostgreSQL"
            ) from None
        self._file = handle  # the lock lives as long as the file stays open
        self.active = True

    async def acquire(self, on_standby: Callable[[], None] | None = None) -> None:
        """Wait until this process holds the PostgreSQL advisory lock; `on_standby` is called
        once if another process holds it now."""
        dsn = self._url.set(drivername="postgresql").render_as_string(hide_password=False)
        told = False
        while True:
            connection = None
            try:
                connection = await asyncpg.connect(
                    dsn, server_settings=_SERVER_SETTINGS, timeout=CONNECT_TIMEOUT
                )
                if not await connection.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
                    if not told and on_standby is not None:
                        on_standby()
                    told = True
                    # Queued on the server: granted the moment the active process's session
                    # ends. Bounded, so a connection that died silently is noticed and renewed.
                    await asyncio.wait_for(
                        connection.execute("SELECT pg_advisory_lock($1)", LOCK_KEY), WAIT_SECONDS
                    )
                self._connection = connection
                self.active = True
                return
            except TimeoutError:
                pass  # still waiting: again on a fresh connection
            except asyncio.CancelledError:
                if connection is not None:
                    connection.terminate()
                raise
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("standby: database not reachable (%s)", type(error).__name__)
                await asyncio.sleep(RETRY_SECONDS)
            if connection is not None:
                connection.terminate()

    def watch(self, on_lost: Callable[[], None]) -> None:
        """Check the lock's connection from now on; `on_lost` runs once when it fails."""
        if self._connection is not None:
            self._watcher = asyncio.create_task(self._keepalive(on_lost), name="jiyn-leadership")

    async def _keepalive(self, on_lost: Callable[[], None]) -> None:
        connection = self._connection
        assert connection is not None
        while True:
            await asyncio.sleep(KEEPALIVE_SECONDS)
            try:
                await asyncio.wait_for(connection.fetchval("SELECT 1"), KEEPALIVE_TIMEOUT)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # any failure means the lock may be gone
                log.critical(
                    "lost the database connection that holds the active lock (%s): standing down",
                    type(error).__name__,
                )
                self.active = False
                on_lost()
                return

    async def release(self) -> None:
        """Give the lock up (a clean stop: the standby takes over at once)."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None
        if self._file is not None:
            self._file.close()
            self._file = None
        self.active = False


def restart_as_standby() -> None:
    """Replace this process with a fresh `jiyn run`, which waits as a standby: nothing of the
    stood-down process (polling, jobs, handlers in flight, caches) keeps running. The handlers
    cut short are like those of a killed process: their updates were not acknowledged to
    Telegram, so the new active process handles them."""
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    # The same interpreter and arguments this process was started with.
    os.execv(sys.executable, sys.orig_argv)
