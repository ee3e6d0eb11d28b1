"""Apply Alembic migrations programmatically (used by `jiyn db upgrade` and at start)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration pointing at our migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on a '%' in a URL-encoded password.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_database(
    database_url: str,
    revision: str = "head",
    encryption_keys: Sequence[bytes] | None = None,
) -> None:
    """Bring the schema to `revision`. Synchronous: runs its own event loop, so call it from a
    thread (asyncio.to_thread) when an event loop is already running. Migrations that convert
    rows to hashes and ciphertext (0007) use `encryption_keys`; without them they read the key
    from the application's settings, and only if there are rows to convert."""
    config = alembic_config(database_url)
    if encryption_keys:
        config.attributes["encryption_keys"] = tuple(encryption_keys)
    command.upgrade(config, revision)
