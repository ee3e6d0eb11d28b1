"""Running the real bot in tests: settings from an environment, the Application polling the local
Bot API server, and helpers to talk to it as a user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.app import JiynApplication, build_application
from bot.config import Settings, load_settings
from bot.localapi import ApiCall, LocalBotApi
from bot.runner import polling

TEST_TOKEN = "123456789:TestTokenForLocalApi"
TEST_KEY = "M2Vh8mW2dGq0n1yXg9yX1o8Vb7mB8k0Qp2tV5h3w2yQ="


def to_chat(chat_id: int) -> Any:
    """A predicate for calls addressed to one chat."""
    return lambda call: str(call.params.get("chat_id")) == str(chat_id)


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


@asynccontextmanager
async def run_bot(api: LocalBotApi, settings: Settings) -> AsyncIterator[RunningBot]:
    """Build the Application from the settings and run it until the block ends."""
    application = build_application(settings)
    async with polling(application, poll_timeout=1):
        yield RunningBot(api=api, application=application, settings=settings)
