"""Memory and start-up: resident memory with the whole knowledge base loaded, and the time from
starting the bot to its first answer; Jiyn against a bare echo bot with python-telegram-bot's
defaults, same run.

Run: .venv/bin/python -m bench.startup [--repeat N] [--no-write]

A question is already waiting when the bot starts (as after a restart); the clock runs from
starting the process to the answer reaching the local Bot API server. Memory is read after that
first answer and again after a burst of answers. Updates the "## Memory and start-up" section of
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bench.answers import FIRST_USER_ID, load_questions
from bench.common import (
    BENCHMARKS_FILE,
    ECHO,
    JIYN,
    REPO_ROOT,
    AnswerLog,
    format_bytes,
    machine,
    median,
    start_bot,
    work_directory,
    write_section,
)
from bot.localapi.server import LocalBotApi

SECTION = "## Memory and start-up"
LATENCIES = (0.0, 0.1)
BURST_USERS = 100


@dataclass
class StartResult:
    """One start of one bot."""

    bot: str
    latency: float
    seconds_to_first_answer: float
    rss_after_first_answer: int
    peak_rss_after_burst: int


async def start_once(bot_kind: str, latency: float, question: str) -> StartResult:
    """Start the bot with a question waiting; time the answer; measure memory, then again after
    a burst of answers."""
    async with LocalBotApi(latency=latency) as api:
        log = AnswerLog(api)
        with work_directory() as work_dir:
            if bot_kind == JIYN:
                await asyncio.to_thread(_migrate, work_dir)
            first_user = FIRST_USER_ID - 1
            api.user(first_user, language_code=None)
            api.send_text(first_user, question)
            bot = start_bot(bot_kind, api, work_dir)
            try:
                await log.wait_for(lambda: first_user in log.by_chat, 120, bot)
                first_answer = log.by_chat[first_user][0].time
                rss_first = bot.usage().rss_bytes
                users = [FIRST_USER_ID + index for index in range(BURST_USERS)]
                for user_id in users:
                    api.user(user_id, language_code=None)
                    api.send_text(user_id, question)
                await log.wait_for(lambda: all(u in log.by_chat for u in users), 300, bot)
                peak = bot.usage().peak_rss_bytes
            finally:
                bot.stop()
                log.close()
        return StartResult(bot_kind, latency, first_answer - bot.started_at, rss_first, peak)


def _migrate(work_dir: Path) -> None:
    from bot.core.migrate import upgrade_database

    data_dir = work_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(f"sqlite+aiosqlite:///{data_dir / 'bench.sqlite3'}")


# What loading costs, measured in a fresh interpreter: imports, then the knowledge base.
_BREAKDOWN = """
import json, time
from bench.common import process_usage
import os
started = time.perf_counter()
import telegram.ext
ptb = time.perf_counter()
rss_ptb = process_usage(os.getpid()).rss_bytes
import bot.app
imports = time.perf_counter()
from knowledge.loader import load_knowledge
knowledge = load_knowledge()
loaded = time.perf_counter()
rss_loaded = process_usage(os.getpid()).rss_bytes
print(json.dumps({
    "ptb_import": ptb - started, "jiyn_import": imports - ptb, "knowledge": loaded - imports,
    "rss_ptb": rss_ptb, "rss_loaded": rss_loaded, "articles": len(knowledge.articles),
}))
"""


def load_breakdown() -> dict[str, float]:
    """Seconds to import PTB, then the rest of Jiyn, then load the knowledge base; memory."""
    output = subprocess.run(
        [sys.executable, "-c", _BREAKDOWN],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def report(results: list[StartResult], breakdown: dict[str, float], today: date) -> str:
    """The Markdown section for BENCHMARKS.md."""
    lines = [
        SECTION,
        "",
        f"Run `.venv/bin/python -m bench.startup` on {today.isoformat()}; {machine()}.",
        "",
        "Each bot is started in a new process with a question already waiting; start-up is the "
        "time from starting the process to that answer reaching the local Bot API server (Jiyn "
        "as in production, `python -m bot.cli run`: configuration, migration check, knowledge "
        "base, command registration, then polling). Memory is the bot process's resident set "
        f"after the first answer, and its peak after {BURST_USERS} more users asked at once. "
        "Medians of the runs.",
        "",
        "| Bot | Round trip | Start to first answer | Memory after first answer "
        "| Peak after the burst |",
        "|---|---|---|---|---|",
    ]
    summary: dict[tuple[str, float], tuple[float, float, float]] = {}
    for bot in (ECHO, JIYN):
        for latency in LATENCIES:
            runs = [r for r in results if r.bot == bot and r.latency == latency]
            if not runs:
                continue
            seconds = median([r.seconds_to_first_answer for r in runs])
            rss = median([float(r.rss_after_first_answer) for r in runs])
            peak = median([float(r.peak_rss_after_burst) for r in runs])
            summary[(bot, latency)] = (seconds, rss, peak)
            lines.append(
                f"| {bot} | {latency * 1000:.0f} ms | {seconds * 1000:.0f} ms | "
                f"{format_bytes(rss)} | {format_bytes(peak)} |"
            )
    lines.append("")
    for latency in LATENCIES:
        jiyn, echo = summary.get((JIYN, latency)), summary.get((ECHO, latency))
        if jiyn and echo:
            lines.append(
                f"- At {latency * 1000:.0f} ms: Jiyn / echo bot: start to first answer "
                f"× {jiyn[0] / echo[0]:.2f}, memory × {jiyn[1] / echo[1]:.2f}, "
                f"peak × {jiyn[2] / echo[2]:.2f}."
            )
    if breakdown:
        lines.append(
            f"- Where Jiyn's start goes (fresh interpreter): importing python-telegram-bot "
            f"{breakdown['ptb_import'] * 1000:.0f} ms, the rest of Jiyn's imports "
            f"{breakdown['jiyn_import'] * 1000:.0f} ms, loading and indexing the knowledge base "
            f"({breakdown['articles']:.0f} articles) {breakdown['knowledge'] * 1000:.0f} ms. "
            f"Resident memory {format_bytes(breakdown['rss_ptb'])} with PTB imported, "
            f"{format_bytes(breakdown['rss_loaded'])} with all of Jiyn and the knowledge base "
            "loaded."
        )
    lines.append("")
    return "\n".join(lines)


async def run_all(repeat: int) -> list[StartResult]:
    """Every bot at every latency, `repeat` times, interleaved so drift hits both alike."""
    question = load_questions()[0]
    results = []
    for latency in LATENCIES:
        for round_number in range(repeat):
            for bot in (ECHO, JIYN):
                print(
                    f"startup: {bot} at {latency * 1000:.0f} ms, run {round_number + 1} ...",
                    flush=True,
                )
                results.append(await start_once(bot, latency, question))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the section, update BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="starts per bot and latency")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args(argv)
    results = asyncio.run(run_all(args.repeat))
    section = report(results, load_breakdown(), date.today())
    print(section)
    if not args.no_write:
        write_section(SECTION, section)
        print(f"updated {BENCHMARKS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
