"""Security, end to end: what a plain user can reach with every command and every button (forged
ones too), personal data and secrets never in logs, typed markup shown literally and never
refused, no Markdown anywhere, per-user limits, and exports that cannot be turned against the
people who open them."""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram.ext import CommandHandler, ConversationHandler

from bot.core.crypto import Cipher
from bot.core.i18n import LANGUAGES, gettext_for
from bot.core.logs import configure_logging
from bot.localapi.server import ApiCall, LocalBotApi, UploadedFile
from bot.services.report import reports as limits
from tests.support.databases import report_rows
from tests.support.harness import (
    TEST_KEY,
    TEST_TOKEN,
    Person,
    RunningBot,
    all_callback_patterns,
    calls_to,
    errors_logged,
    make_settings,
    report_in_conversation,
    run_unpaced,
    settle,
)

ADMIN_ID = 7_900_001
VOLUNTEER_CHAT = -1_007_900
GROUP = -1_007_901
CODE = re.compile(r"R-[A-Z0-9]{4}")
CIPHER = Cipher((TEST_KEY.encode(),))
# What people type, with every kind of markup a careless template would run.
INJECTED = {
    "name": "<b>Айгерим</b> & </a> <script>alert(1)</script>",
    "police": "*_[]`ОП*_2_ [x](http://evil.example) `code` ~~s~~ ||sp||",
    "details": '&amp; &lt;i&gt; <a href="tg://user?id=1">x</a> &#0; <tg-spoiler>',
    "place": "</b></i></code></pre> \"quoted\" 'single' <i>Абая",
}
REVIEW_COMMANDS = ("queue", "stats", "export", "volunteer", "invite")
REFUSAL = "only for Jiyn volunteers"


@pytest.fixture
async def secure_bot(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> AsyncIterator[RunningBot]:
    """The real bot with an administrator and a volunteer group."""
    settings_ = make_settings(
        api,
        database_url,
        tmp_path,
        JIYN_ADMIN_IDS=str(ADMIN_ID),
        JIYN_VOLUNTEER_CHAT_ID=str(VOLUNTEER_CHAT),
    )
    api.send_group_text(api.user(ADMIN_ID, first_name="Admin"), VOLUNTEER_CHAT, "hi")
    async with run_unpaced(api, settings_) as running:
        await settle(running, 0)
        yield running




def _sent_to(api: LocalBotApi, chat_id: int, since: int = 0) -> list[ApiCall]:
    return [call for call in calls_to(api.calls[since:], chat_id) if call.ok]


def _visible(calls: list[ApiCall]) -> str:
    """Everything a person could read in these calls: texts, captions, buttons, files."""
    parts = []
    for call in calls:
        result = call.result if isinstance(call.result, dict) else {}
        parts += [str(result.get("text", "")), str(result.get("caption", ""))]
        parts += [str(call.params.get("text", "")), str(call.params.get("caption", ""))]
        markup = call.params.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []) if isinstance(markup, dict) else []:
            parts += [str(button.get("text", "")) for button in row]
        document = call.params.get("document")
        if isinstance(document, UploadedFile):
            parts.append(document.data.decode("utf-8", "replace"))
    return "\n".join(parts)


def assert_html_or_plain_only(calls: list[ApiCall]) -> None:
    """No call used a Markdown parse mode (or any other than HTML)."""
    modes = {
        call.params.get("parse_mode") for call in calls if call.params.get("parse_mode") is not None
    }
    assert modes <= {"HTML"}, modes


# ------------------------------------------------------------------ injection


async def test_typed_markup_is_shown_literally_on_every_path_and_nothing_is_refused(
    secure_bot: RunningBot, database_url: str
) -> None:
    bot, api = secure_bot, secure_bot.api
    reporter = Person(bot, api.user(7801, language_code="ru"))
    await reporter.says("/report")
    await reporter.taps("report:role:witness")
    await reporter.taps("report:when:now")
    await reporter.says(INJECTED["place"])
    await reporter.taps("report:city:almaty")
    await reporter.taps("report:count:2-5")
    await reporter.says(INJECTED["name"])
    await reporter.says(INJECTED["police"])
    await reporter.says(INJECTED["details"])
    await reporter.taps("report:skip")
    await reporter.taps("report:contact:telegram")
    calls = await reporter.taps("report:consent:yes")
    [summary] = [c for c in calls if c.method == "sendMessage" and c.params.get("parse_mode")]
    shown = summary.result["text"]
    for typed in INJECTED.values():
        assert typed in shown  # shown as typed: no tag ran, no entity was eaten
    for entity in summary.result.get("entities", []):
        covered = shown[entity["offset"] : entity["offset"] + entity["length"]]
        assert not any(fragment in covered for fragment in ("Айгерим", "ОП", "Абая", "script"))

    await reporter.taps("report:edit:name")  # the edited summary too
    calls = await reporter.says(INJECTED["details"] + INJECTED["police"])
    assert INJECTED["details"] + INJECTED["police"] in _visible(calls)
    code = CODE.search(reporter.texts(await reporter.taps("report:confirm")))
    assert code
    await reporter.says("/myreports")

    # Questions with markup are answered, and typed markup in them never reaches a reply.
    for question in (*INJECTED.values(), "<b>митинг</b> штраф & </a>", "*rally* _fine_ [x](y)"):
        calls = await reporter.says(question)
        assert calls and all(c.ok for c in calls)
    await reporter.says("/venues")
    await reporter.taps("venues:city:almaty")
    await reporter.sends_location(43.2389, 76.8897)

    # The volunteer's card of the report shows the typed name as typed.
    admin = Person(bot, api.user(ADMIN_ID, first_name="Admin", language_code="en"))
    await admin.says("/queue")
    [row] = await report_rows(database_url)
    calls = await admin.taps(f"rv:open:{row.id}")
    assert INJECTED["details"] + INJECTED["police"] in _visible(calls)  # the edited name

    assert not api.refused_calls()
    assert_html_or_plain_only(api.calls)



# ------------------------------------------------------------------ personal data in logs


@contextmanager
def production_logging(path: Path, secrets: list[str]) -> Iterator[None]:
    """Logging exactly as `jiyn run` sets it up (at DEBUG, into a file), with pytest's own
    capture kept, restored afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    configure_logging(logging.DEBUG, secrets=secrets, filename=str(path))
    root.handlers.extend(h for h in saved_handlers if h not in root.handlers)
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in saved_handlers:
                handler.close()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)


PERSON_ID = 7_811_902_463  # long and odd: no timestamp or counter in a log line contains it


async def test_personal_data_and_secrets_never_reach_the_logs(
    secure_bot: RunningBot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bot, api = secure_bot, secure_bot.api
    personal = {
        "name": "Жанар Секретқызы",
        "police": "ОП Турксиб фургон 0451",
        "details": "Задержали у памятника Абаю в 18:40",
        "place": "Проспект Достык 85",
        "phone": "+77019876543",
    }
    log_file = tmp_path / "jiyn.log"
    caplog.set_level(logging.DEBUG)
    with production_logging(log_file, bot.settings.secrets), errors_logged() as errors:
        person = Person(bot, api.user(PERSON_ID, first_name="Жанар", language_code="ru"))
        await person.says("/report")
        await person.taps("report:role:witness")
        await person.taps("report:when:now")
        await person.says(personal["place"])
        await person.taps("report:city:almaty")
        await person.taps("report:count:1")
        # A crash in a handler while it holds the typed name: Telegram refuses the next reply.
        api.fail_next("sendMessage", error_code=400, description="Bad Request: chat not found")
        await person.says(personal["name"])
        await person.says(personal["name"])  # told something went wrong, they send it again
        await person.says(personal["police"])
        await person.says(personal["details"])
        await person.taps("report:skip")
        await person.sends_contact(personal["phone"])
        await person.taps("report:consent:yes")
        await person.taps("report:confirm")
        await person.says(personal["details"])  # the same words as a question
        await person.says("/myreports")
        admin = Person(bot, api.user(ADMIN_ID, first_name="Admin", language_code="en"))
        await admin.says("/queue")
        [row] = await report_rows(bot.settings.database_url)
        await admin.taps(f"rv:open:{row.id}")
    assert any("handler failed" in record.getMessage() for record in errors.records)

    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    captured = "\n".join(formatter.format(record) for record in caplog.records)
    written = log_file.read_text(encoding="utf-8")
    # Both saw the run, the crash included, with its traceback.
    assert "handler failed" in captured and "Traceback" in captured
    assert "handler failed" in written and "Traceback" in written
    # Nor who wrote: no user or chat id in any line (issue 15).
    forbidden = [*personal.values(), TEST_TOKEN, TEST_TOKEN.split(":")[1], TEST_KEY, str(PERSON_ID)]
    for where, text in (("log records", captured), ("log file", written)):
        for secret in forbidden:
            assert secret not in text, f"{secret!r} in the {where}"


# ------------------------------------------------------------------ access


def _commands(bot: RunningBot) -> list[str]:
    """Every command the application answers, inside conversations too."""
    found: set[str] = set()

    def collect(handlers: list[Any]) -> None:
        """Add the commands of these handlers and of the ones they contain."""
        for handler in handlers:
            if isinstance(handler, ConversationHandler):
                collect([*handler.entry_points, *handler.fallbacks])
                for state_handlers in handler.states.values():
                    collect(state_handlers)
            elif isinstance(handler, CommandHandler):
                found.update(handler.commands)

    collect([h for group in bot.application.handlers.values() for h in group])
    return sorted(found)


async def test_every_command_from_a_plain_user_reaches_only_their_own_things(
    secure_bot: RunningBot,
) -> None:
    bot, api = secure_bot, secure_bot.api
    victim = Person(bot, api.user(7821, language_code="en"))
    victim_code = await report_in_conversation(victim, name="Victim Name", police="Victim Police")
    plain = Person(bot, api.user(7822, language_code="en"))
    commands = _commands(bot)
    assert {"start", "report", "myreports", "forget", *REVIEW_COMMANDS} <= set(commands)
    api.send_group_text(plain.user, GROUP, "hello")
    for command in commands:
        for argument in ("", " add 7822 1 all"):
            calls = await plain.says(f"/{command}{argument}")
            seen = _visible(calls)
            assert victim_code not in seen and "Victim" not in seen, (command, seen)
            if command in REVIEW_COMMANDS:
                assert REFUSAL in seen, (command, seen)
            await plain.says("/cancel")  # leave whatever the command opened
            # The same command in a group: never a personal journey, never a report code.
            group_mark = api.mark()
            api.send_group_text(plain.user, GROUP, f"/{command}{argument}")
            await settle(bot, group_mark)
            in_group = _visible(_sent_to(api, GROUP, group_mark))
            assert victim_code not in in_group and "Victim" not in in_group
            assert "Who is reporting?" not in in_group, (command, in_group)
    # The plain user's own report, listed in a group, would tell the group who reported.
    own_code = await report_in_conversation(plain)
    group_mark = api.mark()
    for command in ("myreports", "forget", "report", "cancel"):
        api.send_group_text(plain.user, GROUP, f"/{command}")
    await settle(bot, group_mark)
    in_group = _visible(_sent_to(api, GROUP, group_mark))
    assert own_code not in in_group and "Delete?" not in in_group
    assert not api.refused_calls()


async def test_a_report_button_in_a_group_never_opens_a_report_there(
    secure_bot: RunningBot,
) -> None:
    bot, api = secure_bot, secure_bot.api
    person = Person(bot, api.user(7831, language_code="en"))
    await person.says("/report")
    await person.taps("report:role:witness")
    await person.taps("report:when:now")
    await person.says("Secret place")
    group_mark = api.mark()
    api.send_group_text(person.user, GROUP, "/start")
    await settle(bot, group_mark)
    menus = [m for m in api.bot_messages(GROUP) if m.get("reply_markup")]
    message = menus[-1] if menus else {"message_id": 1, "chat": {"id": GROUP, "type": "group"}}
    for data in ("menu:report", "report:start", "report:resume", "report:restart"):
        mark = api.mark()
        api.press_button(person.user, message, data, strict=False)
        await settle(bot, mark)
        shown = _visible(_sent_to(api, GROUP, mark))
        assert "Secret place" not in shown and "Who is reporting?" not in shown, (data, shown)
        assert "unfinished report" not in shown
    calls = await person.says("Almaty centre")  # the private draft is untouched: at the town
    assert "Town: Almaty." in person.texts(calls)
    assert not api.refused_calls()


FORGED_SETTINGS = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
async def victim_report(secure_bot: RunningBot) -> dict[str, Any]:
    """Someone else's report (with a volunteer on it) that forged buttons could aim at."""
    bot, api = secure_bot, secure_bot.api
    victim = Person(bot, api.user(7841, language_code="en"))
    code = await report_in_conversation(victim, name="Victim Name", police="Victim Police")
    [row] = await report_rows(bot.settings.database_url)
    admin = Person(bot, api.user(ADMIN_ID, first_name="Admin", language_code="en"))
    await admin.says("/queue")
    await admin.taps(f"rv:open:{row.id}")
    return {"code": code, "id": row.id, "patterns": all_callback_patterns(bot)}


@FORGED_SETTINGS
@given(data=st.data())
async def test_forged_buttons_of_every_prefix_give_a_plain_user_nothing(
    secure_bot: RunningBot, victim_report: dict[str, Any], data: st.DataObject
) -> None:
    bot, api = secure_bot, secure_bot.api
    language = data.draw(st.sampled_from(["en", "ru", "kk"]), label="language")
    plain = api.user(7842, language_code=language)
    pattern = data.draw(st.sampled_from(victim_report["patterns"]), label="pattern")
    forged = data.draw(st.from_regex(pattern, fullmatch=True), label="forged")
    if data.draw(st.booleans(), label="aim at the real report"):
        forged = re.sub(r"\d+", str(victim_report["id"]), forged)
    forged = forged.encode()[:64].decode("utf-8", "ignore")
    shown = api.bot_messages(7842) or api.bot_messages(ADMIN_ID)
    message = shown[-1] if shown else {"message_id": 1, "chat": {"id": 7842, "type": "private"}}
    message = {**message, "chat": {"id": 7842, "type": "private", "first_name": "Plain"}}
    mark = api.mark()
    with errors_logged() as errors:
        update = api.press_button(plain, message, forged, strict=False)
        await settle(bot, mark)
    calls = api.calls[mark:]
    assert not errors.records, [r.getMessage() for r in errors.records]
    seen = _visible(calls)
    assert victim_report["code"] not in seen and "Victim" not in seen, (forged, seen)
    assert not [c for c in calls if c.method == "sendDocument"]
    answers = [
        c
        for c in calls
        if c.method == "answerCallbackQuery"
        and c.params.get("callback_query_id") == update["callback_query"]["id"]
    ]
    assert answers and answers[0].ok  # every press is answered
    assert not [c for c in calls if not c.ok and not c.method.startswith("editMessage")]
    assert_html_or_plain_only(calls)
    if pattern.startswith(("^rv:", "^q:", "^ex:", "^st:")) and re.match(pattern, forged):
        # A localized refusal (in the language a forged lang:set: may have chosen), no more.
        refusals = {
            gettext_for(code)("Sorry, this is only for Jiyn volunteers.") for code in LANGUAGES
        }
        assert answers[0].params.get("text") in refusals


async def test_forged_report_buttons_at_every_step_change_nothing(
    secure_bot: RunningBot, database_url: str
) -> None:
    bot, api = secure_bot, secure_bot.api
    person = Person(bot, api.user(7851, language_code="en"))
    long_slug = "a" * (64 - len("report:city:"))
    forged = (
        "report:role:admin",
        "report:when:yesterday",
        f"report:city:{long_slug}",
        "report:city:nowhere",
        "report:count:999",
        "report:count:2-5\n",
        "report:edit:role",
        "report:edit:zzz",
        "report:consent:maybe",
        "report:media:done",
    )

    async def press_forged() -> None:
        """Press every forged button on the newest message; no handler may fail."""
        message = api.bot_messages(person.chat_id)[-1]
        for data in forged:
            mark = api.mark()
            with errors_logged() as errors:
                api.press_button(person.user, message, data, strict=False)
                await settle(bot, mark)
            assert not errors.records, (data, [r.getMessage() for r in errors.records])

    await person.says("/report")
    await press_forged()
    await person.taps("report:role:witness")
    await press_forged()
    await person.taps("report:when:now")
    await person.says("Abay square")
    await press_forged()
    await person.taps("report:city:almaty")
    await press_forged()
    await person.taps("report:count:1")
    await person.says("Name")
    await person.taps("report:skip")
    await person.taps("report:skip")
    await person.taps("report:skip")
    await person.taps("report:contact:telegram")
    await person.taps("report:consent:no")
    await press_forged()
    calls = await person.taps("report:confirm")
    assert CODE.search(person.texts(calls))
    [row] = await report_rows(database_url)
    assert row.city == "almaty" and row.people == "1" and row.reporter_role == "witness"
    assert not [c for c in api.refused_calls() if not c.method.startswith("editMessage")]


# ------------------------------------------------------------------ limits


async def test_reports_per_day_are_limited_per_person(secure_bot: RunningBot) -> None:
    bot, api = secure_bot, secure_bot.api
    flooder = Person(bot, api.user(7861, language_code="en"))
    for _ in range(limits.REPORTS_PER_DAY):
        await flooder.says("/report")
        calls = await flooder.taps("report:role:now")
        assert CODE.search(flooder.texts(calls))
        await flooder.says("/cancel")
    await flooder.says("/report")
    calls = await flooder.taps("report:role:now")
    assert "many reports today" in flooder.texts(calls)
    assert not CODE.search(flooder.texts(calls))
    # The full path is refused too, at the end, and someone else is not affected.
    other = Person(bot, api.user(7862, language_code="en"))
    assert await report_in_conversation(other)
    assert len(await report_rows(bot.settings.database_url)) == limits.REPORTS_PER_DAY + 1


async def test_oversized_answers_are_refused_and_the_longest_allowed_still_fit(
    secure_bot: RunningBot, database_url: str
) -> None:
    bot, api = secure_bot, secure_bot.api
    for language in ("kk", "ru", "en"):
        person = Person(
            bot, api.user(7870 + len(language) + ord(language[0]), language_code=language)
        )
        await person.says("/report")
        await person.taps("report:role:relative")
        await person.taps("report:when:now")
        calls = await person.says("🚨" * (limits.MAX_PLACE + 1))
        assert str(limits.MAX_PLACE) in person.texts(calls)
        await person.says("🚨" * limits.MAX_PLACE)  # emoji: two UTF-16 units each
        await person.taps("report:city:almaty")
        calls = await person.says(str(limits.MAX_PEOPLE + 1))
        await person.says(str(limits.MAX_PEOPLE))
        calls = await person.says("Ж" * (limits.MAX_NAME + 1))
        assert str(limits.MAX_NAME) in person.texts(calls)
        await person.says("&" * limits.MAX_NAME)  # each one becomes &amp; in the HTML
        await person.says("<" * limits.MAX_POLICE)
        calls = await person.says("x" * (limits.MAX_DETAILS + 1))
        assert str(limits.MAX_DETAILS) in person.texts(calls)
        await person.says("🚨" * limits.MAX_DETAILS)
        await person.taps("report:skip")
        await person.sends_contact("+7" + "0" * 40)
        calls = await person.taps("report:consent:yes")
        summaries = [c for c in calls if "report:confirm" in str(c.params.get("reply_markup"))]
        assert summaries and summaries[-1].ok, [c.description for c in calls if not c.ok]
        calls = await person.taps("report:confirm")
        assert CODE.search(person.texts(calls))
    rows = await report_rows(database_url)
    assert len(rows) == 3
    for row in rows:
        assert CIPHER.decrypt(row.details_enc) == "🚨" * limits.MAX_DETAILS  # stored whole
        assert len(CIPHER.decrypt(row.contact_phone_enc)) <= limits.MAX_PHONE
        assert row.people == str(limits.MAX_PEOPLE)
    assert not api.refused_calls()


# ------------------------------------------------------------------ exports


async def test_exports_neutralise_formulas_and_name_their_own_files(
    secure_bot: RunningBot,
) -> None:
    bot, api = secure_bot, secure_bot.api
    formulas = {
        "name": '=HYPERLINK("http://evil.example","click")',
        "police": "+cmd|' /C calc'!A0",
        "details": "-2+3",
        "place": "@SUM(1+1)",
    }
    reporter = Person(bot, api.user(7881, language_code="en"))
    await report_in_conversation(reporter, **formulas)
    admin = Person(bot, api.user(ADMIN_ID, first_name="Admin", language_code="en"))
    calls = await admin.says("/export ../../etc/passwd")
    assert not [c for c in calls if c.method == "sendDocument"]
    calls = await admin.says("/export")
    calls = await admin.taps("ex:all")
    uploads = [c.params["document"] for c in calls if c.method == "sendDocument" and c.ok]
    assert uploads and all(isinstance(upload, UploadedFile) for upload in uploads)
    for upload in uploads:
        assert re.fullmatch(r"jiyn-reports-[0-9a-z-]+\.(csv|json)", upload.filename or "")
    [table] = [u for u in uploads if (u.filename or "").endswith(".csv")]
    cells = [
        cell for row in csv.reader(io.StringIO(table.data.decode("utf-8-sig"))) for cell in row
    ]
    for typed in formulas.values():
        assert typed not in cells  # no cell starts with the formula as typed...
        assert any(typed in cell for cell in cells)  # ...but the text is all there
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    assert not api.refused_calls()
