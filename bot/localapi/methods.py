"""The Bot API methods the bot calls: sending, editing and deleting messages, answering queries,
commands, descriptions, the menu button, chats and files."""

from __future__ import annotations

import copy
import mimetypes
from collections.abc import Callable
from typing import Any

from bot.localapi.protocol import (
    _BOT_COMMAND_PATTERN,
    _CHAT_ACTIONS,
    _CHAT_SCOPES,
    _COMMAND_SCOPES,
    _INLINE_RESULT_TYPES,
    _LANGUAGE_CODE_PATTERN,
    CALLBACK_ANSWER_LIMIT,
    COMMANDS_LIMIT,
    INLINE_RESULT_ID_LIMIT,
    INLINE_RESULTS_LIMIT,
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    JsonDict,
    UploadedFile,
    _bad,
    _document_dict,
    _image_size,
    _looks_like_image,
    _media_dict,
    _now,
    _photo_size_dict,
    _set_or_drop,
)
from bot.localapi.users import SimulatedUsers


class Methods(SimulatedUsers):
    """The Bot API methods the bot calls: sending, editing and deleting messages, answering
    queries, commands, descriptions, the menu button, chats and files."""

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
