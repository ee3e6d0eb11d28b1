"""A seized database is not a list of who talked to the bot (issue 15): after a session of
questions, /language, a report, volunteer work, an invite and relayed messages, the raw bytes
of the database (the SQLite file with its WAL, or a pg_dump) hold no Telegram id or username
of anyone, and the users table holds no time that could tie a person to a report."""

from __future__ import annotations

import base64
import struct
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Date, select

from bot.core.models import Report, User
from bot.localapi.server import LocalBotApi
from tests.support.databases import database_bytes
from tests.support.harness import Person, calls_to
from tests.support.review import (
    Reviewer,
    file_through_the_bot,
    make_volunteer,
    report_id_of,
    review_bot,
    said,
    services,
)

# Ids long and odd enough that no ciphertext, hash or counter contains them by chance.
ADMIN = 7_310_985_264
VOLUNTEER = 7_420_196_375
NEWCOMER = 7_530_207_486
REPORTER = 7_640_318_597
ASKER = 7_750_429_608
USERNAMES = ("adm_dump_x", "vol_dump_secret", "newbie_dump", "aigerim_dump", "asker_dump")
QUESTION = "Какой штраф за участие в несанкционированном митинге?"


def _reply_button(api: LocalBotApi, chat_id: int) -> str:
    """The data of the newest Reply button in a reporter's chat."""
    for message in reversed(api.bot_messages(chat_id)):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if button.get("callback_data", "").startswith("rl:re:"):
                    return str(button["callback_data"])
    raise AssertionError("no Reply button in the reporter's chat")


def _fernet_time(token: bytes) -> int:
    """The creation time a Fernet token carries in the clear (seconds since 1970)."""
    raw = base64.urlsafe_b64decode(bytes(token))
    return int(struct.unpack(">Q", raw[1:9])[0])


async def test_a_raw_dump_holds_no_id_username_or_linking_time(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    ids = (ADMIN, VOLUNTEER, NEWCOMER, REPORTER, ASKER)
    people = {
        number: api.user(number, first_name="P", language_code="ru", username=name)
        for number, name in zip(ids, USERNAMES, strict=True)
    }
    api.send_group_text(people[ASKER], -1009100, "hello")  # the volunteer chat exists
    async with review_bot(api, database_url, tmp_path, JIYN_ADMIN_IDS=str(ADMIN)) as bot:
        asker = Person(bot, people[ASKER])
        await asker.says(QUESTION)
        await asker.says("/language")
        await asker.taps("lang:set:kk")
        await asker.says(QUESTION)

        admin = Reviewer(bot, people[ADMIN])
        calls = await admin.says(f"/volunteer add {VOLUNTEER}")
        assert "volunteer" in said(calls)
        await make_volunteer(bot, VOLUNTEER)
        calls = await admin.says("/invite")
        token = said(calls).split("start=")[1].split()[0].split("<")[0].split('"')[0]
        calls = await Reviewer(bot, people[NEWCOMER]).says(f"/start {token}")
        assert calls_to(calls, NEWCOMER), "the invite was answered"
        listing = said(await admin.says("/volunteer"))
        assert str(VOLUNTEER) in listing and str(NEWCOMER) in listing  # decrypted for admins

        reporter = Person(bot, people[REPORTER])
        code = await file_through_the_bot(reporter, consent=True)
        report_id = await report_id_of(bot, code)
        volunteer = Reviewer(bot, people[VOLUNTEER])
        await volunteer.opens(report_id)
        await volunteer.taps(f"rv:claim:{report_id}")
        await volunteer.taps(f"rv:write:{report_id}")
        calls = await volunteer.says("Адвокат уже едет.")
        assert "Адвокат уже едет." in said(calls_to(calls, REPORTER))
        await reporter.taps(_reply_button(api, REPORTER))
        calls = await reporter.says("Спасибо")
        assert "Спасибо" in said(calls_to(calls, VOLUNTEER))
        await volunteer.taps(f"rv:verify:{report_id}")
        await volunteer.taps(f"rv:write:{report_id}")  # a question left waiting
        await reporter.says("/myreports")

        await services(bot).users.flush()
        services_cipher = services(bot).cipher
        live = await database_bytes(database_url, tmp_path)  # the WAL as it is while running
        async with services(bot).sessions() as session:
            users = list((await session.scalars(select(User))).all())
            reports = list((await session.scalars(select(Report))).all())
    stopped = await database_bytes(database_url, tmp_path)

    assert len(users) == len(ids)  # everyone has a row (the admin's: a language, no role)
    for raw in (live, stopped):
        assert len(raw) > 1000
        # The right bytes were read: the reporter is there, as the keyed hash.
        assert services_cipher.lookup_hash(REPORTER).encode() in raw
        for number in (*ids, *(-n for n in ids)):
            for encoding in ("utf-8", "utf-16-le"):
                assert str(number).encode(encoding) not in raw, f"id {number} stored in clear"
            # Nor as an integer column: 8-byte big- or little-endian.
            assert struct.pack(">q", number) not in raw and struct.pack("<q", number) not in raw
        for name in USERNAMES:
            assert name.encode() not in raw, f"username {name} stored"

    # The users table: the day at most. No column holds a time, and the ciphertext of the id
    # does not carry one either (a Fernet token says when it was made).
    for column in User.__table__.columns:
        assert not isinstance(column.type, Date) or column.name == "created_on"
        assert "DateTime" not in type(column.type).__name__, column.name
    [report] = reports
    for user in users:
        assert isinstance(user.created_on, date) and not isinstance(user.created_on, datetime)
        for value in vars(user).values():
            assert not isinstance(value, datetime)
        made = datetime.fromtimestamp(_fernet_time(user.telegram_enc), report.created_at.tzinfo)
        assert abs(made - report.created_at) > timedelta(minutes=1)
