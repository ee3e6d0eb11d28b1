"""A standby that takes over: two real `jiyn run` processes against one PostgreSQL database and
the local Bot API server. The active one is killed (SIGKILL) in the middle of reports and of a
burst of questions, or cut off from the database; the standby takes over and nothing is lost or
done twice. On SQLite a second process is refused. Health, readiness and metrics are scraped
from both processes."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from bot.core.migrate import upgrade_database
from bot.localapi.server import LocalBotApi
from tests.support.databases import fresh_postgres_database, postgres_server_url, report_rows
from tests.support.harness import run_cli
from tests.support.processes import (
    CIPHER,
    NAME,
    PLACE,
    POLICE,
    SUBPROCESS_WAIT,
    CuttableProxy,
    RemotePerson,
    closed_port,
    run_env,
    to_user,
    until,
)

CODE = re.compile(r"R-[A-Z0-9]{4}")
VOLUNTEER_CHAT = -1_001_400
QUESTION = "Какой штраф за участие в несанкционированном митинге?"


class BotProcess:
    """`jiyn run` in a child process, its log lines collected as they come."""

    def __init__(self, process: asyncio.subprocess.Process, health_port: int) -> None:
        self.process = process
        self.health_port = health_port
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, environ: dict[str, str], cwd: Path, *args: str) -> BotProcess:
        port = closed_port()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            *args,
            env={**environ, "JIYN_HEALTH_PORT": str(port)},
            cwd=str(cwd),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process, port)

    async def _read(self) -> None:
        assert self.process.stderr is not None
        while line := await self.process.stderr.readline():
            self.lines.append(line.decode(errors="replace"))

    def said(self, text: str) -> bool:
        """Whether a log line so far contains the text."""
        return any(text in line for line in self.lines)

    async def get(self, path: str) -> tuple[int, str]:
        """GET a path of the health server: (status, body); (0, "") while it is not up."""
        url = f"http://127.0.0.1:{self.health_port}{path}"
        try:
            async with aiohttp.ClientSession() as session, session.get(url) as response:
                return response.status, await response.text()
        except aiohttp.ClientError:
            return 0, ""

    async def role(self) -> str | None:
        """What /readyz says this process is, once its health server answers."""
        status, body = await self.get("/readyz")
        if not status:
            return None
        return "active" if '"role": "active"' in body else "standby"

    async def kill(self) -> None:
        """SIGKILL (if still running) and reap."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        await self._reader


async def _until_async(check: Any, what: str, seconds: float = SUBPROCESS_WAIT) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await check():
        if loop.time() > deadline:
            raise TimeoutError(f"waited {seconds}s for {what}")
        await asyncio.sleep(0.1)


async def _role_is(process: BotProcess, role: str) -> None:
    async def check() -> bool:
        return await process.role() == role

    await _until_async(check, f"process {process.process.pid} to be {role}")



@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A migrated, empty PostgreSQL database."""
    async with fresh_postgres_database(postgres_server_url()) as url:
        await asyncio.to_thread(upgrade_database, url)
        yield url


def _environ(tmp_path: Path, api: LocalBotApi, database_url: str, name: str) -> dict[str, str]:
    data_dir = tmp_path / name
    data_dir.mkdir()
    return run_env(
        data_dir,
        JIYN_DATABASE_URL=database_url,
        JIYN_API_BASE_URL=api.base_url,
        JIYN_VOLUNTEER_CHAT_ID=str(VOLUNTEER_CHAT),
    )


def _volunteer_texts(api: LocalBotApi) -> list[str]:
    return [
        str(c.params.get("text"))
        for c in api.calls
        if c.ok and c.method == "sendMessage" and to_user({"id": VOLUNTEER_CHAT})(c)
    ]


async def test_the_standby_takes_over_after_sigkill_and_nothing_is_lost_or_repeated(
    api: LocalBotApi, postgres_url: str, tmp_path: Path
) -> None:
    api.send_group_text(api.user(7800, first_name="Volunteer"), VOLUNTEER_CHAT, "hi")
    first = await BotProcess.start(_environ(tmp_path, api, postgres_url, "a"), tmp_path)
    second: BotProcess | None = None
    try:
        await _role_is(first, "active")
        second = await BotProcess.start(_environ(tmp_path, api, postgres_url, "b"), tmp_path)
        await until(lambda: second.said("standby:"), "the second process to wait")
        assert await second.role() == "standby"
        status, _ = await second.get("/readyz")
        assert status == 503  # a standby is alive but not ready for traffic
        assert (await second.get("/healthz"))[0] == 200
        status, metrics = await first.get("/metrics")
        assert status == 200 and "jiyn_active 1.0" in metrics
        assert "jiyn_active 0.0" in (await second.get("/metrics"))[1]

        # Two reports in progress, one urgent one filed (its alert may or may not be out).
        writer = RemotePerson(api, api.user(7801, language_code="en"))
        detained = RemotePerson(api, api.user(7802, language_code="en"))
        await writer.says("/report", "Who is reporting?")
        await writer.taps("report:role:witness", "When did it happen?")
        await writer.taps("report:when:now", "Where did it happen?")
        await writer.says(PLACE, "Which town or village?")
        await detained.says("/report", "Who is reporting?")
        await detained.taps("report:role:now", "R-")

        # A burst of first questions, and the active process killed in the middle of it.
        askers = [api.user(7900 + n, language_code="ru") for n in range(40)]
        mark = api.mark()
        for asker in askers:
            api.send_text(asker, QUESTION)
        await writer.press("report:city:almaty")
        await until(
            lambda: any(c.method == "sendMessage" for c in api.calls[mark:]), "the burst to start"
        )
        await first.kill()

        await _role_is(second, "active")
        for asker in askers:
            await api.wait_for_call(
                "sendMessage", since=mark, predicate=to_user(asker), timeout=SUBPROCESS_WAIT
            )
        await writer._reply(mark, "How many people")
        await writer.taps("report:count:1", "name")
        await writer.says(NAME, "police")
        await writer.says(POLICE, "What happened?")
        await writer.taps("report:skip", "Photos, videos or voice messages?")
        await writer.taps("report:media:done", "How can volunteers reach you?")
        await writer.taps("report:contact:telegram", "May volunteers contact you")
        await writer.taps("report:consent:no", "Check your report")
        received = await writer.taps("report:confirm", "is received")
        filed = CODE.search(received)
        assert filed

        rows = await report_rows(postgres_url)
        codes = sorted(row.code for row in rows)
        assert len(codes) == 2 and filed.group(0) in codes  # every report once
        [written] = [row for row in rows if row.code == filed.group(0)]
        assert CIPHER.decrypt(written.detained_name_enc) == NAME
        assert CIPHER.decrypt(written.police_unit_enc) == POLICE
        # Every alert in the volunteer chat, once (alerts are paced: wait for both).
        await until(
            lambda: all(any(code in t for t in _volunteer_texts(api)) for code in codes),
            "both alerts",
            seconds=SUBPROCESS_WAIT * 2,
        )
        for code in codes:
            assert sum(text.count(code) for text in _volunteer_texts(api)) == 1, code
        status, metrics = await second.get("/metrics")
        assert "jiyn_active 1.0" in metrics and "jiyn_reports_filed 2.0" in metrics
    finally:
        await first.kill()
        if second is not None:
            await second.kill()


async def test_an_active_process_cut_off_from_the_database_stands_down(
    api: LocalBotApi, postgres_url: str, tmp_path: Path
) -> None:
    target = make_url(postgres_url)
    proxy = CuttableProxy(target.host or "127.0.0.1", target.port or 5432)
    await proxy.start()
    proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    first = await BotProcess.start(_environ(tmp_path, api, proxied, "a"), tmp_path)
    second: BotProcess | None = None
    try:
        await _role_is(first, "active")
        second = await BotProcess.start(_environ(tmp_path, api, postgres_url, "b"), tmp_path)
        await until(lambda: second.said("standby:"), "the second process to wait")

        await proxy.cut()
        await until(lambda: first.said("standing down"), "the cut-off process to stand down")
        await _role_is(second, "active")
        asker = RemotePerson(api, api.user(7990, language_code="en"))
        await asker.says("/start", "Jiyn")

        # Back on the network, the stood-down process (the same pid, started afresh) waits.
        await proxy.restore()
        await until(lambda: first.said("standby:"), "the stood-down process to wait")
        assert first.process.returncode is None
        await _role_is(first, "standby")
    finally:
        await first.kill()
        if second is not None:
            await second.kill()
        await proxy.cut()


async def test_in_webhook_mode_only_the_active_process_registers_the_webhook(
    api: LocalBotApi, postgres_url: str, tmp_path: Path
) -> None:
    ports = [closed_port(), closed_port()]
    urls = [f"http://127.0.0.1:{port}/telegram" for port in ports]

    async def start(index: int) -> BotProcess:
        return await BotProcess.start(
            _environ(tmp_path, api, postgres_url, f"w{index}"),
            tmp_path,
            "--webhook-url",
            urls[index],
            "--listen",
            f"127.0.0.1:{ports[index]}",
        )

    def registered() -> list[str]:
        return [str(c.params.get("url")) for c in api.calls if c.ok and c.method == "setWebhook"]

    first = await start(0)
    second: BotProcess | None = None
    try:
        await _role_is(first, "active")
        second = await start(1)
        await until(lambda: second.said("standby:"), "the second process to wait")
        assert registered() == [urls[0]]
        asker = RemotePerson(api, api.user(7995, language_code="en"))
        await asker.says("/start", "Jiyn")

        await first.kill()
        await _role_is(second, "active")
        await until(lambda: len(registered()) == 2, "the new active process to register")
        assert registered() == [urls[0], urls[1]]
        await asker.says("/help", "")
    finally:
        await first.kill()
        if second is not None:
            await second.kill()


async def test_a_second_process_on_the_same_sqlite_file_is_refused(
    api: LocalBotApi, tmp_path: Path
) -> None:
    database = tmp_path / "shared.sqlite3"
    environ = _environ(tmp_path, api, f"sqlite:///{database}", "a")
    first = await BotProcess.start(environ, tmp_path)
    try:
        await _role_is(first, "active")
        jiyn = {k: v for k, v in environ.items() if k.startswith("JIYN_")}
        result = await run_cli("run", **jiyn)
        assert result.returncode == 1
        [line] = result.stderr.strip().splitlines()
        assert "another jiyn process is running on" in line and str(database) in line
        assert await first.role() == "active"
        first.process.send_signal(signal.SIGTERM)  # a clean stop releases the file
        assert await asyncio.wait_for(first.process.wait(), SUBPROCESS_WAIT) == 0
        second = await BotProcess.start(environ, tmp_path)
        try:
            await _role_is(second, "active")
        finally:
            await second.kill()
    finally:
        await first.kill()
