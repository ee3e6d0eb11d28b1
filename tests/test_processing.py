"""Updates run concurrently across chats and in order within a chat: the processor on its own,
then the real Application (built by build_application) against the local Bot API server."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import ApplicationHandlerStop, MessageHandler, filters

from bot.core.migrate import upgrade_database
from bot.localapi.server import LocalBotApi
from bot.telegram.processing import ChatOrderedUpdateProcessor, ordering_keys
from tests.support.harness import RunningBot, make_settings, run_bot

# ----------------------------------------------------------------------------- the processor


def _message_update(update_id: int, chat_id: int, user_id: int) -> Update:
    chat_type = "private" if chat_id > 0 else "group"
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": {"id": chat_id, "type": chat_type},
                "from": {"id": user_id, "is_bot": False, "first_name": "T"},
                "text": f"#{update_id}",
            },
        },
        None,
    )


def _inline_update(update_id: int, user_id: int) -> Update:
    return Update.de_json(
        {
            "update_id": update_id,
            "inline_query": {
                "id": str(update_id),
                "from": {"id": user_id, "is_bot": False, "first_name": "T"},
                "query": "q",
                "offset": "",
            },
        },
        None,
    )


def test_ordering_keys_are_the_chat_and_the_sender() -> None:
    assert ordering_keys(_message_update(1, 10, 10)) == (("chat", 10), ("user", 10))
    assert ordering_keys(_message_update(2, -500, 10)) == (("chat", -500), ("user", 10))
    assert ordering_keys(_inline_update(3, 10)) == (("user", 10),)
    assert ordering_keys("not an update") == ()


async def _run_all(
    processor: ChatOrderedUpdateProcessor, updates: list[Update], delays: dict[int, float]
) -> list[tuple[str, int]]:
    """Feed updates as PTB does (one task per update, in order); log starts and ends."""
    events: list[tuple[str, int]] = []

    async def handle(update: Update) -> None:
        events.append(("start", update.update_id))
        await asyncio.sleep(delays.get(update.update_id, 0.0))
        events.append(("end", update.update_id))

    async with processor:
        tasks = [
            asyncio.create_task(processor.process_update(update, handle(update)))
            for update in updates
        ]
        await asyncio.gather(*tasks)
    return events


async def test_one_chat_runs_in_arrival_order_even_when_later_updates_are_quicker() -> None:
    updates = [_message_update(i, 10, 10) for i in range(1, 7)]
    # Earlier updates take longer: run concurrently, later ones would overtake them.
    delays = {i: (7 - i) * 0.01 for i in range(1, 7)}
    events = await _run_all(ChatOrderedUpdateProcessor(), updates, delays)
    expected = [event for i in range(1, 7) for event in (("start", i), ("end", i))]
    assert events == expected


async def test_different_chats_overlap() -> None:
    updates = [_message_update(i, 100 + i, 100 + i) for i in range(1, 5)]
    events = await _run_all(ChatOrderedUpdateProcessor(), updates, dict.fromkeys(range(1, 5), 0.02))
    # Every update starts before any finishes.
    assert [kind for kind, _ in events[:4]] == ["start"] * 4


async def test_a_users_inline_query_waits_for_their_message_and_groups_keep_order() -> None:
    updates = [
        _message_update(1, 10, 10),  # private chat of user 10
        _inline_update(2, 10),  # same user, no chat: must wait for #1
        _message_update(3, -500, 10),  # user 10 in a group: waits for #2 (same user)
        _message_update(4, -500, 11),  # another user in that group: waits for #3 (same chat)
        _message_update(5, 12, 12),  # unrelated: runs at once
    ]
    delays = {1: 0.03, 2: 0.02, 3: 0.01}
    events = await _run_all(ChatOrderedUpdateProcessor(), updates, delays)
    position = {event: index for index, event in enumerate(events)}
    assert position[("end", 1)] < position[("start", 2)]
    assert position[("end", 2)] < position[("start", 3)]
    assert position[("end", 3)] < position[("start", 4)]
    assert position[("start", 5)] < position[("end", 1)]


async def test_running_slots_are_limited_and_waiting_updates_do_not_hold_them() -> None:
    processor = ChatOrderedUpdateProcessor(max_running=2)
    # Chat 10 sends many; the other chats must still get slots before chat 10 is done.
    updates = [_message_update(i, 10, 10) for i in range(1, 7)] + [
        _message_update(6 + i, 20 + i, 20 + i) for i in range(1, 4)
    ]
    running = 0
    most_running = 0
    finished: list[int] = []

    async def handle(update: Update) -> None:
        nonlocal running, most_running
        running += 1
        most_running = max(most_running, running)
        await asyncio.sleep(0.01)
        running -= 1
        finished.append(update.update_id)

    async with processor:
        await asyncio.gather(
            *(processor.process_update(update, handle(update)) for update in updates)
        )
    assert most_running == 2
    assert max(finished.index(7), finished.index(8), finished.index(9)) < finished.index(6)
    assert sorted(finished) == list(range(1, 10))


async def test_a_failed_or_cancelled_update_does_not_stall_its_chat() -> None:
    processor = ChatOrderedUpdateProcessor()
    done: list[int] = []

    async def fail() -> None:
        raise RuntimeError("handler bug")

    async def slow() -> None:
        await asyncio.sleep(10)

    async def record(number: int) -> None:
        done.append(number)

    async with processor:
        first = asyncio.create_task(processor.process_update(_message_update(1, 10, 10), fail()))
        hung = asyncio.create_task(processor.process_update(_message_update(2, 10, 10), slow()))
        waiting = asyncio.create_task(
            processor.process_update(_message_update(3, 10, 10), record(3))
        )
        last = asyncio.create_task(processor.process_update(_message_update(4, 10, 10), record(4)))
        with pytest.raises(RuntimeError):
            await first
        await asyncio.sleep(0)
        waiting.cancel()  # cancelled while waiting for #2: its coroutine never runs
        hung.cancel()
        await last
        assert waiting.cancelled()
        assert done == [4]
        # Nothing is left behind once every update is over.
        assert processor.sequences_in_progress == 0


def test_max_running_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_running"):
        ChatOrderedUpdateProcessor(max_running=0)


# ----------------------------------------------------------------------- the real application


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite database (these tests are about update order, not the database)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'processing.sqlite3'}"
    await asyncio.to_thread(upgrade_database, url)
    return url


@pytest.fixture
async def running(api: LocalBotApi, sqlite_url: str, tmp_path: Path) -> AsyncIterator[RunningBot]:
    """The bot built by build_application, polling the local server."""
    async with run_bot(api, make_settings(api, sqlite_url, tmp_path)) as bot:
        yield bot


PROBE_GROUP = -1000


class SequenceProbe:
    """A test-only handler for "seq N": replies "got N", recording how handlers overlapped."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.active: Counter[int] = Counter()
        self.most_active_in_a_chat = 0
        self.most_active_overall = 0

    async def __call__(self, update: Update, context: Any) -> None:
        """Handle one numbered message."""
        number = int(update.effective_message.text.split()[1])
        chat_id = update.effective_chat.id
        self.active[chat_id] += 1
        self.most_active_in_a_chat = max(self.most_active_in_a_chat, self.active[chat_id])
        self.most_active_overall = max(self.most_active_overall, sum(self.active.values()))
        try:
            # Earlier messages take longer, so without per-chat order later ones would overtake.
            await asyncio.sleep((self.count - number) * 0.02)
            await context.bot.send_message(chat_id, f"got {number}")
        finally:
            self.active[chat_id] -= 1
        raise ApplicationHandlerStop  # the rest of the bot is not part of this test


async def test_each_chat_gets_its_replies_in_order_while_chats_run_concurrently(
    running: RunningBot,
) -> None:
    api = running.api
    api.latency = 0.05
    users, per_user = 8, 5
    probe = SequenceProbe(per_user)
    # A group before every group of the bot, so the probe sees the messages first.
    running.application.add_handler(
        MessageHandler(filters.Regex(r"^seq \d+$"), probe), group=PROBE_GROUP
    )
    in_flight: list[int] = []
    unsubscribe = api.subscribe(
        lambda call: (
            in_flight.append(api.requests_in_flight) if call.method == "sendMessage" else None
        )
    )
    chat_ids = [9100 + index for index in range(users)]
    mark = api.mark()
    for number in range(per_user):
        for chat_id in chat_ids:
            api.user(chat_id)
            api.send_text(chat_id, f"seq {number}")
    replies = await api.wait_for_call("sendMessage", since=mark, count=users * per_user, timeout=30)
    unsubscribe()

    by_chat: dict[int, list[str]] = defaultdict(list)
    for call in replies:
        by_chat[call.params["chat_id"]].append(call.params["text"])
    assert by_chat == {chat_id: [f"got {n}" for n in range(per_user)] for chat_id in chat_ids}
    assert probe.most_active_in_a_chat == 1
    assert probe.most_active_overall > 1
    # The server saw several sendMessage calls waiting for their answer at the same time.
    assert max(in_flight) >= 3
    assert not api.refused_calls()


async def test_the_application_is_wired_with_the_processor(running: RunningBot) -> None:
    processor = running.application.update_processor
    assert isinstance(processor, ChatOrderedUpdateProcessor)
    assert running.application.concurrent_updates > 1
