"""Answers end to end: N users ask at once, through the local Bot API server, at 0 and 100 ms
per Bot API call; Jiyn against a bare echo bot with python-telegram-bot's defaults, same run.

Run: .venv/bin/python -m bench.answers [--users N] [--per-user K] [--no-write]
     .venv/bin/python -m bench.answers --profile FILE   (where Jiyn's CPU goes, with py-spy)

Prints answers per second, p50/p99 latency (from a question being sent to its answer arriving),
CPU time per answer and whether each user got their answers in order, with Jiyn / echo ratios
(Jiyn also runs with Telegram's rate limits lifted, to show what the bot itself can do); then the
HTTP clients (PTB's default httpx against bot.telegram.http.AiohttpRequest) on the same calls.
Updates the "## Answers" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from bench.common import (
    BENCH_TOKEN,
    BENCHMARKS_FILE,
    ECHO,
    JIYN,
    JIYN_UNCAPPED,
    REPO_ROOT,
    AnswerLog,
    BotProcess,
    machine,
    percentile,
    start_bot,
    work_directory,
    write_section,
)
from bot.localapi.server import LocalBotApi

SECTION = "## Answers"
EVAL_FILE = REPO_ROOT.parent / "shared/eval/questions.yaml"
# Used when the shared eval set is not there: questions of the kind people ask.
FALLBACK_QUESTIONS = (
    "Сколько дней до митинга нужно подать уведомление в акимат?",
    "Где в Алматы можно проводить мирные собрания?",
    "Какой штраф за участие в несанкционированном митинге?",
    "Что делать если меня задержали на акции?",
    "Шеруге қанша күн бұрын өтініш беру керек?",
    "Can a foreigner join a rally in Kazakhstan?",
    "How many days in advance must I notify about a picket?",
    "Where can I hold a rally in Astana?",
)
LATENCIES = (0.0, 0.1)  # seconds per Bot API call: loopback, and a round trip from Kazakhstan
TARGET_ANSWERS_PER_SECOND = 28.0
TARGET_CPU_RATIO = 1.25
FIRST_USER_ID = 300_000_000


@dataclass
class RunResult:
    """One bot at one latency."""

    bot: str
    latency: float
    answers: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float
    in_order: bool

    @property
    def answers_per_second(self) -> float:
        """Answers divided by the time from the first question to the last answer."""
        return self.answers / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_ms_per_answer(self) -> float:
        """The bot process's CPU time (all threads) per answer, in milliseconds."""
        return 1000 * self.cpu_seconds / self.answers if self.answers else 0.0


def load_questions() -> list[str]:
    """Questions from the shared eval set (or a built-in list when it is not there)."""
    if EVAL_FILE.exists():
        cases = yaml.safe_load(EVAL_FILE.read_text(encoding="utf-8")) or []
        questions = [str(case["q"]) for case in cases if case.get("q")]
        if questions:
            return questions
    return list(FALLBACK_QUESTIONS)


async def calibrate(
    api: LocalBotApi, log: AnswerLog, bot: BotProcess, questions: list[str]
) -> dict[str, str]:
    """Ask every question once as one user (also warms the bot up); the reply to each."""
    user_id = FIRST_USER_ID - 1
    api.user(user_id, language_code=None)
    replies: dict[str, str] = {}
    for question in questions:
        before = len(log.by_chat.get(user_id, []))
        api.send_text(user_id, question)
        await log.wait_for(
            lambda before=before: len(log.by_chat.get(user_id, [])) > before, 60, bot
        )
        replies[question] = log.by_chat[user_id][before].params["text"]
    return replies


def distinct_answer_questions(replies: dict[str, str]) -> list[str]:
    """Questions whose reply no other question gets, so a reply tells which question it was."""
    seen: dict[str, int] = {}
    for reply in replies.values():
        seen[reply] = seen.get(reply, 0) + 1
    return [question for question, reply in replies.items() if seen[reply] == 1]


async def run_once(
    bot_kind: str,
    latency: float,
    users: int,
    per_user: int,
    questions: list[str],
    profile: Path | None = None,
) -> RunResult:
    """Start the bot, warm it up, then let every user send per_user questions at once; with
    `profile`, py-spy samples the bot during the burst into that file."""
    async with LocalBotApi(latency=0.0) as api:
        log = AnswerLog(api)
        with work_directory() as work_dir:
            if bot_kind != ECHO:
                await asyncio.to_thread(_migrate, work_dir)
            bot = start_bot(bot_kind, api, work_dir)
            try:
                replies = await calibrate(api, log, bot, questions)
                usable = distinct_answer_questions(replies)
                if len(usable) < per_user:
                    raise RuntimeError(f"only {len(usable)} questions have distinct answers")
                api.latency = latency
                user_ids = [FIRST_USER_ID + index for index in range(users)]
                asked = {
                    user_id: [usable[(index + turn) % len(usable)] for turn in range(per_user)]
                    for index, user_id in enumerate(user_ids)
                }
                # Everyone has talked to the bot before (as most people writing to it have), so
                # the burst measures answering, not first-contact sign-up.
                for user_id in user_ids:
                    api.user(user_id, language_code=None)
                    api.send_text(user_id, usable[0])
                await log.wait_for(lambda: all(u in log.by_chat for u in user_ids), 120, bot)
                log.forget(user_ids)
                sampler = await start_sampler(bot, profile) if profile else None
                cpu_before = bot.usage().cpu_seconds
                asked_at = time.monotonic()
                # Round by round, so each user's questions are spread over the whole burst.
                for turn in range(per_user):
                    for user_id in user_ids:
                        api.send_text(user_id, asked[user_id][turn])
                total = users * per_user

                def all_answered() -> bool:
                    return sum(len(log.by_chat.get(u, [])) for u in user_ids) >= total

                await log.wait_for(all_answered, 120 + total * 0.5, bot)
                cpu_after = bot.usage().cpu_seconds
                if sampler is not None:
                    await stop_sampler(sampler)
            finally:
                bot.stop()
                log.close()
        answer_times = [call.time for u in user_ids for call in log.by_chat[u]]
        in_order = all(
            [call.params["text"] for call in log.by_chat[u]]
            == [replies[question] for question in asked[u]]
            for u in user_ids
        )
        return RunResult(
            bot=bot_kind,
            latency=latency,
            answers=len(answer_times),
            seconds=max(answer_times) - asked_at,
            latencies=[moment - asked_at for moment in answer_times],
            cpu_seconds=cpu_after - cpu_before,
            in_order=in_order,
        )


def _migrate(work_dir: Path) -> None:
    from bot.core.migrate import upgrade_database

    data_dir = work_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(f"sqlite+aiosqlite:///{data_dir / 'bench.sqlite3'}")


# --------------------------------------------------------------------------- profile


async def start_sampler(bot: BotProcess, output: Path) -> asyncio.subprocess.Process:
    """py-spy sampling the bot's Python code while it holds the GIL (its CPU time, not its
    waits), as raw collapsed stacks; started and attached before the burst."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    process = await asyncio.create_subprocess_exec(
        spy, "record", "--gil", "--nonblocking", "--rate", "250", "--format", "raw",
        "--output", str(output), "--pid", str(bot.process.pid),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await asyncio.sleep(1.5)  # attaching takes a moment
    if process.returncode is not None:
        _, error = await process.communicate()
        raise RuntimeError(f"py-spy failed: {error.decode(errors='replace')[-500:]}")
    return process


async def stop_sampler(process: asyncio.subprocess.Process) -> None:
    """Stop py-spy as Ctrl+C would, so it writes its file."""
    process.send_signal(signal.SIGINT)
    await process.wait()


def profile_summary(path: Path, top: int = 30) -> str:
    """The functions with the largest share of the samples, callees included."""
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        # "function (file:line)" -> "function (file)": one entry per function, not per line.
        frames = {re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")}
        for frame in frames:
            inclusive[frame] += count
    if not total:
        return "no samples"
    # Frames in (nearly) every sample are the event loop and the program's start: no news.
    rows = [
        f"{100 * count / total:5.1f}%  {frame}"
        for frame, count in inclusive.most_common()
        if count < 0.8 * total
    ]
    return "\n".join([f"{total} samples; share of the bot's CPU, callees included:", *rows[:top]])


async def run_profile(args: argparse.Namespace) -> None:
    """Jiyn at 100 ms under py-spy; prints where its CPU goes."""
    output = Path(args.profile)
    result = await run_once(
        JIYN, LATENCIES[-1], args.users, args.per_user, load_questions(), profile=output
    )
    print(
        f"Jiyn at {_ms(result.latency)}: {result.answers_per_second:.1f} answers/s, "
        f"{result.cpu_ms_per_answer:.2f} ms CPU per answer (py-spy running alongside)"
    )
    print(profile_summary(output))
    print(f"raw stacks in {output} (e.g. for speedscope or flamegraph.pl)")


# --------------------------------------------------------------------------- components

# Jiyn's own work per answer, measured alone in a fresh interpreter: the knowledge base answering
# (knowledge/answer.py) and the user lookup that runs before every handler
# (handlers/common/middleware.py via bot/services/users.py) for users it already knows: from the
# directory's memory, as the bot does it, and through the database (SQLite), as it did before
# the directory.
_COMPONENTS = """
import asyncio, json, sys, tempfile, time
from pathlib import Path
import yaml
from bot.core.db import create_engine, create_session_factory
from bot.core.migrate import upgrade_database
from bot.core.crypto import Cipher
from bot.services.users import UserDirectory, touch_user
from cryptography.fernet import Fernet
from knowledge.answer import answer_question
from knowledge.loader import load_knowledge

questions = sys.argv[1:]
knowledge = load_knowledge()
for question in questions:
    answer_question(knowledge, question, None)
started = time.process_time()
for _ in range(5):
    for question in questions:
        answer_question(knowledge, question, None)
answer_ms = (time.process_time() - started) * 1000 / (5 * len(questions))

async def lookups(url):
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    cipher = Cipher((Fernet.generate_key(),))
    directory = UserDirectory(sessions, cipher)
    for user_id in range(100):
        await directory.saved_language(user_id, "ru")
    started = time.process_time()
    for _ in range(5):
        for user_id in range(100):
            await touch_user(sessions, cipher, user_id, "ru")
    database_ms = (time.process_time() - started) * 1000 / 500
    started = time.process_time()
    for _ in range(500):
        for user_id in range(100):
            await directory.saved_language(user_id, "ru")
    memory_ms = (time.process_time() - started) * 1000 / 50_000
    await engine.dispose()
    return database_ms, memory_ms

with tempfile.TemporaryDirectory() as folder:
    url = f"sqlite+aiosqlite:///{Path(folder) / 'components.sqlite3'}"
    upgrade_database(url)
    database_ms, memory_ms = asyncio.run(lookups(url))
print(json.dumps({
    "answer_question_ms": answer_ms, "touch_user_ms": database_ms, "directory_ms": memory_ms
}))
"""


def measure_components(questions: list[str]) -> dict[str, float]:
    """CPU milliseconds of answer_question, of a known user's lookup through the database
    (touch_user) and from the directory's memory, each alone; {} if they fail."""
    result = subprocess.run(
        [sys.executable, "-c", _COMPONENTS, *questions],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        print(f"answers: components not measured:\n{result.stderr[-2000:]}", file=sys.stderr)
        return {}
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


# --------------------------------------------------------------------------- HTTP clients

CLIENTS = ("httpx", "aiohttp")
CLIENT_NAMES = {
    "httpx": "PTB default (HTTPXRequest, pool 256)",
    "aiohttp": "bot.telegram.http.AiohttpRequest (pool 256)",
}


@dataclass
class ClientResult:
    """One HTTP client making many concurrent sendMessage calls."""

    client: str
    latency: float
    calls: int
    seconds: float
    cpu_seconds: float

    @property
    def calls_per_second(self) -> float:
        """Completed calls per wall-clock second."""
        return self.calls / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_call(self) -> float:
        """Client process CPU time per call, in milliseconds."""
        return 1000 * self.cpu_seconds / self.calls if self.calls else 0.0


async def run_client(client: str, latency: float, calls: int, concurrency: int) -> ClientResult:
    """A bare PTB Bot on one HTTP client, in its own process: `calls` sendMessage calls, at
    most `concurrency` at once."""
    async with LocalBotApi(latency=latency) as api:
        for index in range(concurrency):
            api.user(FIRST_USER_ID + index)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.answers",
            "--client",
            client,
            "--api-url",
            api.base_url,
            "--calls",
            str(calls),
            "--concurrency",
            str(concurrency),
            cwd=REPO_ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"client {client} failed with {process.returncode}")
        measured = json.loads(output.decode().strip().splitlines()[-1])
        return ClientResult(client, latency, calls, measured["seconds"], measured["cpu"])


async def client_process(client: str, api_url: str, calls: int, concurrency: int) -> None:
    """The child side of run_client: print {"seconds", "cpu"} as JSON."""
    from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
    from telegram.request import HTTPXRequest

    from bot.telegram.http import AiohttpRequest

    request = AiohttpRequest() if client == "aiohttp" else HTTPXRequest()
    bot = Bot(BENCH_TOKEN, base_url=f"{api_url}/bot", request=request)
    slots = asyncio.Semaphore(concurrency)

    # Shaped like a Jiyn answer: a long HTML text in Cyrillic, and buttons.
    text = (
        "<b>Уведомление о митинге</b>\n" + "Подайте уведомление в акимат за 5 рабочих дней. " * 25
    )
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("👍", callback_data="kb:fb:x:up")],
         [InlineKeyboardButton("Где можно проводить", callback_data="kb:show:venues")]]
    )  # fmt: skip

    async def send(number: int) -> None:
        async with slots:
            await bot.send_message(
                FIRST_USER_ID + number % concurrency, text, parse_mode="HTML", reply_markup=keyboard
            )

    async with bot:
        await asyncio.gather(*(send(number) for number in range(concurrency)))  # warm the pool
        cpu_before = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(send(number) for number in range(calls)))
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
    print(json.dumps({"seconds": seconds, "cpu": cpu}))


# --------------------------------------------------------------------------- report


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def report(
    results: list[RunResult],
    clients: list[ClientResult],
    components: dict[str, float],
    users: int,
    per_user: int,
    today: date,
) -> str:
    """The Markdown section for BENCHMARKS.md."""
    lines = [
        SECTION,
        "",
        f"Run `.venv/bin/python -m bench.answers` on {today.isoformat()}; {machine()}.",
        "",
        f"{users} users the bot already knows each send {per_user} questions at once "
        "(questions from the shared eval "
        "set whose answers differ, so each answer shows which question it was), through the local "
        "Bot API server, which holds every Bot API call for the given round-trip time. Jiyn runs "
        "as in production (`python -m bot.cli run`, SQLite) and the baseline is a bare echo bot "
        "with python-telegram-bot's defaults; each in its own process, warmed up first. Latency: "
        "from the burst being sent to each answer reaching the server (so it includes waiting "
        "behind the other questions of the burst). CPU: the bot process, all threads.",
        "",
        "| Bot | Round trip | Answers/s | p50 latency | p99 latency | CPU per answer "
        "| Order kept |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in results:
        lines.append(
            f"| {result.bot} | {_ms(result.latency)} | {result.answers_per_second:.1f} | "
            f"{_ms(percentile(result.latencies, 0.5))} | {_ms(percentile(result.latencies, 0.99))}"
            f" | {result.cpu_ms_per_answer:.2f} ms | {'yes' if result.in_order else 'NO'} |"
        )
    lines.append("")
    for latency in LATENCIES:
        jiyn = next((r for r in results if r.bot == JIYN and r.latency == latency), None)
        echo = next((r for r in results if r.bot == ECHO and r.latency == latency), None)
        if jiyn is None or echo is None:
            continue
        speed = jiyn.answers_per_second / echo.answers_per_second
        cpu = jiyn.cpu_ms_per_answer / echo.cpu_ms_per_answer if echo.cpu_ms_per_answer else 0
        lines.append(
            f"- At {_ms(latency)}: Jiyn / echo bot: answers/s × {speed:.2f}, "
            f"CPU per answer × {cpu:.2f}."
        )
    at_100 = next((r for r in results if r.bot == JIYN and r.latency == LATENCIES[-1]), None)
    echo_100 = next((r for r in results if r.bot == ECHO and r.latency == LATENCIES[-1]), None)
    if at_100 is not None and echo_100 is not None:
        cpu_ratio = at_100.cpu_ms_per_answer / max(echo_100.cpu_ms_per_answer, 1e-9)
        met_speed = at_100.answers_per_second >= TARGET_ANSWERS_PER_SECOND and at_100.in_order
        met_cpu = cpu_ratio <= TARGET_CPU_RATIO
        lines.append(
            f"- Targets at 100 ms: ≥ {TARGET_ANSWERS_PER_SECOND:.0f} answers/s with order kept: "
            f"{'met' if met_speed else 'NOT met'} ({at_100.answers_per_second:.1f}); CPU per "
            f"answer ≤ {TARGET_CPU_RATIO}× the echo bot's: {'met' if met_cpu else 'NOT met'} "
            f"(× {cpu_ratio:.2f})."
        )
        uncapped = [r for r in results if r.bot == JIYN_UNCAPPED]
        lines.append(
            "- Jiyn sends at most 30 messages a second (Telegram's limit, bot/telegram/http.py), "
            "so that is its ceiling here. With the limits lifted (same build, `rate_limits` of "
            "`build_application`) it answers "
            + ", ".join(f"{r.answers_per_second:.0f}/s at {_ms(r.latency)}" for r in uncapped)
            + ": Telegram's cap, not the bot, is what holds it back."
        )
        if components:
            lines.append(
                "- Work the echo bot does not do, each measured alone in this run: answering from "
                f"the knowledge base {components['answer_question_ms']:.2f} ms CPU per question "
                "(knowledge/answer.py); looking up a known user before every handler "
                f"{components['directory_ms'] * 1000:.1f} µs from the user directory's memory "
                f"(bot/services/users.py), against {components['touch_user_ms']:.2f} ms through "
                "the database (SQLite), which is what every update cost before the directory. "
                "Jiyn's cheaper HTTP client (see below) pays for most of the rest."
            )
    if clients:
        lines += [
            "",
            "HTTP clients: a bare PTB `Bot` in its own process makes sendMessage calls, 64 at a "
            "time, against the same server; each message is shaped like an answer (1,200 "
            "characters of HTML in Cyrillic, two buttons). Jiyn uses the one that costs less CPU "
            "per call.",
            "",
            "| Client | Round trip | Calls/s | CPU per call |",
            "|---|---|---|---|",
        ]
        for client in clients:
            lines.append(
                f"| {CLIENT_NAMES[client.client]} | {_ms(client.latency)} | "
                f"{client.calls_per_second:.0f} | {client.cpu_ms_per_call:.2f} ms |"
            )
        lines.append("")
        for latency in LATENCIES:
            httpx = next((c for c in clients if c.client == "httpx" and c.latency == latency), None)
            aio = next((c for c in clients if c.client == "aiohttp" and c.latency == latency), None)
            if httpx is not None and aio is not None:
                lines.append(
                    f"- At {_ms(latency)}: aiohttp / httpx: calls/s × "
                    f"{aio.calls_per_second / httpx.calls_per_second:.2f}, CPU per call × "
                    f"{aio.cpu_ms_per_call / httpx.cpu_ms_per_call:.2f}."
                )
    lines.append("")
    return "\n".join(lines)


async def run_all(
    args: argparse.Namespace,
) -> tuple[list[RunResult], list[ClientResult], dict[str, float]]:
    """Every bot at every latency, every HTTP client at every latency, then the components."""
    questions = load_questions()
    results = []
    for latency in () if args.skip_bots else LATENCIES:
        for bot in (ECHO, JIYN, JIYN_UNCAPPED):
            print(f"answers: {bot} at {_ms(latency)} ...", flush=True)
            results.append(await run_once(bot, latency, args.users, args.per_user, questions))
    clients = []
    if not args.skip_clients:
        for latency in LATENCIES:
            for client in CLIENTS:
                print(f"answers: HTTP client {client} at {_ms(latency)} ...", flush=True)
                clients.append(await run_client(client, latency, args.calls, 64))
    return results, clients, measure_components(questions[:20])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the section, update BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100, help="users asking at once")
    parser.add_argument("--per-user", type=int, default=2, help="questions each user sends")
    parser.add_argument("--calls", type=int, default=2000, help="calls per HTTP client run")
    parser.add_argument("--skip-clients", action="store_true", help="skip the HTTP clients")
    parser.add_argument("--skip-bots", action="store_true", help="skip the bots (clients only)")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="only profile Jiyn at 100 ms with py-spy: raw stacks to FILE, a summary printed",
    )
    # The child side of the HTTP client comparison.
    parser.add_argument("--client", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=64, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        asyncio.run(client_process(args.client, args.api_url, args.calls, args.concurrency))
        return 0
    if args.profile:
        asyncio.run(run_profile(args))
        return 0
    results, clients, components = asyncio.run(run_all(args))
    section = report(results, clients, components, args.users, args.per_user, date.today())
    print(section)
    if not args.no_write:
        write_section(SECTION, section)
        print(f"updated {BENCHMARKS_FILE}")
    return 0 if all(result.in_order for result in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
