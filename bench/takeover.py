"""Take-over: how long people wait for an answer when the active `jiyn run` dies, with a standby
waiting on the same PostgreSQL database, against restarting the one process (no standby).

Run: .venv/bin/python -m bench.takeover [--rounds R] [--no-write]
Needs PostgreSQL: JIYN_BENCH_POSTGRES_URL (or JIYN_TEST_POSTGRES_URL), a server URL whose user
may create databases, like postgresql://postgres@127.0.0.1:5432/postgres.

Each round: a fresh database; the active process answers a question; it is killed with SIGKILL
and at that moment a new question is sent. Measured: from the kill to the answer reaching the
local Bot API server. Baseline, same round: no standby; a new process is started right after the
kill (what a supervisor restarting the service does at best). Medians of the rounds. Updates the
"## Take-over" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from bench.common import (
    BENCHMARKS_FILE,
    REPO_ROOT,
    AnswerLog,
    bot_environment,
    machine,
    median,
    work_directory,
    write_section,
)
from bot.core.migrate import upgrade_database
from bot.localapi.server import LocalBotApi
from tests.support.databases import fresh_postgres_database

SECTION = "## Take-over"
QUESTION = "Какой штраф за участие в несанкционированном митинге?"
FIRST_USER_ID = 500_000_000


def _start(
    api: LocalBotApi, database_url: str, work_dir: Path, name: str
) -> subprocess.Popen[bytes]:
    data_dir = work_dir / name
    data_dir.mkdir(parents=True, exist_ok=True)
    with (work_dir / f"{name}.log").open("wb") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=data_dir,
            env=bot_environment(api, database_url, data_dir),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()


async def _answered(api: LocalBotApi, log: AnswerLog, user_id: int, seconds: float = 120) -> float:
    """Ask as a new user; when the answer arrived (time.monotonic)."""
    api.user(user_id, language_code="ru")
    api.send_text(user_id, QUESTION)
    await log.wait_for(lambda: user_id in log.by_chat, seconds)
    return log.by_chat[user_id][0].time


async def one_round(admin_url: str, standby: bool, round_number: int) -> float:
    """Seconds from the kill of the active process to the next answer."""
    async with fresh_postgres_database(admin_url) as url, LocalBotApi(latency=0.0) as api:
        await asyncio.to_thread(upgrade_database, url)
        log = AnswerLog(api)
        with work_directory() as work_dir:
            first = _start(api, url, work_dir, "first")
            processes = [first]
            try:
                base = FIRST_USER_ID + round_number * 10
                await _answered(api, log, base)
                if standby:
                    processes.append(_start(api, url, work_dir, "second"))
                    await _wait_for_log(work_dir / "second.log", b"standby:")
                first.send_signal(signal.SIGKILL)
                killed_at = time.monotonic()
                first.wait()
                if not standby:
                    processes.append(_start(api, url, work_dir, "second"))
                answered_at = await _answered(api, log, base + 1)
                return answered_at - killed_at
            finally:
                for process in processes:
                    _stop(process)
                log.close()


async def _wait_for_log(path: Path, needle: bytes, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while needle not in await asyncio.to_thread(path.read_bytes):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {needle!r} in {path.name}")
        await asyncio.sleep(0.05)


async def run_all(admin_url: str, rounds: int) -> dict[str, list[float]]:
    """Both ways, interleaved, `rounds` times."""
    results: dict[str, list[float]] = {"standby": [], "restart": []}
    for round_number in range(rounds):
        for name in ("standby", "restart"):
            print(f"take-over: round {round_number + 1}, {name} ...", flush=True)
            seconds = await one_round(admin_url, name == "standby", round_number * 2 + len(name))
            results[name].append(seconds)
    return results


def report(results: dict[str, list[float]], rounds: int, today: date) -> str:
    """The Markdown section for BENCHMARKS.md."""
    standby, restart = median(results["standby"]), median(results["restart"])
    return "\n".join(
        [
            SECTION,
            "",
            f"Run `.venv/bin/python -m bench.takeover` on {today.isoformat()}; {machine()}.",
            "",
            "The active `jiyn run` (PostgreSQL, local Bot API server at 0 ms) is killed with "
            "SIGKILL and a question is sent at that moment; measured: from the kill to its "
            "answer. With a standby waiting on the same database, and, as the baseline, with "
            "no standby: a new process started right after the kill (a supervisor's restart at "
            f"best). Medians of {rounds} rounds, each on a fresh database.",
            "",
            "| Setup | Kill to next answer | Rounds |",
            "|---|---|---|",
            f"| Standby takes over | {standby:.2f} s | "
            + ", ".join(f"{s:.2f}" for s in results["standby"])
            + " |",
            f"| Restart, no standby | {restart:.2f} s | "
            + ", ".join(f"{s:.2f}" for s in results["restart"])
            + " |",
            "",
            f"- Standby / restart: × {standby / restart:.2f}. The standby has imported the bot "
            "and loaded the knowledge base before it waits, queued on the server for the lock "
            "(bot/leader.py), which PostgreSQL grants the moment the killed process's socket "
            "closes; taking over is then starting the Application (command registration, "
            "loading the users) and the first poll, which gets the question.",
            "- When the active machine or its network is gone instead (no SIGKILL: the socket "
            "is not closed), PostgreSQL ends the lock's session after at most 10 s of silence "
            "(TCP keepalives and user timeout set on that connection), so the standby takes "
            "over within about 11 s plus the time above.",
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the section, update BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each setup")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args(argv)
    admin_url = os.environ.get("JIYN_BENCH_POSTGRES_URL") or os.environ.get(
        "JIYN_TEST_POSTGRES_URL"
    )
    if not admin_url:
        print("take-over: skipped, needs JIYN_BENCH_POSTGRES_URL", file=sys.stderr)
        return 0
    os.chdir(REPO_ROOT)
    results = asyncio.run(run_all(admin_url, args.rounds))
    section = report(results, args.rounds, date.today())
    print(section)
    if not args.no_write:
        write_section(SECTION, section)
        print(f"updated {BENCHMARKS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
