"""What the server checks before it accepts a message: formatting (HTML entities), keyboards,
replies, locations, files and captions, and the messages the bot sent."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping
from typing import Any

from bot.localapi.protocol import (
    _MEDIA_KINDS,
    CAPTION_LIMIT,
    MESSAGE_LIMIT,
    WRONG_FILE,
    JsonDict,
    ServerState,
    UploadedFile,
    _ApiError,
    _bad,
    _checked_inline_keyboard,
    _checked_reply_keyboard,
    _dumps,
    _is_int,
    _now,
    _photo_size_dict,
    _StoredFile,
    _without_reply,
)
from bot.telegram.html import TelegramHtmlError, parse_html, strip_message_text, utf16_len


class Validation(ServerState):
    """What the server checks before it accepts a message: formatting (HTML entities), keyboards,
    replies, locations, files and captions, and the messages the bot sent."""

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
