"""Faults and processes: a TCP proxy whose connections can be cut, the bot as a separate
process and a person talking to it, and waiting for a condition."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.core.crypto import Cipher
from bot.core.db import create_engine
from bot.core.models import ReportDraft
from bot.localapi.server import ApiCall, LocalBotApi
from bot.services.report.reports import DraftData
from tests.support.harness import (
    TEST_KEY,
    TEST_TOKEN,
    Person,
    to_chat,
)

NAME = "Ерлан Тестов"


POLICE = "ОП Алмалинского района"


PLACE = "Площадь Республики"


CIPHER = Cipher((TEST_KEY.encode(),))


SUBPROCESS_WAIT = 30.0  # generous: a fresh interpreter imports the whole bot

# What the person is told while the database is down.
DATABASE_DOWN = "database is not answering"


async def draft_rows(database_url: str) -> list[tuple[int, DraftData]]:
    """(step, answers) of every draft row, decrypted."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(select(ReportDraft))).all()
    finally:
        await engine.dispose()
    return [(row.step, DraftData.from_json(CIPHER.decrypt_json(row.data_enc))) for row in rows]


async def start_report_until_count(person: Person) -> None:
    """A report begun in the chat up to the head-count question (a witness, now, PLACE,
    Almaty)."""
    await person.says("/report")
    await person.taps("report:role:witness")
    await person.taps("report:when:now")
    await person.says(PLACE)
    await person.taps("report:city:almaty")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class CuttableProxy:
    """A loopback TCP proxy in front of a server. cut() closes every connection and refuses new
    ones, as a database that went down; restore() listens again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen (on a new port the first time, then on the same one)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def cut(self) -> None:
        """Drop every connection and stop listening."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def restore(self) -> None:
        """Accept connections again."""
        await self.start()

    async def _accept(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        self._writers |= {client_writer, server_writer}
        pipes = {
            asyncio.create_task(self._pipe(client_reader, server_writer)),
            asyncio.create_task(self._pipe(server_reader, client_writer)),
        }
        self._pipes |= pipes
        await asyncio.gather(*pipes, return_exceptions=True)
        self._pipes -= pipes
        for writer in (client_writer, server_writer):
            writer.close()
            self._writers.discard(writer)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()


async def until(condition: Any, what: str, seconds: float = 20.0) -> None:
    """Wait until condition() is true (synchronisation only, not a speed requirement)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError(f"waited {seconds}s for {what}")
        await asyncio.sleep(0.05)


def run_env(tmp_path: Path, **values: str) -> dict[str, str]:
    """The process environment of `jiyn run`: ours, without any JIYN_* of the test runner."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("JIYN_")}
    environ.update(
        JIYN_BOT_TOKEN=TEST_TOKEN,
        JIYN_DATA_DIR=str(tmp_path),
        JIYN_ENCRYPTION_KEY=TEST_KEY,
        PYTHONUNBUFFERED="1",
        **values,
    )
    return environ


def to_user(user: dict[str, Any]) -> Callable[[ApiCall], bool]:
    """A predicate for calls addressed to this person's private chat."""
    return to_chat(user["id"])


class RemotePerson:
    """A person talking to a bot that runs in another process: waits for specific replies."""

    def __init__(self, api: LocalBotApi, user: dict[str, Any]) -> None:
        self.api = api
        self.user = user

    async def _reply(self, mark: int, expected: str) -> str:
        [call] = await self.api.wait_for_call(
            "sendMessage",
            since=mark,
            predicate=lambda c: to_user(self.user)(c) and expected in str(c.params.get("text")),
            timeout=SUBPROCESS_WAIT,
        )
        return str(call.params["text"])

    async def says(self, text: str, expected: str) -> str:
        """Send a text and wait for a reply containing `expected`."""
        mark = self.api.mark()
        self.api.send_text(self.user, text)
        return await self._reply(mark, expected)

    async def taps(self, data: str, expected: str) -> str:
        """Press the newest button with this data and wait for a reply containing `expected`."""
        mark = self.api.mark()
        await self.press(data)
        return await self._reply(mark, expected)

    async def press(self, data: str) -> None:
        """Press the newest button with this data (once the bot has shown it), not waiting
        for what follows."""

        def message_with_button() -> dict[str, Any] | None:
            """The newest bot message offering the button, if any."""
            for message in reversed(self.api.bot_messages(self.user["id"])):
                rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
                if any(b.get("callback_data") == data for row in rows for b in row):
                    return message
            return None

        await until(lambda: message_with_button() is not None, f"a button {data!r}")
        message = message_with_button()
        assert message is not None
        self.api.press_button(self.user, message, data)
