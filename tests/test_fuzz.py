"""Bad input, end to end: thousands of random updates through the local Bot API server.

One real bot runs per database; each Hypothesis example sends it a batch of random updates (any
text, every update type, edited and group messages, stale and forged buttons, locations anywhere
on Earth) from a pool of people, one update per person per batch so every reply can be traced to
its update, then waits until the bot is idle and checks:

- no handler failed and nothing was logged at ERROR;
- every private message got at least one message back, every button press and inline query an
  answer;
- the local Bot API server refused no call (so no malformed HTML, over-long text or bad
  keyboard ever left the bot).

Beyond random text, the generators aim at classes of input that once crashed a handler: digits
that str.isdigit() accepts and int() refuses (and decimal digits of other scripts), non-finite
and extreme coordinates, dates at the edges of the calendar in commands, and button presses
that carry no message (buttons under messages sent in inline mode) or no data.

The people keep their state between examples (report drafts, pending review questions), so
later batches hit the conversations earlier ones opened.

Profiles: JIYN_FUZZ_PROFILE=ci (default: derandomized, fixed size, no shrinking, the same run
every time) or explore (random seeds, more examples, shrinking).
"""

from __future__ import annotations

import itertools
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from telegram import Update

from bot.app import build_application
from bot.core.config import load_settings
from bot.localapi.server import ApiCall, LocalBotApi
from tests.support.harness import (
    TEST_KEY,
    TEST_TOKEN,
    ErrorLog,
    Person,
    RunningBot,
    all_callback_patterns,
    callback_patterns,
    errors_logged,
    make_settings,
    run_unpaced,
    settle,
)

ADMIN_ID = 6_100_001
VOLUNTEER_CHAT = -1_006_100
OTHER_GROUP = -1_006_200
CHANNEL = -1_006_300
PEOPLE = tuple(range(6_200_001, 6_200_041))
EVERYONE = (ADMIN_ID, *PEOPLE)
APOLOGY = "Sorry, something went wrong"
MESSAGE_TEXT_LIMIT = 4096
INLINE_QUERY_LIMIT = 256
CALLBACK_DATA_BYTES = 64

LANGUAGE_CODES = ("kk", "ru", "en", "ru-RU", "kk-KZ", "de", "zh-hans", "uz-Cyrl-UZ", None)
SPECIAL_TEXTS = (
    "",
    " ",
    "\n\n",
    "<b>",
    "</a>",
    "<b>bold</b> <i>x",
    '<a href="javascript:alert(1)">x</a>',
    "<script>alert(1)</script>",
    "& &amp; &lt; &#0; &#x110000;",
    "*_[]`",
    "_*bold*_ [link](http://example.com) `code` ~~x~~ ||spoiler||",
    "'; DROP TABLE reports; --",
    "' OR '1'='1",
    "%s%s%n %d",
    "{0} {name} {} {{}}",
    "\u202eevil\u202c",
    "\u200fשלום עולם",
    "مرحبا بالعالم",
    "🚨" * 30,
    "👨‍👩‍👧‍👦🏳️‍🌈",
    "\x00\x01\x07\x1b[31m\x7f",
    "\ufeff\u200b\u2028\u2029",
    "R-ABCD",
    "12",
    "0",
    "-5",
    "100001",
    "21.11 18:30",
    "31.02.2024 25:61",
    "99.99.99",
    "Меня задерживают!",
    "Мені ұстап жатыр",
    "What is the fine for a rally?",
    "Где можно провести митинг в Алматы?",
    "Митингке рұқсат керек пе?",
)
FRAGMENTS = (
    "митинг",
    "жиын",
    "rally",
    "акимат",
    "штраф",
    "488",
    "МРП",
    "<",
    ">",
    "&",
    '"',
    "'",
    "\\",
    "*",
    "_",
    "`",
    "[",
    "]",
    "(",
    ")",
    "\n",
    " ",
    "🚨",
    "\u202e",
    "\u0301",
    "\x00",
    "%",
    "{",
    "}",
    "/",
    "@jiyn_local_bot",
    "--",
    ";",
)
COMMANDS = (
    "start",
    "help",
    "language",
    "venues",
    "rights",
    "report",
    "cancel",
    "myreports",
    "forget",
    "queue",
    "stats",
    "export",
    "volunteer",
    "invite",
    "frobnicate",
    "START",
)


# Characters str.isdigit() accepts: superscripts, circled and other "No" digits that int()
# refuses, and decimal digits of other scripts that it reads.
UNICODE_DIGITS = "²³¹⁴⁵⁰₂₃①⑳⓪٣٤۵߃०৫௭๓༣၅០᠕１２"
# Dates at the edges of the calendar and around them, as /export reads them.
CALENDAR_EDGES = (
    "9999-12-31",
    "31.12.9999",
    "0001-01-01",
    "01.01.0001",
    "1999-12-31",
    "2999-12-31",
    "3000-01-01",
    "29.02.2023",
    "2024-02-29",
)
NON_FINITE = (math.inf, -math.inf, math.nan, 1e308, -1e308, 5e-324, -0.0)


def _repeated(unit: str, length: int) -> str:
    """A long text from a short unit, so a 4096-character message costs Hypothesis little."""
    return (unit * (length // max(len(unit), 1) + 1))[:length]


unicode_numbers = st.text(alphabet=UNICODE_DIGITS + "0123456789 -+", min_size=1, max_size=6)
texts = st.one_of(
    st.sampled_from(SPECIAL_TEXTS),
    unicode_numbers,
    st.text(max_size=40),
    st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join),
    st.builds(_repeated, st.text(min_size=1, max_size=6), st.integers(1, MESSAGE_TEXT_LIMIT)),
    st.builds(
        _repeated,
        st.sampled_from(("<b>&amp;", "я", "🚨", "ж ", "x")),
        st.sampled_from((199, 200, 201, 300, 301, 1000, 1001, 3000, 3001, MESSAGE_TEXT_LIMIT)),
    ),
)
command_texts = st.builds(
    lambda name, mention, argument: f"/{name}{mention}{' ' + argument if argument else ''}",
    st.sampled_from(COMMANDS),
    st.sampled_from(("", "", "@jiyn_local_bot", "@other_bot")),
    st.one_of(
        st.just(""),
        st.sampled_from(("report", "vol_" + "A" * 20, "add 6200002", "remove 6200002", "7")),
        st.text(max_size=20),
        st.lists(st.sampled_from(CALENDAR_EDGES), min_size=1, max_size=3).map(" ".join),
        st.dates().map(lambda day: day.strftime("%d.%m.") + f"{day.year:04d}"),
        unicode_numbers,
    ),
).map(lambda text: text[:MESSAGE_TEXT_LIMIT])
first_names = st.one_of(
    st.sampled_from(("Aigerim", "Айгерим", "<b>Bold</b>", "&amp;", "🚨", "\u202eevil")),
    st.text(min_size=1, max_size=64).filter(lambda name: name.strip() != ""),
)
latitudes = st.one_of(
    st.floats(-90, 90, allow_nan=False),
    st.sampled_from((-90.0, 90.0, 0.0, 43.238, -43.238, 51.128)),
    st.sampled_from(NON_FINITE),
)
longitudes = st.one_of(
    st.floats(-180, 180, allow_nan=False),
    st.sampled_from((-180.0, 180.0, 0.0, 76.945, -103.055, -108.574)),
    st.sampled_from(NON_FINITE),
)


@dataclass
class Action:
    """One random update: who sends it, what kind, and the kind's details."""

    user_id: int
    kind: str
    language_code: str | None
    first_name: str
    text: str = ""
    latitude: float = 0.0
    longitude: float = 0.0
    callback_data: str = ""
    button_message: str = "last"  # last | inaccessible | fabricated
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Expectations:
    """What a batch must produce: replies in these chats, answers to these queries."""

    reply_chats: set[int] = field(default_factory=set)
    callback_queries: set[str] = field(default_factory=set)
    inline_queries: set[str] = field(default_factory=set)






def forged_data(patterns: list[str]) -> st.SearchStrategy[str]:
    """Callback data: what the bot's buttons look like, plus variations and garbage."""
    shaped = st.one_of(*(st.from_regex(pattern, fullmatch=True) for pattern in patterns)).filter(
        lambda data: 0 < len(data.encode()) <= CALLBACK_DATA_BYTES
    )
    garbage = st.text(min_size=1, max_size=CALLBACK_DATA_BYTES).filter(
        lambda data: len(data.encode()) <= CALLBACK_DATA_BYTES
    )
    prefixes = sorted({p.lstrip("^").split(":", 1)[0].split("(", 1)[0] for p in patterns})
    near_misses = st.builds(
        lambda prefix, tail: f"{prefix}:{tail}"[:CALLBACK_DATA_BYTES],
        st.sampled_from(prefixes),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789:-+*_\n ", max_size=40),
    ).filter(lambda data: len(data.encode()) <= CALLBACK_DATA_BYTES)
    return st.one_of(shaped, shaped, garbage, near_misses)


def actions(patterns: list[str]) -> st.SearchStrategy[Action]:
    """A random update of any kind from anyone in the pool."""
    who = {
        "user_id": st.sampled_from(EVERYONE),
        "language_code": st.sampled_from(LANGUAGE_CODES),
        "first_name": first_names,
    }

    def kind(name: str, **details: st.SearchStrategy[Any]) -> st.SearchStrategy[Action]:
        """Actions of one kind, from anyone in the pool."""
        return st.builds(Action, kind=st.just(name), **who, **details)

    return st.one_of(
        kind("text", text=texts),
        kind("text", text=command_texts),
        kind("edited", text=st.one_of(texts, command_texts)),
        kind("group_text", text=st.one_of(texts, command_texts)),
        kind("location", latitude=latitudes, longitude=longitudes),
        kind(
            "button",
            callback_data=forged_data(patterns),
            button_message=st.sampled_from(("last", "last", "inaccessible", "fabricated")),
        ),
        # A press with no message (a button under a message sent in inline mode) or no data.
        kind(
            "bare_button",
            callback_data=st.one_of(forged_data(patterns), st.just("")),
            button_message=st.sampled_from(("none", "last")),
        ),
        # A real button of the person's newest keyboard: random walks through the menus, the
        # report conversation and the review cards, so the forged data meets every state.
        kind("offered_button", extra=st.fixed_dictionaries({"choice": st.integers(0, 99)})),
        kind("offered_button", extra=st.fixed_dictionaries({"choice": st.integers(0, 99)})),
        kind("inline", text=texts.map(lambda text: text[:INLINE_QUERY_LIMIT])),
        kind(
            "media",
            extra=st.fixed_dictionaries(
                {
                    "media": st.sampled_from(
                        (
                            "sticker",
                            "photo",
                            "document",
                            "contact_own",
                            "contact_other",
                            "voice",
                            "video_note",
                            "dice",
                            "poll",
                            "venue",
                            "forwarded",
                            "caption_only",
                        )
                    ),
                    "text": texts,
                }
            ),
        ),
        kind(
            "other_update",
            extra=st.fixed_dictionaries(
                {
                    "update": st.sampled_from(
                        (
                            "my_chat_member",
                            "chat_member",
                            "chat_join_request",
                            "chosen_inline_result",
                            "poll",
                            "poll_answer",
                            "shipping_query",
                            "pre_checkout_query",
                            "message_reaction",
                            "message_reaction_count",
                            "channel_post",
                            "edited_channel_post",
                            "group_service",
                        )
                    ),
                    "text": texts,
                }
            ),
        ),
    )




# ------------------------------------------------------------------ turning actions into updates


class UpdateFactory:
    """Queues the updates of actions on the local Bot API server and says what they expect."""

    def __init__(self, api: LocalBotApi) -> None:
        self.api = api
        self.numbers = itertools.count(1)
        api.send_group_text(api.user(ADMIN_ID, first_name="Admin"), VOLUNTEER_CHAT, "hi")
        api.send_group_text(api.user(PEOPLE[0]), OTHER_GROUP, "hi")

    def _queue_raw(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Queue a hand-built update after checking that python-telegram-bot can read it: an
        update it cannot parse would stop the polling loop, and that is this file's bug."""
        Update.de_json({"update_id": 1, **raw}, None)
        return self.api.queue_update(raw)

    def _chat(self, user: dict[str, Any]) -> dict[str, Any]:
        return {"id": user["id"], "type": "private", "first_name": user["first_name"]}

    def _group(self) -> dict[str, Any]:
        return {"id": OTHER_GROUP, "type": "group", "title": "Group"}

    def _file(self, prefix: str) -> dict[str, str]:
        number = next(self.numbers)
        return {"file_id": f"{prefix}-{number}", "file_unique_id": f"u{prefix}{number}"}

    def _raw_message(self, user: dict[str, Any], chat: dict[str, Any], **content: Any) -> None:
        self._queue_raw(
            {
                "message": {
                    "message_id": 900_000 + next(self.numbers),
                    "from": user,
                    "chat": chat,
                    "date": int(time.time()),
                    **content,
                }
            }
        )

    def deliver(self, action: Action, expected: Expectations) -> None:
        """Queue the action's update and record what it must produce."""
        api = self.api
        user = api.user(
            action.user_id, first_name=action.first_name, language_code=action.language_code
        )
        handler = getattr(self, f"_deliver_{action.kind}")
        handler(action, user, expected)

    def _deliver_text(self, action: Action, user: dict[str, Any], expected: Expectations) -> None:
        self.api.send_text(user, action.text)
        expected.reply_chats.add(user["id"])

    def _deliver_edited(self, action: Action, user: dict[str, Any], expected: Expectations) -> None:
        now = int(time.time())
        chat = self._chat(user) if action.user_id % 2 else self._group()
        self._queue_raw(
            {
                "edited_message": {
                    "message_id": 1 + next(self.numbers) % 50,
                    "from": user,
                    "chat": chat,
                    "date": now - 30,
                    "edit_date": now,
                    "text": action.text or "x",
                }
            }
        )

    def _deliver_group_text(
        self, action: Action, user: dict[str, Any], expected: Expectations
    ) -> None:
        group = VOLUNTEER_CHAT if action.user_id % 3 == 0 else OTHER_GROUP
        self.api.send_group_text(user, group, action.text)

    def _deliver_location(
        self, action: Action, user: dict[str, Any], expected: Expectations
    ) -> None:
        self.api.send_location(user, action.latitude, action.longitude)
        expected.reply_chats.add(user["id"])

    def _deliver_button(self, action: Action, user: dict[str, Any], expected: Expectations) -> None:
        api = self.api
        chat = self._chat(user)
        shown = api.bot_messages(user["id"])
        if action.button_message == "last" and shown:
            message: dict[str, Any] = shown[-1]
        elif action.button_message == "inaccessible":
            message = {"message_id": 1, "chat": chat, "date": 0}
        else:
            message = {
                "message_id": 800_000 + next(self.numbers),
                "from": api.bot_user,
                "chat": chat,
                "date": int(time.time()),
                "text": "an old message",
            }
        update = api.press_button(user, message, action.callback_data, strict=False)
        expected.callback_queries.add(update["callback_query"]["id"])

    def _deliver_bare_button(
        self, action: Action, user: dict[str, Any], expected: Expectations
    ) -> None:
        shown = self.api.bot_messages(user["id"])
        if action.button_message == "last" and shown:
            update = self.api.press_bare_button(user, message=shown[-1])  # no data
        else:
            update = self.api.press_bare_button(
                user,
                inline_message_id=f"AAAAA{next(self.numbers)}",
                data=action.callback_data or None,
            )
        Update.de_json({"update_id": 1, **update}, None)  # python-telegram-bot reads it
        expected.callback_queries.add(update["callback_query"]["id"])

    def _deliver_offered_button(
        self, action: Action, user: dict[str, Any], expected: Expectations
    ) -> None:
        api = self.api
        for message in reversed(api.bot_messages(user["id"])):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            offered = [b["callback_data"] for row in rows for b in row if "callback_data" in b]
            if offered:
                data = offered[action.extra["choice"] % len(offered)]
                update = api.press_button(user, message, data)
                expected.callback_queries.add(update["callback_query"]["id"])
                return
        api.send_text(user, "/report")  # nothing to press yet: open the longest journey
        expected.reply_chats.add(user["id"])

    def _deliver_inline(self, action: Action, user: dict[str, Any], expected: Expectations) -> None:
        update = self.api.send_inline_query(user, action.text)
        expected.inline_queries.add(update["inline_query"]["id"])

    def _deliver_media(self, action: Action, user: dict[str, Any], expected: Expectations) -> None:
        api, media, text = self.api, action.extra["media"], action.extra["text"]
        chat = self._chat(user)
        caption = text[:1024] or None
        if media == "sticker":
            api.send_sticker(user)
        elif media == "photo":
            api.send_photo(user, caption=caption)
        elif media == "document":
            api.send_document(user, text.encode()[:2000] or b"x", "../../etc/passwd;.csv")
        elif media in ("contact_own", "contact_other"):
            api.send_contact(user, text[:40] or "+7", action.first_name, own=media == "contact_own")
        elif media == "voice":
            self._raw_message(user, chat, voice={**self._file("voice"), "duration": 3})
        elif media == "video_note":
            self._raw_message(
                user, chat, video_note={**self._file("vn"), "length": 240, "duration": 2}
            )
        elif media == "dice":
            self._raw_message(user, chat, dice={"emoji": "🎲", "value": 6})
        elif media == "poll":
            self._raw_message(user, chat, poll=self._poll(text))
        elif media == "venue":
            location = {"latitude": 43.2, "longitude": 76.9}
            self._raw_message(
                user,
                chat,
                location=location,
                venue={"location": location, "title": text[:64] or "x", "address": "<b>&"},
            )
        elif media == "forwarded":
            self._raw_message(
                user,
                chat,
                text=text or "forwarded",
                forward_origin={
                    "type": "hidden_user",
                    "sender_user_name": action.first_name,
                    "date": int(time.time()) - 60,
                },
            )
        else:
            self._raw_message(
                user,
                chat,
                photo=[{**self._file("p"), "width": 9, "height": 9}],
                caption=caption or "caption",
            )
        expected.reply_chats.add(user["id"])

    def _poll(self, question: str) -> dict[str, Any]:
        return {
            "id": str(next(self.numbers)),
            "question": question[:300] or "?",
            "options": [
                {"persistent_id": "a", "text": "yes", "voter_count": 0},
                {"persistent_id": "b", "text": "no", "voter_count": 1},
            ],
            "total_voter_count": 1,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
            "allows_revoting": False,
            "members_only": False,
        }

    def _deliver_other_update(
        self, action: Action, user: dict[str, Any], expected: Expectations
    ) -> None:
        now = int(time.time())
        kind, text = action.extra["update"], action.extra["text"]
        group, private = self._group(), self._chat(user)
        channel = {"id": CHANNEL, "type": "channel", "title": "Channel"}
        bot_member = {"user": self.api.bot_user, "status": "member"}
        updates: dict[str, dict[str, Any]] = {
            "my_chat_member": {
                "chat": group,
                "from": user,
                "date": now,
                "old_chat_member": {"user": self.api.bot_user, "status": "left"},
                "new_chat_member": bot_member,
            },
            "chat_member": {
                "chat": group,
                "from": user,
                "date": now,
                "old_chat_member": {"user": user, "status": "left"},
                "new_chat_member": {"user": user, "status": "member"},
            },
            "chat_join_request": {
                "chat": group,
                "from": user,
                "user_chat_id": user["id"],
                "date": now,
                "bio": text[:70],
            },
            "chosen_inline_result": {
                "result_id": text[:64] or "r",
                "from": user,
                "query": text[:INLINE_QUERY_LIMIT],
            },
            "poll": self._poll(text),
            "poll_answer": {
                "poll_id": "1",
                "user": user,
                "option_ids": [0],
                "option_persistent_ids": ["a"],
            },
            "shipping_query": {
                "id": str(next(self.numbers)),
                "from": user,
                "invoice_payload": text[:128] or "p",
                "shipping_address": {
                    "country_code": "KZ",
                    "state": "",
                    "city": "Almaty",
                    "street_line1": text[:60] or "s",
                    "street_line2": "",
                    "post_code": "050000",
                },
            },
            "pre_checkout_query": {
                "id": str(next(self.numbers)),
                "from": user,
                "currency": "KZT",
                "total_amount": 100,
                "invoice_payload": text[:128] or "p",
            },
            "message_reaction": {
                "chat": private,
                "message_id": 1,
                "user": user,
                "date": now,
                "old_reaction": [],
                "new_reaction": [{"type": "emoji", "emoji": "👍"}],
            },
            "message_reaction_count": {
                "chat": group,
                "message_id": 1,
                "date": now,
                "reactions": [{"type": {"type": "emoji", "emoji": "👍"}, "total_count": 2}],
            },
            "channel_post": {
                "message_id": next(self.numbers),
                "chat": channel,
                "sender_chat": channel,
                "date": now,
                "text": text or "/report",
            },
            "edited_channel_post": {
                "message_id": next(self.numbers),
                "chat": channel,
                "sender_chat": channel,
                "date": now - 5,
                "edit_date": now,
                "text": text or "/myreports",
            },
            "group_service": {
                "message_id": next(self.numbers),
                "from": user,
                "chat": group,
                "date": now,
                "new_chat_members": [user, self.api.bot_user],
            },
        }
        name = "message" if kind == "group_service" else kind
        self._queue_raw({name: updates[kind]})


# ------------------------------------------------------------------ checking






# A button pressed on a message the bot cannot edit into text (deleted, fabricated, a map pin)
# makes the edit fail; the bot must then send a new message, which the error check verifies.
EXPECTED_EDIT_REFUSALS = (
    "message to edit not found",
    "message is not modified",
    "there is no text in the message to edit",
    "message can't be edited",
)


def expected_refusal(call: ApiCall) -> bool:
    """A refusal that the bot cannot avoid and must handle: an edit of a vanished message."""
    description = (call.description or "").lower()
    return call.method.startswith("editMessage") and any(
        reason in description for reason in EXPECTED_EDIT_REFUSALS
    )


def check_batch(bot: RunningBot, mark: int, expected: Expectations, errors: ErrorLog) -> None:
    """Fail with a precise message if the batch broke any of the invariants."""
    calls = bot.api.calls[mark:]
    problems = [
        f"{record.name}: {record.getMessage()} {record.exc_text or ''}" for record in errors.records
    ]
    problems += [
        f"refused {call.method}: {call.description} params={call.params}"
        for call in calls
        if not call.ok and not call.cancelled and not expected_refusal(call)
    ]
    sent = [call for call in calls if call.ok and "chat_id" in call.params]
    answered_chats = {
        int(call.params["chat_id"]) for call in sent if call.method != "sendChatAction"
    }
    problems += [f"no reply in chat {chat}" for chat in expected.reply_chats - answered_chats]
    answered_queries = {
        str(call.params.get("callback_query_id"))
        for call in calls
        if call.ok and call.method == "answerCallbackQuery"
    }
    problems += [
        f"button press {query} not answered"
        for query in expected.callback_queries - answered_queries
    ]
    answered_inline = {
        str(call.params.get("inline_query_id"))
        for call in calls
        if call.ok and call.method == "answerInlineQuery"
    }
    problems += [
        f"inline query {query} not answered" for query in expected.inline_queries - answered_inline
    ]
    problems += [
        f"{call.method} with parse_mode {call.params['parse_mode']!r}"
        for call in calls
        if call.params.get("parse_mode") not in (None, "HTML")
    ]
    problems += [
        f"apology sent to {call.params['chat_id']}"
        for call in sent
        if APOLOGY in str(call.params.get("text", ""))
    ]
    assert not problems, "\n".join(problems[:20])


# ------------------------------------------------------------------ the test


@pytest.fixture
async def fuzzed_bot(api: LocalBotApi, database_url: str, tmp_path: Path) -> Any:
    """The real bot with an admin and a volunteer group, so review paths are reachable."""
    settings_ = make_settings(
        api,
        database_url,
        tmp_path,
        JIYN_ADMIN_IDS=str(ADMIN_ID),
        JIYN_VOLUNTEER_CHAT_ID=str(VOLUNTEER_CHAT),
    )
    factory = UpdateFactory(api)
    async with run_unpaced(api, settings_) as running:
        running.application.bot_data["fuzz_factory"] = factory
        await settle(running, 0)
        yield running


settings.register_profile(
    "jiyn-fuzz-ci",
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
settings.register_profile(
    "jiyn-fuzz-explore",
    parent=settings.get_profile("jiyn-fuzz-ci"),
    max_examples=300,
    derandomize=False,
    phases=list(Phase),
)
FUZZ_SETTINGS = settings.get_profile(f"jiyn-fuzz-{os.environ.get('JIYN_FUZZ_PROFILE', 'ci')}")
BATCH_MIN, BATCH_MAX = 25, 40


@FUZZ_SETTINGS
@given(data=st.data())
async def test_random_updates_break_nothing(fuzzed_bot: RunningBot, data: st.DataObject) -> None:
    bot = fuzzed_bot
    factory: UpdateFactory = bot.application.bot_data["fuzz_factory"]
    patterns = bot.application.bot_data.setdefault("fuzz_patterns", all_callback_patterns(bot))
    batch = data.draw(
        st.lists(
            actions(patterns),
            min_size=BATCH_MIN,
            max_size=BATCH_MAX,
            unique_by=lambda action: action.user_id,
        ),
        label="batch",
    )
    expected = Expectations()
    with errors_logged() as errors:
        mark = bot.api.mark()
        for action in batch:
            factory.deliver(action, expected)
        await settle(bot, mark, wait=60)
    check_batch(bot, mark, expected, errors)


def test_the_fuzzer_knows_every_callback_prefix(tmp_path: Path) -> None:
    """The patterns are read from the application, so new buttons are fuzzed without edits."""
    settings_ = load_settings(
        {
            "JIYN_BOT_TOKEN": TEST_TOKEN,
            "JIYN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'unused.sqlite3'}",
            "JIYN_DATA_DIR": str(tmp_path),
            "JIYN_ENCRYPTION_KEY": TEST_KEY,
        },
        env_file=tmp_path / "no.env",
    )
    application = build_application(settings_)
    patterns = callback_patterns([h for g in application.handlers.values() for h in g])
    prefixes = {p.lstrip("^").split(":", 1)[0].split("(", 1)[0] for p in patterns}
    assert {"report", "menu", "lang", "venues", "kb", "forget", "rv", "q", "rl", "ex", "st"} <= (
        prefixes
    )


async def test_edits_and_live_locations_are_not_answers(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    """An edited message is not a new answer: it must not overwrite the answer to the question
    asked since, and a live location (an edit every few seconds) must not flood the chat."""
    async with run_unpaced(api, make_settings(api, database_url, tmp_path)) as bot:
        person = Person(bot, api.user(6300001, language_code="en"))
        await person.says("/report")
        await person.taps("report:role:witness")
        await person.taps("report:when:now")
        mark = api.mark()
        place_message = api.send_text(person.user, "Old place")["message"]
        await settle(bot, mark)
        await person.taps("report:city:almaty")
        await person.taps("report:count:1")  # now asked for the name
        mark = api.mark()
        api.edit_text(person.user, place_message, "Edited place")
        await settle(bot, mark)
        calls = await person.says("Real Name")
        assert "police" in person.texts(calls).lower()
        for _ in range(3):
            await person.taps("report:skip")
        await person.taps("report:contact:telegram")
        calls = await person.taps("report:consent:no")
        summary = person.texts(calls)
        assert "Real Name" in summary and "Old place" in summary
        assert "Edited place" not in summary
        await person.taps("report:confirm")

        mark = api.mark()
        location = api.send_location(person.user, 43.2389, 76.8897)["message"]
        await settle(bot, mark)
        answered = len([c for c in api.calls[mark:] if c.method.startswith("send")])
        assert answered >= 2  # the nearest venues, as text and pins
        mark = api.mark()
        for step in range(1, 4):  # the live location moves
            moved = {**location, "edit_date": location["date"] + step}
            moved["location"] = {"latitude": 43.2389 + step / 1000, "longitude": 76.8897}
            api.queue_update({"edited_message": moved})
        await settle(bot, mark)
        assert not [c for c in api.calls[mark:] if c.method.startswith("send")]
        assert not api.refused_calls()
