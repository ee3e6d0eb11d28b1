"""Running the real bot in tests: settings from an environment, the Application polling the local
Bot API server, and helpers to talk to it as a user."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram.ext import BaseHandler, CallbackQueryHandler, ConversationHandler

from bot.app import build_application
from bot.core.config import Settings, load_settings
from bot.localapi.server import ApiCall, LocalBotApi
from bot.runner import polling
from bot.telegram.context import JiynApplication
from bot.telegram.http import TelegramLimits, Window

REPORT_CODE = re.compile(r"R-[A-Z0-9]{4}")
TEST_TOKEN = "123456789:TestTokenForLocalApi"
TEST_KEY = "M2Vh8mW2dGq0n1yXg9yX1o8Vb7mB8k0Qp2tV5h3w2yQ="


ROOT = Path(__file__).resolve().parent.parent


async def run_cli(*args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """Run `jiyn ARGS` in a child process with these JIYN_* variables (and no others)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIYN_")}
    env.update(environment)
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def to_chat(chat_id: int | str) -> Callable[[ApiCall], bool]:
    """A predicate for calls addressed to one chat (the id as a number or as text)."""
    return lambda call: str(call.params.get("chat_id")) == str(chat_id)


def calls_to(calls: list[ApiCall], chat_id: int | str) -> list[ApiCall]:
    """The calls addressed to one chat (messages and edits; callback answers name no chat)."""
    return [call for call in calls if to_chat(chat_id)(call)]


def make_settings(api: LocalBotApi, database_url: str, data_dir: Path, **extra: str) -> Settings:
    """Settings as the real program would read them from its environment."""
    environ = {
        "JIYN_BOT_TOKEN": TEST_TOKEN,
        "JIYN_API_BASE_URL": api.base_url,
        "JIYN_DATABASE_URL": database_url,
        "JIYN_DATA_DIR": str(data_dir),
        "JIYN_ENCRYPTION_KEY": TEST_KEY,
        **extra,
    }
    return load_settings(environ, env_file=data_dir / "no.env")


@dataclass
class RunningBot:
    """The real Application polling the local Bot API server."""

    api: LocalBotApi
    application: JiynApplication
    settings: Settings

    async def say(self, user: dict[str, Any], text: str, *, count: int = 1) -> list[ApiCall]:
        """Send a text as the user and wait for the bot's next `count` messages to them."""
        mark = self.api.mark()
        self.api.send_text(user, text)
        return await self.api.wait_for_call(
            "sendMessage",
            since=mark,
            count=count,
            predicate=lambda call: call.params.get("chat_id") in (user["id"], str(user["id"])),
        )


# Conversations in tests tap faster than any person; the per-chat pace (tested on its own in
# test_http.py) would only make them slow. The overall and group limits stay Telegram's.
CONVERSATION_LIMITS = TelegramLimits(private_chat=(Window(1000, 1.0),))


@asynccontextmanager
async def run_bot(
    api: LocalBotApi, settings: Settings, rate_limits: TelegramLimits | None = CONVERSATION_LIMITS
) -> AsyncIterator[RunningBot]:
    """Build the Application from the settings and run it until the block ends."""
    application = build_application(settings, rate_limits=rate_limits)
    async with polling(application, poll_timeout=1):
        yield RunningBot(api=api, application=application, settings=settings)


def bot_is_idle(bot: RunningBot) -> bool:
    """Every update delivered and handled, and no Bot API call but the long poll in flight."""
    application, api = bot.application, bot.api
    busy = getattr(application.update_processor, "sequences_in_progress", 0)
    return (
        api.pending_updates == 0
        and api.polls_waiting >= 1
        and api.requests_in_flight == api.polls_waiting
        and application.update_queue.empty()
        and not busy
    )


async def settle(bot: RunningBot, since: int, *, wait: float = 10.0) -> list[ApiCall]:
    """Wait until the bot has handled everything sent so far and answered; returns the calls it
    made after `since`. Synchronisation only: nothing here asserts speed."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    idle_checks = 0
    while loop.time() < deadline:
        await asyncio.sleep(0.02)
        idle_checks = idle_checks + 1 if bot_is_idle(bot) else 0
        if idle_checks >= 3:
            return [c for c in bot.api.calls[since:] if c.method != "getUpdates"]
    raise TimeoutError(f"the bot did not settle; calls since {since}: {bot.api.calls[since:]}")


def find_button_message(api: LocalBotApi, chat_id: int, callback_data: str) -> dict[str, Any]:
    """The newest bot message in the chat that offers this button."""
    for message in reversed(api.bot_messages(chat_id)):
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        if any(button.get("callback_data") == callback_data for row in rows for button in row):
            return message
    raise AssertionError(f"no message in chat {chat_id} offers {callback_data!r}")


class Person:
    """A Telegram user talking to the running bot, one action at a time."""

    def __init__(self, bot: RunningBot, user: dict[str, Any]) -> None:
        self.bot = bot
        self.user = user

    @property
    def chat_id(self) -> int:
        return self.user["id"]

    async def says(self, text: str) -> list[ApiCall]:
        mark = self.bot.api.mark()
        self.bot.api.send_text(self.user, text)
        return await settle(self.bot, mark)

    async def taps(self, callback_data: str) -> list[ApiCall]:
        message = find_button_message(self.bot.api, self.chat_id, callback_data)
        mark = self.bot.api.mark()
        self.bot.api.press_button(self.user, message, callback_data)
        return await settle(self.bot, mark)

    async def sends_location(self, latitude: float, longitude: float) -> list[ApiCall]:
        mark = self.bot.api.mark()
        self.bot.api.send_location(self.user, latitude, longitude)
        return await settle(self.bot, mark)

    async def sends_photo(self) -> list[ApiCall]:
        mark = self.bot.api.mark()
        self.bot.api.send_photo(self.user)
        return await settle(self.bot, mark)

    async def sends_contact(self, phone: str) -> list[ApiCall]:
        mark = self.bot.api.mark()
        self.bot.api.send_contact(self.user, phone, self.user.get("first_name", "Me"))
        return await settle(self.bot, mark)

    def last_text(self) -> str:
        messages = [m for m in self.bot.api.bot_messages(self.chat_id) if m.get("text")]
        return messages[-1]["text"] if messages else ""

    def texts(self, calls: list[ApiCall]) -> str:
        return "\n".join(
            str(c.params.get("text", ""))
            for c in calls
            if c.method in ("sendMessage", "editMessageText")
        )


UNLIMITED = TelegramLimits(
    overall=(Window(1_000_000, 1.0),),
    private_chat=(Window(1_000_000, 1.0),),
    group_chat=(Window(1_000_000, 1.0),),
)


@asynccontextmanager
async def run_unpaced(api: LocalBotApi, settings_: Settings) -> AsyncIterator[RunningBot]:
    """The real bot without pacing to Telegram's message limits (bot.telegram.http has its own
    tests), so tests wait only for the bot; 429 answers are still obeyed."""
    application = build_application(settings_, rate_limits=UNLIMITED)
    async with polling(application, poll_timeout=1):
        yield RunningBot(api=api, application=application, settings=settings_)


class ErrorLog(logging.Handler):
    """Keeps every record at ERROR or above."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record."""
        self.records.append(record)


@contextmanager
def errors_logged() -> Iterator[ErrorLog]:
    """Collect ERROR records from every logger while the block runs."""
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def callback_patterns(handlers: list[BaseHandler[Any, Any, Any]]) -> list[str]:
    """The pattern of every callback button handler, inside conversations too."""
    found: list[str] = []
    for handler in handlers:
        if isinstance(handler, ConversationHandler):
            nested = [*handler.entry_points, *handler.fallbacks]
            for state_handlers in handler.states.values():
                nested.extend(state_handlers)
            found.extend(callback_patterns(nested))
        elif isinstance(handler, CallbackQueryHandler) and isinstance(handler.pattern, re.Pattern):
            found.append(handler.pattern.pattern)
    return sorted(set(found))


def all_callback_patterns(bot: RunningBot) -> list[str]:
    """Every callback pattern the running application registered, in every group."""
    handlers = [h for group in bot.application.handlers.values() for h in group]
    return callback_patterns(handlers)


async def report_in_conversation(
    person: Person,
    *,
    name: str = "Name",
    police: str = "Police",
    details: str = "Details",
    place: str = "Place",
) -> str:
    """File a whole report through the conversation with these typed answers (a witness,
    now, in Almaty, 2-5 people, no media, contact through Telegram); returns its code."""
    await person.says("/report")
    await person.taps("report:role:witness")
    await person.taps("report:when:now")
    await person.says(place)
    await person.taps("report:city:almaty")
    await person.taps("report:count:2-5")
    await person.says(name)
    await person.says(police)
    await person.says(details)
    await person.taps("report:skip")
    await person.taps("report:contact:telegram")
    await person.taps("report:consent:yes")
    calls = await person.taps("report:confirm")
    match = REPORT_CODE.search(person.texts(calls))
    assert match, person.texts(calls)
    return match.group(0)

