"""The Bot API client under load, against the local Bot API server: the aiohttp request class,
pacing to Telegram's limits, and retries of 429, 5xx and timeouts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, TimedOut
from telegram.ext import ExtBot

from bot.core.migrate import upgrade_database
from bot.localapi.server import ApiCall, LocalBotApi
from bot.telegram.http import (
    AiohttpRequest,
    RetryPolicy,
    TelegramLimits,
    TelegramRateLimiter,
    Window,
    is_paced,
)
from tests.support.harness import TEST_TOKEN, make_settings, run_bot

GROUP_ID = -100200300
# A call is counted when the limiter lets it go and timed here when it reaches the request
# class a few synchronous steps later; allow for that when counting calls per window.
SLACK = 0.005
# Fast retries, so the tests of retrying do not wait half a second per attempt.
QUICK_RETRIES = RetryPolicy(network_retries=3, backoff_base=0.01, backoff_cap=0.05)


def make_bot(
    api: LocalBotApi,
    limits: TelegramLimits | None = None,
    retry: RetryPolicy | None = QUICK_RETRIES,
    *,
    with_limiter: bool = True,
) -> ExtBot[None]:
    """A real PTB bot on the aiohttp request class, with the rate limiter, pointed at the server."""
    return ExtBot(
        TEST_TOKEN,
        base_url=f"{api.base_url}/bot",
        base_file_url=f"{api.base_url}/file/bot",
        request=AiohttpRequest(),
        get_updates_request=AiohttpRequest(1),
        rate_limiter=TelegramRateLimiter(limits, retry) if with_limiter else None,
    )


@pytest.fixture
async def tg_bot(api: LocalBotApi) -> AsyncIterator[ExtBot[None]]:
    """An initialised bot with the default limits and quick retries."""
    async with make_bot(api) as bot:
        yield bot


def sent(api: LocalBotApi, chat_id: int, since: int = 0) -> list[ApiCall]:
    """Successful sendMessage calls to one chat, in the order the server carried them out."""
    return [
        call
        for call in api.calls[since:]
        if call.ok and call.method == "sendMessage" and call.params.get("chat_id") == chat_id
    ]


def most_in_any_window(times: Sequence[float], seconds: float) -> int:
    """The largest number of the times that fall in one interval `seconds` long."""
    ordered = sorted(times)
    return max(
        (
            sum(1 for other in ordered[index:] if other < start + seconds)
            for index, start in enumerate(ordered)
        ),
        default=0,
    )


# ----------------------------------------------------------------------------- what is paced


def test_messages_are_paced_but_query_answers_and_chat_actions_are_not() -> None:
    for method in ("sendMessage", "sendPhoto", "copyMessage", "editMessageText", "sendVenue"):
        assert is_paced(method), method
    for method in ("answerCallbackQuery", "answerInlineQuery", "sendChatAction", "getMe"):
        assert not is_paced(method), method


def test_most_in_any_window_counts_a_sliding_window() -> None:
    assert most_in_any_window([0.0, 0.1, 0.5, 1.05, 1.2], 1.0) == 3
    assert most_in_any_window([], 1.0) == 0


# ----------------------------------------------------------------------------- retries


async def test_429_is_retried_after_the_wait_and_nothing_is_lost(
    api: LocalBotApi, tg_bot: ExtBot[None]
) -> None:
    chat_ids = [5001 + index for index in range(6)]
    for chat_id in chat_ids:
        api.user(chat_id)
    api.fail_next("sendMessage", error_code=429, retry_after=1, times=3)
    mark = api.mark()
    messages = await asyncio.gather(
        *(tg_bot.send_message(chat_id, f"to {chat_id}") for chat_id in chat_ids)
    )
    assert [message.chat.id for message in messages] == chat_ids
    for chat_id in chat_ids:
        assert [call.params["text"] for call in sent(api, chat_id, mark)] == [f"to {chat_id}"]
    refused = [call for call in api.calls[mark:] if not call.ok]
    assert [(call.error_code, call.injected) for call in refused] == [(429, True)] * 3


async def test_a_chat_told_to_wait_keeps_its_order(api: LocalBotApi, tg_bot: ExtBot[None]) -> None:
    api.user(5101)
    api.fail_next("sendMessage", error_code=429, retry_after=1)
    mark = api.mark()
    # Both are sent at once; the first one is refused with 429 and must still arrive first.
    await asyncio.gather(tg_bot.send_message(5101, "first"), tg_bot.send_message(5101, "second"))
    assert [call.params["text"] for call in sent(api, 5101, mark)] == ["first", "second"]


@pytest.mark.parametrize("error_code", [500, 502])
async def test_server_errors_are_retried(
    api: LocalBotApi, tg_bot: ExtBot[None], error_code: int
) -> None:
    api.user(5201)
    api.fail_next("sendMessage", error_code=error_code, times=2)
    mark = api.mark()
    message = await tg_bot.send_message(5201, "after two failures")
    assert message.text == "after two failures"
    attempts = [call for call in api.calls[mark:] if call.method == "sendMessage"]
    assert [call.error_code for call in attempts] == [error_code, error_code, None]


async def test_a_timeout_is_retried_and_the_message_arrives_once(
    api: LocalBotApi, tg_bot: ExtBot[None]
) -> None:
    api.user(5301)
    api.hang_next("sendMessage", 5.0)  # not carried out if the client gives up first
    mark = api.mark()
    message = await tg_bot.send_message(5301, "patience", read_timeout=0.3)
    assert message.text == "patience"
    assert [call.params["text"] for call in sent(api, 5301, mark)] == ["patience"]
    attempts = [call for call in api.calls[mark:] if call.method == "sendMessage"]
    assert [call.cancelled for call in attempts] == [True, False]


async def test_network_retries_are_bounded(api: LocalBotApi, tg_bot: ExtBot[None]) -> None:
    api.user(5401)
    api.fail_next("sendMessage", error_code=500, times=10)
    mark = api.mark()
    with pytest.raises(NetworkError):
        await tg_bot.send_message(5401, "never")
    attempts = [call for call in api.calls[mark:] if call.method == "sendMessage"]
    assert len(attempts) == 1 + QUICK_RETRIES.network_retries


async def test_refusals_are_not_retried(api: LocalBotApi, tg_bot: ExtBot[None]) -> None:
    api.user(5501)
    api.set_blocked(5501)
    mark = api.mark()
    with pytest.raises(BadRequest):
        await tg_bot.send_message(424242, "nobody")  # a chat the server does not know
    with pytest.raises(Forbidden):
        await tg_bot.send_message(5501, "blocked")
    attempts = [call for call in api.calls[mark:] if call.method == "sendMessage"]
    assert len(attempts) == 2


async def test_a_flood_wait_longer_than_the_policy_allows_is_raised(api: LocalBotApi) -> None:
    api.user(5601)
    api.fail_next("sendMessage", error_code=429, retry_after=3600)
    async with make_bot(api, retry=RetryPolicy(max_retry_after=60)) as bot:
        with pytest.raises(Exception, match="Flood control"):
            await bot.send_message(5601, "later")


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=4.0)
    for retry_number, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 4.0), (9, 4.0)]:
        delay = policy.backoff(retry_number)
        assert ceiling / 2 <= delay <= ceiling


# ----------------------------------------------------------------------------- pacing


class RecordingRequest(AiohttpRequest):
    """The real request class, noting when each sendMessage leaves for the server.

    The limits are about when calls are sent; the server's own clock would add the loopback's
    delays (a first connection, a busy machine) and blur the count."""

    def __init__(self) -> None:
        super().__init__()
        self.sent_at: list[tuple[float, object]] = []  # (time.monotonic(), chat_id)

    async def do_request(self, url: str, method: str, request_data: Any = None, **kw: Any) -> Any:
        """Note the time, then send as usual."""
        if url.endswith("/sendMessage") and request_data is not None:
            self.sent_at.append((time.monotonic(), request_data.parameters.get("chat_id")))
        return await super().do_request(url, method, request_data, **kw)


def paced_bot(
    api: LocalBotApi, limits: TelegramLimits | None
) -> tuple[ExtBot[None], RecordingRequest]:
    """A bot whose sendMessage calls are timed as they leave; limits=None: no rate limiter."""
    request = RecordingRequest()
    bot = ExtBot(
        TEST_TOKEN,
        base_url=f"{api.base_url}/bot",
        request=request,
        get_updates_request=AiohttpRequest(1),
        rate_limiter=TelegramRateLimiter(limits, QUICK_RETRIES) if limits else None,
    )
    return bot, request


async def test_a_burst_to_one_group_is_paced_and_kept_in_order(api: LocalBotApi) -> None:
    user = api.user(5701)
    api.send_group_text(user, GROUP_ID, "hello")  # the group becomes known to the server
    group_window = Window(4, 1.0)
    bot, request = paced_bot(api, TelegramLimits(group_chat=(group_window,)))
    mark = api.mark()
    async with bot:
        await asyncio.gather(*(bot.send_message(GROUP_ID, f"n{index}") for index in range(10)))
    calls = sent(api, GROUP_ID, mark)
    assert [call.params["text"] for call in calls] == [f"n{index}" for index in range(10)]
    times = [moment for moment, _chat in request.sent_at]
    assert len(times) == 10
    assert most_in_any_window(times, group_window.seconds - SLACK) <= group_window.limit


async def test_a_burst_to_one_private_chat_is_paced(api: LocalBotApi) -> None:
    api.user(5801)
    window = Window(2, 0.5)
    bot, request = paced_bot(api, TelegramLimits(private_chat=(window,)))
    mark = api.mark()
    async with bot:
        await asyncio.gather(*(bot.send_message(5801, f"n{index}") for index in range(6)))
    calls = sent(api, 5801, mark)
    assert [call.params["text"] for call in calls] == [f"n{index}" for index in range(6)]
    times = [moment for moment, _chat in request.sent_at]
    assert most_in_any_window(times, window.seconds - SLACK) <= window.limit


async def test_a_burst_to_many_users_keeps_the_overall_limit(api: LocalBotApi) -> None:
    chat_ids = [5900 + index for index in range(20)]
    for chat_id in chat_ids:
        api.user(chat_id)
    overall = Window(5, 0.5)
    bot, request = paced_bot(api, TelegramLimits(overall=(overall,)))
    mark = api.mark()
    async with bot:
        await asyncio.gather(*(bot.send_message(chat_id, "news") for chat_id in chat_ids))
    assert all(len(sent(api, chat_id, mark)) == 1 for chat_id in chat_ids)
    times = [moment for moment, _chat in request.sent_at]
    assert len(times) == len(chat_ids)
    assert most_in_any_window(times, overall.seconds - SLACK) <= overall.limit


async def test_without_the_limiter_the_same_burst_breaks_the_limit(api: LocalBotApi) -> None:
    """The window counts above can fail: unpaced, the burst leaves in one window."""
    chat_ids = [6000 + index for index in range(20)]
    for chat_id in chat_ids:
        api.user(chat_id)
    bot, request = paced_bot(api, None)
    async with bot:
        await asyncio.gather(*(bot.send_message(chat_id, "news") for chat_id in chat_ids))
    assert most_in_any_window([moment for moment, _chat in request.sent_at], 0.5) > 5


# ----------------------------------------------------------------------------- the request class


async def test_uploads_and_downloads_go_through_aiohttp(
    api: LocalBotApi, tg_bot: ExtBot[None]
) -> None:
    api.user(6101)
    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x03\x08\x02\x00\x00\x00"
        + b"\x00" * 16
    )
    message = await tg_bot.send_photo(6101, png, caption="a <b>photo</b>", parse_mode="HTML")
    assert message.caption == "a photo"
    largest = message.photo[-1]
    assert (largest.width, largest.height) == (2, 3)
    document = await tg_bot.send_document(6101, b"report text", filename="report.txt")
    assert document.document.file_name == "report.txt"
    file = await tg_bot.get_file(document.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"report text"


async def test_a_hung_call_times_out_as_timed_out(api: LocalBotApi) -> None:
    async with make_bot(api, with_limiter=False) as bot:
        api.hang_next("getMe", 5.0)
        with pytest.raises(TimedOut):
            await bot.get_me(read_timeout=0.2)


async def test_a_server_that_is_gone_is_a_network_error(api: LocalBotApi) -> None:
    request = AiohttpRequest(connect_timeout=1.0)
    bot = ExtBot(TEST_TOKEN, base_url=f"{api.base_url}/bot", request=request)
    await request.initialize()
    try:
        await api.stop()
        with pytest.raises(NetworkError) as raised:
            await bot.get_me()
        assert not isinstance(raised.value, BadRequest)
    finally:
        await request.shutdown()


async def test_the_request_class_must_be_initialized() -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/", "GET")
    with pytest.raises(ValueError, match="pool_size"):
        AiohttpRequest(0)


# ----------------------------------------------------------------------------- wiring


async def test_the_application_uses_aiohttp_and_the_rate_limiter(
    api: LocalBotApi, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'http.sqlite3'}"
    await asyncio.to_thread(upgrade_database, url)
    async with run_bot(api, make_settings(api, url, tmp_path), rate_limits=None) as running:
        bot = running.application.bot
        assert isinstance(bot.request, AiohttpRequest)
        assert isinstance(bot.rate_limiter, TelegramRateLimiter)
        assert bot.rate_limiter.limits == TelegramLimits()
        api.user(6201)
        api.fail_next("sendMessage", error_code=429, retry_after=1)
        mark = api.mark()
        await bot.send_message(6201, "through the running application")
        assert len(sent(api, 6201, mark)) == 1
