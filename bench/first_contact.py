"""First contact: what a question costs from a person the bot has never seen (a flyer with a QR
code brings thousands at once) against one from a person it knows, and against a bare echo bot,
all in the same run.

Run: .venv/bin/python -m bench.first_contact [--users N] [--rounds R] [--no-write]

N users send one question each at once through the local Bot API server (0 ms per call). Each
bot runs in its own process, warmed up first; CPU is the bot process's (all threads) during the
burst, divided by the answers. Jiyn runs as `bench.common jiyn-uncapped` (production build,
Telegram's send limits lifted, so the burst is not spread over seconds of idling). "Known": the
users each asked once before the burst. Medians of the rounds. Updates the "## First contact"
section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bench.answers import _migrate, calibrate, distinct_answer_questions, load_questions
from bench.common import (
    BENCHMARKS_FILE,
    ECHO,
    JIYN_UNCAPPED,
    AnswerLog,
    machine,
    median,
    percentile,
    start_bot,
    work_directory,
    write_section,
)
from bot.localapi.server import LocalBotApi

SECTION = "## First contact"
FIRST_USER_ID = 400_000_000
TARGET_RATIO = 1.5  # a first answer may cost at most this much more than a known user's


@dataclass
class Burst:
    """One bot, one kind of user, one round."""

    name: str
    cpu_ms_per_answer: float
    p50_ms: float
    p99_ms: float


async def run_burst(kind: str, users: int, known: bool, questions: list[str]) -> Burst:
    """Start the bot, warm it up, (let every user ask once if `known`), then the burst."""
    async with LocalBotApi(latency=0.0) as api:
        log = AnswerLog(api)
        with work_directory() as work_dir:
            if kind != ECHO:
                await asyncio.to_thread(_migrate, work_dir)
            bot = start_bot(kind, api, work_dir)
            try:
                usable = distinct_answer_questions(await calibrate(api, log, bot, questions))
                user_ids = [FIRST_USER_ID + index for index in range(users)]
                for user_id in user_ids:
                    api.user(user_id, language_code=None)
                if known:
                    for user_id in user_ids:
                        api.send_text(user_id, usable[0])
                    await log.wait_for(lambda: all(u in log.by_chat for u in user_ids), 120, bot)
                    log.forget(user_ids)
                    await asyncio.sleep(1.0)  # let the first contacts' batch be written
                cpu_before = bot.usage().cpu_seconds
                asked_at = time.monotonic()
                for index, user_id in enumerate(user_ids):
                    api.send_text(user_id, usable[index % len(usable)])
                await log.wait_for(lambda: all(u in log.by_chat for u in user_ids), 120, bot)
                answered_at = [log.by_chat[u][0].time - asked_at for u in user_ids]
                # The first contacts' batch is written after the answers: count it too.
                await asyncio.sleep(1.0)
                cpu = bot.usage().cpu_seconds - cpu_before
            finally:
                bot.stop()
                log.close()
    name = "Echo bot (PTB defaults)" if kind == ECHO else f"Jiyn, {'known' if known else 'new'}"
    return Burst(
        name,
        1000 * cpu / users,
        1000 * percentile(answered_at, 0.5),
        1000 * percentile(answered_at, 0.99),
    )


async def run_all(users: int, rounds: int) -> dict[str, list[Burst]]:
    """Every variant, `rounds` times, interleaved so a busy moment hits all of them alike."""
    questions = load_questions()
    results: dict[str, list[Burst]] = {}
    for round_number in range(rounds):
        for kind, known in ((ECHO, False), (JIYN_UNCAPPED, True), (JIYN_UNCAPPED, False)):
            print(f"first contact: round {round_number + 1}, {kind}, known={known} ...", flush=True)
            burst = await run_burst(kind, users, known, questions)
            results.setdefault(burst.name, []).append(burst)
    return results


def report(results: dict[str, list[Burst]], users: int, rounds: int, today: date) -> str:
    """The Markdown section for BENCHMARKS.md."""
    lines = [
        SECTION,
        "",
        f"Run `.venv/bin/python -m bench.first_contact` on {today.isoformat()}; {machine()}.",
        "",
        f"{users} users send one question each at once through the local Bot API server (0 ms "
        "per call). New: users the bot has never seen; known: each asked once before the burst. "
        "Jiyn is the production build with Telegram's send limits lifted (so the burst is not "
        "spread over seconds of waiting), SQLite; the baseline is a bare echo bot with "
        "python-telegram-bot's defaults. CPU: the bot process, all threads, during the burst and "
        "the second after it (the new users' rows are written then), per answer. "
        f"Medians of {rounds} rounds.",
        "",
        "| Bot | CPU per answer | p50 latency | p99 latency |",
        "|---|---|---|---|",
    ]
    cpu: dict[str, float] = {}
    for name, bursts in results.items():
        cpu[name] = median([b.cpu_ms_per_answer for b in bursts])
        lines.append(
            f"| {name} | {cpu[name]:.2f} ms | {median([b.p50_ms for b in bursts]):.0f} ms | "
            f"{median([b.p99_ms for b in bursts]):.0f} ms |"
        )
    echo = cpu.get("Echo bot (PTB defaults)", 0.0)
    known, new = cpu.get("Jiyn, known", 0.0), cpu.get("Jiyn, new", 0.0)
    lines.append("")
    if known and echo:
        lines.append(
            f"- Known user / echo: CPU per answer × {known / echo:.2f}; new user / echo: "
            f"× {new / echo:.2f}."
        )
    if known:
        ratio = new / known
        verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
        lines.append(
            f"- New / known: CPU per answer × {ratio:.2f}. Target ≤ {TARGET_RATIO}×: {verdict}."
        )
    lines.append(
        "- How: the user directory (bot/services/users.py) loads every user at start, so a user "
        "it does not know is new and needs no read; the new rows are written together, one "
        "insert per half second, off the answer's path. Before this (issue 14), a new user's "
        "first question cost a read and an insert transaction on the answer's path: 4.0 ms of "
        "CPU against 1.0 ms for a known user's."
    )
    lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the section, update BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200, help="users asking at once")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every variant")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args(argv)
    results = asyncio.run(run_all(args.users, args.rounds))
    section = report(results, args.users, args.rounds, date.today())
    print(section)
    if not args.no_write:
        write_section(SECTION, section)
        print(f"updated {BENCHMARKS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
