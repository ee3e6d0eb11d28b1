"""The local Bot API server's protocol: Telegram's limits and error texts, the records of calls
and files, decoding of parameters, the checks shared by several methods, and the server's
state (ServerState), on which the other parts build:

    ServerState (protocol.py) → Validation (validation.py) → UpdatesAndWebhooks (updates.py)
    → SimulatedUsers (users.py) → Methods (methods.py) → LocalBotApi (server.py)
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from bot.telegram.html import utf16_len

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


class ServerState:
    """Everything the server holds in memory, and the bookkeeping of every call."""

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

    def _allocate_message_id(self, chat_id: int) -> int:
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def _stored_message(self, chat_id: Any, message_id: Any) -> JsonDict | None:
        if not (_is_int(chat_id) and _is_int(message_id)):
            return None
        return self._messages.get(chat_id, {}).get(message_id)

    @property
    def bot_user(self) -> JsonDict:
        """The bot as a Telegram User dict."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }
