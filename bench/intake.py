"""Report intake: many people complete the whole report conversation at once, on SQLite and on
PostgreSQL. Reports per second end to end (the real Application, its HTTP client, the local Bot
API server) against the same number of reports written straight through ReportService (the
database's own floor), and proof that none was lost or duplicated.

Telegram's own limits (30 messages a second overall) cap a real bot far below what this
measures, so the bot runs here with those limits lifted: the question is whether our handlers
and database keep up, not how fast Telegram lets us talk.

Run: `.venv/bin/python -m bench.intake [--users 1000] [--no-write]`; PostgreSQL is included when
JIYN_BENCH_POSTGRES_URL (or JIYN_TEST_POSTGRES_URL) points at a server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from bench.common import machine, median, percentile, write_section
from bot.app import build_application
from bot.core.crypto import Cipher
from bot.core.db import create_engine, create_session_factory
from bot.core.migrate import upgrade_database
from bot.core.models import Report, ReportDraft
from bot.localapi.server import ApiCall, LocalBotApi
from bot.runner import polling
from bot.services.report.reports import DraftData, ReportService
from bot.telegram.http import TelegramLimits, Window
from tests.support.databases import fresh_postgres_database
from tests.support.harness import TEST_KEY, make_settings

UNLIMITED = TelegramLimits(
    overall=(Window(1_000_000, 1.0),),
    private_chat=(Window(1_000_000, 1.0),),
    group_chat=(Window(1_000_000, 1.0),),
)
ALMATY = (43.2380, 76.9450)
PERSON_IDS = 5_000_000
DIRECT_IDS = 10_000_000  # people who never talk to the bot: the database-only baseline


@dataclass
class IntakeResult:
    """One database's numbers."""

    database: str
    users: int
    e2e_seconds: float
    direct_seconds: float
    completion_p50: float
    completion_p99: float
    stored: int
    unique_codes: int
    names_matched: int
    drafts_left: int

    @property
    def e2e_rate(self) -> float:
        return self.users / self.e2e_seconds

    @property
    def direct_rate(self) -> float:
        return self.users / self.direct_seconds


def _offers(call: ApiCall, data: str) -> bool:
    markup = call.params.get("reply_markup") or {}
    return any(
        button.get("callback_data") == data
        for row in markup.get("inline_keyboard", [])
        for button in row
    )


class Inboxes:
    """Each simulated person's incoming bot messages, fed by the server's call stream, so
    waiting costs the benchmark O(1) per call however many people there are."""

    def __init__(self, api: LocalBotApi) -> None:
        self.queues: dict[str, asyncio.Queue[ApiCall]] = {}
        api.subscribe(self._deliver)

    def _deliver(self, call: ApiCall) -> None:
        if call.ok and call.method == "sendMessage":
            queue = self.queues.get(str(call.params.get("chat_id")))
            if queue is not None:
                queue.put_nowait(call)

    def open(self, user_id: int) -> asyncio.Queue[ApiCall]:
        """The inbox of one person."""
        return self.queues.setdefault(str(user_id), asyncio.Queue())


async def _one_person(api: LocalBotApi, inboxes: Inboxes, user_id: int) -> float:
    """Walk one person through the whole report; returns how long it took."""
    user = api.user(user_id, first_name="P", language_code="ru")
    inbox = inboxes.open(user_id)
    started = time.perf_counter()
    last_message: dict = {}

    async def step(action, expect: str) -> None:  # type: ignore[no-untyped-def]
        nonlocal last_message
        action()
        while True:
            call = await asyncio.wait_for(inbox.get(), timeout=600)
            if expect.startswith("report:"):
                if _offers(call, expect):
                    break
            elif expect in str(call.params.get("text", "")):
                break
        last_message = call.result

    def press(data: str):  # type: ignore[no-untyped-def]
        return lambda: api.press_button(user, last_message, data)

    await step(lambda: api.send_text(user, "/report"), "report:role:witness")
    await step(press("report:role:witness"), "report:when:now")
    await step(press("report:when:now"), "report:skip")
    await step(lambda: api.send_location(user, *ALMATY), "report:count:1")
    await step(press("report:count:2-5"), "report:skip")
    await step(lambda: api.send_text(user, f"Person {user_id}"), "report:skip")
    await step(lambda: api.send_text(user, "ОП Алмалинского района"), "report:skip")
    await step(lambda: api.send_text(user, "Задержали у парка"), "report:media:done")
    await step(press("report:media:done"), "report:contact:telegram")
    await step(press("report:contact:telegram"), "report:consent:yes")
    await step(press("report:consent:yes"), "report:confirm")
    await step(press("report:confirm"), "R-")
    return time.perf_counter() - started


async def _direct(database_url: str, users: int) -> float:
    """The same number of reports through ReportService alone, at the same concurrency."""
    engine = create_engine(database_url)
    service = ReportService(create_session_factory(engine), Cipher((TEST_KEY.encode(),)))
    data = DraftData(role="witness", city="almaty", people="2-5", name="x", police="y")
    started = time.perf_counter()
    try:
        await asyncio.gather(
            *(
                service.submit(DIRECT_IDS + i, DIRECT_IDS + i, "ru", data, None)
                for i in range(users)
            )
        )
    finally:
        await engine.dispose()
    return time.perf_counter() - started


async def _verify(database_url: str, users: int) -> tuple[int, int, int, int]:
    engine = create_engine(database_url)
    cipher = Cipher((TEST_KEY.encode(),))
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(Report.code, Report.detained_name_enc).where(Report.city == "almaty")
                )
            ).all()
            drafts = await connection.scalar(select(func.count()).select_from(ReportDraft))
    finally:
        await engine.dispose()
    names = {cipher.decrypt(row.detained_name_enc) for row in rows}
    expected = {f"Person {PERSON_IDS + i}" for i in range(users)}
    return len(rows), len({row.code for row in rows}), len(names & expected), int(drafts or 0)


async def run_database(label: str, database_url: str, users: int, work: Path) -> IntakeResult:
    """Both measurements on one fresh database."""
    await asyncio.to_thread(upgrade_database, database_url)
    async with LocalBotApi() as api:
        settings = make_settings(api, database_url, work)
        application = build_application(settings, rate_limits=UNLIMITED)
        async with polling(application, poll_timeout=1):
            started = time.perf_counter()
            inboxes = Inboxes(api)
            durations = await asyncio.gather(
                *(_one_person(api, inboxes, PERSON_IDS + i) for i in range(users))
            )
            e2e = time.perf_counter() - started
    stored, unique, matched, drafts = await _verify(database_url, users)
    direct = await _direct(database_url, users)
    return IntakeResult(
        database=label,
        users=users,
        e2e_seconds=e2e,
        direct_seconds=direct,
        completion_p50=median(durations),
        completion_p99=percentile(durations, 0.99),
        stored=stored,
        unique_codes=unique,
        names_matched=matched,
        drafts_left=drafts,
    )


def _postgres_url() -> str | None:
    return os.environ.get("JIYN_BENCH_POSTGRES_URL") or os.environ.get("JIYN_TEST_POSTGRES_URL")


async def run_all(users: int) -> list[IntakeResult]:
    """SQLite, then PostgreSQL when a server is configured."""
    results = []
    with tempfile.TemporaryDirectory(prefix="jiyn-intake-") as folder:
        work = Path(folder)
        sqlite_url = f"sqlite+aiosqlite:///{work / 'intake.sqlite3'}"
        results.append(await run_database("SQLite", sqlite_url, users, work))
        admin_url = _postgres_url()
        if admin_url:
            async with fresh_postgres_database(admin_url) as url:
                results.append(await run_database("PostgreSQL", url, users, work))
    return results


def report(results: list[IntakeResult]) -> str:
    """The BENCHMARKS.md section."""
    lines = [
        "## Report intake",
        "",
        f"Run `.venv/bin/python -m bench.intake` on {date.today().isoformat()}; {machine()}.",
        "",
        "Every simulated person walks the whole report conversation (12 steps: role, time, a "
        "location, count, name, police unit, details, no photos, contact, consent, confirm) at "
        "the same moment, through the real Application and the local Bot API server, with "
        "Telegram's message limits lifted (they would cap any bot at 30 messages a second). "
        "Baseline: the same number of reports written straight through ReportService, at the "
        "same concurrency (the database's floor).",
        "",
        "| Database | People | End to end | Reports/s | Direct reports/s | p50 / p99 per person "
        "| Stored | Unique codes | Names intact | Drafts left |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.database} | {r.users} | {r.e2e_seconds:.1f} s | {r.e2e_rate:.1f} | "
            f"{r.direct_rate:.1f} | {r.completion_p50:.1f} s / {r.completion_p99:.1f} s | "
            f"{r.stored} | {r.unique_codes} | {r.names_matched} | {r.drafts_left} |"
        )
    lines.append("")
    for r in results:
        verdict = (
            "none lost or duplicated"
            if r.stored == r.unique_codes == r.names_matched == r.users and r.drafts_left == 0
            else "MISMATCH"
        )
        lines.append(
            f"- {r.database}: end to end / direct: reports/s × {r.e2e_rate / r.direct_rate:.2f}; "
            f"{verdict}."
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the intake benchmark and update BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    results = asyncio.run(run_all(args.users))
    section = report(results)
    print(section)
    if not args.no_write:
        write_section("## Report intake", section)
    ok = all(
        r.stored == r.unique_codes == r.names_matched == r.users and r.drafts_left == 0
        for r in results
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
