"""Inputs that crashed a handler of the running bot (#12), each sent through the local Bot API
server: the bot must answer with a clear message, log no error and lose nothing. The fuzz suite
(tests/test_fuzz.py) generates whole classes of these; here is one of each, named."""

from __future__ import annotations

import io
import json
import logging
import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.localapi.console import ConsoleChat
from bot.localapi.server import LocalBotApi
from bot.services.review.export import PUBLIC_COLUMNS, Export, ExportFilter, json_bytes
from tests.support.harness import Person, RunningBot, errors_logged, settle
from tests.support.review import Reviewer, add_people, file_report, review_bot, said


async def _at_count_question(person: Person) -> None:
    await person.says("/report")
    await person.taps("report:role:witness")
    await person.taps("report:when:now")
    await person.taps("report:skip")
    await person.taps("report:city:almaty")


@pytest.mark.parametrize("typed", ["²", "³⁴", "٣", "１２", "߃"])
async def test_unicode_digits_as_a_count(bot: RunningBot, typed: str) -> None:
    person = Person(bot, bot.api.user(13_001, language_code="en"))
    await _at_count_question(person)
    with errors_logged() as errors:
        calls = await person.says(typed)
    assert not errors.records
    text = person.texts(calls)
    if typed in ("²", "³⁴"):  # digits, but no number: asked again
        assert "Please type a number" in text
    else:  # decimal digits of another script are a number
        assert "name" in text.lower()
    draft = await bot.application.bot_data["services"].reports.get_draft(person.chat_id)
    assert draft is not None and draft.data.city == "almaty"  # nothing lost


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [(math.inf, 76.9), (43.2, -math.inf), (math.nan, 76.9), (math.nan, math.nan), (1e308, 1e308)],
)
async def test_impossible_locations_in_and_outside_a_report(
    bot: RunningBot, latitude: float, longitude: float
) -> None:
    outside = Person(bot, bot.api.user(13_101, language_code="en"))
    with errors_logged() as errors:
        calls = await outside.sends_location(latitude, longitude)
    assert "can't be right" in outside.texts(calls)
    assert "NaN" not in outside.texts(calls) and "inf" not in outside.texts(calls)

    reporter = Person(bot, bot.api.user(13_102, language_code="en"))
    await reporter.says("/report")
    await reporter.taps("report:role:witness")
    await reporter.taps("report:when:now")
    with errors_logged() as errors_in_report:
        calls = await reporter.sends_location(latitude, longitude)
    assert "can't be right" in reporter.texts(calls)
    assert "Where did it happen?" in reporter.texts(calls)  # the same question again
    draft = await bot.application.bot_data["services"].reports.get_draft(reporter.chat_id)
    assert draft is not None and draft.data.latitude is None
    assert not errors.records and not errors_in_report.records
    assert not bot.api.refused_calls()


async def test_exports_at_the_edges_of_the_calendar(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await file_report(bot, people["reporter"])
        admin = Reviewer(bot, people["admin"])
        with errors_logged() as errors:
            for command in (
                "/export 9999-12-31",
                "/export 31.12.9999 01.01.0001",
                "/export 0001-01-01",
                "/export 01.01.0001 9999-12-31 almaty",
            ):
                calls = await admin.says(command)
                text = said(calls)
                assert text and "Sorry, something went wrong" not in text, command
                assert not [c for c in calls if c.method == "sendDocument"], command
        assert not errors.records
        calls = await admin.says("/export 2000-01-01 2999-12-31")  # the widest range works
        assert len([c for c in calls if c.method == "sendDocument" and c.ok]) == 2


def test_the_json_export_never_writes_nan_or_infinity() -> None:
    rows = [
        {"code": "R-AAAA", "latitude": math.nan, "longitude": math.inf, "notes": [-math.inf]},
    ]
    export = Export(
        columns=(*PUBLIC_COLUMNS, "latitude", "longitude", "notes"), rows=rows, personal=True
    )
    data = json_bytes(export, ExportFilter(start=date(2026, 1, 1)), datetime.now(UTC))
    text = data.decode("utf-8")
    assert "NaN" not in text and "Infinity" not in text
    [report] = json.loads(text)["reports"]  # strict JSON readers accept it
    assert report["latitude"] is None and report["longitude"] is None
    assert report["notes"] == [None]


async def test_button_presses_without_a_message_or_without_data(bot: RunningBot) -> None:
    api = bot.api
    person = Person(bot, api.user(13_201, language_code="en"))
    await person.says("/start")
    message = api.bot_messages(person.chat_id)[-1]
    presses: list[dict[str, Any]] = [
        # A button under a message sent in inline mode: no message, an inline_message_id.
        {"inline_message_id": "AAAAAEhlbGxv", "data": "report:role:now"},
        {"inline_message_id": "AAAAAEhlbGxv", "data": "menu:report"},
        # No data (Telegram sends data or a game's short name; a client may send neither).
        {"message": message},
        {"message": message, "game_short_name": "jiyn"},
    ]
    with errors_logged() as errors:
        mark = api.mark()
        ids = [
            api.press_bare_button(person.user, **press)["callback_query"]["id"]
            for press in presses
        ]
        calls = await settle(bot, mark)
    assert not errors.records, [r.getMessage() for r in errors.records]
    assert not api.refused_calls()
    answered = {
        str(c.params.get("callback_query_id"))
        for c in calls
        if c.ok and c.method == "answerCallbackQuery"
    }
    assert set(ids) <= answered
    # No report was opened from a press that has no chat to open it in.
    assert await bot.application.bot_data["services"].reports.get_draft(person.chat_id) is None


async def test_the_console_numbers_every_button_on_screen_once(bot: RunningBot) -> None:
    out = io.StringIO()
    chat = ConsoleChat(bot.api, bot.api.user(13_301, language_code="en"), out)
    unsubscribe = bot.api.subscribe(chat.on_call)
    try:
        for line in ("/report", "2", "1"):  # open; "I saw a detention"; "Right now"
            mark = bot.api.mark()
            await chat.handle_line(line)
            await settle(bot, mark)
        # Where: the reply keyboard's "Send my location" and the inline "Skip" are both on
        # screen, in two messages.
        shown = out.getvalue().rsplit("Where did it happen?", 1)[1]
        assert "[1] 📍 Send my location" in shown and "[2] Skip" in shown
        assert shown.count("[1]") == 1
        mark = bot.api.mark()
        await chat.handle_line("2")  # presses Skip, not the location button
        await settle(bot, mark)
        assert "Which town or village?" in out.getvalue().rsplit("[2] Skip", 1)[1]
    finally:
        unsubscribe()
    logging.getLogger(__name__).debug("console output: %s", out.getvalue())


async def test_only_the_reporters_own_card_is_taken_as_their_phone(bot: RunningBot) -> None:
    person = Person(bot, bot.api.user(12_901, language_code="en"))
    await person.says("/report")
    await person.taps("report:role:witness")
    await person.taps("report:when:now")
    await person.taps("report:skip")
    await person.taps("report:city:astana")
    await person.taps("report:count:1")
    for _ in range(3):
        await person.taps("report:skip")
    await person.taps("report:media:done")
    # Someone else's card from the address book: no user_id, so not the reporter's number.
    mark = bot.api.mark()
    bot.api.send_contact(person.user, "+77001234567", "Aunt Saule", own=False)
    replies = person.texts(await settle(bot, mark))
    assert "share your own number" in replies and "Phone number saved" not in replies
    own = person.texts(await person.sends_contact("+77009876543"))
    assert "Phone number saved" in own


async def test_an_edited_command_is_not_run_again(bot: RunningBot) -> None:
    person = Person(bot, bot.api.user(12_902, language_code="en"))
    first = await person.says("/rights")
    assert first
    mark = bot.api.mark()
    bot.api.queue_update(
        {
            "edited_message": {
                "message_id": 99,
                "from": person.user,
                "chat": {"id": person.chat_id, "type": "private"},
                "date": 1,
                "edit_date": 2,
                "text": "/rights",
                "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
            }
        }
    )
    assert [call for call in await settle(bot, mark) if call.method == "sendMessage"] == []
