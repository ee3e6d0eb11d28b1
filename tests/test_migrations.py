"""The Alembic migrations build exactly the schema the models describe, on SQLite and
PostgreSQL, and can be rolled back."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.core.db import create_engine
from bot.core.migrate import alembic_config
from bot.core.models import Base


async def _schema_differences(database_url: str) -> list[object]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                )
            )
    finally:
        await engine.dispose()


async def test_migrations_match_the_models(database_url: str) -> None:
    differences = await _schema_differences(database_url)
    assert differences == []


async def test_migrations_downgrade_to_nothing_and_back(database_url: str) -> None:
    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "base")
    await asyncio.to_thread(command.upgrade, config, "head")
    assert await _schema_differences(database_url) == []
