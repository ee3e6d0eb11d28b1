"""Text people type, as others see it and as it is stored: bidi controls (U+202E and friends)
never reach a volunteer's card, the volunteer chat, an export or a relayed message, where they
could reorder what a volunteer reads; NUL and other control characters are never stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from bot.core.models import QuestionGap, Report, ReportDraft, ReportEvent
from bot.core.text import BIDI_CONTROLS, REPLACEMENT, typed
from bot.localapi.server import ApiCall, LocalBotApi, UploadedFile
from bot.services.report.reports import DraftData
from tests.support.harness import Person, calls_to, to_chat
from tests.support.review import (
    REPORTER_ID,
    VOLUNTEER_CHAT,
    VOLUNTEER_ID,
    Reviewer,
    add_people,
    audit_entries,
    documents,
    file_report,
    make_volunteer,
    read_csv,
    report_events,
    report_id_of,
    report_row,
    review_bot,
    services,
)

# Typed answers with every bidi control and a few C0 controls (NUL, ESC, BEL) in them.
TYPED = {
    "place": "Абай \u202a1\u202b2\u202c көшесі\x00",
    "town": "Қызылжарқұдық\u202d\x1b[2J",
    "name": "Асан\u2066 \u2067Серікұлы\u2068\u2069\x00",
    "police": "ОП\u200e №5\u200f\u061c\x07",
    "details": "Бірінші жол\u202e\nЕкінші\tжол\x00",
}
NOTE = "Адвокат\u202e шақырылды\x00"
TO_REPORTER = "Сәлем\u2067, адвокат келеді\x00"
TO_VOLUNTEER = "Рақмет\u202e, босатты\x1b"
TYPED_CONTROLS = "\x00\x1b\x07"


def controls(text: str) -> set[str]:
    """The control characters in a text: bidi controls, and C0 but tab and newline."""
    return {char for char in text if char in BIDI_CONTROLS or (char < " " and char not in "\t\n")}


def seen(calls: list[ApiCall]) -> str:
    """Everything the calls showed someone: texts, captions, buttons and files."""
    parts = []
    for call in calls:
        for key in ("text", "caption"):
            parts.append(str(call.params.get(key) or ""))
        markup = call.params.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []) if isinstance(markup, dict) else []:
            parts += [str(button.get("text", "")) for button in row]
        upload = call.params.get("document")
        if isinstance(upload, UploadedFile):
            parts.append(upload.data.decode("utf-8-sig"))
    return "\n".join(parts)


def assert_neutralised(text: str) -> None:
    """No bidi control and none of the typed C0 controls in what someone was shown."""
    found = {char for char in text if char in BIDI_CONTROLS or char in TYPED_CONTROLS}
    assert not found, sorted(f"U+{ord(char):04X}" for char in found)


def test_typed_keeps_the_words_and_marks_where_a_bidi_control_was() -> None:
    assert typed("Асан\u202eСерікұлы") == "Асан\ufffdСерікұлы"
    assert typed("a\x00b\x1bc\x7fd\x9be\r\nf\tg") == "abcde\nf\tg"
    assert {typed(char) for char in BIDI_CONTROLS} == {REPLACEMENT}
    # Letters of every script, emoji joined with ZWJ and other format characters stay as typed.
    words = "Ағамды ұстады · Задержали · Arrested · 👨\u200d👩\u200d👧 · 2–5"
    assert typed(words) == words
    everything = "".join(chr(code) for code in range(0x3000))
    assert typed(typed(everything)) == typed(everything)
    assert controls(typed(everything)) == set()
    assert typed(None) is None


def test_a_line_break_typed_into_a_one_line_field_cannot_fake_another_field() -> None:
    faked = "Асан\n<b>Статус:</b> проверен\u2028\tОП №5"
    assert typed(faked, one_line=True) == "Асан <b>Статус:</b> проверен ОП №5"
    draft = DraftData(name=faked, police=faked, place=faked, details="Бірінші\nЕкінші")
    kept = draft.as_kept()
    assert {kept.name, kept.police, kept.place} == {typed(faked, one_line=True)}
    assert kept.details == "Бірінші\nЕкінші"  # the details are told in lines


async def test_bidi_and_control_characters_typed_into_a_report_reach_no_one_and_are_not_stored(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        reporter = Person(bot, people["reporter"])
        await reporter.says("/report")
        await reporter.taps("report:role:witness")
        await reporter.taps("report:when:now")
        await reporter.says(TYPED["place"])
        await reporter.taps("report:city:other")
        await reporter.says(TYPED["town"])
        await reporter.taps("report:count:2-5")
        await reporter.says(TYPED["name"])
        await reporter.says(TYPED["police"])
        await reporter.says(TYPED["details"])
        cipher = services(bot).cipher
        async with services(bot).sessions() as session:
            [draft] = (await session.scalars(select(ReportDraft))).all()
        kept = cipher.decrypt_json(draft.data_enc)
        assert {kept[field] for field in TYPED} == {typed(value) for value in TYPED.values()}
        await reporter.taps("report:skip")
        await reporter.taps("report:contact:telegram")
        await reporter.taps("report:consent:yes")
        filed = api.mark()
        await reporter.taps("report:confirm")
        to_volunteer_chat = to_chat(VOLUNTEER_CHAT)
        [alert] = await api.wait_for_call("sendMessage", since=filed, predicate=to_volunteer_chat)
        async with services(bot).sessions() as session:
            code = await session.scalar(select(Report.code))
        report_id = await report_id_of(bot, code)

        volunteer = Reviewer(bot, people["volunteer"])
        card = seen(await volunteer.opens(report_id))
        assert "Серікұлы" in card and "Екінші\tжол" in card and REPLACEMENT in card
        await volunteer.taps(f"rv:claim:{report_id}")
        await volunteer.taps(f"rv:note:{report_id}")
        card_with_note = seen(await volunteer.says(NOTE))
        assert "шақырылды" in card_with_note
        await volunteer.taps(f"rv:write:{report_id}")
        to_reporter = seen(calls_to(await volunteer.says(TO_REPORTER), REPORTER_ID))
        assert "адвокат келеді" in to_reporter
        await reporter.taps(f"rl:new:{report_id}")
        to_volunteer = seen(calls_to(await reporter.says(TO_VOLUNTEER), VOLUNTEER_ID))
        assert "босатты" in to_volunteer

        admin = Reviewer(bot, people["admin"])
        export_calls = await admin.says("/export 2000-01-01")
        files = documents(export_calls)
        [csv_name] = [name for name in files if name.endswith(".csv")]
        [exported] = read_csv(files[csv_name])
        assert exported["detained_name"] == typed(TYPED["name"])
        assert exported["town"] == typed(TYPED["town"])

        for shown in (seen([alert]), card, card_with_note, to_reporter, to_volunteer):
            assert_neutralised(shown)
        assert_neutralised(seen(export_calls))

        row = await report_row(bot, report_id)
        location = cipher.decrypt_json(row.location_enc)
        stored: dict[str, Any] = {
            "place": location["place"],
            "town": location["town"],
            "name": cipher.decrypt(row.detained_name_enc),
            "police": cipher.decrypt(row.police_unit_enc),
            "details": cipher.decrypt(row.details_enc),
        }
        assert stored == {field: typed(value) for field, value in TYPED.items()}
        events = {
            event.action: event
            for event in await report_events(bot, report_id)
            if event.detail_enc is not None
        }
        assert cipher.decrypt(events["note"].detail_enc) == typed(NOTE)
        assert cipher.decrypt_json(events["relay_out"].detail_enc) == typed(TO_REPORTER)
        assert cipher.decrypt_json(events["relay_in"].detail_enc) == typed(TO_VOLUNTEER)
        for text in [*stored.values(), typed(NOTE), typed(TO_REPORTER), typed(TO_VOLUNTEER)]:
            assert not controls(text), text
        assert not api.refused_calls()


async def test_a_report_stored_before_is_shown_and_exported_without_its_bidi_controls(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        report_id, _code = await file_report(bot, people["reporter"])
        cipher = services(bot).cipher
        # What a version that stored typed text as it came left in the database.
        async with services(bot).sessions.begin() as session:
            await session.execute(
                update(Report)
                .where(Report.id == report_id)
                .values(
                    detained_name_enc=cipher.encrypt(TYPED["name"]),
                    police_unit_enc=cipher.encrypt(TYPED["police"]),
                    details_enc=cipher.encrypt(TYPED["details"]),
                    location_enc=cipher.encrypt_json(
                        {"lat": None, "lon": None, "place": TYPED["place"], "town": TYPED["town"]}
                    ),
                    city="other",
                )
            )
            session.add(
                ReportEvent(report_id=report_id, action="note", detail_enc=cipher.encrypt(NOTE))
            )
        admin = Reviewer(bot, people["admin"])
        card = seen(await admin.opens(report_id))
        assert "Серікұлы" in card and "Қызылжарқұдық" in card and "шақырылды" in card
        assert_neutralised(card)
        export_calls = await admin.says("/export 2000-01-01")
        files = documents(export_calls)
        [json_name] = [name for name in files if name.endswith(".json")]
        [exported] = json.loads(files[json_name])["reports"]
        assert exported["detained_name"] == typed(TYPED["name"])
        assert exported["place"] == typed(TYPED["place"])
        assert exported["notes"] == [typed(NOTE)]
        assert_neutralised(seen(export_calls))


async def test_a_message_of_control_characters_alone_is_not_relayed(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        report_id, _code = await file_report(bot, people["reporter"])
        volunteer = Reviewer(bot, people["volunteer"])
        await volunteer.opens(report_id)
        await volunteer.taps(f"rv:claim:{report_id}")
        await volunteer.taps(f"rv:write:{report_id}")
        await volunteer.says("\x00\x1b \x07")
        events = [event.action for event in await report_events(bot, report_id)]
        assert "relay_out" not in events
        # the question stays open: the next message is the one relayed
        to_reporter = seen(calls_to(await volunteer.says(TO_REPORTER), REPORTER_ID))
        assert "адвокат келеді" in to_reporter
        events = [event.action for event in await report_events(bot, report_id)]
        assert events.count("relay_out") == 1


async def test_questions_and_refused_commands_are_kept_without_control_characters(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        user = Person(bot, people["user"])
        await user.says("zzqx\x1b[31m vvbk\u202e\x00 qqpl?")  # a question with no answer
        await user.says("/queue\x00\x1b[2J")  # refused: the user is not a volunteer
        async with services(bot).sessions() as session:
            [gap] = (await session.scalars(select(QuestionGap))).all()
        assert gap.question == "zzqx[#m vvbk\ufffd qqpl?"
        cipher = services(bot).cipher
        [refusal] = [entry for entry in await audit_entries(bot) if not entry.allowed]
        assert cipher.decrypt_json(refusal.detail_enc)["attempt"] == "/queue[2J"
