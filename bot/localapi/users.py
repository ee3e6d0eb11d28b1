"""The simulated users: what tests and the console do as people (send text, locations, contacts,
media, press buttons, inline queries, edits, block the bot)."""

from __future__ import annotations

import copy
import mimetypes
from collections.abc import Mapping
from typing import Any

from bot.localapi.protocol import (
    JsonDict,
    _command_entities,
    _document_dict,
    _image_size,
    _media_dict,
    _now,
    _without_reply,
)
from bot.localapi.updates import UpdatesAndWebhooks


class SimulatedUsers(UpdatesAndWebhooks):
    """The simulated users: what tests and the console do as people (send text, locations,
    contacts, media, press buttons, inline queries, edits, block the bot)."""

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
