"""`jiyn backup FILE` and `jiyn restore FILE`: a consistent copy of the database, taken while the
bot runs, and put back into an empty database.

- SQLite: the online backup API (`sqlite3.Connection.backup`) copies the pages while the bot
  keeps writing; the copy is one consistent state (the writes after it started are either all in
  it or none). The result is an SQLite file.
- PostgreSQL: `pg_dump --format=custom`, which reads everything in one snapshot, and
  `pg_restore` in one transaction. pg_dump and pg_restore must be installed (Debian:
  `postgresql-client`) in a version at least the server's.

The copy is the database as it is: personal fields stay encrypted, and the encryption key, which
is never in the database, is not in the copy. Restore needs the same JIYN_ENCRYPTION_KEY.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import URL, make_url

PG_TOOLS_HINT = "install the PostgreSQL client tools (Debian: apt-get install postgresql-client)"


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why, in one line."""


def backup(database_url: str, target: Path) -> None:
    """Write a consistent copy of the database to `target` (replaced only when complete)."""
    url = make_url(database_url)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if url.get_backend_name() == "sqlite":
            _sqlite_backup(_sqlite_path(url), partial)
        else:
            _run_pg_tool("pg_dump", url, ["--format=custom", "--no-owner", f"--file={partial}"])
        partial.chmod(0o600)  # the copy is as sensitive as the database
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def restore(database_url: str, source: Path) -> None:
    """Put the copy in `source` into the database, which must be empty."""
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = _sqlite_path(url)
        if _sqlite_tables(path):
            raise BackupError(f"{path} is not empty; restore needs an empty database")
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(source)) as copy, closing(sqlite3.connect(path)) as database:
            copy.backup(database)
        return
    _run_pg_tool(
        "psql",
        url,
        ["--no-psqlrc", "--tuples-only", "--no-align", "--command", _PG_TABLE_COUNT],
        expect_empty=True,
    )
    _run_pg_tool(
        "pg_restore",
        url,
        [
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={url.database}",
            str(source),
        ],
    )


_PG_TABLE_COUNT = (
    "SELECT count(*) FROM information_schema.tables "
    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
)


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(url.database).expanduser()


def _sqlite_tables(path: Path) -> list[str]:
    if not path.exists():
        return []
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as database:
        rows = database.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return [str(name) for (name,) in rows]


def _sqlite_backup(path: Path, target: Path) -> None:
    if not path.exists():
        raise BackupError(f"{path} does not exist")
    with (
        closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as source,
        closing(sqlite3.connect(target)) as copy,
    ):
        source.backup(copy)


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    # Debian keeps each version's tools here when no wrapper is on the PATH.
    versions = [
        path
        for path in Path("/usr/lib/postgresql").glob(f"*/bin/{name}")
        if path.parts[-3].isdigit()
    ]
    if versions:
        return str(max(versions, key=lambda path: int(path.parts[-3])))
    raise BackupError(f"{name} not found: {PG_TOOLS_HINT}")


def _run_pg_tool(name: str, url: URL, arguments: list[str], expect_empty: bool = False) -> None:
    # The password goes through the environment, never the command line (`ps` shows that).
    environ = {
        **os.environ,
        "PGHOST": url.host or "localhost",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "",
        "PGDATABASE": url.database or "",
    }
    if url.password:
        environ["PGPASSWORD"] = str(url.password)
    result = subprocess.run(
        [_pg_tool(name), *arguments], env=environ, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupError(f"{name} failed: {last}")
    if expect_empty and result.stdout.strip() not in ("", "0"):
        raise BackupError(
            f"database {url.database} is not empty; restore needs an empty database"
        )
