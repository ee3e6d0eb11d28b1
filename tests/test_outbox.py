"""Telegram outages, end to end through the local Bot API server: the messages that matter (a
report's confirmation, a status update, a relayed message) wait in the outbox and arrive exactly
once after the outage, also across a restart in the middle; answers are retried for
JIYN_ANSWER_RETRY_SECONDS; the outage is logged once; an update the library cannot read is
skipped and the ones after it are answered. Durations are seconds instead of minutes."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, update
from telegram.error import NetworkError
from telegram.ext import ExtBot

from bot.app import build_application
from bot.core.config import Settings
from bot.core.i18n import gettext_for
from bot.core.models import OutboxMessage, Report, ReportStatus, utcnow
from bot.localapi.server import ApiCall, LocalBotApi
from bot.runner import polling
from bot.services.review.notify import ALERT
from bot.telegram.http import RetryPolicy, TelegramRateLimiter, make_request
from bot.telegram.outbox import ESCALATION, RELAY, STATUS, Outbox
from tests.support.harness import REPORT_CODE, Person, RunningBot, make_settings, settle
from tests.support.processes import until
from tests.support.review import (
    FAST_LIMITS,
    REPORTER_ID,
    USER_ID,
    VOLUNTEER_CHAT,
    VOLUNTEER_ID,
    Reviewer,
    add_people,
    file_report,
    make_volunteer,
    report_events,
    report_row,
    review_settings_env,
    said,
    services,
)

SEND_METHODS_DOWN = ("getUpdates",)  # the outage spares only the updates' side (see below)


def delivered(api: LocalBotApi, chat_id: int, fragment: str, since: int = 0) -> list[ApiCall]:
    """Messages Telegram accepted for the chat whose text contains `fragment`."""
    return [
        call
        for call in api.calls[since:]
        if call.method == "sendMessage"
        and call.ok
        and str(call.params.get("chat_id")) == str(chat_id)
        and fragment in str(call.params.get("text", ""))
    ]


def outage_settings(api: LocalBotApi, database_url: str, tmp_path: Path) -> Settings:
    settings = make_settings(
        api, database_url, tmp_path, **review_settings_env(JIYN_ANSWER_RETRY_SECONDS="1")
    )
    return dataclasses.replace(settings, outbox_backoff=(0.05, 0.3))


@asynccontextmanager
async def running(api: LocalBotApi, settings: Settings) -> AsyncIterator[RunningBot]:
    application = build_application(settings, rate_limits=FAST_LIMITS)
    async with polling(application, poll_timeout=1):
        bot = RunningBot(api=api, application=application, settings=settings)
        notifier = services(bot).notifier
        assert notifier is not None
        notifier.interval = 0.05
        yield bot


async def outbox_rows(bot: RunningBot) -> list[OutboxMessage]:
    async with services(bot).sessions() as session:
        return list((await session.scalars(select(OutboxMessage))).all())


async def wait_until_empty(bot: RunningBot, seconds: float = 20.0) -> None:
    outbox = services(bot).outbox
    assert outbox is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while await outbox.waiting():
        assert loop.time() < deadline, "the outbox was not emptied"
        await asyncio.sleep(0.05)


async def act(bot: RunningBot, action: Any) -> None:
    """Do something as a user during the outage and wait until the bot has handled it (its
    answers retried for JIYN_ANSWER_RETRY_SECONDS, then given up)."""
    mark = bot.api.mark()
    action()
    await settle(bot, mark, wait=30.0)


async def test_a_long_outage_loses_no_confirmation_status_or_relay_even_across_a_restart(
    api: LocalBotApi, database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An outage much longer than answers are retried (the five minutes of a real one made
    seconds): a report confirmed, a status changed and a relayed message during it, a restart
    in the middle, and each of the three arrives exactly once when Telegram is back.

    The outage spares getUpdates: updates must reach the bot for anything to happen during it
    (in a total outage nothing is confirmed until getUpdates works again, and then the updates
    are handled as usual)."""
    caplog.set_level(logging.INFO)
    people = add_people(api)
    settings = outage_settings(api, database_url, tmp_path)
    relayed_text = "Адвокат уже едет в РУВД"
    async with running(api, settings) as bot:
        await settle(bot, 0)
        await make_volunteer(bot, VOLUNTEER_ID)
        report_id, code = await file_report(bot, people["reporter"], consent=True)
        volunteer = Reviewer(bot, people["volunteer"])
        await volunteer.opens(report_id)
        await volunteer.taps(f"rv:claim:{report_id}")
        await volunteer.taps(f"rv:write:{report_id}")
        # Another person writes a report up to its summary.
        person = Person(bot, people["user"])
        await person.says("/report")
        for tap in ("report:role:witness", "report:when:now"):
            await person.taps(tap)
        await person.says("У акимата")
        for tap in ("report:city:almaty", "report:count:1", "report:skip", "report:skip"):
            await person.taps(tap)
        await person.says("Задержали за плакат")
        for tap in ("report:skip", "report:contact:telegram", "report:consent:yes"):
            await person.taps(tap)
        summary = [
            m for m in api.bot_messages(USER_ID) if "report:confirm" in str(m.get("reply_markup"))
        ][-1]

        start = api.mark()
        api.outage(600, spare=SEND_METHODS_DOWN)
        await act(bot, lambda: api.press_button(people["user"], summary, "report:confirm"))
        await act(bot, lambda: api.send_text(people["volunteer"], relayed_text))
        await act(bot, lambda: forge_press(api, people["volunteer"], f"rv:verify:{report_id}"))
        rows = await outbox_rows(bot)
        # The alert: the report confirmed (and the one filed before, if it was not out yet).
        assert sorted(row.kind for row in rows) == ["alert", "confirmation", "relay", "status"]
        for row in rows:  # the chat id and the text are ciphertext
            assert relayed_text.encode() not in row.payload_enc
            assert str(REPORTER_ID).encode() not in row.payload_enc
        assert not [c for c in api.calls[start:] if c.method == "sendMessage" and c.ok]

    # The restart in the middle of the outage: a new process on the same database, started
    # while Telegram still fails (it waits for getMe), serving when Telegram is back.
    async def second_process() -> None:
        async with running(api, settings) as bot:
            await wait_until_empty(bot)
            await asyncio.sleep(0.5)  # nothing more comes

    second = asyncio.create_task(second_process())
    await asyncio.sleep(1.5)
    assert not [c for c in api.calls[start:] if c.method == "sendMessage" and c.ok]
    api.end_outage()
    await asyncio.wait_for(second, 60)

    [confirmation] = delivered(api, USER_ID, "is received", start)
    assert confirmation.params["parse_mode"] == "HTML"
    filed = REPORT_CODE.search(confirmation.params["text"])
    assert filed is not None
    for announced in (code, filed.group(0)):  # each report's alert, once
        assert len(delivered(api, VOLUNTEER_CHAT, announced)) == 1, announced
    [relay] = delivered(api, REPORTER_ID, relayed_text, start)
    assert "rl:re:" in str(relay.params.get("reply_markup"))
    ru = gettext_for("ru")  # the reporter's language
    [status] = delivered(
        api,
        REPORTER_ID,
        ru("Update on your report {code}: {status}.").format(code=code, status=ru("verified")),
        start,
    )
    assert status.params["parse_mode"] == "HTML"
    # Per process one warning when Telegram stopped answering, one line when it was back; no
    # traceback for the failed calls.
    down = [r for r in caplog.records if "Bot API is not answering calls" in r.getMessage()]
    back = [r for r in caplog.records if "Bot API answers calls again" in r.getMessage()]
    assert 1 <= len(down) <= 2
    assert len(back) >= 1
    assert not [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], NetworkError)]


def forge_press(api: LocalBotApi, user: dict[str, Any], data: str) -> None:
    """A button press as tests.support.review.forge makes it, without waiting."""
    message = {
        "message_id": 987654,
        "date": 0,
        "chat": {"id": user["id"], "type": "private", "first_name": "X"},
        "text": "forged",
    }
    api.press_button(user, message, data, strict=False)


async def test_answers_are_retried_through_an_outage_shorter_than_the_answer_retry(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    """JIYN_ANSWER_RETRY_SECONDS: the reply to /rights sent while Telegram answers 500 arrives
    once Telegram is back (8 seconds used to be the most an answer survived)."""
    people = add_people(api)
    settings = make_settings(
        api, database_url, tmp_path, **review_settings_env(JIYN_ANSWER_RETRY_SECONDS="20")
    )
    async with running(api, settings) as bot:
        await settle(bot, 0)
        start = api.mark()
        api.outage(3.0, spare=SEND_METHODS_DOWN)
        api.send_text(people["user"], "/rights")
        await settle(bot, start, wait=30.0)
        answers = [
            c
            for c in api.calls[start:]
            if c.method == "sendMessage" and c.ok and str(c.params.get("chat_id")) == str(USER_ID)
        ]
        assert answers, "the answer was lost"
        assert any(not c.ok for c in api.calls[start:] if c.method == "sendMessage")


async def test_time_bounded_retries_outlast_the_retry_count(api: LocalBotApi) -> None:
    api.user(5901)
    policy = RetryPolicy(network_retries=1, backoff_base=0.05, backoff_cap=0.2, retry_seconds=5)
    bot = ExtBot(
        "123:abc",
        base_url=f"{api.base_url}/bot",
        request=make_request(4),
        rate_limiter=TelegramRateLimiter(retry=policy),
    )
    async with bot:
        api.outage(1.0)
        mark = api.mark()
        message = await bot.send_message(5901, "after the outage")
        assert message.text == "after the outage"
        attempts = [c for c in api.calls[mark:] if c.method == "sendMessage"]
        assert len(attempts) > 2 and attempts[-1].ok
        assert sum(c.ok for c in attempts) == 1


async def test_the_outbox_keeps_each_chats_order_and_drops_what_expired(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    settings = outage_settings(api, database_url, tmp_path)
    async with running(api, settings) as bot:
        await settle(bot, 0)
        outbox = services(bot).outbox
        assert isinstance(outbox, Outbox)
        outbox.expiry[STATUS] = timedelta(seconds=0.5)
        start = api.mark()
        api.outage(600, spare=SEND_METHODS_DOWN)
        for n in range(3):
            await outbox.send(RELAY, REPORTER_ID, f"message {n}")
        await outbox.send(STATUS, people["user"]["id"], "stale status")
        await asyncio.sleep(1.0)
        api.end_outage()
        await wait_until_empty(bot)
        texts = [c.params["text"] for c in api.calls[start:] if c.method == "sendMessage" and c.ok]
        assert texts == ["message 0", "message 1", "message 2"]
        metrics = services(bot).metrics
        assert metrics.outbox_dropped.labels(STATUS, "expired")._value.get() == 1
        assert metrics.outbox_delivered.labels(RELAY)._value.get() == 3


async def test_an_update_the_library_cannot_read_is_skipped_and_the_next_ones_answered(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    """A poll without the fields PTB 22 requires (an older self-hosted telegram-bot-api sends
    such updates): skipped once, logged without its content, counted; nothing stalls."""
    caplog.set_level(logging.INFO)
    api = bot.api
    user = api.user(6101, first_name="Айгерим", language_code="ru")
    start = api.mark()
    api.queue_update({"poll": {"id": "9", "question": "Secret question of Айгерим?"}})
    calls = await bot.say(user, "/start")
    assert calls
    calls = await bot.say(user, "/rights")
    assert calls
    polls = [c for c in api.calls[start:] if c.method == "getUpdates"]
    assert len(polls) < 30  # not the same update fetched over and over
    skipped = [r for r in caplog.records if "cannot read" in r.getMessage()]
    assert len(skipped) == 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Secret question" not in logged and "Айгерим" not in logged
    metrics = bot.application.bot_data["services"].metrics
    assert metrics.updates_unparsable._value.get() == 1
    assert b"jiyn_updates_unparsable_total 1.0" in metrics.exposition()


async def test_forget_deletes_the_messages_waiting_for_the_person(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    settings = outage_settings(api, database_url, tmp_path)
    async with running(api, settings) as bot:
        await settle(bot, 0)
        outbox = services(bot).outbox
        assert outbox is not None
        api.outage(600, spare=SEND_METHODS_DOWN)
        await outbox.send(STATUS, REPORTER_ID, "for the reporter")
        await outbox.send(STATUS, people["user"]["id"], "for someone else")
        assert await outbox.forget_chat(REPORTER_ID) == 1
        api.end_outage()
        await wait_until_empty(bot)
        assert not delivered(api, REPORTER_ID, "for the reporter")
        assert delivered(api, USER_ID, "for someone else")


async def test_a_status_change_and_the_reporters_update_are_saved_together(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    """The status change and the reporter's update in the outbox are one transaction (a crash
    between two would lose the update): when the outbox row cannot be written the status does
    not change either, and after a change both are saved, waiting out an outage together."""
    people = add_people(api)
    settings = outage_settings(api, database_url, tmp_path)
    async with running(api, settings) as bot:
        await settle(bot, 0)
        await make_volunteer(bot, VOLUNTEER_ID)
        report_id, code = await file_report(bot, people["reporter"])
        volunteer = Reviewer(bot, people["volunteer"])
        await volunteer.opens(report_id)
        engine = services(bot).engine.sync_engine

        def outbox_fails(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
                raise ConnectionError("the outbox cannot be written")

        event.listen(engine, "before_cursor_execute", outbox_fails)
        try:
            calls = await volunteer.taps(f"rv:claim:{report_id}")
        finally:
            event.remove(engine, "before_cursor_execute", outbox_fails)
        assert "database is not answering" in said(calls)
        row = await report_row(bot, report_id)
        assert row.status == ReportStatus.NEW.value and row.claimed_by_hash is None
        assert "claimed" not in [e.action for e in await report_events(bot, report_id)]
        assert not await outbox_rows(bot)

        start = api.mark()
        api.outage(600, spare=SEND_METHODS_DOWN)
        await act(bot, lambda: forge_press(api, people["volunteer"], f"rv:claim:{report_id}"))
        assert (await report_row(bot, report_id)).status == ReportStatus.IN_REVIEW.value
        assert [row.kind for row in await outbox_rows(bot)] == [STATUS]
        api.end_outage()
        await wait_until_empty(bot)
        ru = gettext_for("ru")  # the reporter's language
        text = ru("Update on your report {code}: {status}.").format(
            code=code, status=ru("a volunteer is working on it")
        )
        [update] = delivered(api, REPORTER_ID, text, start)
        assert f"rl:new:{report_id}" in str(update.params.get("reply_markup"))


async def test_volunteer_alerts_and_escalations_wait_out_an_outage_across_a_restart(
    api: LocalBotApi, database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The volunteer chat's alert of a new report and the escalation of an urgent report nobody
    claimed are written to the outbox with the reports' marks: during an outage they wait there,
    encrypted; a report filed meanwhile is folded into the next alert instead of a message per
    slot piling up; after a restart in the middle, each arrives once when Telegram is back."""
    caplog.set_level(logging.INFO)
    people = add_people(api)
    settings = outage_settings(api, database_url, tmp_path)
    async with running(api, settings) as bot:
        await settle(bot, 0)
        notifier = services(bot).notifier
        assert notifier is not None
        start = api.mark()
        api.outage(600, spare=SEND_METHODS_DOWN)
        urgent_id, urgent = await file_report(bot, people["reporter"], urgent=True)
        notifier.wake()
        await until(lambda: api.refused_calls()[start:], "the alert to be tried")
        async with services(bot).sessions.begin() as session:
            await session.execute(
                update(Report)
                .where(Report.id == urgent_id)
                .values(created_at=utcnow() - timedelta(minutes=11))
            )
        [escalation_job] = bot.application.job_queue.get_jobs_by_name("review-escalation")
        await escalation_job.run(bot.application)
        calm_id, calm = await file_report(bot, people["reporter"])
        notifier.wake()
        await asyncio.sleep(0.5)  # ten of the notifier's slots (0.05 s in the tests)
        rows = await outbox_rows(bot)
        assert sorted(row.kind for row in rows) == [ALERT, ESCALATION]
        for row in rows:  # the chat and the text are ciphertext
            assert urgent.encode() not in row.payload_enc
            assert str(VOLUNTEER_CHAT).encode() not in row.payload_enc
        urgent_row = await report_row(bot, urgent_id)
        assert urgent_row.notified_at is not None and urgent_row.escalated_at is not None
        assert (await report_row(bot, calm_id)).notified_at is None  # waits for the next alert
        assert not [c for c in api.calls[start:] if c.method == "sendMessage" and c.ok]

    async def second_process() -> None:
        async with running(api, settings) as bot:
            await until(lambda: delivered(api, VOLUNTEER_CHAT, calm, start), "the next alert")
            await wait_until_empty(bot)
            [job] = bot.application.job_queue.get_jobs_by_name("review-escalation")
            await job.run(bot.application)  # escalated once: nothing more
            await asyncio.sleep(0.5)

    second = asyncio.create_task(second_process())
    await asyncio.sleep(1.5)
    assert not [c for c in api.calls[start:] if c.method == "sendMessage" and c.ok]
    api.end_outage()
    await asyncio.wait_for(second, 60)

    texts = [call.params["text"] for call in delivered(api, VOLUNTEER_CHAT, "", start)]
    assert len(texts) == 3, texts
    alert, escalation, later = texts
    assert urgent in alert and "URGENT" in alert and calm not in alert
    assert urgent in escalation and "without a volunteer" in escalation
    assert calm in later and urgent not in later
    assert not [r for r in caplog.records if r.exc_info]
