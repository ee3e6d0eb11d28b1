"""A local Telegram Bot API server on loopback, for the console and end-to-end tests.

The real python-telegram-bot Application talks to it over HTTP, unchanged:

    api = LocalBotApi()
    await api.start()
    application = (
        ApplicationBuilder().token("123:ABC")
        .base_url(f"{api.base_url}/bot").base_file_url(f"{api.base_url}/file/bot").build()
    )

Tests and the console play the users (`user`, `send_text`, `press_button`, ...), and read what
the bot did from `calls`, `bot_messages`, `wait_for_call` and `wait_for_message`. The server
refuses what Telegram refuses, with Telegram's error texts, so a bug that would fail in
production fails here too. Markdown parse modes are not implemented and are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

import aiohttp
from aiohttp import web

from bot.localapi.methods import Methods
from bot.localapi.protocol import (
    _DEFAULT_DESCRIPTIONS,
    _MESSAGE_METHODS,
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    UPLOAD_LIMIT,
    WEBHOOK_CONFLICT,
    ApiCall,
    JsonDict,
    UploadedFile,
    _ApiError,
    _bad,
    _decode_params,
    _dumps,
    _Fault,
    log,
)

__all__ = [
    "NOT_MODIFIED",
    "QUERY_TOO_OLD",
    "WEBHOOK_CONFLICT",
    "ApiCall",
    "JsonDict",
    "LocalBotApi",
    "UploadedFile",
]


class LocalBotApi(Methods):
    """An in-memory Telegram Bot API server on loopback; see the module docstring. Its parts:
    bot.localapi.protocol (state, records, limits), validation, updates (polling and webhooks),
    users (the simulated people) and methods (the Bot API methods)."""

    def __init__(
        self,
        *,
        bot_id: int = 777000001,
        bot_username: str = "jiyn_local_bot",
        bot_first_name: str = "Jiyn",
        latency: float = 0.0,
    ) -> None:
        super().__init__(
            bot_id=bot_id,
            bot_username=bot_username,
            bot_first_name=bot_first_name,
            latency=latency,
        )
        self._methods: dict[str, tuple[str, Callable[[JsonDict], Any]]] = {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": self._get_me,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "sendMessage": self._send_message,
                "sendPhoto": self._send_photo,
                "sendDocument": self._send_document,
                "sendVideo": self._media_sender("video"),
                "sendVoice": self._media_sender("voice"),
                "sendVideoNote": self._media_sender("video_note"),
                "sendAudio": self._media_sender("audio"),
                "sendLocation": self._send_location,
                "sendVenue": self._send_venue,
                "sendChatAction": self._send_chat_action,
                "copyMessage": self._copy_message,
                "editMessageText": self._edit_message_text,
                "editMessageCaption": self._edit_message_caption,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "deleteMessages": self._delete_messages,
                "answerCallbackQuery": self._answer_callback_query,
                "answerInlineQuery": self._answer_inline_query,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "setMyDescription": self._setter("description", 512),
                "getMyDescription": self._getter("description"),
                "setMyShortDescription": self._setter("short_description", 120),
                "getMyShortDescription": self._getter("short_description"),
                "setMyName": self._setter("name", 64),
                "getMyName": self._getter("name"),
                "setChatMenuButton": self._set_chat_menu_button,
                "getChatMenuButton": self._get_chat_menu_button,
                "getChat": self._get_chat,
                "getFile": self._get_file,
                "close": self._always_true,
                "logOut": self._always_true,
            }.items()
        }
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on host:port (port 0 picks a free one); see base_url."""
        app = web.Application(client_max_size=UPLOAD_LIMIT)
        app.router.add_route("GET", "/bot{token}/{method}", self._handle_method)
        app.router.add_route("POST", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_file)
        # handler_cancellation: a client that gives up (timeout, shutdown) ends its handler.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=2.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self._host = host
        self._port = int(self._runner.addresses[0][1])
        self._client = aiohttp.ClientSession()

    async def stop(self) -> None:
        """Answer waiting long polls, stop webhook delivery and close the server."""
        self._closing.set()
        self._wake_updates()
        self._wake_calls()
        await self._stop_webhook_delivery()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def __aenter__(self) -> LocalBotApi:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """Root URL of the running server, e.g. "http://127.0.0.1:41234"."""
        if self._port is None:
            raise RuntimeError("LocalBotApi is not started")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def polls_waiting(self) -> int:
        """How many getUpdates requests are long-polling right now."""
        return self._polls_waiting

    @property
    def pending_updates(self) -> int:
        """Updates queued for the bot and not yet confirmed by a later getUpdates offset."""
        return len(self._updates)

    @property
    def requests_in_flight(self) -> int:
        """How many Bot API requests have arrived and are not answered yet."""
        return self._requests_in_flight

    def mark(self) -> int:
        """The current position in `calls`; pass it as `since=` to wait for later calls."""
        return len(self.calls)

    def refused_calls(self) -> list[ApiCall]:
        """Calls answered with an error (not those the client itself abandoned)."""
        return [call for call in self.calls if not call.ok and not call.cancelled]

    def bot_messages(self, chat_id: int | None = None) -> list[JsonDict]:
        """Messages the bot sent, as they are now (edits applied, deleted ones left out)."""
        found = []
        for message_chat_id, message_id in self._bot_sent:
            if chat_id is not None and message_chat_id != chat_id:
                continue
            message = self._stored_message(message_chat_id, message_id)
            if message is not None:
                found.append(copy.deepcopy(message))
        return found

    def reply_keyboard(self, chat_id: int) -> JsonDict | None:
        """The reply keyboard the bot last showed in the chat, or None if removed/never sent."""
        return copy.deepcopy(self._reply_keyboards.get(chat_id))

    def my_commands(
        self, language_code: str = "", scope: Mapping[str, Any] | None = None
    ) -> list[JsonDict]:
        """The commands the bot set for this scope and language (what getMyCommands returns)."""
        key = self._command_key(dict(scope) if scope else None, language_code, check=False)
        return copy.deepcopy(self._commands.get(key, []))

    def subscribe(self, callback: Callable[[ApiCall], None]) -> Callable[[], None]:
        """Call `callback(call)` after every answered call; returns an unsubscribe function."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    async def wait_for_call(
        self,
        method: str,
        *,
        predicate: Callable[[ApiCall], bool] | None = None,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109 - part of the documented test API
        since: int = 0,
    ) -> list[ApiCall]:
        """The first `count` successful `method` calls at index >= since matching predicate."""
        wanted = method.lower()

        def matches(call: ApiCall) -> bool:
            return (
                call.ok and call.method.lower() == wanted and (predicate is None or predicate(call))
            )

        return await self._wait_for_calls(matches, count, timeout, since, method)

    async def wait_for_message(
        self,
        chat_id: int,
        *,
        since: int | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - part of the documented test API
    ) -> JsonDict:
        """The first message the bot sends to chat_id at call index >= since (as sent)."""

        def matches(call: ApiCall) -> bool:
            return (
                call.ok
                and call.method in _MESSAGE_METHODS
                and isinstance(call.result, dict)
                and call.result.get("chat", {}).get("id") == chat_id
            )

        found = await self._wait_for_calls(
            matches, 1, timeout, since or 0, f"a message to chat {chat_id}"
        )
        return copy.deepcopy(found[0].result)

    async def _wait_for_calls(
        self,
        matches: Callable[[ApiCall], bool],
        count: int,
        seconds: float,
        since: int,
        what: str,
    ) -> list[ApiCall]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            found = [call for call in self.calls[since:] if matches(call)]
            if len(found) >= count:
                return found[:count]
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing.is_set():
                seen = ", ".join(
                    call.method if call.ok else f"{call.method} (refused: {call.description})"
                    for call in self.calls[since:]
                    if call.method != "getUpdates"
                )
                raise TimeoutError(
                    f"waited {seconds}s for {count} x {what}, got {len(found)}; "
                    f"calls since index {since}: {seen or 'none'}"
                )
            signal = self._call_signal
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(signal.wait(), remaining)

    def fail_next(
        self,
        method: str,
        *,
        error_code: int = 429,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` get this error instead of being carried out."""
        if error_code == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            if error_code == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = _DEFAULT_DESCRIPTIONS.get(error_code) or HTTPStatus(error_code).phrase
        fault = _Fault(error_code=error_code, description=description, retry_after=retry_after)
        self._faults.setdefault(method.lower(), deque()).extend([fault] * times)

    def hang_next(
        self, method: str, seconds: float, times: int = 1, *, side_effect: bool = False
    ) -> None:
        """Delay the answer to the next `times` calls of `method` by `seconds`.

        By default the call is carried out after the delay (so not at all if the client gives
        up first); with side_effect=True it is carried out at once and only the answer is late,
        like a message Telegram delivered although the client timed out.
        """
        fault = _Fault(seconds=seconds, side_effect=side_effect)
        self._faults.setdefault(method.lower(), deque()).extend([fault] * times)

    def outage(
        self, seconds: float, *, error_code: int = 500, spare: Iterable[str] = ()
    ) -> None:
        """Every call, but those of the methods in `spare`, answers `error_code` for the next
        `seconds` (a Telegram outage); `end_outage()` ends it early."""
        self._outage_until = asyncio.get_running_loop().time() + seconds
        self._outage_code = error_code
        self._outage_spare = frozenset(method.lower() for method in spare)

    def end_outage(self) -> None:
        """Answer normally again."""
        self._outage_until = 0.0

    @property
    def in_outage(self) -> bool:
        """Whether an outage is going on."""
        return asyncio.get_running_loop().time() < self._outage_until

    async def _handle_method(self, request: web.Request) -> web.Response:
        requested = request.match_info["method"]
        method, handler = self._methods.get(requested.lower(), (requested, None))
        params: JsonDict = {}
        fault: _Fault | None = None
        recorded = False
        self._requests_in_flight += 1
        try:
            params = await self._read_params(request)
            await self._sleep(self.latency)
            if self.in_outage and method.lower() not in self._outage_spare:
                fault = _Fault(
                    error_code=self._outage_code,
                    description=_DEFAULT_DESCRIPTIONS.get(self._outage_code)
                    or HTTPStatus(self._outage_code).phrase,
                )
            else:
                faults = self._faults.get(method.lower())
                fault = faults.popleft() if faults else None
            if fault is not None and fault.error_code:
                raise _ApiError(
                    fault.error_code,
                    fault.description,
                    {"retry_after": fault.retry_after} if fault.retry_after else None,
                )
            if fault is not None and not fault.side_effect:
                await self._sleep(fault.seconds)
            if handler is None:
                log.warning("local Bot API: method %r is not implemented", requested)
                raise _ApiError(404, "Not Found")
            result = await handler(params)
            self._record(method, params, ok=True, result=result)
            recorded = True
            if fault is not None and fault.side_effect:
                await self._sleep(fault.seconds)
            return web.json_response({"ok": True, "result": result}, dumps=_dumps)
        except _ApiError as error:
            # An error nobody will read (the client already hung up, e.g. a long poll ended by
            # a newer one during shutdown) is not a refusal of the bot's request.
            transport = request.transport
            self._record(
                method,
                params,
                ok=False,
                description=error.description,
                error_code=error.code,
                injected=fault is not None and bool(fault.error_code),
                cancelled=transport is None or transport.is_closing(),
            )
            body: JsonDict = {
                "ok": False,
                "error_code": error.code,
                "description": error.description,
            }
            if error.parameters:
                body["parameters"] = error.parameters
            return web.json_response(body, status=error.code, dumps=_dumps)
        except asyncio.CancelledError:
            if not recorded:
                self._record(
                    method,
                    params,
                    ok=False,
                    description="the client closed the connection before the answer",
                    cancelled=True,
                )
            raise
        except web.HTTPException:
            raise  # e.g. 413 for an oversized upload, answered by aiohttp
        except Exception:
            # A bug in this server, not in the bot: say so loudly instead of imitating Telegram.
            log.exception("local Bot API failed on %s", method)
            description = f"Internal Server Error: local Bot API bug while handling {method}"
            if not recorded:
                self._record(method, params, ok=False, description=description, error_code=500)
            return web.json_response(
                {"ok": False, "error_code": 500, "description": description}, status=500
            )
        finally:
            self._requests_in_flight -= 1

    async def _handle_file(self, request: web.Request) -> web.Response:
        stored = self._files_by_path.get(request.match_info["file_path"])
        if stored is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    async def _read_params(self, request: web.Request) -> JsonDict:
        raw: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.body_exists:
            if request.content_type == "application/json":
                body = await request.read()
                if body.strip():
                    try:
                        data = json.loads(body)
                    except ValueError:
                        data = None
                    if not isinstance(data, dict):
                        raise _bad("can't parse JSON object")
                    raw.update(data)
            elif request.content_type in (
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ):
                form = await request.post()
                for name, value in form.items():
                    if isinstance(value, web.FileField):
                        raw[name] = UploadedFile(
                            value.filename, value.content_type, value.file.read()
                        )
                    else:
                        raw[name] = value
        return _decode_params(raw)
