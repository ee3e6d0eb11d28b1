"""Detention reports end to end: the real bot, the local Bot API server, a real database."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.core.crypto import Cipher
from bot.core.db import create_engine
from bot.core.models import ReportDraft
from bot.localapi.server import ApiCall, LocalBotApi
from tests.support.databases import database_bytes, report_rows
from tests.support.harness import (
    TEST_KEY,
    Person,
    RunningBot,
    find_button_message,
    make_settings,
    run_bot,
    to_chat,
)

CODE = re.compile(r"R-[A-Z0-9]{4}")
VOLUNTEER_CHAT = -1009000
# Strings a reporter types; none may appear in the database files in plaintext.
NAME = "Айгерим Секретова"
POLICE = "ОП Медеуского района фургон 777"
DETAILS = "Схватили у входа в парк Ганди, трое в форме"
PLACE = "Угол Абая и Байтурсынова"
PHONE = "+77011234567"



async def _draft_count(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return len((await connection.execute(select(ReportDraft.id))).all())
    finally:
        await engine.dispose()


async def _fill_until_name(person: Person) -> None:
    await person.says("/report")
    await person.taps("report:role:witness")
    await person.taps("report:when:now")
    await person.says(PLACE)
    await person.taps("report:city:almaty")
    await person.taps("report:count:2-5")


async def _fill_from_name(person: Person) -> str:
    await person.says(NAME)
    await person.says(POLICE)
    await person.says(DETAILS)
    await person.sends_photo()
    await person.taps("report:media:done")
    await person.sends_contact(PHONE)
    await person.taps("report:consent:yes")
    calls = await person.taps("report:confirm")
    match = CODE.search(person.texts(calls))
    assert match, person.texts(calls)
    return match.group(0)


@pytest.fixture
async def volunteer_bot(api: LocalBotApi, database_url: str, tmp_path: Path):
    settings = make_settings(
        api, database_url, tmp_path, JIYN_VOLUNTEER_CHAT_ID=str(VOLUNTEER_CHAT)
    )
    api.send_group_text(api.user(1, first_name="Volunteer"), VOLUNTEER_CHAT, "hi")
    async with run_bot(api, settings) as running:
        yield running


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
async def test_a_full_report_in_each_language(
    volunteer_bot: RunningBot, database_url: str, language: str
) -> None:
    bot = volunteer_bot
    person = Person(bot, bot.api.user(8100 + len(language), language_code=language))
    await _fill_until_name(person)
    code = await _fill_from_name(person)

    alert = await bot.api.wait_for_call(
        "sendMessage", predicate=lambda c: str(c.params["chat_id"]) == str(VOLUNTEER_CHAT)
    )
    assert code in alert[0].params["text"]
    assert NAME not in alert[0].params["text"]  # no personal data in the group

    listing = await person.says("/myreports")
    assert code in person.texts(listing)

    [row] = await report_rows(database_url)
    cipher = Cipher((TEST_KEY.encode(),))
    assert row.code == code and row.city == "almaty" and row.people == "2-5"
    assert cipher.decrypt(row.detained_name_enc) == NAME
    assert cipher.decrypt(row.contact_phone_enc) == PHONE
    assert row.reporter_language == language
    assert await _draft_count(database_url) == 0
    assert not bot.api.refused_calls()


async def test_deep_link_opens_a_report(bot: RunningBot) -> None:
    person = Person(bot, bot.api.user(8201, language_code="en"))
    calls = await person.says("/start report")
    assert "Who is reporting?" in person.texts(calls)


async def test_invalid_answers_get_a_message_and_the_same_question(bot: RunningBot) -> None:
    person = Person(bot, bot.api.user(8202, language_code="en"))
    await person.says("/report")
    await person.taps("report:role:relative")
    await person.taps("report:when:custom")
    calls = await person.says("yesterday evening-ish")
    assert "couldn't read that date" in person.texts(calls)
    yesterday = datetime.now(ZoneInfo("Asia/Almaty")) - timedelta(days=1)
    await person.says(yesterday.strftime("%d.%m.%Y 10:00"))
    await person.taps("report:skip")  # no place
    await person.taps("report:city:astana")
    calls = await person.says("banana")
    assert "Please type a number" in person.texts(calls)
    mark = bot.api.mark()
    bot.api.send_sticker(person.user)
    from tests.support.harness import settle

    calls = await settle(bot, mark)
    assert "doesn't answer the question" in person.texts(calls)
    assert "How many people" in person.texts(calls)
    calls = await person.says("12")
    assert "name" in person.texts(calls).lower()
    calls = await person.says("x" * 500)
    assert "too long" in person.texts(calls)
    assert not bot.api.refused_calls()


async def test_editing_a_field_from_the_summary(bot: RunningBot, database_url: str) -> None:
    person = Person(bot, bot.api.user(8203, language_code="ru"))
    await _fill_until_name(person)
    await person.says("Первое Имя")
    await person.taps("report:skip")
    await person.taps("report:skip")
    await person.taps("report:skip")
    await person.taps("report:contact:telegram")
    calls = await person.taps("report:consent:no")
    assert "Первое Имя" in person.texts(calls)
    await person.taps("report:edit:name")
    calls = await person.says("Второе Имя")
    assert "Второе Имя" in person.texts(calls) and "Первое Имя" not in person.texts(calls)
    await person.taps("report:confirm")
    [row] = await report_rows(database_url)
    assert Cipher((TEST_KEY.encode(),)).decrypt(row.detained_name_enc) == "Второе Имя"


async def test_a_restart_in_the_middle_loses_nothing(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(api, database_url, tmp_path)
    user = api.user(8204, language_code="en")
    async with run_bot(api, settings) as bot:
        await _fill_until_name(Person(bot, user))
    async with run_bot(api, settings) as restarted:
        person = Person(restarted, user)
        calls = await person.says(NAME)  # answered in the NAME step, not as a question
        assert "police" in person.texts(calls).lower()
        code = await _fill_from_name_after_name(person)
    [row] = await report_rows(database_url)
    assert row.code == code
    cipher = Cipher((TEST_KEY.encode(),))
    assert cipher.decrypt(row.detained_name_enc) == NAME
    assert cipher.decrypt_json(row.location_enc)["place"] == PLACE


async def _fill_from_name_after_name(person: Person) -> str:
    await person.says(POLICE)
    await person.says(DETAILS)
    await person.taps("report:skip")
    await person.taps("report:contact:telegram")
    await person.taps("report:consent:yes")
    calls = await person.taps("report:confirm")
    match = CODE.search(person.texts(calls))
    assert match
    return match.group(0)


async def test_cancel_deletes_the_draft(bot: RunningBot, database_url: str) -> None:
    person = Person(bot, bot.api.user(8205, language_code="en"))
    await _fill_until_name(person)
    calls = await person.says("/cancel")
    assert "cancelled" in person.texts(calls)
    assert await _draft_count(database_url) == 0
    calls = await person.says("What is the fine for a rally?")
    assert "488" in person.texts(calls)  # back to answering questions


async def test_another_command_pauses_the_report_and_report_resumes_it(bot: RunningBot) -> None:
    person = Person(bot, bot.api.user(8206, language_code="en"))
    await _fill_until_name(person)
    calls = await person.says("/venues")
    assert "draft is kept" in person.texts(calls)
    assert "Choose a city" in person.texts(calls)
    await person.says("/report")
    calls = await person.taps("report:resume")
    assert "name" in person.texts(calls).lower()




async def test_the_database_never_holds_typed_personal_data_in_plaintext(
    volunteer_bot: RunningBot, database_url: str, tmp_path: Path
) -> None:
    person = Person(volunteer_bot, volunteer_bot.api.user(8207, language_code="ru"))
    await _fill_until_name(person)
    await _fill_from_name(person)
    raw = await database_bytes(database_url, tmp_path)
    assert len(raw) > 1000
    for secret in (NAME, POLICE, DETAILS, PLACE, PHONE):
        for encoding in ("utf-8", "utf-16-le"):
            assert secret.encode(encoding) not in raw, f"{secret!r} stored in plaintext"


async def test_forget_deletes_personal_data_and_says_what(
    bot: RunningBot, database_url: str
) -> None:
    person = Person(bot, bot.api.user(8208, language_code="en"))
    await _fill_until_name(person)
    await _fill_from_name(person)
    await person.says("/forget")
    calls = await person.taps("forget:confirm")
    text = person.texts(calls)
    assert "personal details of 1 report" in text
    [row] = await report_rows(database_url)
    assert row.detained_name_enc is None and row.contact_phone_enc is None
    assert row.details_enc is None and row.location_enc is None and row.reporter_hash is None
    assert row.city == "almaty"  # the anonymous count stays
    calls = await person.says("/myreports")
    assert "not sent any reports" in person.texts(calls)


async def test_a_burst_of_100_reports_is_folded_into_digests_and_none_is_lost(
    volunteer_bot: RunningBot, database_url: str
) -> None:
    bot = volunteer_bot
    people = [Person(bot, bot.api.user(9000 + i, language_code="ru")) for i in range(100)]

    def offers_button(call: ApiCall, chat_id: int, data: str) -> bool:
        return to_chat(chat_id)(call) and data in str(call.params.get("reply_markup"))

    async def report_now(person: Person) -> None:
        # Each person waits for their own chat only: Person.says/taps wait until the whole bot
        # is idle, which twenty people acting at once keep it from being.
        api, chat_id = bot.api, person.chat_id
        mark = api.mark()
        api.send_text(person.user, "/report")
        await api.wait_for_call(
            "sendMessage",
            since=mark,
            predicate=lambda call: offers_button(call, chat_id, "report:role:now"),
            timeout=30,
        )
        message = find_button_message(api, chat_id, "report:role:now")
        mark = api.mark()
        api.press_button(person.user, message, "report:role:now")
        await api.wait_for_call(
            "sendMessage",
            since=mark,
            predicate=lambda call: offers_button(call, chat_id, "report:skip"),
            timeout=30,
        )

    for start in range(0, 100, 20):
        await asyncio.gather(*(report_now(p) for p in people[start : start + 20]))

    codes = {row.code for row in await report_rows(database_url)}
    assert len(codes) == 100

    def delivered() -> set[str]:
        found: set[str] = set()
        for call in bot.api.calls:
            if (
                call.ok
                and call.method == "sendMessage"
                and (str(call.params["chat_id"]) == str(VOLUNTEER_CHAT))
            ):
                found |= set(CODE.findall(call.params["text"]))
        return found

    for _ in range(300):
        if delivered() >= codes:
            break
        await asyncio.sleep(0.1)
    assert delivered() == codes
    alerts = [
        c
        for c in bot.api.calls
        if c.ok and c.method == "sendMessage" and str(c.params["chat_id"]) == str(VOLUNTEER_CHAT)
    ]
    assert len(alerts) < 20  # digests, not one message per report
    times = sorted(c.time for c in alerts)
    for i, start_time in enumerate(times):
        in_window = [t for t in times[i:] if t - start_time < 60]
        assert len(in_window) <= 20  # Telegram's group limit
