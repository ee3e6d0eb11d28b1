"""Key rotation: `jiyn keys rotate` re-encrypts everything under the new key, after which the
old key can be dropped and the bot still finds and reads every report."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from bot.core.crypto import Cipher, DecryptionError
from bot.core.db import create_engine, create_session_factory
from bot.core.models import Base, Report, Role
from bot.localapi.server import LocalBotApi
from bot.services import users
from bot.services.keys import rotate_keys
from bot.services.review.workflow import ReviewService
from tests.support.databases import report_rows
from tests.support.harness import TEST_KEY, Person, make_settings, run_bot, run_cli

ROOT = Path(__file__).resolve().parent.parent



async def test_rotation_moves_every_value_to_the_new_key(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    old_key, new_key = TEST_KEY, Fernet.generate_key().decode()
    user = api.user(8801, language_code="en")
    async with run_bot(api, make_settings(api, database_url, tmp_path)) as bot:
        person = Person(bot, user)
        await person.says("/report")
        await person.taps("report:role:now")
        await person.says("Near the akimat")
        await person.taps("report:city:almaty")
        await person.says("7")
        await person.says("Rotated Name")

    result = await run_cli(
        "keys",
        "rotate",
        JIYN_DATABASE_URL=database_url,
        JIYN_DATA_DIR=str(tmp_path),
        JIYN_ENCRYPTION_KEY=f"{new_key},{old_key}",
    )
    assert result.returncode == 0, result.stderr
    assert "re-encrypted" in result.stdout

    [row] = await report_rows(database_url)
    only_new, only_old = Cipher((new_key.encode(),)), Cipher((old_key.encode(),))
    assert only_new.decrypt_json(row.location_enc)["place"] == "Near the akimat"
    with pytest.raises(DecryptionError):
        only_old.decrypt(row.reporter_chat_enc)

    settings = make_settings(api, database_url, tmp_path, JIYN_ENCRYPTION_KEY=new_key)
    async with run_bot(api, settings) as bot:
        person = Person(bot, user)
        calls = await person.says("/myreports")
        assert row.code in person.texts(calls)
        # The conversation continues under the new key too: /report repeats the open question.
        calls = await person.says("/report")
        assert "police" in person.texts(calls).lower()


def test_cipher_reads_with_any_key_and_writes_with_the_first() -> None:
    first, second = Fernet.generate_key(), Fernet.generate_key()
    token = Cipher((second,)).encrypt("hello")
    both = Cipher((first, second))
    assert both.decrypt(token) == "hello"
    assert Cipher((first,)).decrypt(both.encrypt("again")) == "again"
    assert both.lookup_hashes(42)[1] == Cipher((second,)).lookup_hash(42)
    assert both.lookup_hash(42) != Cipher((second,)).lookup_hash(42)


async def test_rotation_rewrites_every_lookup_hash_so_the_old_key_can_go(
    database_url: str,
) -> None:
    """Every hashed column (users, claims, drafts, reports, waiting questions) follows the new
    key: with the old key removed, roles, languages, claims and waiting questions are found."""
    old, new = Cipher((TEST_KEY.encode(),)), Fernet.generate_key()
    volunteer, reader, reporter = 9_100_001, 9_100_002, 9_100_003
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    try:
        await users.set_volunteer(sessions, old, volunteer, True)
        await users.set_language(sessions, old, reader, "kk")
        async with sessions.begin() as session:
            report = Report(
                code="R-ROTA",
                reporter_role="witness",
                reporter_language="en",
                reporter_hash=old.lookup_hash(reporter),
                reporter_chat_enc=old.encrypt(str(reporter)),
                consent_to_contact=True,
            )
            session.add(report)
        await ReviewService(sessions, old).claim(report.id, volunteer, admin=False)
        await ReviewService(sessions, old).expect_input(volunteer, "write", report.id, reporter)

        both = Cipher((new, TEST_KEY.encode()))
        assert await rotate_keys(sessions, both) > 0

        only_new = Cipher((new,))
        ids = (volunteer, reader, reporter)
        async with engine.connect() as connection:
            for table in Base.metadata.sorted_tables:
                for column in table.columns:
                    if column.name.endswith("_hash") and column.name != "token_hash":
                        stored = set((await connection.scalars(select(column))).all()) - {None}
                        assert stored <= {only_new.lookup_hash(i) for i in ids}, column
        assert await users.stored_role(sessions, only_new, volunteer) == Role.VOLUNTEER
        assert await users.saved_language(sessions, only_new, reader) == "kk"
        assert await users.volunteer_ids(sessions, only_new) == [volunteer]
        review = ReviewService(sessions, only_new)
        await review.check_decision(report.id, volunteer, admin=False)  # still the holder
        assert await review.reply_route(reporter, report.id, None) == volunteer
        waiting = await review.pending_input(volunteer)
        assert waiting is not None and waiting.target_id == reporter
    finally:
        await engine.dispose()
