"""Reports end to end (#12): typed answers at every step, towns anywhere in Kazakhstan, counts
as given, voice and video notes, next steps that fit the reporter, and times on a host that is
not on UTC. The real bot, the local Bot API server, a real database."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.core.crypto import Cipher
from bot.core.gazetteer import gazetteer
from bot.core.models import Report
from bot.localapi.server import LocalBotApi
from tests.support.databases import database_bytes
from tests.support.harness import TEST_KEY, Person, RunningBot, make_settings, run_bot, settle
from tests.support.review import (
    ADMIN_ID,
    VOLUNTEER_CHAT,
    VOLUNTEER_ID,
    Reviewer,
    add_people,
    documents,
    file_report,
    make_volunteer,
    read_csv,
    review_bot,
    said,
    services,
)

CODE = re.compile(r"R-[A-Z0-9]{4}")
CIPHER = Cipher((TEST_KEY.encode(),))
RELATIVES_HEADER = "Find out where the person is held, get them a lawyer"
DETAINEE_CHECKLIST = "Stay calm and do not resist"  # the direct answer of the if-detained article
UNKNOWN_TOWN = "Ойжайлау"


async def _rows(bot: RunningBot) -> list[Report]:
    async with services(bot).sessions() as session:
        return list((await session.scalars(select(Report).order_by(Report.id))).all())


# Each language: what a person types at each question, with no button pressed at all, and
# what the report must then hold.
TYPED_REPORTS = {
    "en": {
        "answers": [
            "I saw a detention",
            "right now",
            "Abay avenue near the circus",
            "in Almaty",
            "about 3 people",
            "Aigerim",
            "don't know",
            "Taken into a police van",
            "done",
            "+7 701 123 45 67",
            "yes",
            "send",
        ],
        "stored": {"reporter_role": "witness", "city": "almaty", "people": "3"},
        "phone": "+7 701 123 45 67",
        "consent": True,
    },
    "ru": {
        "answers": [
            "Задержали моего брата",
            "сегодня",
            "угол Абая и Достык",
            "Жанаозен",
            "несколько",
            "Ерлан",
            "не знаю",
            "Увезли в автозаке",
            "готово",
            "здесь",
            "нет",
            "отправить",
        ],
        "stored": {"reporter_role": "relative", "city": "zhanaozen", "people": "2-5"},
        "phone": None,
        "consent": False,
    },
    "kk": {
        "answers": [
            "Мен көрдім",
            "қазір",
            "Абай даңғылы",
            "Ақтөбеде",
            "көп",
            "Айгерим",
            "білмеймін",
            "Автобусқа отырғызып әкетті",
            "болды",
            "осында",
            "иә",
            "жіберу",
        ],
        "stored": {"reporter_role": "witness", "city": "aktobe", "people": "20+"},
        "phone": None,
        "consent": True,
    },
}


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
async def test_a_report_typed_without_any_button(bot: RunningBot, language: str) -> None:
    case = TYPED_REPORTS[language]
    person = Person(bot, bot.api.user(12_100 + len(language), language_code=language))
    await person.says("/report")
    calls = []
    for answer in case["answers"]:
        calls = await person.says(answer)
    text = person.texts(calls)
    assert CODE.search(text), text
    [row] = await _rows(bot)
    for column, value in case["stored"].items():
        assert getattr(row, column) == value, (column, getattr(row, column))
    assert CIPHER.decrypt(row.contact_phone_enc) == case["phone"]
    assert row.consent_to_contact is case["consent"]
    assert CIPHER.decrypt(row.police_unit_enc) is None  # "I don't know" skipped it
    assert CIPHER.decrypt(row.detained_name_enc) == case["answers"][5]
    assert CIPHER.decrypt(row.details_enc) == case["answers"][7]  # stored as typed
    # Nothing typed was refused along the way.
    everything = "\n".join(m.get("text", "") for m in bot.api.bot_messages(person.chat_id))
    assert "didn't understand" not in everything and "doesn't answer" not in everything
    assert not bot.api.refused_calls()


async def test_an_answer_that_means_no_button_says_so_and_asks_again(bot: RunningBot) -> None:
    person = Person(bot, bot.api.user(12_201, language_code="en"))
    await person.says("/report")
    calls = await person.says("banana")
    text = person.texts(calls)
    assert "didn't understand" in text and "Who is reporting?" in text
    # The rejection invites typing, and typing does work at this step.
    calls = await person.says("my son")
    assert "When did it happen?" in person.texts(calls)


# A location a little off the centre of a dozen towns outside the nine venue cities.
TOWN_LOCATIONS = {
    "zhanaozen": (43.3390, 52.8570, "Zhanaozen"),
    "aktau": (43.6480, 51.1600, "Aktau"),
    "aktobe": (50.2900, 57.1700, "Aktobe"),
    "karaganda": (49.8100, 73.0900, "Karaganda"),
    "pavlodar": (52.2850, 76.9600, "Pavlodar"),
    "semey": (50.4100, 80.2300, "Semey"),
    "oskemen": (49.9600, 82.6100, "Oskemen"),
    "taraz": (42.9000, 71.3800, "Taraz"),
    "kostanay": (53.2100, 63.6300, "Kostanay"),
    "petropavl": (54.8700, 69.1500, "Petropavl"),
    "kulsary": (46.9550, 54.0150, "Kulsary"),
    "zhezkazgan": (47.7900, 67.7100, "Zhezkazgan"),
    "ekibastuz": (51.7300, 75.3200, "Ekibastuz"),
}


async def test_a_location_anywhere_in_kazakhstan_is_placed_in_its_town(
    bot: RunningBot,
) -> None:
    for number, (key, (latitude, longitude, name)) in enumerate(TOWN_LOCATIONS.items()):
        person = Person(bot, bot.api.user(12_300 + number, language_code="en"))
        await person.says("/report")
        await person.says("I saw it")
        await person.says("now")
        calls = await person.sends_location(latitude, longitude)
        text = person.texts(calls)
        assert f"Location saved: {name}." in text, (key, text)
        assert "How many people" in text  # the town is known: no town question
        draft = await services(bot).reports.get_draft(person.chat_id)
        assert draft is not None and draft.data.city == key
    assert not bot.api.refused_calls()


async def test_a_town_the_gazetteer_does_not_know_is_kept_as_typed(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    assert gazetteer().find(UNKNOWN_TOWN) is None
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        reporter = Person(bot, people["reporter"])
        await reporter.says("/report")
        await reporter.taps("report:role:witness")
        await reporter.taps("report:when:now")
        await reporter.taps("report:skip")  # no place
        calls = await reporter.taps("report:city:other")
        assert "Напишите название города или села" in reporter.texts(calls)
        calls = await reporter.says(UNKNOWN_TOWN)
        assert "Сколько" in reporter.texts(calls)  # the next question, in Russian
        for data in ("report:count:1", "report:skip", "report:skip", "report:skip"):
            await reporter.taps(data)
        await reporter.taps("report:media:done")
        await reporter.taps("report:contact:telegram")
        calls = await reporter.taps("report:consent:no")
        assert UNKNOWN_TOWN in reporter.texts(calls)  # on the summary
        await reporter.taps("report:confirm")
        [row] = await _rows(bot)
        assert row.city == "other"
        assert CIPHER.decrypt_json(row.location_enc)["town"] == UNKNOWN_TOWN
        # Kept with the place, encrypted: a typed town may be anything the person wrote.
        raw = await database_bytes(database_url, tmp_path)
        assert UNKNOWN_TOWN.encode() not in raw
        await make_volunteer(bot, VOLUNTEER_ID)
        card = said(await Reviewer(bot, people["volunteer"]).opens(row.id))
        assert f"City:</b> {UNKNOWN_TOWN}" in card
        admin = Reviewer(bot, people["admin"])
        files = documents(await admin.says("/export 2000-01-01"))
        [csv_name] = [name for name in files if name.endswith(".csv")]
        [exported] = read_csv(files[csv_name])
        assert exported["town"] == UNKNOWN_TOWN and exported["city"] == "other"


async def test_ranges_and_unknown_counts_are_shown_as_given(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        given = {"2-5": "2–5", "6-20": "6–20", "20+": "more than 20", "unknown": "not known"}
        ids = {}
        for value in given:
            ids[value], _code = await file_report(bot, people["reporter"], people=value)
        volunteer = Reviewer(bot, people["volunteer"])
        for value, shown in given.items():
            card = said(await volunteer.opens(ids[value]))
            assert f"People detained:</b> {shown}" in card, card
        files = documents(await volunteer.says("/export 2000-01-01"))
        [csv_name] = [name for name in files if name.endswith(".csv")]
        [json_name] = [name for name in files if name.endswith(".json")]
        assert [row["people"] for row in read_csv(files[csv_name])] == list(given)
        document = json.loads(files[json_name])
        assert [report["people"] for report in document["reports"]] == list(given)
        stats = said(await volunteer.says("/stats 7"))
        assert "By number of people detained" in stats
        for shown in given.values():
            assert f"{shown} 1" in stats
        # The volunteer chat's alerts say the same.
        services(bot).notifier.wake()

        def alerts() -> str:
            return "\n".join(
                str(c.params.get("text"))
                for c in bot.api.calls
                if c.ok and str(c.params.get("chat_id")) == str(VOLUNTEER_CHAT)
            )

        for _ in range(100):
            if "2–5 people" in alerts() and "more than 20 people" in alerts():
                break
            await asyncio.sleep(0.05)
        assert "2–5 people" in alerts() and "6–20 people" in alerts(), alerts()
        assert "more than 20 people" in alerts()


async def test_voice_and_video_notes_are_attached(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        reporter = Person(bot, people["reporter"])
        await reporter.says("/report")
        await reporter.taps("report:role:now")  # in the van: an urgent report at once
        await reporter.taps("report:skip")
        await reporter.says("Алматы")
        await reporter.taps("report:count:1")
        for _ in range(3):
            await reporter.taps("report:skip")
        mark = api.mark()
        api.send_voice(reporter.user)
        await settle(bot, mark)
        mark = api.mark()
        api.send_video_note(reporter.user)
        await settle(bot, mark)
        await reporter.taps("report:media:done")
        await reporter.taps("report:contact:telegram")
        await reporter.taps("report:consent:yes")
        await reporter.taps("report:confirm")
        [row] = await _rows(bot)
        media = CIPHER.decrypt_json(row.media_enc)
        assert [item["type"] for item in media] == ["voice", "video_note"]
        assert all(item["file_id"] for item in media)
        admin = Reviewer(bot, people["admin"])
        card = said(await admin.opens(row.id))
        assert "voice messages:</b> 2" in card
        calls = await admin.taps(f"rv:media:{row.id}")
        sent = {c.method for c in calls if c.ok}
        assert {"sendVoice", "sendVideoNote"} <= sent
        assert not api.refused_calls()


async def test_relatives_get_relatives_steps_and_detainees_their_checklist(
    bot: RunningBot,
) -> None:
    async def finish(person: Person, role: str) -> str:
        await person.says("/report")
        await person.taps(f"report:role:{role}")
        await person.taps("report:when:now")
        await person.taps("report:skip")
        await person.taps("report:city:astana")
        await person.taps("report:count:1")
        for _ in range(3):
            await person.taps("report:skip")
        await person.taps("report:media:done")
        await person.taps("report:contact:telegram")
        await person.taps("report:consent:yes")
        return person.texts(await person.taps("report:confirm"))

    relative = await finish(Person(bot, bot.api.user(12_401, language_code="en")), "relative")
    assert RELATIVES_HEADER in relative
    assert "72 hours" in relative and "Bureau for Human Rights" in relative
    assert "which documents to bring" in relative and "⚠️" in relative
    assert DETAINEE_CHECKLIST not in relative
    witness = await finish(Person(bot, bot.api.user(12_402, language_code="ru")), "witness")
    assert "Выясните, где держат человека" in witness
    detainee = await finish(Person(bot, bot.api.user(12_403, language_code="en")), "self")
    assert DETAINEE_CHECKLIST in detainee and RELATIVES_HEADER not in detainee
    assert not bot.api.refused_calls()


# ------------------------------------------------------------------ a host not on UTC


@pytest.fixture
def almaty_host_time() -> Iterator[None]:
    """The process's local time zone is Asia/Almaty, as on a server set up in Kazakhstan."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Almaty"
    time.tzset()
    assert time.strftime("%z") != "+0000"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = previous
        time.tzset()


def _shown_times(now: datetime, zone: ZoneInfo, pattern: str) -> set[str]:
    """The moment as it may be shown (the test may straddle a minute)."""
    return {(now + timedelta(minutes=d)).astimezone(zone).strftime(pattern) for d in (-1, 0, 1)}


async def test_times_are_utc_read_back_and_shown_local_on_a_non_utc_host(
    almaty_host_time: None, api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    zone = ZoneInfo("Asia/Almaty")
    settings = make_settings(
        api,
        database_url,
        tmp_path,
        JIYN_VOLUNTEER_CHAT_ID=str(VOLUNTEER_CHAT),
        JIYN_ADMIN_IDS=str(ADMIN_ID),
    )
    api.send_group_text(api.user(1, first_name="Volunteer"), VOLUNTEER_CHAT, "hi")
    async with run_bot(api, settings) as bot:
        now = datetime.now(UTC)
        person = Person(bot, api.user(12_501, language_code="en"))
        await person.says("/report")
        await person.taps("report:role:now")  # filed at once: created and occurred now
        [row] = await _rows(bot)
        assert row.created_at.tzinfo is not None and row.created_at.utcoffset() == timedelta(0)
        assert abs(row.created_at - now) < timedelta(minutes=1)
        assert abs(row.occurred_at - now) < timedelta(minutes=1)
        listing = person.texts(await person.says("/myreports"))
        assert any(shown in listing for shown in _shown_times(now, zone, "%d.%m.%Y %H:%M"))
        alert = await api.wait_for_call(
            "sendMessage", predicate=lambda c: str(c.params["chat_id"]) == str(VOLUNTEER_CHAT)
        )
        text = alert[0].params["text"]
        assert any(shown in text for shown in _shown_times(now, zone, "%d.%m %H:%M")), text
        admin = Reviewer(bot, api.user(ADMIN_ID, language_code="en"))
        card = said(await admin.opens(row.id))
        assert any(shown in card for shown in _shown_times(now, zone, "%d.%m.%Y %H:%M"))


async def test_continue_or_start_over_can_be_typed(bot: RunningBot) -> None:
    person = Person(bot, bot.api.user(12_601, language_code="ru"))
    await person.says("/report")
    await person.says("я видел")
    await person.says("/help")  # pauses the report
    calls = await person.says("/report")
    assert "Продолжить" in str([c.params.get("reply_markup") for c in calls])
    calls = await person.says("продолжить")
    assert "Когда это произошло?" in person.texts(calls)  # the question it stopped at
    await person.says("/help")
    await person.says("/report")
    calls = await person.says("начать заново")
    assert "Кто сообщает?" in person.texts(calls)
    draft = await services(bot).reports.get_draft(person.chat_id)
    assert draft is not None and draft.data.role is None  # the old answers are gone
