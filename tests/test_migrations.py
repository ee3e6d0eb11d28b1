"""The Alembic migrations build exactly the schema the models describe, on SQLite and
PostgreSQL, and can be rolled back."""

from __future__ import annotations

import asyncio
import glob
import struct
from datetime import UTC, date, datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from bot.core.crypto import Cipher
from bot.core.db import create_engine, create_session_factory
from bot.core.migrate import alembic_config, upgrade_database
from bot.core.models import (
    AuditEntry,
    Base,
    PendingInput,
    Report,
    ReportEvent,
    Role,
    User,
    VolunteerInvite,
)
from tests.support.harness import TEST_KEY

CIPHER = Cipher((TEST_KEY.encode(),))


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


def _sqlite_bytes(database: str) -> bytes:
    """The SQLite file with its -wal and -shm."""
    return b"".join(Path(p).read_bytes() for p in glob.glob(f"{database}*"))


async def test_migrations_match_the_models(database_url: str) -> None:
    differences = await _schema_differences(database_url)
    assert differences == []


async def test_migrations_downgrade_to_nothing_and_back(database_url: str) -> None:
    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "base")
    await asyncio.to_thread(command.upgrade, config, "head")
    assert await _schema_differences(database_url) == []


async def test_0007_converts_existing_ids_to_hashes_and_ciphertext(database_url: str) -> None:
    """A database from before 0007 (ids in clear, users with times) keeps its people: each id
    becomes the keyed hash and a ciphertext, the users row keeps the day only."""
    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "0006")
    volunteer, reporter, admin = 700_000_001, 700_000_002, 700_000_003
    created = datetime(2026, 11, 20, 14, 3, 27, 123456, tzinfo=UTC)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO users (telegram_id, language, telegram_language, role,"
                    " created_at, updated_at) VALUES (:a, 'kk', 'ru', 'volunteer', :t, :t),"
                    " (:b, NULL, 'en', 'user', :t, :t)"
                ),
                {"a": volunteer, "b": reporter, "t": created},
            )
            await connection.execute(
                text(
                    "INSERT INTO reports (code, status, urgent, reporter_role, reporter_language,"
                    " contact_via_telegram, consent_to_contact, created_at, updated_at,"
                    " claimed_by) VALUES ('R-TEST', 'in_review', false, 'witness', 'en',"
                    " true, false, :t, :t, :a)"
                ),
                {"a": volunteer, "t": created},
            )
            report_id = await connection.scalar(text("SELECT id FROM reports"))
            await connection.execute(
                text(
                    "INSERT INTO report_events (report_id, actor_id, action, created_at)"
                    " VALUES (:r, :a, 'claimed', :t)"
                ),
                {"r": report_id, "a": volunteer, "t": created},
            )
            await connection.execute(
                text(
                    "INSERT INTO audit_log (actor_id, action, allowed, created_at)"
                    " VALUES (:a, 'queue', true, :t)"
                ),
                {"a": volunteer, "t": created},
            )
            await connection.execute(
                text(
                    "INSERT INTO volunteer_invites (token_hash, created_by, created_at,"
                    " expires_at, used_by, used_at) VALUES ('x', :c, :t, :t, :a, :t)"
                ),
                {"c": admin, "a": volunteer, "t": created},
            )
            await connection.execute(
                text(
                    "INSERT INTO pending_inputs (owner_hash, kind, report_id, target_id,"
                    " created_at, expires_at) VALUES ('h', 'write', :r, :b, :t, :t)"
                ),
                {"r": report_id, "b": reporter, "t": created},
            )
    finally:
        await engine.dispose()

    await asyncio.to_thread(upgrade_database, database_url, encryption_keys=(TEST_KEY.encode(),))
    assert await _schema_differences(database_url) == []
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    try:
        async with sessions() as session:
            people = {u.id_hash: u for u in (await session.scalars(select(User))).all()}
            report = await session.scalar(select(Report))
            [event] = (await session.scalars(select(ReportEvent))).all()
            [audit] = (await session.scalars(select(AuditEntry))).all()
            [invite] = (await session.scalars(select(VolunteerInvite))).all()
            waiting = (await session.scalars(select(PendingInput))).all()
    finally:
        await engine.dispose()
    assert set(people) == {CIPHER.lookup_hash(volunteer), CIPHER.lookup_hash(reporter)}
    kept = people[CIPHER.lookup_hash(volunteer)]
    assert (kept.role, kept.language, kept.telegram_language) == (Role.VOLUNTEER, "kk", "ru")
    assert CIPHER.decrypt_id(kept.telegram_enc) == volunteer
    assert kept.created_on == date(2026, 11, 20)
    assert report is not None and report.claimed_by_hash == CIPHER.lookup_hash(volunteer)
    assert CIPHER.decrypt_id(report.claimed_by_enc) == volunteer
    assert CIPHER.decrypt_id(event.actor_enc) == volunteer
    assert CIPHER.decrypt_id(audit.actor_enc) == volunteer
    assert CIPHER.decrypt_id(invite.created_by_enc) == admin
    assert CIPHER.decrypt_id(invite.used_by_enc) == volunteer
    assert waiting == []  # only a hash was stored: dropped, the person presses the button again
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":  # the freed pages were overwritten, not left behind
        raw = await asyncio.to_thread(_sqlite_bytes, str(url.database))
        for number in (volunteer, reporter, admin):
            assert str(number).encode() not in raw
            assert struct.pack("<q", number) not in raw and struct.pack(">q", number) not in raw
    # And back: the ids come out of the ciphertext again.
    config = alembic_config(database_url)
    config.attributes["encryption_keys"] = (TEST_KEY.encode(),)
    await asyncio.to_thread(command.downgrade, config, "0006")
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            ids = set((await connection.scalars(text("SELECT telegram_id FROM users"))).all())
            holder = await connection.scalar(text("SELECT claimed_by FROM reports"))
    finally:
        await engine.dispose()
    assert ids == {volunteer, reporter} and holder == volunteer
