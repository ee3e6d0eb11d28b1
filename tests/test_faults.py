"""Faults, end to end: the database missing at start and lost in the middle of a report, Telegram
answering 429, 5xx and nothing at all, and the process killed with SIGKILL mid-conversation.
Nothing a person sent may be lost."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.core.migrate import upgrade_database
from bot.localapi.server import ApiCall, LocalBotApi
from handlers.report.conversation import ReportStep
from tests.support.databases import (
    fresh_postgres_database,
    postgres_server_url,
    report_rows,
)
from tests.support.harness import (
    Person,
    RunningBot,
    make_settings,
    run_unpaced,
)
from tests.support.processes import (
    CIPHER,
    DATABASE_DOWN,
    NAME,
    PLACE,
    POLICE,
    SUBPROCESS_WAIT,
    CuttableProxy,
    RemotePerson,
    closed_port,
    draft_rows,
    run_env,
    start_report_until_count,
    to_user,
    until,
)

CODE = re.compile(r"R-[A-Z0-9]{4}")
DETAILS = "Увели к автозаку у акимата"


# ------------------------------------------------------------------ helpers













# ------------------------------------------------------------------ database down at start




async def _start_bot_process(environ: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        env=environ,
        cwd=str(cwd),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_database_never_reachable_at_start_is_retried_then_named_clearly(
    tmp_path: Path,
) -> None:
    port = closed_port()
    url = f"postgresql://jiyn:TopSecretPw42@127.0.0.1:{port}/jiyn"
    environ = run_env(tmp_path, JIYN_DATABASE_URL=url, JIYN_API_BASE_URL="http://127.0.0.1:9")
    process = await _start_bot_process(environ, tmp_path)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    output = (stdout + stderr).decode()
    attempts = [line for line in output.splitlines() if "is not available" in line]
    assert process.returncode not in (0, None), output
    assert len(attempts) >= 3, output  # it retried
    for number, line in enumerate(attempts, start=1):
        assert f"127.0.0.1:{port}/jiyn" in line  # names the database...
        assert f"attempt {number} of {len(attempts)}" in line
    assert "TopSecretPw42" not in output  # ...without its password
    assert "***" in attempts[0]
    assert "Traceback" not in output  # one clear line per attempt, not a stack trace


async def test_database_that_comes_up_during_the_retries_is_used(
    api: LocalBotApi, tmp_path: Path
) -> None:
    admin_url = postgres_server_url()
    async with fresh_postgres_database(admin_url) as direct_url:
        target = make_url(direct_url)
        proxy = CuttableProxy(target.host or "127.0.0.1", target.port or 5432)
        await proxy.start()
        await proxy.cut()  # the port is known and closed: the database is "still starting"
        proxied = target.set(host="127.0.0.1", port=proxy.port)
        environ = run_env(
            tmp_path,
            JIYN_DATABASE_URL=proxied.render_as_string(hide_password=False),
            JIYN_API_BASE_URL=api.base_url,
        )
        process = await _start_bot_process(environ, tmp_path)
        try:
            assert process.stderr is not None
            first = await asyncio.wait_for(
                _line_with(process.stderr, b"is not available"), SUBPROCESS_WAIT
            )
            assert b"attempt 1 of" in first
            await proxy.restore()
            await until(lambda: api.polls_waiting >= 1, "the bot to poll", SUBPROCESS_WAIT)
            user = api.user(7301, language_code="en")
            mark = api.mark()
            api.send_text(user, "/start")
            [greeting] = await api.wait_for_call(
                "sendMessage", since=mark, predicate=to_user(user), timeout=SUBPROCESS_WAIT
            )
            assert "Jiyn" in greeting.params["text"]
        finally:
            await _kill(process)
            await proxy.cut()


async def _line_with(stream: asyncio.StreamReader, needle: bytes) -> bytes:
    """The next line of the stream that contains needle."""
    while line := await stream.readline():
        if needle in line:
            return line
    raise AssertionError(f"the stream ended without {needle!r}")




async def _kill(process: asyncio.subprocess.Process) -> None:
    """SIGKILL the process (if still running) and reap it."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
    await process.wait()


# ------------------------------------------------------------------ database down mid-report




@pytest.fixture
async def proxied_postgres() -> AsyncIterator[tuple[str, str, CuttableProxy]]:
    """A migrated PostgreSQL database: (direct URL, URL through a cuttable proxy, the proxy)."""
    admin_url = postgres_server_url()
    async with fresh_postgres_database(admin_url) as direct_url:
        await asyncio.to_thread(upgrade_database, direct_url)
        target = make_url(direct_url)
        proxy = CuttableProxy(target.host or "127.0.0.1", target.port or 5432)
        await proxy.start()
        proxied = target.set(host="127.0.0.1", port=proxy.port)
        try:
            yield direct_url, proxied.render_as_string(hide_password=False), proxy
        finally:
            await proxy.cut()


async def test_database_lost_in_the_middle_of_a_report_keeps_and_saves_the_draft(
    api: LocalBotApi, proxied_postgres: tuple[str, str, CuttableProxy], tmp_path: Path
) -> None:
    direct_url, proxied_url, proxy = proxied_postgres
    async with run_unpaced(api, make_settings(api, proxied_url, tmp_path)) as bot:
        person = Person(bot, api.user(7401, language_code="en"))
        await start_report_until_count(person)
        reports = bot.application.bot_data["services"].reports

        await proxy.cut()
        calls = await person.taps("report:count:2-5")
        told = person.texts(calls)
        assert DATABASE_DOWN in told  # the person is told...
        assert "name" in told.lower()  # ...and the report goes on
        calls = await person.says(NAME)
        assert "police" in person.texts(calls).lower()
        assert reports.unsaved_drafts == 1
        # Answers to the button may come twice while handlers fail; nothing sent is refused.
        assert not [c for c in api.refused_calls() if c.method != "answerCallbackQuery"]

        await proxy.restore()
        await until(lambda: reports.unsaved_drafts == 0, "the kept draft to be saved")
        [(step, data)] = await draft_rows(direct_url)
        assert step == ReportStep.POLICE
        assert data.people == "2-5" and data.name == NAME and data.place == PLACE

        await person.says(POLICE)
        await person.says(DETAILS)
        await person.taps("report:skip")
        await person.taps("report:contact:telegram")
        await person.taps("report:consent:yes")
        calls = await person.taps("report:confirm")
        code = CODE.search(person.texts(calls))
        assert code, person.texts(calls)
    [row] = await report_rows(direct_url)
    assert row.code == code.group(0) and row.people == "2-5"
    assert CIPHER.decrypt(row.detained_name_enc) == NAME
    assert CIPHER.decrypt(row.police_unit_enc) == POLICE
    assert CIPHER.decrypt(row.details_enc) == DETAILS
    assert await draft_rows(direct_url) == []


async def test_a_report_sent_while_the_database_is_down_is_not_lost(
    api: LocalBotApi, proxied_postgres: tuple[str, str, CuttableProxy], tmp_path: Path
) -> None:
    direct_url, proxied_url, proxy = proxied_postgres
    async with run_unpaced(api, make_settings(api, proxied_url, tmp_path)) as bot:
        person = Person(bot, api.user(7402, language_code="en"))
        await start_report_until_count(person)
        await person.taps("report:count:1")
        await person.says(NAME)
        await person.taps("report:skip")
        await person.taps("report:skip")
        await person.taps("report:skip")
        await person.taps("report:contact:telegram")
        await person.taps("report:consent:no")

        await proxy.cut()
        calls = await person.taps("report:confirm")
        assert not CODE.search(person.texts(calls))  # not sent: it cannot be...
        assert person.texts(calls)  # ...but the person hears about it
        await proxy.restore()
        await until(
            lambda: bot.application.bot_data["services"].reports.unsaved_drafts == 0,
            "the kept draft to be saved",
        )
        calls = await person.taps("report:confirm")
        assert CODE.search(person.texts(calls)), person.texts(calls)
    [row] = await report_rows(direct_url)
    assert CIPHER.decrypt(row.detained_name_enc) == NAME


# ------------------------------------------------------------------ Telegram failing


def _injected(api: LocalBotApi, since: int) -> list[ApiCall]:
    return [call for call in api.calls[since:] if call.injected or call.cancelled]


@pytest.fixture
async def unpaced_bot(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> AsyncIterator[RunningBot]:
    """The real bot on a fresh database, not held back by Telegram's message pacing."""
    async with run_unpaced(api, make_settings(api, database_url, tmp_path)) as running:
        yield running


async def test_telegram_429_5xx_and_timeouts_are_retried_and_nothing_is_lost(
    unpaced_bot: RunningBot, database_url: str
) -> None:
    bot = unpaced_bot
    api = bot.api
    person = Person(bot, api.user(7501, language_code="en"))
    start = api.mark()

    api.fail_next("sendMessage", error_code=429, retry_after=1)
    calls = await person.says("/report")
    assert "Who is reporting?" in person.texts(calls)

    api.fail_next("answerCallbackQuery", error_code=502)
    api.fail_next("sendMessage", error_code=500, times=2)
    calls = await person.taps("report:role:witness")
    assert "When did it happen?" in person.texts(calls)

    api.hang_next("sendMessage", 7)  # longer than the read timeout: the client gives up
    calls = await person.taps("report:when:now")
    assert "Where did it happen?" in person.texts(calls)

    api.fail_next("getUpdates", error_code=502)
    api.fail_next("getUpdates", error_code=429, retry_after=1)
    await person.says(PLACE)
    api.fail_next("sendMessage", error_code=429, retry_after=2)
    await person.taps("report:city:almaty")
    api.fail_next("editMessageText", error_code=502)  # not used by reports: must stay queued
    await person.taps("report:count:6-20")
    api.fail_next("sendMessage", error_code=502)
    await person.says(NAME)
    await person.taps("report:skip")
    await person.taps("report:skip")
    await person.taps("report:skip")
    await person.taps("report:contact:telegram")
    await person.taps("report:consent:yes")
    api.fail_next("sendMessage", error_code=429, retry_after=1)
    calls = await person.taps("report:confirm")
    code = CODE.search(person.texts(calls))
    assert code, person.texts(calls)

    faults = _injected(api, start)
    assert len([c for c in faults if c.error_code == 429]) == 4
    assert len([c for c in faults if c.error_code in (500, 502)]) == 5
    assert [c for c in faults if c.cancelled and c.method == "sendMessage"]  # the timeout
    assert not [c for c in api.refused_calls() if not c.injected]

    # Every question arrived exactly once: retries lose nothing and repeat nothing.
    texts = [
        c.params["text"]
        for c in api.calls[start:]
        if c.ok and c.method == "sendMessage" and str(c.params["chat_id"]) == "7501"
    ]
    for question in (
        "Who is reporting?",
        "When did it happen?",
        "Which town or village? Choose it or type its name.",
        "How many people were detained? Choose or type a number.",
        "Which police station, unit or van number, if you know?",
        "May volunteers contact you about this report?",
    ):
        assert texts.count(question) == 1, (question, texts)
    [row] = await report_rows(database_url)
    assert row.code == code.group(0) and row.people == "6-20"
    assert CIPHER.decrypt(row.detained_name_enc) == NAME


# ------------------------------------------------------------------ SIGKILL




async def test_sigkill_in_the_middle_of_conversations_loses_nothing(
    api: LocalBotApi, tmp_path: Path
) -> None:
    database = tmp_path / "jiyn.sqlite3"
    environ = run_env(
        tmp_path, JIYN_DATABASE_URL=f"sqlite:///{database}", JIYN_API_BASE_URL=api.base_url
    )
    first = RemotePerson(api, api.user(7601, language_code="en"))
    second = RemotePerson(api, api.user(7602, language_code="ru"))

    process = await _start_bot_process(environ, tmp_path)
    try:
        await first.says("/report", "Who is reporting?")
        await first.taps("report:role:relative", "When did it happen?")
        await first.taps("report:when:now", "Where did it happen?")
        await first.says(PLACE, "Which town or village?")
        await first.taps("report:city:almaty", "How many people")
        await second.says("/report", "Кто сообщает?")
        await second.taps("report:role:witness", "Когда это произошло?")
        await first.taps("report:count:1", "name")
        # Killed without warning: the first person has answered up to the count, the second
        # has just pressed a button the bot may or may not have handled.
        await second.press("report:when:now")
        process.send_signal(signal.SIGKILL)
        await process.wait()
        # While the bot is dead, the first person goes on typing.
        mark = api.mark()
        api.send_text(first.user, NAME)
    finally:
        await _kill(process)

    process = await _start_bot_process(environ, tmp_path)
    try:
        await first._reply(mark, "police")  # the text sent while dead is answered now
        await first.says(POLICE, "What happened?")
        await first.says(DETAILS, "Photos, videos or voice messages?")
        await first.taps("report:media:done", "How can volunteers reach you?")
        await first.taps("report:contact:telegram", "May volunteers contact you")
        await first.taps("report:consent:yes", "Check your report")
        received = await first.taps("report:confirm", "is received")
        await until(lambda: second_has_where(api, second), "the second person's next question")
        await second.says("Абая 10", "В каком городе или селе?")
    finally:
        await _kill(process)

    url = f"sqlite+aiosqlite:///{database}"
    [row] = await report_rows(url)
    code = CODE.search(received)
    assert code and row.code == code.group(0)
    assert row.city == "almaty" and row.people == "1" and row.reporter_role == "relative"
    assert CIPHER.decrypt(row.detained_name_enc) == NAME
    assert CIPHER.decrypt(row.police_unit_enc) == POLICE
    assert CIPHER.decrypt(row.details_enc) == DETAILS
    assert CIPHER.decrypt_json(row.location_enc)["place"] == PLACE
    [(step, data)] = await draft_rows(url)  # the second person's draft, with their answers
    assert step == ReportStep.CITY
    assert data.role == "witness" and data.occurred_at and data.place == "Абая 10"


def second_has_where(api: LocalBotApi, person: RemotePerson) -> bool:
    """The second person was asked where it happened (before or after the kill)."""
    return any(
        "Где это произошло?" in str(c.params.get("text"))
        for c in api.calls
        if c.ok and c.method == "sendMessage" and to_user(person.user)(c)
    )
