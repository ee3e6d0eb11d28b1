"""The local Bot API server, driven by the real python-telegram-bot over loopback."""

from __future__ import annotations

import asyncio
import datetime as dtm
import io
import json
import socket
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    KeyboardButton,
    MenuButtonCommands,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)
from telegram.request import HTTPXRequest

from bot.localapi.server import NOT_MODIFIED, QUERY_TOO_OLD, WEBHOOK_CONFLICT, ApiCall, LocalBotApi

TOKEN = "123456:LocalTestToken"
USER_ID = 1001
# A 1x1 PNG header is all the server reads to size a photo.
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    + (640).to_bytes(4, "big")
    + (480).to_bytes(4, "big")
    + b"\x08\x02\x00\x00\x00"
)
GUARD = 5.0  # seconds before a stuck await fails the test (never reached when things work)


@pytest.fixture
async def server() -> AsyncIterator[LocalBotApi]:
    """A running local Bot API server with one known user."""
    api = LocalBotApi()
    await api.start()
    api.user(USER_ID, first_name="Aigerim", language_code="kk")
    try:
        yield api
    finally:
        await api.stop()


def loopback_request(**timeouts: float) -> HTTPXRequest:
    """PTB's real HTTP client; no TLS is involved on loopback, so skip loading the CA bundle
    (it costs about 50 ms per client, which would dominate this file's run time)."""
    return HTTPXRequest(httpx_kwargs={"verify": False}, **timeouts)


def make_bot(server: LocalBotApi, **timeouts: float) -> Bot:
    """A real PTB Bot pointed at the server."""
    return Bot(
        token=TOKEN,
        base_url=f"{server.base_url}/bot",
        base_file_url=f"{server.base_url}/file/bot",
        request=loopback_request(**timeouts),
        get_updates_request=loopback_request(),
    )


@pytest.fixture
async def tg_bot(server: LocalBotApi) -> AsyncIterator[Bot]:
    """An initialised PTB Bot talking to the server."""
    async with make_bot(server) as bot:
        yield bot


async def refusal(server: LocalBotApi, request: Awaitable[Any]) -> str:
    """Await a request that must fail with BadRequest; returns the server's exact description."""
    with pytest.raises(BadRequest):
        await request
    last = server.calls[-1]
    assert not last.ok
    assert last.error_code == 400
    assert last.description is not None
    return last.description


def seconds(value: int | dtm.timedelta) -> float:
    """PTB gives time periods as int or timedelta depending on its settings."""
    return value.total_seconds() if isinstance(value, dtm.timedelta) else value


async def eventually(condition: Callable[[], bool]) -> None:
    """Let the event loop run until condition() holds; fail after GUARD seconds."""
    for _ in range(int(GUARD / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    pytest.fail("the server never reached the expected state")


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ------------------------------------------------------------------------- basics


async def test_get_me_describes_the_configured_bot(tg_bot: Bot) -> None:
    me = await tg_bot.get_me()
    assert (me.id, me.username, me.first_name, me.is_bot) == (
        777000001,
        "jiyn_local_bot",
        "Jiyn",
        True,
    )


async def test_unknown_method_is_404_in_telegram_shape(server: LocalBotApi) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{server.base_url}/bot{TOKEN}/sendTelepathy") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }


async def test_method_names_are_case_insensitive_and_params_decoded(server: LocalBotApi) -> None:
    markup = {"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]}
    async with aiohttp.ClientSession() as session:
        form = {
            "chat_id": str(USER_ID),
            "text": "[1, 2] stays text",
            "reply_markup": json.dumps(markup),
            "disable_notification": "true",
        }
        async with session.post(f"{server.base_url}/bot{TOKEN}/SENDMESSAGE", data=form) as reply:
            body = await reply.json()
        async with session.get(
            f"{server.base_url}/bot{TOKEN}/getchat", params={"chat_id": str(USER_ID)}
        ) as reply:
            chat = await reply.json()
        async with session.post(
            f"{server.base_url}/bot{TOKEN}/sendMessage",
            json={"chat_id": USER_ID, "text": "json body"},
        ) as reply:
            json_body = await reply.json()
    assert body["ok"] and body["result"]["reply_markup"] == markup
    assert chat["ok"] and chat["result"]["first_name"] == "Aigerim"
    assert json_body["ok"] and json_body["result"]["text"] == "json body"
    first = server.calls[0]
    assert first.method == "sendMessage"
    assert first.params == {
        "chat_id": USER_ID,
        "text": "[1, 2] stays text",
        "reply_markup": markup,
        "disable_notification": True,
    }
    assert [call.method for call in server.calls] == ["sendMessage", "getChat", "sendMessage"]


async def test_malformed_json_body_is_refused(server: LocalBotApi) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{server.base_url}/bot{TOKEN}/sendMessage",
            data=b"{not json",
            headers={"Content-Type": "application/json"},
        ) as reply:
            assert reply.status == 400
            assert (await reply.json())["description"] == "Bad Request: can't parse JSON object"


# ------------------------------------------------------------------------- sendMessage


async def test_send_message_returns_a_real_message(server: LocalBotApi, tg_bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Иә", callback_data="yes")]])
    message = await tg_bot.send_message(
        USER_ID, "😀 <b>Сәлем</b>, <i>әлем</i>", parse_mode="HTML", reply_markup=keyboard
    )
    assert message.text == "😀 Сәлем, әлем"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 3, 5),
        ("italic", 10, 4),
    ]
    assert message.from_user is not None and message.from_user.id == server.bot_id
    assert message.chat.id == USER_ID and message.chat.type == "private"
    assert message.reply_markup == keyboard
    assert server.bot_messages(USER_ID)[0]["text"] == "😀 Сәлем, әлем"


async def test_send_message_trims_whitespace_like_telegram(tg_bot: Bot) -> None:
    message = await tg_bot.send_message(USER_ID, "\n  <b>hi</b>  \n", parse_mode="HTML")
    assert message.text == "hi"
    assert [(e.offset, e.length) for e in message.entities] == [(0, 2)]


async def test_longest_message_counts_utf16_units(tg_bot: Bot, server: LocalBotApi) -> None:
    # 2048 emoji are 4096 UTF-16 units: the limit exactly. One more is too long.
    assert (await tg_bot.send_message(USER_ID, "😀" * 2048)).text == "😀" * 2048
    description = await refusal(server, tg_bot.send_message(USER_ID, "😀" * 2048 + "a"))
    assert description == "Bad Request: message is too long"


@pytest.mark.parametrize(
    ("kwargs", "description"),
    [
        ({"chat_id": 999, "text": "x"}, "Bad Request: chat not found"),
        ({"text": "   \n"}, "Bad Request: message text is empty"),
        ({"text": "<b></b>", "parse_mode": "HTML"}, "Bad Request: message text is empty"),
        ({"text": "a" * 4097}, "Bad Request: message is too long"),
        (
            {"text": "<b>x</i>", "parse_mode": "HTML"},
            "Bad Request: can't parse entities: Unmatched end tag at byte offset 4, "
            'expected "</b>", found "</i>"',
        ),
        (
            {"text": "1 < 2", "parse_mode": "HTML"},
            'Bad Request: can\'t parse entities: Unsupported start tag "" at byte offset 2',
        ),
        ({"text": "x", "parse_mode": "Shouting"}, "Bad Request: unsupported parse_mode"),
        (
            {"text": "x", "reply_markup": InlineKeyboardMarkup([[InlineKeyboardButton("a")]])},
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            {
                "text": "x",
                "reply_markup": InlineKeyboardMarkup(
                    [[InlineKeyboardButton("a", callback_data="ж" * 33)]]
                ),
            },
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            {"text": "x", "reply_parameters": ReplyParameters(message_id=99)},
            "Bad Request: message to be replied not found",
        ),
    ],
)
async def test_send_message_refusals(
    server: LocalBotApi, tg_bot: Bot, kwargs: dict[str, Any], description: str
) -> None:
    arguments = {"chat_id": USER_ID, **kwargs}
    assert await refusal(server, tg_bot.send_message(**arguments)) == description
    assert server.bot_messages() == []


@pytest.mark.parametrize(
    ("markup", "description"),
    [
        (
            {"inline_keyboard": [[{"text": "a", "callback_data": ""}]]},
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            {"inline_keyboard": [[{"text": "", "callback_data": "a"}]]},
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            {"inline_keyboard": [[{"text": "a", "callback_data": "a", "url": "https://a.kz"}]]},
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            {"inline_keyboard": "nope"},
            "Bad Request: can't parse inline keyboard: field "
            '"inline_keyboard" must be an Array of Arrays',
        ),
        ({"keyboard": []}, "Bad Request: keyboard must be non-empty"),
        (
            {"keyboard": [[{"text": ""}]]},
            "Bad Request: can't parse keyboard button: Text must be non-empty",
        ),
        (
            {"keyboard": [[{"text": "a", "request_contact": True, "request_location": True}]]},
            "Bad Request: can't parse keyboard button: only one request field is allowed",
        ),
        ({"remove_keyboard": False}, "Bad Request: can't parse reply keyboard markup JSON object"),
        ({"colour": "red"}, "Bad Request: can't parse reply keyboard markup JSON object"),
    ],
)
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBUserWarning")  # do_api_request
async def test_malformed_keyboards_are_refused(
    server: LocalBotApi, tg_bot: Bot, markup: dict[str, Any], description: str
) -> None:
    request = tg_bot.do_api_request(
        "sendMessage", api_kwargs={"chat_id": USER_ID, "text": "x", "reply_markup": markup}
    )
    assert await refusal(server, request) == description


async def test_reply_keyboard_is_remembered_per_chat(server: LocalBotApi, tg_bot: Bot) -> None:
    keyboard = ReplyKeyboardMarkup([[KeyboardButton("📍 Share location", request_location=True)]])
    message = await tg_bot.send_message(USER_ID, "Where are you?", reply_markup=keyboard)
    assert message.reply_markup is None  # Telegram echoes only inline keyboards
    shown = server.reply_keyboard(USER_ID)
    assert shown is not None
    assert shown["keyboard"] == [[{"text": "📍 Share location", "request_location": True}]]
    await tg_bot.send_message(USER_ID, "Thanks", reply_markup=ReplyKeyboardRemove())
    assert server.reply_keyboard(USER_ID) is None


async def test_reply_to_an_existing_message(server: LocalBotApi, tg_bot: Bot) -> None:
    sent = server.send_text(USER_ID, "help")["message"]
    reply = await tg_bot.send_message(
        USER_ID, "Here", reply_parameters=ReplyParameters(message_id=sent["message_id"])
    )
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.text == "help"


async def test_blocked_user_gives_forbidden(server: LocalBotApi, tg_bot: Bot) -> None:
    update = server.set_blocked(USER_ID)
    assert update["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    with pytest.raises(Forbidden):
        await tg_bot.send_message(USER_ID, "hello?")
    assert server.calls[-1].description == "Forbidden: bot was blocked by the user"
    server.set_blocked(USER_ID, blocked=False)
    assert (await tg_bot.send_message(USER_ID, "hello")).text == "hello"


# ------------------------------------------------------------------------- other sends


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBUserWarning")  # do_api_request
async def test_location_venue_chat_action_and_get_chat(server: LocalBotApi, tg_bot: Bot) -> None:
    location = await tg_bot.send_location(USER_ID, latitude=43.2389, longitude=76.8897)
    assert location.location is not None and location.location.latitude == 43.2389
    venue = await tg_bot.send_venue(
        USER_ID, latitude=51.128, longitude=71.43, title="Akimat", address="Astana"
    )
    assert venue.venue is not None and venue.venue.title == "Akimat"
    assert await tg_bot.send_chat_action(USER_ID, "typing")
    chat = await tg_bot.get_chat(USER_ID)
    assert chat.first_name == "Aigerim"

    description = await refusal(server, tg_bot.send_location(USER_ID, latitude=91, longitude=0))
    assert description == "Bad Request: wrong location specified"
    description = await refusal(
        server,
        tg_bot.do_api_request(
            "sendVenue",
            api_kwargs={"chat_id": USER_ID, "latitude": 1, "longitude": 1, "address": "x"},
        ),
    )
    assert description == "Bad Request: title is empty"
    description = await refusal(server, tg_bot.send_chat_action(USER_ID, "dancing"))
    assert description == "Bad Request: wrong parameter action in request"
    assert await refusal(server, tg_bot.get_chat(31337)) == "Bad Request: chat not found"


async def test_menu_button_is_stored(tg_bot: Bot) -> None:
    assert await tg_bot.set_chat_menu_button(USER_ID, MenuButtonCommands())
    assert (await tg_bot.get_chat_menu_button(USER_ID)).type == "commands"


# ------------------------------------------------------------------------- updates


async def test_update_ids_and_per_chat_message_ids(server: LocalBotApi, tg_bot: Bot) -> None:
    first = server.send_text(USER_ID, "hi")
    reply = await tg_bot.send_message(USER_ID, "hello")
    second = server.send_text(USER_ID, "again")
    group = server.send_group_text(USER_ID, -100200, "in a group")
    assert [first["update_id"], second["update_id"], group["update_id"]] == [1, 2, 3]
    assert [first["message"]["message_id"], reply.message_id] == [1, 2]
    assert second["message"]["message_id"] == 3
    assert group["message"]["message_id"] == 1
    assert group["message"]["chat"]["type"] == "group"
    assert (await tg_bot.send_message(-100200, "to the group")).message_id == 2


async def test_commands_get_bot_command_entities(server: LocalBotApi, tg_bot: Bot) -> None:
    server.send_text(USER_ID, "/start@jiyn_local_bot now")
    server.send_text(USER_ID, "/старт")  # Telegram highlights only Latin command names
    server.send_text(USER_ID, "not /start")
    updates = await tg_bot.get_updates()
    first, second, third = (update.message for update in updates)
    assert first is not None and second is not None and third is not None
    assert [(e.type, e.offset, e.length) for e in first.entities] == [("bot_command", 0, 21)]
    assert second.entities == () and third.entities == ()


async def test_injected_updates_deserialise_in_ptb(server: LocalBotApi, tg_bot: Bot) -> None:
    server.send_location(USER_ID, 43.25, 76.95)
    server.send_contact(USER_ID, "+77011234567", "Aigerim")
    server.send_photo(USER_ID, PNG, caption="at the square")
    server.send_sticker(USER_ID)
    server.send_document(USER_ID, b"%PDF-1.4", "protocol.pdf")
    sent = server.send_text(USER_ID, "first version")["message"]
    server.edit_text(USER_ID, sent, "second version")
    server.send_inline_query(USER_ID, "police")
    server.queue_update(
        {
            "update_id": 999,
            "chosen_inline_result": {"result_id": "r1", "from": server.user(7), "query": "q"},
        }
    )
    updates = await tg_bot.get_updates()
    assert [update.update_id for update in updates] == list(range(1, 10))
    location, contact, photo, sticker, document, _text, edited, inline, chosen = updates
    assert location.message is not None and location.message.location is not None
    assert contact.message is not None and contact.message.contact is not None
    assert contact.message.contact.user_id == USER_ID
    assert photo.message is not None and photo.message.photo[-1].width == 640
    assert photo.message.caption == "at the square"
    assert sticker.message is not None and sticker.message.sticker is not None
    assert document.message is not None and document.message.document is not None
    assert document.message.document.mime_type == "application/pdf"
    assert edited.edited_message is not None
    assert edited.edited_message.text == "second version"
    assert inline.inline_query is not None and inline.inline_query.query == "police"
    assert chosen.chosen_inline_result is not None
    assert chosen.chosen_inline_result.result_id == "r1"


async def test_get_updates_offset_and_limit(server: LocalBotApi, tg_bot: Bot) -> None:
    for text in ("one", "two", "three"):
        server.send_text(USER_ID, text)
    assert [u.update_id for u in await tg_bot.get_updates(limit=2)] == [1, 2]
    assert [u.update_id for u in await tg_bot.get_updates(offset=2)] == [2, 3]
    assert await tg_bot.get_updates(offset=4) == ()
    # Confirmed updates are gone for good, even without an offset.
    assert await tg_bot.get_updates() == ()
    server.send_text(USER_ID, "four")
    assert [u.update_id for u in await tg_bot.get_updates(offset=-1)] == [4]


async def test_long_poll_receives_an_update_queued_while_waiting(
    server: LocalBotApi, tg_bot: Bot
) -> None:
    poll = asyncio.create_task(tg_bot.get_updates(timeout=30))
    await eventually(lambda: server.polls_waiting > 0)
    server.send_text(USER_ID, "while you wait")
    async with asyncio.timeout(GUARD):
        updates = await poll
    assert [u.message.text for u in updates if u.message] == ["while you wait"]


async def test_long_poll_times_out_empty(tg_bot: Bot) -> None:
    assert await tg_bot.get_updates(timeout=0.2) == ()  # type: ignore[arg-type]


async def test_allowed_updates_filters_and_drops(server: LocalBotApi, tg_bot: Bot) -> None:
    message = await tg_bot.send_message(
        USER_ID,
        "?",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="a")]]),
    )
    server.send_text(USER_ID, "text")
    server.press_button(USER_ID, message.to_dict(), "a")
    updates = await tg_bot.get_updates(allowed_updates=["callback_query"])
    assert [u.callback_query is not None for u in updates] == [True]
    # The setting persists, and the filtered-out message is gone even after widening it again.
    assert [u.update_id for u in await tg_bot.get_updates()] == [2]
    assert await tg_bot.get_updates(offset=3, allowed_updates=[]) == ()


async def test_second_long_poll_terminates_the_first(server: LocalBotApi) -> None:
    async with make_bot(server) as first, make_bot(server) as second:
        waiting = asyncio.create_task(first.get_updates(timeout=30))
        await eventually(lambda: server.polls_waiting > 0)
        assert await second.get_updates(timeout=0) == ()
        with pytest.raises(Conflict):
            async with asyncio.timeout(GUARD):
                await waiting


# ------------------------------------------------------------------------- webhooks


async def test_webhook_delivers_in_order_with_secret_and_retries(
    server: LocalBotApi, tg_bot: Bot
) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    failures_left = [1]
    all_received = asyncio.Event()

    async def receive(request: web.Request) -> web.Response:
        if failures_left[0]:
            failures_left[0] -= 1
            return web.Response(status=500)
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        if len(received) == 2:
            all_received.set()
        return web.Response(text="ok")

    receiver = web.Application()
    receiver.router.add_post("/hook", receive)
    runner = web.AppRunner(receiver)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        url = f"http://127.0.0.1:{port}/hook"
        server.send_text(USER_ID, "queued before")
        assert await tg_bot.set_webhook(url, secret_token="s3cret-token_1")
        server.send_text(USER_ID, "queued after")
        async with asyncio.timeout(GUARD):
            await all_received.wait()
        info = await tg_bot.get_webhook_info()
        with pytest.raises(Conflict):
            await tg_bot.get_updates()
        assert server.calls[-1].description == WEBHOOK_CONFLICT
    finally:
        await runner.cleanup()
    assert [secret for secret, _ in received] == ["s3cret-token_1", "s3cret-token_1"]
    assert [update["message"]["text"] for _, update in received] == [
        "queued before",
        "queued after",
    ]
    assert [update["update_id"] for _, update in received] == [1, 2]
    assert info.url == url and info.pending_update_count == 0
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"


async def test_delete_webhook_can_drop_pending_updates(server: LocalBotApi, tg_bot: Bot) -> None:
    # Nothing listens on this port: updates stay pending until the webhook goes.
    assert await tg_bot.set_webhook(f"http://127.0.0.1:{free_port()}/hook")
    server.send_text(USER_ID, "lost")
    assert (await tg_bot.get_webhook_info()).pending_update_count == 1
    assert await tg_bot.delete_webhook(drop_pending_updates=True)
    info = await tg_bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == ("", 0)
    assert await tg_bot.get_updates() == ()


async def test_invalid_secret_token_is_refused(server: LocalBotApi, tg_bot: Bot) -> None:
    description = await refusal(
        server, tg_bot.set_webhook("http://127.0.0.1:1/x", secret_token="a b")
    )
    assert description == "Bad Request: secret token contains unallowed characters"


# ------------------------------------------------------------------------- faults and latency


async def test_fail_next_gives_retry_after_then_recovers(server: LocalBotApi, tg_bot: Bot) -> None:
    server.fail_next("sendMessage", retry_after=7)
    with pytest.raises(RetryAfter) as caught, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB warns about int vs timedelta time periods
        await tg_bot.send_message(USER_ID, "x")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert seconds(caught.value.retry_after) == 7
    assert (await tg_bot.send_message(USER_ID, "x")).text == "x"
    refused = server.refused_calls()
    assert [(call.error_code, call.description, call.injected) for call in refused] == [
        (429, "Too Many Requests: retry after 7", True)
    ]


async def test_fail_next_server_errors_and_times(server: LocalBotApi, tg_bot: Bot) -> None:
    server.fail_next("sendmessage", error_code=502, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await tg_bot.send_message(USER_ID, "x")
    assert [call.description for call in server.refused_calls()] == ["Bad Gateway"] * 2
    assert (await tg_bot.send_message(USER_ID, "x")).text == "x"
    server.fail_next("sendMessage", error_code=500)
    with pytest.raises(NetworkError):
        await tg_bot.send_message(USER_ID, "x")
    assert server.calls[-1].description == "Internal Server Error"


async def test_hang_next_lets_the_client_time_out(server: LocalBotApi) -> None:
    server.hang_next("sendMessage", 30)
    async with make_bot(server, read_timeout=0.2) as impatient:
        with pytest.raises(TimedOut):
            await impatient.send_message(USER_ID, "never sent")
        await eventually(lambda: any(call.cancelled for call in server.calls))
        assert server.bot_messages() == []
        assert server.refused_calls() == []  # the client left; nothing was refused

        server.hang_next("sendMessage", 30, side_effect=True)
        with pytest.raises(TimedOut):
            await impatient.send_message(USER_ID, "sent although the client gave up")
        assert [m["text"] for m in server.bot_messages()] == ["sent although the client gave up"]
        assert (await impatient.send_message(USER_ID, "fine")).text == "fine"


async def test_latency_delays_one_call_without_blocking_others(
    server: LocalBotApi, tg_bot: Bot
) -> None:
    server.latency = 30
    slow = asyncio.create_task(tg_bot.send_message(USER_ID, "slow"))
    await eventually(lambda: server.requests_in_flight > 0)
    server.latency = 0
    assert (await tg_bot.send_message(USER_ID, "fast")).text == "fast"
    assert not slow.done()
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    assert [m["text"] for m in server.bot_messages()] == ["fast"]


# ------------------------------------------------------------------------- edit and delete


async def test_edit_semantics(server: LocalBotApi, tg_bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Next", callback_data="next")]])
    sent = await tg_bot.send_message(USER_ID, "Step 1", reply_markup=keyboard)
    edited = await tg_bot.edit_message_text(
        "<b>Step 2</b>", USER_ID, sent.message_id, parse_mode="HTML", reply_markup=keyboard
    )
    assert isinstance(edited, Message)
    assert edited.text == "Step 2" and edited.edit_date is not None

    description = await refusal(
        server,
        tg_bot.edit_message_text(
            "<b>Step 2</b>", USER_ID, sent.message_id, parse_mode="HTML", reply_markup=keyboard
        ),
    )
    assert description == NOT_MODIFIED

    # An edit that does not repeat the keyboard removes it, as on Telegram.
    await tg_bot.edit_message_text("<b>Step 2</b>", USER_ID, sent.message_id, parse_mode="HTML")
    current = server.bot_messages(USER_ID)[0]
    assert current["text"] == "Step 2" and "reply_markup" not in current

    await tg_bot.edit_message_reply_markup(USER_ID, sent.message_id, reply_markup=keyboard)
    description = await refusal(
        server, tg_bot.edit_message_reply_markup(USER_ID, sent.message_id, reply_markup=keyboard)
    )
    assert description == NOT_MODIFIED
    assert server.bot_messages(USER_ID)[0]["reply_markup"] == keyboard.to_dict()

    users_message = server.send_text(USER_ID, "mine")["message"]
    for message_id in (users_message["message_id"], 999):
        description = await refusal(server, tg_bot.edit_message_text("x", USER_ID, message_id))
        assert description == "Bad Request: message to edit not found"


async def test_edit_caption_of_a_photo(server: LocalBotApi, tg_bot: Bot) -> None:
    photo = await tg_bot.send_photo(USER_ID, PNG, caption="before")
    edited = await tg_bot.edit_message_caption(
        USER_ID, photo.message_id, caption="<i>after</i>", parse_mode="HTML"
    )
    assert isinstance(edited, Message) and edited.caption == "after"
    text = await tg_bot.send_message(USER_ID, "text")
    description = await refusal(
        server, tg_bot.edit_message_caption(USER_ID, text.message_id, caption="c")
    )
    assert description == "Bad Request: there is no caption in the message to edit"
    description = await refusal(server, tg_bot.send_photo(USER_ID, PNG, caption="x" * 1025))
    assert description == "Bad Request: message caption is too long"


async def test_delete_semantics(server: LocalBotApi, tg_bot: Bot) -> None:
    keep = await tg_bot.send_message(USER_ID, "keep")
    drop = await tg_bot.send_message(USER_ID, "drop")
    assert await tg_bot.delete_message(USER_ID, drop.message_id)
    assert [m["message_id"] for m in server.bot_messages(USER_ID)] == [keep.message_id]
    description = await refusal(server, tg_bot.delete_message(USER_ID, drop.message_id))
    assert description == "Bad Request: message to delete not found"
    description = await refusal(server, tg_bot.edit_message_text("x", USER_ID, drop.message_id))
    assert description == "Bad Request: message to edit not found"


# ------------------------------------------------------------------------- files


async def test_file_round_trip(server: LocalBotApi, tg_bot: Bot) -> None:
    photo_update = server.send_photo(USER_ID, PNG)
    largest = photo_update["message"]["photo"][-1]
    file = await tg_bot.get_file(largest["file_id"])
    assert file.file_path is not None and file.file_path.endswith(".jpg")
    assert "/photos/file_" in file.file_path
    assert bytes(await file.download_as_bytearray()) == PNG

    resent = await tg_bot.send_photo(USER_ID, largest["file_id"], caption="forwarded")
    assert resent.photo[-1].file_id == largest["file_id"]

    uploaded = await tg_bot.send_document(USER_ID, io.BytesIO(b"report"), filename="report.txt")
    assert uploaded.document is not None and uploaded.document.file_name == "report.txt"
    document_file = await tg_bot.get_file(uploaded.document.file_id)
    assert bytes(await document_file.download_as_bytearray()) == b"report"

    assert await refusal(server, tg_bot.send_photo(USER_ID, "no-such-file-id")) == (
        "Bad Request: wrong file identifier/HTTP URL specified"
    )
    assert await refusal(server, tg_bot.send_photo(USER_ID, b"not an image")) == (
        "Bad Request: IMAGE_PROCESS_FAILED"
    )
    assert await refusal(server, tg_bot.send_document(USER_ID, largest["file_id"])) == (
        "Bad Request: type of file mismatch"
    )
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.base_url}/file/bot{TOKEN}/photos/nothing.jpg") as reply:
            assert reply.status == 404


# ------------------------------------------------------------------------- queries


async def test_callback_query_answer_rules(server: LocalBotApi, tg_bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]])
    message = await tg_bot.send_message(USER_ID, "Sure?", reply_markup=keyboard)
    with pytest.raises(ValueError, match="no button"):
        server.press_button(USER_ID, message.to_dict(), "no")
    first = server.press_button(USER_ID, message.to_dict(), "yes")["callback_query"]
    second = server.press_button(USER_ID, message.to_dict(), "yes")["callback_query"]
    assert first["id"] != second["id"]
    assert first["message"]["text"] == "Sure?"

    description = await refusal(server, tg_bot.answer_callback_query(first["id"], text="x" * 201))
    assert description == "Bad Request: MESSAGE_TOO_LONG"
    assert await tg_bot.answer_callback_query(first["id"], text="Saved")
    assert await refusal(server, tg_bot.answer_callback_query(first["id"])) == QUERY_TOO_OLD
    assert await refusal(server, tg_bot.answer_callback_query("12345")) == QUERY_TOO_OLD
    assert await tg_bot.answer_callback_query(second["id"])


def article(result_id: str, text: str = "answer", **content: Any) -> InlineQueryResultArticle:
    """An inline article result with a text message."""
    return InlineQueryResultArticle(result_id, "Title", InputTextMessageContent(text, **content))


async def test_inline_query_answer_rules(server: LocalBotApi, tg_bot: Bot) -> None:
    query_id = server.send_inline_query(USER_ID, "rights")["inline_query"]["id"]
    checks = [
        ([article(str(n)) for n in range(51)], "Bad Request: RESULTS_TOO_MUCH"),
        ([article("x" * 65)], "Bad Request: RESULT_ID_INVALID"),
        ([article("1"), article("1")], "Bad Request: RESULT_ID_DUPLICATE"),
        (
            [article("1", "<b>open", parse_mode="HTML")],
            "Bad Request: can't parse entities: "
            'Can\'t find end tag corresponding to start tag "b"',
        ),
        ([article("1", "a" * 4097)], "Bad Request: message is too long"),
    ]
    for results, description in checks:
        assert await refusal(server, tg_bot.answer_inline_query(query_id, results)) == description
    assert await tg_bot.answer_inline_query(query_id, [article(str(n)) for n in range(50)])
    assert await refusal(server, tg_bot.answer_inline_query(query_id, [])) == QUERY_TOO_OLD
    assert await refusal(server, tg_bot.answer_inline_query("777", [])) == QUERY_TOO_OLD


# ------------------------------------------------------------------------- commands


async def test_commands_are_stored_per_scope_and_language(server: LocalBotApi, tg_bot: Bot) -> None:
    english = [BotCommand("start", "Start"), BotCommand("help", "Help")]
    russian = [BotCommand("start", "Начать")]
    assert await tg_bot.set_my_commands(english)
    assert await tg_bot.set_my_commands(russian, language_code="ru")
    assert await tg_bot.set_my_commands(
        [BotCommand("review", "Review reports")], scope=BotCommandScopeChat(USER_ID)
    )
    assert await tg_bot.get_my_commands() == tuple(english)
    assert await tg_bot.get_my_commands(language_code="ru") == tuple(russian)
    assert await tg_bot.get_my_commands(language_code="kk") == ()
    assert [
        c.command for c in await tg_bot.get_my_commands(scope=BotCommandScopeChat(USER_ID))
    ] == ["review"]
    assert server.my_commands("ru") == [{"command": "start", "description": "Начать"}]
    assert await tg_bot.delete_my_commands(language_code="ru")
    assert await tg_bot.get_my_commands(language_code="ru") == ()


@pytest.mark.parametrize(
    ("commands", "description"),
    [
        ([BotCommand("Start", "x")], "Bad Request: BOT_COMMAND_INVALID"),
        ([BotCommand("start-now", "x")], "Bad Request: BOT_COMMAND_INVALID"),
        ([BotCommand("a" * 33, "x")], "Bad Request: BOT_COMMAND_INVALID"),
        ([BotCommand("start", "")], "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID"),
        ([BotCommand("start", "x" * 257)], "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID"),
        ([BotCommand(f"c{n}", "x") for n in range(101)], "Bad Request: BOT_COMMANDS_TOO_MUCH"),
    ],
)
async def test_invalid_commands_are_refused(
    server: LocalBotApi, tg_bot: Bot, commands: list[BotCommand], description: str
) -> None:
    assert await refusal(server, tg_bot.set_my_commands(commands)) == description
    assert await tg_bot.get_my_commands() == ()


async def test_bot_description_per_language(tg_bot: Bot) -> None:
    assert await tg_bot.set_my_description("Assembly rights help", language_code="en")
    assert (await tg_bot.get_my_description("en")).description == "Assembly rights help"
    assert (await tg_bot.get_my_short_description()).short_description == ""


# ------------------------------------------------------------------------- recording helpers


async def test_wait_helpers_subscribe_and_marks(server: LocalBotApi, tg_bot: Bot) -> None:
    seen: list[ApiCall] = []
    unsubscribe = server.subscribe(seen.append)
    await tg_bot.send_message(USER_ID, "before the mark")
    mark = server.mark()
    waiter = asyncio.create_task(server.wait_for_message(USER_ID, since=mark))
    await tg_bot.send_message(USER_ID, "after the mark")
    message = await waiter
    assert message["text"] == "after the mark"
    calls = await server.wait_for_call(
        "SENDMESSAGE", since=0, count=2, predicate=lambda call: call.params["chat_id"] == USER_ID
    )
    assert [call.result["text"] for call in calls] == ["before the mark", "after the mark"]
    unsubscribe()
    await tg_bot.send_message(USER_ID, "unseen")
    assert [call.params.get("text") for call in seen if call.method == "sendMessage"] == [
        "before the mark",
        "after the mark",
    ]
    with pytest.raises(TimeoutError, match="sendMessage"):
        await server.wait_for_call("editMessageText", since=mark, timeout=0.05)


# ------------------------------------------------------------------------- the real Application


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Know my rights", callback_data="rights")]]
    )
    await context.bot.send_message(
        update.effective_chat.id, "<b>Jiyn</b> is here.", parse_mode="HTML", reply_markup=keyboard
    )


async def _rights(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_text("You may stay silent.")


def _application(server: LocalBotApi) -> Application[Any, Any, Any, Any, Any, Any]:
    application = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(f"{server.base_url}/bot")
        .base_file_url(f"{server.base_url}/file/bot")
        .request(loopback_request())
        .get_updates_request(loopback_request())
        .build()
    )
    application.add_handler(CommandHandler("start", _start))
    application.add_handler(CallbackQueryHandler(_rights))
    return application


async def _conversation(server: LocalBotApi) -> None:
    mark = server.mark()
    server.send_text(USER_ID, "/start")
    welcome = await server.wait_for_message(USER_ID, since=mark, timeout=GUARD)
    assert welcome["text"] == "Jiyn is here."
    server.press_button(USER_ID, welcome, "rights")
    await server.wait_for_call("answerCallbackQuery", since=mark, timeout=GUARD)
    await server.wait_for_call("editMessageText", since=mark, timeout=GUARD)
    assert [m["text"] for m in server.bot_messages(USER_ID)] == ["You may stay silent."]


async def test_real_application_polling(server: LocalBotApi) -> None:
    application = _application(server)
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=1)
        try:
            await _conversation(server)
        finally:
            await application.updater.stop()
            await application.stop()
    assert server.refused_calls() == []


async def test_real_application_webhook(server: LocalBotApi) -> None:
    application = _application(server)
    port = free_port()
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="telegram",
            webhook_url=f"http://127.0.0.1:{port}/telegram",
            secret_token="webhook-secret",
        )
        try:
            await _conversation(server)
        finally:
            await application.updater.stop()
            await application.stop()
    assert server.refused_calls() == []
    assert (await server.wait_for_call("setWebhook"))[0].params["secret_token"] == "webhook-secret"


async def test_stop_ends_waiting_long_polls(server: LocalBotApi) -> None:
    async with make_bot(server) as bot:
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await eventually(lambda: server.polls_waiting > 0)
        await server.stop()
        async with asyncio.timeout(GUARD):
            assert await poll == ()
