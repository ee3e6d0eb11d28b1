"""Seeing inside: the health server's readiness and metrics for a running bot (nothing personal in
them), and unhandled errors summarised to the administrators at most once per error class per
interval, without the update's content or anyone's identity."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from telegram import Update
from telegram.ext import CommandHandler

from bot.health import HealthServer
from bot.localapi.server import LocalBotApi
from bot.services.error_summary import SUMMARY_INTERVAL, ErrorSummaries
from bot.telegram.context import JiynContext
from tests.support.databases import sqlite_failing
from tests.support.harness import Person, RunningBot, make_settings, run_bot, settle, to_chat

ADMIN = 8101
SECRET_TEXT = "Нурлан Секретов 87011234567"
NO_ANSWER = "как испечь торт с вишней"


async def _get(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.text()


@pytest.fixture
async def health(bot: RunningBot) -> AsyncIterator[HealthServer]:
    """The health server of the running bot, on a free loopback port."""
    services = bot.application.bot_data["services"]
    server = HealthServer(
        "127.0.0.1",
        0,
        services.metrics,
        services.engine,
        lambda: services.metrics.read_database(services.sessions),
        f"{bot.settings.api_base_url}/bot{bot.application.bot.token}/getMe",
        lambda: True,
    )
    await server.initialize()
    try:
        yield server
    finally:
        await server.shutdown()


def _value(metrics: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} ([0-9.e+-]+)$", metrics, re.MULTILINE)
    assert match, f"{series} not in the metrics"
    return float(match.group(1))


async def test_readiness_and_metrics_of_a_running_bot(
    bot: RunningBot, health: HealthServer
) -> None:
    assert await _get(health.port, "/healthz") == (200, '{"status": "ok"}')
    status, body = await _get(health.port, "/readyz")
    assert status == 200
    assert '"role": "active"' in body and '"database": true' in body and '"telegram": true' in body

    person = Person(bot, bot.api.user(8201, language_code="ru", first_name="Нурлан"))
    await person.says("Какой штраф за участие в несанкционированном митинге?")
    await person.says(NO_ANSWER)
    await person.says("/report")
    await person.taps("report:role:now")  # an urgent report nobody has claimed
    bot.api.fail_next("sendMessage", error_code=429, retry_after=1)
    await person.says(SECRET_TEXT)

    status, metrics = await _get(health.port, "/metrics")
    assert status == 200
    assert _value(metrics, 'jiyn_updates_total{kind="message"}') >= 4
    assert _value(metrics, 'jiyn_updates_total{kind="callback_query"}') >= 1
    assert _value(metrics, 'jiyn_update_seconds_count{kind="message"}') >= 4
    assert _value(metrics, 'jiyn_questions_unanswered_total{outcome="no_answer"}') == 1
    assert _value(metrics, "jiyn_reports_filed") == 1
    assert _value(metrics, "jiyn_urgent_unclaimed") == 1
    assert _value(metrics, "jiyn_urgent_unclaimed_oldest_seconds") >= 0
    assert _value(metrics, "jiyn_volunteer_alerts_waiting") == 1  # no volunteer chat here
    assert _value(metrics, "jiyn_telegram_429_retries_total") == 1
    assert _value(metrics, 'jiyn_telegram_errors_total{error="RetryAfter"}') == 1
    assert _value(metrics, "jiyn_database_errors_total") == 0
    assert _value(metrics, "jiyn_active") == 1
    # No label or value carries what people typed or who they are.
    for personal in ("8201", "Нурлан", "87011234567", "торт", "R-"):
        assert personal not in metrics, personal


async def test_readiness_says_when_telegram_is_unreachable(
    api: LocalBotApi, bot: RunningBot, health: HealthServer
) -> None:
    await api.stop()
    status, body = await _get(health.port, "/readyz")
    assert status == 503 and '"telegram": false' in body and '"database": true' in body


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # SQLite's write lock
async def test_readiness_while_the_sqlite_file_cannot_be_written(
    bot: RunningBot, health: HealthServer
) -> None:
    with sqlite_failing(bot, "readonly"):
        status, body = await _get(health.port, "/readyz")
    # the database can be read: the bot answers questions and shows the queue
    assert status == 200 and '"database": true' in body
    with sqlite_failing(bot, "io"):
        status, body = await _get(health.port, "/readyz")
    assert status == 503 and '"database": false' in body


async def _fail(update: Update, context: JiynContext) -> None:
    raise RuntimeError(SECRET_TEXT)  # an exception's message may hold what was typed


@pytest.fixture
async def admin_bot(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> AsyncIterator[RunningBot]:
    """The real bot with an administrator and a handler that fails on /fail."""
    settings = make_settings(api, database_url, tmp_path, JIYN_ADMIN_IDS=str(ADMIN))
    async with run_bot(api, settings) as running:
        running.application.add_handler(CommandHandler("fail", _fail), group=-5)
        yield running


async def test_unhandled_errors_are_summarised_to_admins_at_most_once_per_interval(
    admin_bot: RunningBot,
) -> None:
    bot = admin_bot
    services = bot.application.bot_data["services"]
    now = [1000.0]
    sent = services.errors._send
    services.errors = ErrorSummaries(
        sent, [ADMIN], lambda _admin: _language("ru"), clock=lambda: now[0]
    )
    person = Person(bot, bot.api.user(8301, language_code="en", first_name="Нурлан"))
    mark = bot.api.mark()
    for _ in range(3):
        await person.says(f"/fail {SECRET_TEXT}")
    await services.errors.shutdown()
    summaries = [c for c in await settle(bot, mark) if to_chat(ADMIN)(c)]
    [summary] = summaries  # three errors, one message
    text = summary.params["text"]
    assert "Необработанная ошибка в боте: RuntimeError" in text  # in the admin's language
    assert "Тип обновления: message" in text
    assert "Сколько раз с прошлой сводки: 1" in text
    for personal in (SECRET_TEXT, "Нурлан", "8301", "/fail"):
        assert personal not in text, personal

    now[0] += SUMMARY_INTERVAL + 1
    mark = bot.api.mark()
    await person.says("/fail again")
    await services.errors.shutdown()
    [later] = [c for c in await settle(bot, mark) if to_chat(ADMIN)(c)]
    assert "Сколько раз с прошлой сводки: 3" in later.params["text"]  # 2 held back, and this


async def _language(language: str) -> str:
    return language
