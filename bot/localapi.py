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
import itertools
import json
import logging
import mimetypes
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import aiohttp
from aiohttp import web

from bot.telegram_html import TelegramHtmlError, parse_html, strip_message_text, utf16_len

log = logging.getLogger(__name__)

JsonDict = dict[str, Any]

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
CALLBACK_ANSWER_LIMIT = 200
INLINE_RESULTS_LIMIT = 50
INLINE_RESULT_ID_LIMIT = 64
COMMANDS_LIMIT = 100
KEYBOARD_BUTTONS_LIMIT = 100
UPLOAD_LIMIT = 50 * 1024 * 1024

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
WRONG_FILE = "Bad Request: wrong file identifier/HTTP URL specified"
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)
POLLING_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)

# Parameters that clients send JSON-encoded inside form fields.
_JSON_FIELDS = frozenset(
    "reply_markup entities caption_entities commands results allowed_updates scope media "
    "menu_button link_preview_options reply_parameters button message_ids".split()
)
_NUMBER_FIELDS = frozenset(
    "chat_id from_chat_id message_id offset limit timeout max_connections reply_to_message_id "
    "message_thread_id user_id cache_time live_period heading proximity_alert_radius latitude "
    "longitude horizontal_accuracy".split()
)
_BOOL_FIELDS = frozenset(
    "disable_notification protect_content show_alert is_personal drop_pending_updates "
    "disable_web_page_preview allow_sending_without_reply has_spoiler "
    "disable_content_type_detection show_caption_above_media allow_paid_broadcast".split()
)
# Sent unless allowed_updates names them explicitly.
_OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CHAT_ACTIONS = frozenset(
    "typing upload_photo record_video upload_video record_voice upload_voice upload_document "
    "choose_sticker find_location record_video_note upload_video_note".split()
)
_INLINE_BUTTON_ACTIONS = tuple(
    "url callback_data web_app login_url switch_inline_query switch_inline_query_current_chat "
    "switch_inline_query_chosen_chat copy_text callback_game pay".split()
)
_KEYBOARD_BUTTON_REQUESTS = tuple(
    "request_users request_chat request_contact request_location request_poll web_app".split()
)
_INLINE_RESULT_TYPES = frozenset(
    "article photo gif mpeg4_gif video audio voice document location venue contact game "
    "sticker".split()
)
_COMMAND_SCOPES = frozenset(
    "default all_private_chats all_group_chats all_chat_administrators chat "
    "chat_administrators chat_member".split()
)
_CHAT_SCOPES = frozenset({"chat", "chat_administrators", "chat_member"})
_BOT_COMMAND_PATTERN = re.compile(r"[a-z0-9_]{1,32}")
_USER_COMMAND_PATTERN = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w@/])")
_LANGUAGE_CODE_PATTERN = re.compile(r"(?:[a-z]{2})?")
_SECRET_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
_MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVideo",
        "sendVoice",
        "sendVideoNote",
        "sendAudio",
        "sendLocation",
        "sendVenue",
        "copyMessage",
    }
)
# Media sent by file id or upload, beyond photos and documents: kind → file id prefix.
_MEDIA_KINDS = {"video": "BAAC", "voice": "AwAC", "video_note": "DQAC", "audio": "CQAC"}


@dataclass
class ApiCall:
    """One Bot API request, as the server answered it."""

    method: str  # canonical spelling, e.g. "sendMessage"
    params: dict[str, Any]  # decoded: numbers, booleans and JSON fields as Python values
    ok: bool
    result: Any = None
    description: str | None = None  # the error description when not ok
    error_code: int | None = None
    time: float = 0.0  # time.monotonic() when answered
    index: int = 0  # position in LocalBotApi.calls, comparable with mark()
    injected: bool = False  # the error came from fail_next/hang_next, not from validation
    cancelled: bool = False  # the client went away before the answer


@dataclass
class UploadedFile:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes

    def __repr__(self) -> str:
        return f"UploadedFile({self.filename!r}, {len(self.data)} bytes)"


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    kind: str  # "photo", "document" or "sticker"
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0


@dataclass
class _Fault:
    error_code: int = 0  # 0 for a hang
    description: str = ""
    retry_after: int | None = None
    seconds: float = 0.0
    side_effect: bool = False


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    last_error_date: int | None = None
    last_error_message: str | None = None


class _ApiError(Exception):
    """An error answer in Telegram's shape."""

    def __init__(self, code: int, description: str, parameters: JsonDict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def _bad(detail: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {detail}")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _now() -> int:
    return int(time.time())


def _decode_number(text: str) -> int | float | str:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text  # left for the method to refuse, e.g. chat_id="@channel"


def _decode_params(raw: Mapping[str, Any]) -> JsonDict:
    """Turn form strings into the values a JSON body would have carried."""
    decoded: JsonDict = {}
    for name, value in raw.items():
        if isinstance(value, str):
            if name in _JSON_FIELDS:
                try:
                    value = json.loads(value)
                except ValueError:
                    raise _bad(f"can't parse {name} JSON object") from None
            elif name in _NUMBER_FIELDS:
                value = _decode_number(value)
            elif name in _BOOL_FIELDS:
                value = value.strip().lower() in ("true", "1")
        decoded[name] = value
    return decoded


def _update_type(update: Mapping[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG, read from its header."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data.startswith(b"\xff\xd8"):
        index = 2
        while index + 9 < len(data):
            if data[index] != 0xFF:
                index += 1
                continue
            marker = data[index + 1]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height = int.from_bytes(data[index + 5 : index + 7], "big")
                width = int.from_bytes(data[index + 7 : index + 9], "big")
                return width, height
            if marker == 0xFF:
                index += 1
            elif marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
                index += 2
            else:
                index += 2 + int.from_bytes(data[index + 2 : index + 4], "big")
    return None


def _looks_like_image(data: bytes) -> bool:
    return data.startswith(
        (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM")
    ) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


class LocalBotApi:
    """An in-memory Telegram Bot API server on loopback; see the module docstring."""

    def __init__(
        self,
        *,
        bot_id: int = 777000001,
        bot_username: str = "jiyn_local_bot",
        bot_first_name: str = "Jiyn",
        latency: float = 0.0,
    ) -> None:
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.latency = latency  # seconds before answering each call; settable at any time
        self.calls: list[ApiCall] = []

        self._host = "127.0.0.1"
        self._port: int | None = None
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._closing = asyncio.Event()

        self._users: dict[int, JsonDict] = {}
        self._chats: dict[int, JsonDict] = {}
        self._blocked: set[int] = set()
        self._messages: dict[int, dict[int, JsonDict]] = {}
        self._last_message_id: dict[int, int] = {}
        self._bot_sent: list[tuple[int, int]] = []
        self._reply_keyboards: dict[int, JsonDict | None] = {}

        self._updates: list[JsonDict] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] | None = None
        self._update_signal = asyncio.Event()
        self._poll_generation = 0
        self._polls_waiting = 0
        self._requests_in_flight = 0
        self._webhook: _Webhook | None = None
        self._webhook_task: asyncio.Task[None] | None = None

        self._call_signal = asyncio.Event()
        self._subscribers: list[Callable[[ApiCall], None]] = []
        self._faults: dict[str, deque[_Fault]] = {}
        self._outage_until = 0.0
        self._outage_code = 500
        self._outage_spare: frozenset[str] = frozenset()

        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._file_numbers = itertools.count(1)
        self._query_numbers = itertools.count(1)
        self._pending_callback_queries: set[str] = set()
        self._pending_inline_queries: set[str] = set()

        self._commands: dict[tuple[str, int | None, int | None, str], list[JsonDict]] = {}
        self._bot_texts: dict[tuple[str, str], str] = {}
        self._menu_buttons: dict[int | None, JsonDict] = {}

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

    # ----------------------------------------------------------------- lifecycle

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

    @property
    def bot_user(self) -> JsonDict:
        """The bot as a Telegram User dict."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    # ----------------------------------------------------------------- playing users

    def user(
        self,
        id: int,
        first_name: str = "Test",
        language_code: str | None = "en",
        username: str | None = None,
    ) -> JsonDict:
        """Remember a user (and their private chat with the bot); returns the User dict."""
        user: JsonDict = {"id": id, "is_bot": False, "first_name": first_name}
        chat: JsonDict = {"id": id, "type": "private", "first_name": first_name}
        if username:
            user["username"] = username
            chat["username"] = username
        if language_code:
            user["language_code"] = language_code
        self._users[id] = user
        self._chats[id] = chat
        return copy.deepcopy(user)

    def send_text(
        self,
        user: Mapping[str, Any] | int,
        text: str,
        *,
        chat: Mapping[str, Any] | int | None = None,
        entities: list[JsonDict] | None = None,
        reply_to: Mapping[str, Any] | None = None,
    ) -> JsonDict:
        """The user sends a text (a leading /command gets its bot_command entity)."""
        message = self._user_message(user, chat)
        message["text"] = text
        found_entities = entities if entities is not None else _command_entities(text)
        if found_entities:
            message["entities"] = copy.deepcopy(found_entities)
        if reply_to is not None:
            replied = self._stored_message(message["chat"]["id"], reply_to.get("message_id"))
            if replied is None:
                raise ValueError("reply_to names a message that is not in this chat")
            message["reply_to_message"] = _without_reply(replied)
        return self._queue_message("message", message)

    def send_location(self, user: Mapping[str, Any] | int, lat: float, lon: float) -> JsonDict:
        """The user shares a location."""
        message = self._user_message(user, None)
        message["location"] = {"latitude": lat, "longitude": lon}
        return self._queue_message("message", message)

    def send_contact(
        self,
        user: Mapping[str, Any] | int,
        phone: str,
        first_name: str,
        *,
        own: bool = True,
    ) -> JsonDict:
        """The user shares a contact; own=True (the "share my number" button) sets user_id."""
        message = self._user_message(user, None)
        contact: JsonDict = {"phone_number": phone, "first_name": first_name}
        if own:
            contact["user_id"] = message["from"]["id"]
        message["contact"] = contact
        return self._queue_message("message", message)

    def send_photo(
        self,
        user: Mapping[str, Any] | int,
        data: bytes = b"...",
        caption: str | None = None,
    ) -> JsonDict:
        """The user sends a photo; its bytes become downloadable through getFile."""
        message = self._user_message(user, None)
        message["photo"] = self._photo_sizes(data, _image_size(data) or (800, 600))
        if caption:
            message["caption"] = caption
        return self._queue_message("message", message)

    def send_voice(
        self, user: Mapping[str, Any] | int, data: bytes = b"OggS\x00voice", duration: int = 3
    ) -> JsonDict:
        """The user sends a voice message (recorded in the app)."""
        message = self._user_message(user, None)
        stored = self._store_file("voice", data, mime_type="audio/ogg")
        message["voice"] = _media_dict("voice", stored, duration)
        return self._queue_message("message", message)

    def send_video_note(
        self,
        user: Mapping[str, Any] | int,
        data: bytes = b"\x00\x00\x00\x18ftypmp42",
        duration: int = 2,
    ) -> JsonDict:
        """The user sends a video note (the round video recorded in the app)."""
        message = self._user_message(user, None)
        stored = self._store_file("video_note", data, width=240, height=240)
        message["video_note"] = _media_dict("video_note", stored, duration)
        return self._queue_message("message", message)

    def send_sticker(self, user: Mapping[str, Any] | int, emoji: str = "👍") -> JsonDict:
        """The user sends a sticker."""
        message = self._user_message(user, None)
        stored = self._store_file("sticker", b"RIFF\x00\x00\x00\x00WEBPVP8 ", width=512, height=512)
        message["sticker"] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": len(stored.data),
        }
        return self._queue_message("message", message)

    def send_document(self, user: Mapping[str, Any] | int, data: bytes, file_name: str) -> JsonDict:
        """The user sends a file."""
        message = self._user_message(user, None)
        mime_type = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        stored = self._store_file("document", data, file_name=file_name, mime_type=mime_type)
        message["document"] = _document_dict(stored)
        return self._queue_message("message", message)

    def press_button(
        self,
        user: Mapping[str, Any] | int,
        message: Mapping[str, Any],
        callback_data: str,
        *,
        strict: bool = True,
    ) -> JsonDict:
        """The user taps an inline button of a bot message; strict: the button must be there."""
        sender = self._known_user(user)
        chat_id = message["chat"]["id"]
        current = self._stored_message(chat_id, message["message_id"])
        if strict:
            if current is None or current["from"]["id"] != self.bot_id:
                raise ValueError(f"no bot message {message['message_id']} in chat {chat_id}")
            buttons = current.get("reply_markup", {}).get("inline_keyboard", [])
            offered = [button.get("callback_data") for row in buttons for button in row]
            if callback_data not in offered:
                raise ValueError(f"message has no button {callback_data!r}; it has {offered}")
        query_id = str(4_000_000_000_000 + next(self._query_numbers))
        self._pending_callback_queries.add(query_id)
        return self._queue(
            {
                "callback_query": {
                    "id": query_id,
                    "from": sender,
                    "message": copy.deepcopy(current if current is not None else message),
                    "chat_instance": str(-abs(chat_id) - 1_000_000),
                    "data": callback_data,
                }
            }
        )

    def press_bare_button(
        self,
        user: Mapping[str, Any] | int,
        *,
        message: Mapping[str, Any] | None = None,
        inline_message_id: str | None = None,
        data: str | None = None,
        game_short_name: str | None = None,
    ) -> JsonDict:
        """A button press as Telegram may deliver it without the usual parts: under a message
        sent in inline mode (no message, an inline_message_id), or with no data."""
        query_id = str(4_000_000_000_000 + next(self._query_numbers))
        self._pending_callback_queries.add(query_id)
        query: JsonDict = {"id": query_id, "from": self._known_user(user), "chat_instance": "-1"}
        optional = {
            "message": copy.deepcopy(dict(message)) if message is not None else None,
            "inline_message_id": inline_message_id,
            "data": data,
            "game_short_name": game_short_name,
        }
        query.update({key: value for key, value in optional.items() if value is not None})
        return self._queue({"callback_query": query})

    def send_inline_query(
        self, user: Mapping[str, Any] | int, query: str, *, offset: str = ""
    ) -> JsonDict:
        """The user types "@bot query" in some chat."""
        sender = self._known_user(user)
        query_id = str(5_000_000_000_000 + next(self._query_numbers))
        self._pending_inline_queries.add(query_id)
        return self._queue(
            {
                "inline_query": {
                    "id": query_id,
                    "from": sender,
                    "query": query,
                    "offset": offset,
                    "chat_type": "sender",
                }
            }
        )

    def edit_text(
        self, user: Mapping[str, Any] | int, message: Mapping[str, Any], new_text: str
    ) -> JsonDict:
        """The user edits a text message they sent earlier (an edited_message update)."""
        sender = self._known_user(user)
        stored = self._stored_message(message["chat"]["id"], message["message_id"])
        if stored is None or stored["from"]["id"] != sender["id"] or "text" not in stored:
            raise ValueError("the user can only edit a text message they sent")
        stored["text"] = new_text
        stored.pop("entities", None)
        found_entities = _command_entities(new_text)
        if found_entities:
            stored["entities"] = found_entities
        stored["edit_date"] = _now()
        return self._queue({"edited_message": copy.deepcopy(stored)})

    def send_group_text(
        self,
        user: Mapping[str, Any] | int,
        group_chat_id: int,
        text: str,
        *,
        title: str | None = None,
    ) -> JsonDict:
        """The user writes in a group the bot is in; the group becomes known."""
        if group_chat_id not in self._chats:
            self._chats[group_chat_id] = {
                "id": group_chat_id,
                "type": "group",
                "title": title or f"Group {group_chat_id}",
            }
        return self.send_text(user, text, chat=group_chat_id)

    def set_blocked(self, user: Mapping[str, Any] | int, blocked: bool = True) -> JsonDict:
        """The user blocks (or unblocks) the bot: sends to them then fail with 403."""
        sender = self._known_user(user)
        if blocked:
            self._blocked.add(sender["id"])
        else:
            self._blocked.discard(sender["id"])
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        new_member: JsonDict = {"user": self.bot_user, "status": new}
        if blocked:
            new_member["until_date"] = 0
        return self._queue(
            {
                "my_chat_member": {
                    "chat": copy.deepcopy(self._chats[sender["id"]]),
                    "from": sender,
                    "date": _now(),
                    "old_chat_member": {"user": self.bot_user, "status": old},
                    "new_chat_member": new_member,
                }
            }
        )

    def queue_update(self, raw: Mapping[str, Any]) -> JsonDict:
        """Queue any update dict as is (its update_id is assigned here)."""
        payload = {key: copy.deepcopy(value) for key, value in raw.items() if key != "update_id"}
        return self._queue(payload)

    # ----------------------------------------------------------------- observing the bot

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

    # ----------------------------------------------------------------- faults

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

    # ----------------------------------------------------------------- HTTP

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

    def _record(
        self,
        method: str,
        params: JsonDict,
        *,
        ok: bool,
        result: Any = None,
        description: str | None = None,
        error_code: int | None = None,
        injected: bool = False,
        cancelled: bool = False,
    ) -> None:
        call = ApiCall(
            method=method,
            params=params,
            ok=ok,
            result=copy.deepcopy(result),
            description=description,
            error_code=error_code,
            time=time.monotonic(),
            index=len(self.calls),
            injected=injected,
            cancelled=cancelled,
        )
        self.calls.append(call)
        self._wake_calls()
        for callback in list(self._subscribers):
            try:
                callback(call)
            except Exception:  # a broken subscriber must not break the bot's request
                log.exception("local Bot API subscriber failed")

    async def _sleep(self, seconds: float) -> None:
        """Sleep without blocking other requests; cut short when the server stops."""
        if seconds > 0 and not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), seconds)

    def _wake_calls(self) -> None:
        self._call_signal.set()
        self._call_signal = asyncio.Event()

    def _wake_updates(self) -> None:
        self._update_signal.set()
        self._update_signal = asyncio.Event()

    # ----------------------------------------------------------------- updates

    def _queue(self, payload: JsonDict) -> JsonDict:
        update = {"update_id": self._next_update_id, **payload}
        self._next_update_id += 1
        self._updates.append(update)
        self._wake_updates()
        return copy.deepcopy(update)

    def _deliverable(self) -> list[JsonDict]:
        """Pending updates, after dropping the types the bot does not want (for good)."""
        allowed = self._allowed_updates
        self._updates = [
            update
            for update in self._updates
            if (
                _update_type(update) in allowed
                if allowed
                else _update_type(update) not in _OPT_IN_UPDATE_TYPES
            )
        ]
        return self._updates

    def _set_allowed_updates(self, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise _bad("can't parse allowed_updates JSON array")
        self._allowed_updates = list(value)

    async def _get_updates(self, params: JsonDict) -> list[JsonDict]:
        if self._webhook is not None:
            raise _ApiError(409, WEBHOOK_CONFLICT)
        offset = params.get("offset") or 0
        limit = params.get("limit") or 100
        timeout = params.get("timeout") or 0
        if not (_is_int(offset) and _is_int(limit) and isinstance(timeout, int | float)):
            raise _bad("wrong parameter in getUpdates request")
        limit = min(max(limit, 1), 100)
        self._set_allowed_updates(params.get("allowed_updates"))
        if offset > 0:
            self._updates = [update for update in self._updates if update["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_updates()  # an older long poll still waiting now ends with a conflict
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(float(timeout), 0.0)
        while True:
            if self._closing.is_set():
                return []
            if generation != self._poll_generation:
                raise _ApiError(409, POLLING_CONFLICT)
            if self._webhook is not None:
                raise _ApiError(409, WEBHOOK_CONFLICT)
            ready = self._deliverable()
            if ready:
                return copy.deepcopy(ready[:limit])
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            signal = self._update_signal
            self._polls_waiting += 1
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(signal.wait(), remaining)
            finally:
                self._polls_waiting -= 1

    async def _set_webhook(self, params: JsonDict) -> bool:
        url = params.get("url")
        if url is None:
            raise _bad("url is empty")
        if not isinstance(url, str):
            raise _bad("bad webhook: wrong url")
        if url == "":
            return await self._delete_webhook(params)
        if not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret_token = params.get("secret_token") or None
        if secret_token is not None and not (
            isinstance(secret_token, str) and _SECRET_TOKEN_PATTERN.fullmatch(secret_token)
        ):
            raise _bad("secret token contains unallowed characters")
        max_connections = params.get("max_connections") or 40
        if not _is_int(max_connections) or not 1 <= max_connections <= 100:
            raise _bad("bad webhook: max_connections must be between 1 and 100")
        self._set_allowed_updates(params.get("allowed_updates"))
        if params.get("drop_pending_updates"):
            self._updates.clear()
        await self._stop_webhook_delivery()
        self._webhook = _Webhook(url, secret_token, max_connections)
        self._webhook_task = asyncio.create_task(self._deliver_to_webhook())
        self._wake_updates()  # a waiting getUpdates now ends with a conflict
        return True

    async def _delete_webhook(self, params: JsonDict) -> bool:
        await self._stop_webhook_delivery()
        self._webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: JsonDict) -> JsonDict:
        info: JsonDict = {
            "url": self._webhook.url if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._deliverable()),
        }
        if self._webhook is not None:
            info["max_connections"] = self._webhook.max_connections
            info["ip_address"] = "127.0.0.1"
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
            if self._webhook.last_error_date is not None:
                info["last_error_date"] = self._webhook.last_error_date
                info["last_error_message"] = self._webhook.last_error_message
        return info

    async def _stop_webhook_delivery(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _deliver_to_webhook(self) -> None:
        """POST pending updates one by one, in order, retrying each until it gets a 2xx."""
        backoff = 0.05
        while not self._closing.is_set() and self._webhook is not None:
            webhook = self._webhook
            ready = self._deliverable()
            if not ready:
                await self._update_signal.wait()
                continue
            update = ready[0]
            headers = {"Content-Type": "application/json"}
            if webhook.secret_token:
                headers["X-Telegram-Bot-Api-Secret-Token"] = webhook.secret_token
            error: str | None = None
            assert self._client is not None  # created by start()
            try:
                async with self._client.post(
                    webhook.url,
                    data=_dumps(update).encode("utf-8"),
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=10),
                ) as response:
                    await response.read()
                    if not 200 <= response.status < 300:
                        error = (
                            f"Wrong response from the webhook: {response.status} {response.reason}"
                        )
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"Connection failed: {exc or type(exc).__name__}"
            if error is None:
                self._updates = [
                    pending
                    for pending in self._updates
                    if pending["update_id"] != update["update_id"]
                ]
                backoff = 0.05
                continue
            webhook.last_error_date = _now()
            webhook.last_error_message = error
            await self._sleep(backoff)
            backoff = min(backoff * 2, 1.0)

    # ----------------------------------------------------------------- messages: helpers

    def _known_user(self, user: Mapping[str, Any] | int) -> JsonDict:
        user_id = user if isinstance(user, int) else user["id"]
        if user_id not in self._users:
            if isinstance(user, int):
                raise ValueError(f"unknown user {user_id}; create it with user() first")
            self.user(
                user_id,
                first_name=user.get("first_name", "Test"),
                language_code=user.get("language_code"),
                username=user.get("username"),
            )
        return copy.deepcopy(self._users[user_id])

    def _allocate_message_id(self, chat_id: int) -> int:
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def _user_message(
        self, user: Mapping[str, Any] | int, chat: Mapping[str, Any] | int | None
    ) -> JsonDict:
        sender = self._known_user(user)
        if chat is None:
            chat_id = sender["id"]
        else:
            chat_id = chat if isinstance(chat, int) else chat["id"]
            if chat_id not in self._chats:
                if isinstance(chat, int):
                    raise ValueError(f"unknown chat {chat_id}")
                self._chats[chat_id] = dict(chat)
        return {
            "message_id": self._allocate_message_id(chat_id),
            "from": sender,
            "chat": copy.deepcopy(self._chats[chat_id]),
            "date": _now(),
        }

    def _queue_message(self, kind: str, message: JsonDict) -> JsonDict:
        chat_id = message["chat"]["id"]
        self._messages.setdefault(chat_id, {})[message["message_id"]] = copy.deepcopy(message)
        return self._queue({kind: message})

    def _stored_message(self, chat_id: Any, message_id: Any) -> JsonDict | None:
        if not (_is_int(chat_id) and _is_int(message_id)):
            return None
        return self._messages.get(chat_id, {}).get(message_id)

    def _target_chat(
        self, params: Mapping[str, Any], name: str = "chat_id", *, sending: bool = True
    ) -> JsonDict:
        chat_id = params.get(name)
        if chat_id is None or chat_id == "":
            raise _bad(f"{name} is empty")
        chat: JsonDict | None = None
        if _is_int(chat_id):
            chat = self._chats.get(chat_id)
        elif isinstance(chat_id, str) and chat_id.startswith("@"):
            chat = next(
                (
                    known
                    for known in self._chats.values()
                    if known["type"] != "private" and known.get("username") == chat_id[1:]
                ),
                None,
            )
        if chat is None:
            raise _bad("chat not found")
        if sending and chat["id"] in self._blocked:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _bot_message(
        self, chat: JsonDict, content: JsonDict, reply_to: JsonDict | None
    ) -> JsonDict:
        """A new bot message; called only once the request is valid, so no id is wasted."""
        message: JsonDict = {
            "message_id": self._allocate_message_id(chat["id"]),
            "from": self.bot_user,
            "chat": copy.deepcopy(chat),
            "date": _now(),
            **content,
        }
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        return message

    def _store_bot_message(self, message: JsonDict, markup: JsonDict | None) -> JsonDict:
        chat_id = message["chat"]["id"]
        if markup is not None:
            if "inline_keyboard" in markup:
                if markup["inline_keyboard"]:
                    message["reply_markup"] = markup
            elif "keyboard" in markup:
                self._reply_keyboards[chat_id] = markup
            elif "remove_keyboard" in markup:
                self._reply_keyboards[chat_id] = None
        self._messages.setdefault(chat_id, {})[message["message_id"]] = copy.deepcopy(message)
        self._bot_sent.append((chat_id, message["message_id"]))
        return message

    def _formatted(
        self,
        text: Any,
        parse_mode: Any,
        entities: Any,
        *,
        caption: bool = False,
    ) -> tuple[str, list[JsonDict]]:
        """Parse and check a text or caption as Telegram would; returns (text, entities)."""
        if text is None or text == "":
            if caption:
                return "", []
            raise _bad("message text is empty")
        if not isinstance(text, str):
            text = _dumps(text)
        if entities is not None:
            found = self._checked_entities(entities)
        elif parse_mode:
            if not isinstance(parse_mode, str) or parse_mode.lower() != "html":
                raise _bad("unsupported parse_mode")
            try:
                text, found = parse_html(text)
            except TelegramHtmlError as error:
                raise _bad(f"can't parse entities: {error.detail}") from None
        else:
            found = []
        text, found = strip_message_text(text, found)
        for entity in found:
            if entity["type"] == "text_mention" and entity["user"]["id"] in self._users:
                entity["user"] = copy.deepcopy(self._users[entity["user"]["id"]])
        if not text:
            if caption:
                return "", []
            raise _bad("message text is empty")
        if utf16_len(text) > (CAPTION_LIMIT if caption else MESSAGE_LIMIT):
            raise _bad("message caption is too long" if caption else "message is too long")
        return text, found

    @staticmethod
    def _checked_entities(entities: Any) -> list[JsonDict]:
        if not isinstance(entities, list):
            raise _bad("can't parse entities JSON object")
        for entity in entities:
            if not (
                isinstance(entity, dict)
                and isinstance(entity.get("type"), str)
                and _is_int(entity.get("offset"))
                and _is_int(entity.get("length"))
                and entity["offset"] >= 0
            ):
                raise _bad("can't parse entities JSON object")
        return copy.deepcopy(entities)

    def _checked_markup(self, markup: Any, *, inline_only: bool = False) -> JsonDict | None:
        """Validate reply_markup as Telegram does; returns it with empty rows removed."""
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            return {"inline_keyboard": _checked_inline_keyboard(markup["inline_keyboard"])}
        if inline_only:
            raise _bad("inline keyboard expected")
        if "keyboard" in markup:
            rows = _checked_reply_keyboard(markup["keyboard"])
            return {**markup, "keyboard": rows}
        if "remove_keyboard" in markup:
            if markup["remove_keyboard"] is not True:
                raise _bad("can't parse reply keyboard markup JSON object")
            return dict(markup)
        if "force_reply" in markup:
            if markup["force_reply"] is not True:
                raise _bad("can't parse reply keyboard markup JSON object")
            return dict(markup)
        raise _bad("can't parse reply keyboard markup JSON object")

    def _reply_to(self, params: JsonDict, chat: JsonDict) -> JsonDict | None:
        """The message this one replies to, from reply_parameters or reply_to_message_id."""
        reply = params.get("reply_parameters")
        if reply is None and params.get("reply_to_message_id") is not None:
            reply = {
                "message_id": params["reply_to_message_id"],
                "allow_sending_without_reply": params.get("allow_sending_without_reply", False),
            }
        if reply is None:
            return None
        if not isinstance(reply, dict) or not _is_int(reply.get("message_id")):
            raise _bad("can't parse reply parameters JSON object")
        replied = self._stored_message(chat["id"], reply["message_id"])
        if replied is not None:
            return _without_reply(replied)
        if not reply.get("allow_sending_without_reply"):
            raise _bad("message to be replied not found")
        return None

    def _bot_message_to_edit(self, params: JsonDict) -> JsonDict:
        if params.get("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")
        chat = self._target_chat(params)
        message = self._stored_message(chat["id"], params.get("message_id"))
        if message is None or message["from"]["id"] != self.bot_id:
            raise _bad("message to edit not found")
        return message

    def _store_file(
        self,
        kind: str,
        data: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        width: int = 0,
        height: int = 0,
    ) -> _StoredFile:
        number = next(self._file_numbers)
        if kind == "photo":
            path = f"photos/file_{number}.jpg"
        elif kind == "sticker":
            path = f"stickers/file_{number}.webp"
        elif kind in _MEDIA_KINDS:
            path = f"{kind}s/file_{number}"
        else:
            suffix = file_name.rsplit(".", 1)[-1] if file_name and "." in file_name else ""
            path = f"documents/file_{number}" + (f".{suffix}" if suffix else "")
        prefix = {"photo": "AgAC", "sticker": "CAAC", **_MEDIA_KINDS}.get(kind, "BQAC")
        stored = _StoredFile(
            file_id=prefix + secrets.token_urlsafe(24),
            file_unique_id="AQAD" + secrets.token_urlsafe(9),
            kind=kind,
            data=data,
            file_path=path,
            file_name=file_name,
            mime_type=mime_type or ("image/jpeg" if kind == "photo" else None),
            width=width,
            height=height,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _photo_sizes(self, data: bytes, size: tuple[int, int]) -> list[JsonDict]:
        """A thumbnail (if the photo is bigger than one) and the full size, smallest first."""
        width, height = size
        dimensions = []
        longest = max(width, height, 1)
        if longest > 90:
            dimensions.append((max(1, width * 90 // longest), max(1, height * 90 // longest)))
        dimensions.append((width, height))
        return [
            _photo_size_dict(self._store_file("photo", data, width=size_width, height=size_height))
            for size_width, size_height in dimensions
        ]

    def _input_file(self, params: JsonDict, name: str, kind: str) -> _StoredFile | UploadedFile:
        """A file parameter: an upload (direct or attach://), or an existing file_id."""
        value = params.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
            if not isinstance(value, UploadedFile):
                raise _bad(f"there is no {name} in the request")
        if isinstance(value, UploadedFile):
            if not value.data:
                raise _bad("file must be non-empty")
            return value
        if value is None or value == "":
            raise _bad(f"there is no {name} in the request")
        if not isinstance(value, str):
            raise _bad(WRONG_FILE.removeprefix("Bad Request: "))
        if value.startswith(("http://", "https://")):
            raise _bad("failed to get HTTP URL content")  # the local server has no network
        stored = self._files.get(value)
        if stored is None:
            raise _bad(WRONG_FILE.removeprefix("Bad Request: "))
        if stored.kind != kind:
            raise _bad("type of file mismatch")
        return stored

    def _caption(self, params: JsonDict) -> JsonDict:
        """The caption and caption_entities fields of a media message (maybe none)."""
        caption, entities = self._formatted(
            params.get("caption"),
            params.get("parse_mode"),
            params.get("caption_entities"),
            caption=True,
        )
        content: JsonDict = {}
        if caption:
            content["caption"] = caption
        if entities:
            content["caption_entities"] = entities
        return content

    # ----------------------------------------------------------------- methods

    async def _always_true(self, params: JsonDict) -> bool:
        return True

    async def _get_me(self, params: JsonDict) -> JsonDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _send_message(self, params: JsonDict) -> JsonDict:
        chat = self._target_chat(params)
        text, entities = self._formatted(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        markup = self._checked_markup(params.get("reply_markup"))
        reply_to = self._reply_to(params, chat)
        content: JsonDict = {"text": text}
        if entities:
            content["entities"] = entities
        return self._store_bot_message(self._bot_message(chat, content, reply_to), markup)

    async def _send_photo(self, params: JsonDict) -> JsonDict:
        chat = self._target_chat(params)
        source = self._input_file(params, "photo", "photo")
        if isinstance(source, UploadedFile) and not _looks_like_image(source.data):
            raise _bad("IMAGE_PROCESS_FAILED")
        content = self._caption(params)
        markup = self._checked_markup(params.get("reply_markup"))
        reply_to = self._reply_to(params, chat)
        if isinstance(source, UploadedFile):
            size = _image_size(source.data) or (512, 512)
            content["photo"] = self._photo_sizes(source.data, size)
        else:
            content["photo"] = [_photo_size_dict(source)]
        if params.get("has_spoiler"):
            content["has_media_spoiler"] = True
        return self._store_bot_message(self._bot_message(chat, content, reply_to), markup)

    async def _send_document(self, params: JsonDict) -> JsonDict:
        chat = self._target_chat(params)
        source = self._input_file(params, "document", "document")
        content = self._caption(params)
        markup = self._checked_markup(params.get("reply_markup"))
        reply_to = self._reply_to(params, chat)
        if isinstance(source, UploadedFile):
            file_name = source.filename or "document"
            mime_type = source.content_type
            if not mime_type or mime_type == "application/octet-stream":
                mime_type = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
            source = self._store_file(
                "document", source.data, file_name=file_name, mime_type=mime_type
            )
        content["document"] = _document_dict(source)
        return self._store_bot_message(self._bot_message(chat, content, reply_to), markup)

    def _media_sender(self, kind: str) -> Callable[[JsonDict], Any]:
        """sendVideo, sendVoice, sendVideoNote, sendAudio: a file of that kind, by file id or
        upload."""

        async def send(params: JsonDict) -> JsonDict:
            chat = self._target_chat(params)
            source = self._input_file(params, kind, kind)
            content = {} if kind == "video_note" else self._caption(params)
            markup = self._checked_markup(params.get("reply_markup"))
            reply_to = self._reply_to(params, chat)
            if isinstance(source, UploadedFile):
                source = self._store_file(
                    kind, source.data, file_name=source.filename, mime_type=source.content_type
                )
            content[kind] = _media_dict(kind, source, int(params.get("duration") or 1))
            return self._store_bot_message(self._bot_message(chat, content, reply_to), markup)

        return send

    def _checked_location(self, params: JsonDict) -> JsonDict:
        coordinates: list[float] = []
        for name in ("latitude", "longitude"):
            value = params.get(name)
            if value is None or value == "":
                raise _bad(f"{name} is empty")
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise _bad(f"wrong {name} specified")
            coordinates.append(float(value))
        latitude, longitude = coordinates
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise _bad("wrong location specified")
        location: JsonDict = {"latitude": latitude, "longitude": longitude}
        for optional in ("horizontal_accuracy", "live_period", "heading"):
            if params.get(optional) is not None:
                location[optional] = params[optional]
        return location

    async def _send_location(self, params: JsonDict) -> JsonDict:
        chat = self._target_chat(params)
        content: JsonDict = {"location": self._checked_location(params)}
        markup = self._checked_markup(params.get("reply_markup"))
        reply_to = self._reply_to(params, chat)
        return self._store_bot_message(self._bot_message(chat, content, reply_to), markup)

    async def _send_venue(self, params: JsonDict) -> JsonDict:
        chat = self._target_chat(params)
        location = self._checked_location(params)
        venue: JsonDict = {"location": location}
        for name in ("title", "address"):
            value = params.get(name)
            if not isinstance(value, str) or not value.strip():
                raise _bad(f"{name} is empty")
            venue[name] = value
        for optional in (
            "foursquare_id",
            "foursquare_type",
            "google_place_id",
            "google_place_type",
        ):
            if params.get(optional):
                venue[optional] = params[optional]
        markup = self._checked_markup(params.get("reply_markup"))
        reply_to = self._reply_to(params, chat)
        content: JsonDict = {"location": location, "venue": venue}
        return self._store_bot_message(self._bot_message(chat, content, reply_to), markup)

    async def _copy_message(self, params: JsonDict) -> JsonDict:
        chat = self._target_chat(params)
        source_chat = self._target_chat(params, "from_chat_id", sending=False)
        original = self._stored_message(source_chat["id"], params.get("message_id"))
        if original is None:
            raise _bad("message to copy not found")
        kinds = ("text", "entities", "photo", "document", "location", "venue", "contact", "sticker")
        content = {kind: copy.deepcopy(original[kind]) for kind in kinds if kind in original}
        if "caption" in params:
            content.update(self._caption(params))
        else:
            for kind in ("caption", "caption_entities"):
                if kind in original:
                    content[kind] = copy.deepcopy(original[kind])
        markup = self._checked_markup(params.get("reply_markup"))
        reply_to = self._reply_to(params, chat)
        message = self._store_bot_message(self._bot_message(chat, content, reply_to), markup)
        return {"message_id": message["message_id"]}

    async def _send_chat_action(self, params: JsonDict) -> bool:
        self._target_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    async def _edit_message_text(self, params: JsonDict) -> JsonDict:
        message = self._bot_message_to_edit(params)
        if "text" not in message:
            raise _bad("there is no text in the message to edit")
        text, entities = self._formatted(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        markup = self._checked_markup(params.get("reply_markup"), inline_only=True)
        return self._apply_edit(message, "text", "entities", text, entities, markup)

    async def _edit_message_caption(self, params: JsonDict) -> JsonDict:
        message = self._bot_message_to_edit(params)
        if not any(media in message for media in ("photo", "document")):
            raise _bad("there is no caption in the message to edit")
        caption, entities = self._formatted(
            params.get("caption"),
            params.get("parse_mode"),
            params.get("caption_entities"),
            caption=True,
        )
        markup = self._checked_markup(params.get("reply_markup"), inline_only=True)
        return self._apply_edit(message, "caption", "caption_entities", caption, entities, markup)

    async def _edit_message_reply_markup(self, params: JsonDict) -> JsonDict:
        message = self._bot_message_to_edit(params)
        markup = self._checked_markup(params.get("reply_markup"), inline_only=True)
        new_markup = markup if markup and markup["inline_keyboard"] else None
        if new_markup == message.get("reply_markup"):
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        _set_or_drop(message, "reply_markup", new_markup)
        message["edit_date"] = _now()
        return copy.deepcopy(message)

    @staticmethod
    def _apply_edit(
        message: JsonDict,
        text_key: str,
        entities_key: str,
        text: str,
        entities: list[JsonDict],
        markup: JsonDict | None,
    ) -> JsonDict:
        # Telegram drops the inline keyboard when an edit does not repeat it.
        new_markup = markup if markup and markup["inline_keyboard"] else None
        if (
            message.get(text_key, "") == text
            and message.get(entities_key, []) == entities
            and message.get("reply_markup") == new_markup
        ):
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        _set_or_drop(message, text_key, text or None)
        _set_or_drop(message, entities_key, entities or None)
        _set_or_drop(message, "reply_markup", new_markup)
        message["edit_date"] = _now()
        return copy.deepcopy(message)

    async def _delete_message(self, params: JsonDict) -> bool:
        chat = self._target_chat(params)
        message = self._stored_message(chat["id"], params.get("message_id"))
        if message is None:
            raise _bad("message to delete not found")
        if chat["type"] != "private" and message["from"]["id"] != self.bot_id:
            raise _bad("message can't be deleted for everyone")
        del self._messages[chat["id"]][message["message_id"]]
        return True

    async def _delete_messages(self, params: JsonDict) -> bool:
        chat = self._target_chat(params)
        message_ids = params.get("message_ids")
        if not isinstance(message_ids, list) or not 1 <= len(message_ids) <= 100:
            raise _bad("message_ids must be a list of 1-100 identifiers")
        for message_id in message_ids:
            self._messages.get(chat["id"], {}).pop(message_id, None)
        return True

    async def _answer_callback_query(self, params: JsonDict) -> bool:
        query_id = params.get("callback_query_id")
        if not isinstance(query_id, str) or query_id not in self._pending_callback_queries:
            raise _bad(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        text = params.get("text")
        if text is not None and len(str(text)) > CALLBACK_ANSWER_LIMIT:
            raise _bad("MESSAGE_TOO_LONG")
        self._pending_callback_queries.discard(query_id)
        return True

    async def _answer_inline_query(self, params: JsonDict) -> bool:
        query_id = params.get("inline_query_id")
        if not isinstance(query_id, str) or query_id not in self._pending_inline_queries:
            raise _bad(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        results = params.get("results")
        if not isinstance(results, list):
            raise _bad("can't parse inline query results JSON object")
        if len(results) > INLINE_RESULTS_LIMIT:
            raise _bad("RESULTS_TOO_MUCH")
        seen_ids: set[str] = set()
        for result in results:
            if not isinstance(result, dict):
                raise _bad("can't parse inline query result JSON object")
            if result.get("type") not in _INLINE_RESULT_TYPES:
                raise _bad("RESULT_TYPE_INVALID")
            result_id = result.get("id")
            if not isinstance(result_id, str) or not (
                1 <= len(result_id.encode("utf-8")) <= INLINE_RESULT_ID_LIMIT
            ):
                raise _bad("RESULT_ID_INVALID")
            if result_id in seen_ids:
                raise _bad("RESULT_ID_DUPLICATE")
            seen_ids.add(result_id)
            if result["type"] == "article" and not result.get("title"):
                raise _bad("RESULT_TITLE_EMPTY")
            content = result.get("input_message_content")
            if result["type"] == "article" and not isinstance(content, dict):
                raise _bad("can't parse input message content JSON object")
            if isinstance(content, dict) and "message_text" in content:
                self._formatted(
                    content.get("message_text"),
                    content.get("parse_mode"),
                    content.get("entities"),
                )
            self._checked_markup(result.get("reply_markup"), inline_only=True)
        next_offset = params.get("next_offset")
        if next_offset is not None and len(str(next_offset).encode("utf-8")) > 64:
            raise _bad("NEXT_OFFSET_INVALID")
        self._pending_inline_queries.discard(query_id)
        return True

    def _command_key(
        self, scope: Any, language_code: Any, *, check: bool = True
    ) -> tuple[str, int | None, int | None, str]:
        scope = scope or {"type": "default"}
        language_code = language_code or ""
        if not isinstance(scope, dict) or scope.get("type") not in _COMMAND_SCOPES:
            raise _bad("can't parse BotCommandScope JSON object")
        if not isinstance(language_code, str) or not _LANGUAGE_CODE_PATTERN.fullmatch(
            language_code
        ):
            raise _bad("invalid language code specified")
        chat_id = scope.get("chat_id")
        if scope["type"] in _CHAT_SCOPES:
            if check:
                chat_id = self._target_chat(scope)["id"]
        else:
            chat_id = None
        user_id = scope.get("user_id") if scope["type"] == "chat_member" else None
        return scope["type"], chat_id, user_id, language_code

    async def _set_my_commands(self, params: JsonDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON array")
        if len(commands) > COMMANDS_LIMIT:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand JSON object")
            name = command.get("command")
            if not isinstance(name, str) or not _BOT_COMMAND_PATTERN.fullmatch(name):
                raise _bad("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._command_key(params.get("scope"), params.get("language_code"))
        if commands:
            self._commands[key] = [
                {"command": command["command"], "description": command["description"]}
                for command in commands
            ]
        else:
            self._commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: JsonDict) -> list[JsonDict]:
        key = self._command_key(params.get("scope"), params.get("language_code"))
        return copy.deepcopy(self._commands.get(key, []))

    async def _delete_my_commands(self, params: JsonDict) -> bool:
        key = self._command_key(params.get("scope"), params.get("language_code"))
        self._commands.pop(key, None)
        return True

    def _setter(self, name: str, limit: int) -> Callable[[JsonDict], Any]:
        """setMyDescription / setMyShortDescription / setMyName, stored per language."""

        async def set_text(params: JsonDict) -> bool:
            value = params.get(name) or ""
            language_code = params.get("language_code") or ""
            if not isinstance(value, str) or len(value) > limit:
                raise _bad(f"{name} is too long")
            if not _LANGUAGE_CODE_PATTERN.fullmatch(str(language_code)):
                raise _bad("invalid language code specified")
            if value:
                self._bot_texts[(name, language_code)] = value
            else:
                self._bot_texts.pop((name, language_code), None)
            return True

        return set_text

    def _getter(self, name: str) -> Callable[[JsonDict], Any]:
        """getMyDescription / getMyShortDescription / getMyName."""

        async def get_text(params: JsonDict) -> JsonDict:
            language_code = params.get("language_code") or ""
            value = self._bot_texts.get((name, language_code), self._bot_texts.get((name, ""), ""))
            if name == "name" and not value:
                value = self.bot_first_name
            return {name: value}

        return get_text

    async def _set_chat_menu_button(self, params: JsonDict) -> bool:
        chat_id = self._target_chat(params)["id"] if params.get("chat_id") is not None else None
        button = params.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in (
            "commands",
            "web_app",
            "default",
        ):
            raise _bad("can't parse menu button JSON object")
        self._menu_buttons[chat_id] = copy.deepcopy(button)
        return True

    async def _get_chat_menu_button(self, params: JsonDict) -> JsonDict:
        chat_id = self._target_chat(params)["id"] if params.get("chat_id") is not None else None
        button = self._menu_buttons.get(chat_id) or self._menu_buttons.get(None)
        return copy.deepcopy(button) if button else {"type": "default"}

    async def _get_chat(self, params: JsonDict) -> JsonDict:
        chat = self._target_chat(params)
        return {
            **copy.deepcopy(chat),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _get_file(self, params: JsonDict) -> JsonDict:
        file_id = params.get("file_id")
        stored = self._files.get(file_id) if isinstance(file_id, str) else None
        if stored is None:
            raise _bad("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }


# --------------------------------------------------------------------- module helpers


def _command_entities(text: str) -> list[JsonDict]:
    match = _USER_COMMAND_PATTERN.match(text)
    if match is None:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(match.group())}]


def _without_reply(message: JsonDict) -> JsonDict:
    """A message as it appears in reply_to_message (Telegram does not nest replies further)."""
    return {
        key: copy.deepcopy(value) for key, value in message.items() if key != "reply_to_message"
    }


def _set_or_drop(target: JsonDict, key: str, value: Any) -> None:
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value


def _photo_size_dict(stored: _StoredFile) -> JsonDict:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.data),
        "width": stored.width,
        "height": stored.height,
    }


def _document_dict(stored: _StoredFile) -> JsonDict:
    document: JsonDict = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.data),
    }
    if stored.file_name:
        document["file_name"] = stored.file_name
    if stored.mime_type:
        document["mime_type"] = stored.mime_type
    return document


def _media_dict(kind: str, stored: _StoredFile, duration: int) -> JsonDict:
    """A Video, Voice, VideoNote or Audio object."""
    media = {**_document_dict(stored), "duration": duration}
    if kind == "video":
        media.update(width=stored.width or 640, height=stored.height or 360)
    elif kind == "video_note":
        media["length"] = stored.width or 240
    return media


def _checked_inline_keyboard(rows: Any) -> list[list[JsonDict]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad(
            'can\'t parse inline keyboard: field "inline_keyboard" must be an Array of Arrays'
        )
    kept = [row for row in rows if row]
    if sum(len(row) for row in kept) > KEYBOARD_BUTTONS_LIMIT:
        raise _bad("reply markup is too long")
    for row in kept:
        for button in row:
            if not isinstance(button, dict):
                raise _bad(
                    "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                )
            text = button.get("text")
            actions = [action for action in _INLINE_BUTTON_ACTIONS if action in button]
            if not isinstance(text, str) or not text.strip() or len(actions) != 1:
                raise _bad("BUTTON_DATA_INVALID")
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= (
                    CALLBACK_DATA_LIMIT
                ):
                    raise _bad("BUTTON_DATA_INVALID")
            if "url" in button:
                url = button["url"]
                if not isinstance(url, str) or not re.match(r"(https?|tg)://\S+$", url):
                    raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
    return copy.deepcopy(kept)


def _checked_reply_keyboard(rows: Any) -> list[list[Any]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad('can\'t parse keyboard: field "keyboard" must be an Array of Arrays')
    kept = [row for row in rows if row]
    if not kept:
        raise _bad("keyboard must be non-empty")
    if sum(len(row) for row in kept) > KEYBOARD_BUTTONS_LIMIT:
        raise _bad("reply markup is too long")
    for row in kept:
        for button in row:
            if isinstance(button, str):
                text = button
            elif isinstance(button, dict):
                text = button.get("text")
                requests = [request for request in _KEYBOARD_BUTTON_REQUESTS if button.get(request)]
                if len(requests) > 1:
                    raise _bad("can't parse keyboard button: only one request field is allowed")
            else:
                raise _bad(
                    "can't parse keyboard button: KeyboardButton must be a String or an Object"
                )
            if not isinstance(text, str) or not text.strip():
                raise _bad("can't parse keyboard button: Text must be non-empty")
    return copy.deepcopy(kept)
