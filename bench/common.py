"""What the end-to-end benchmarks share: bots in child processes, their CPU and memory, the local
Bot API server's view of their answers, and the sections of BENCHMARKS.md.

Every bot runs in its own process, so its CPU time and memory are its own (the local Bot API
server and the simulated users live in the benchmark's process). Jiyn runs exactly as in
production (`python -m bot.cli run`); the baseline is a bare echo bot with python-telegram-bot's
defaults, started from this module (`python -m bench.common echo`).

Reading a process's CPU time and memory uses /proc, so these benchmarks run on Linux.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.localapi.server import ApiCall, LocalBotApi

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_FILE = REPO_ROOT / "BENCHMARKS.md"
BENCH_TOKEN = "123456789:BenchmarkTokenForLocalApi"
# A fixed key, so the benchmark never writes one into a data directory.
BENCH_ENCRYPTION_KEY = "M2Vh8mW2dGq0n1yXg9yX1o8Vb7mB8k0Qp2tV5h3w2yQ="
HEADER = """# Benchmarks

Run them all with `make bench` (or `.venv/bin/python -m bench`); each module also runs on its own,
e.g. `.venv/bin/python -m bench.answers`. Each benchmark measures a baseline in the same run and
prints the ratio against it, then rewrites its own section below, with the machine and the date.
Numbers from a shared or busy machine vary by tens of percent between runs.
"""

JIYN = "Jiyn"
JIYN_UNCAPPED = "Jiyn, Telegram's limits lifted"
ECHO = "Echo bot (PTB defaults)"


def machine() -> str:
    """CPU model and count, OS, Python and how busy the machine was, for this run."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ""
    with contextlib.suppress(OSError, AttributeError):
        # Other work on the machine moves these numbers; say how busy it was.
        load = f", load average {os.getloadavg()[0]:.2f} at the start"
    return (
        f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}{load}"
    )


def percentile(values: Sequence[float], share: float) -> float:
    """The value below which `share` of the values fall (nearest rank); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    """The middle value (the lower one for an even count)."""
    return percentile(values, 0.5)


# --------------------------------------------------------------------------- BENCHMARKS.md


def write_section(heading: str, section: str, path: Path = BENCHMARKS_FILE) -> None:
    """Replace the section under `heading` (or add it), keeping every other section as it is."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    text = _with_header(text)
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    body = section.rstrip("\n") + "\n\n"
    if pattern.search(text):
        text = pattern.sub(lambda _match: body, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + body
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def _with_header(text: str) -> str:
    """The file with the shared header (everything before the first section) made current."""
    first_section = re.search(r"^## ", text, re.MULTILINE)
    rest = text[first_section.start() :] if first_section else ""
    return HEADER + ("\n" + rest if rest else "")


# --------------------------------------------------------------------------- processes


@dataclass
class ProcessUsage:
    """CPU seconds and memory of a process at one moment."""

    cpu_seconds: float
    rss_bytes: int
    peak_rss_bytes: int


def process_usage(pid: int) -> ProcessUsage:
    """User + system CPU time (all threads) and resident memory of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    status = Path(f"/proc/{pid}/status").read_text()
    return ProcessUsage(
        cpu, _status_kib(status, "VmRSS") * 1024, _status_kib(status, "VmHWM") * 1024
    )


def _status_kib(status: str, name: str) -> int:
    match = re.search(rf"^{name}:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else 0


@dataclass
class BotProcess:
    """A bot running in a child process against the local Bot API server."""

    kind: str  # JIYN or ECHO
    process: subprocess.Popen[bytes]
    log_path: Path
    started_at: float  # time.monotonic() just before the process was started

    def usage(self) -> ProcessUsage:
        """The child's CPU time and memory now."""
        return process_usage(self.process.pid)

    def stop(self) -> None:
        """Ask the bot to stop like Ctrl+C would, and wait for it (kill it if it hangs)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 20) -> str:
        """The end of the child's stderr, for error messages."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def bot_environment(api: LocalBotApi, database_url: str, data_dir: Path) -> dict[str, str]:
    """The environment a bot process is configured from."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("JIYN_")}
    environment.update(
        {
            "JIYN_BOT_TOKEN": BENCH_TOKEN,
            "JIYN_API_BASE_URL": api.base_url,
            "JIYN_DATABASE_URL": database_url,
            "JIYN_DATA_DIR": str(data_dir),
            "JIYN_ENCRYPTION_KEY": BENCH_ENCRYPTION_KEY,
            "PYTHONPATH": str(REPO_ROOT),
        }
    )
    return environment


def start_bot(kind: str, api: LocalBotApi, work_dir: Path) -> BotProcess:
    """Start Jiyn (`python -m bot.cli run`, as in production) or the echo bot."""
    data_dir = work_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite+aiosqlite:///{data_dir / 'bench.sqlite3'}"
    if kind == JIYN:
        command = [sys.executable, "-m", "bot.cli", "run"]
    elif kind == ECHO:
        command = [sys.executable, "-m", "bench.common", "echo"]
    elif kind == JIYN_UNCAPPED:
        command = [sys.executable, "-m", "bench.common", "jiyn-uncapped"]
    else:
        raise ValueError(f"unknown bot {kind!r}")
    log_path = work_dir / "bot.log"
    started_at = time.monotonic()
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            # Not the repository: a developer's .env there must not configure the benchmark.
            cwd=work_dir,
            env=bot_environment(api, database_url, data_dir),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return BotProcess(kind, process, log_path, started_at)


@contextlib.contextmanager
def work_directory() -> Iterator[Path]:
    """A temporary directory for a bot's database and log, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="jiyn-bench-") as name:
        yield Path(name)


# --------------------------------------------------------------------------- watching answers


@dataclass
class AnswerLog:
    """The server's record of the bot's sendMessage calls, per chat, as they happen."""

    api: LocalBotApi
    by_chat: dict[int, list[ApiCall]] = field(default_factory=dict)
    total: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _unsubscribe: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        self._unsubscribe = self.api.subscribe(self._on_call)

    def _on_call(self, call: ApiCall) -> None:
        if call.ok and call.method == "sendMessage":
            chat_id = int(call.params["chat_id"])
            self.by_chat.setdefault(chat_id, []).append(call)
            self.total += 1
            self._changed.set()

    async def wait_for(
        self, condition: Callable[[], bool], seconds: float, process: BotProcess | None = None
    ) -> None:
        """Wait until condition() holds; fail after `seconds` or if the bot process died."""
        deadline = time.monotonic() + seconds
        while not condition():
            if process is not None and process.process.poll() is not None:
                raise RuntimeError(
                    f"{process.kind} exited with {process.process.returncode}:\n"
                    f"{process.log_tail()}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                tail = process.log_tail() if process else ""
                raise TimeoutError(f"no answer within {seconds:.0f} s\n{tail}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))

    def forget(self, chat_ids: Iterable[int]) -> None:
        """Drop what was recorded for these chats (e.g. the answers of a warm-up)."""
        for chat_id in chat_ids:
            self.total -= len(self.by_chat.pop(chat_id, []))

    def close(self) -> None:
        """Stop recording."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


# --------------------------------------------------------------------------- the echo bot


def run_echo_bot() -> None:
    """The baseline: a bare python-telegram-bot echo bot with every default (one update at a
    time, the default httpx client, no rate limiter), configured from the JIYN_* variables."""
    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

    base_url = os.environ["JIYN_API_BASE_URL"]

    async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None and message.text:
            await message.chat.send_message(message.text)

    application = (
        ApplicationBuilder()
        .token(os.environ["JIYN_BOT_TOKEN"])
        .base_url(f"{base_url}/bot")
        .base_file_url(f"{base_url}/file/bot")
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    application.run_polling(allowed_updates=Update.ALL_TYPES)


def run_uncapped_jiyn() -> None:
    """Jiyn as built for production, but with Telegram's rate limits lifted: what the bot
    itself can do when the limits are not what holds it back."""
    from telegram import Update

    from bot.app import build_application
    from bot.core.config import load_settings
    from bot.telegram.http import TelegramLimits, Window

    unlimited = (Window(1_000_000, 1.0),)
    limits = TelegramLimits(overall=unlimited, private_chat=unlimited, group_chat=unlimited)
    application = build_application(load_settings(), rate_limits=limits)
    application.run_polling(allowed_updates=Update.ALL_TYPES)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bench.common echo|jiyn-uncapped` runs that bot (for the benchmarks)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    bots = {"echo": run_echo_bot, "jiyn-uncapped": run_uncapped_jiyn}
    if len(arguments) != 1 or arguments[0] not in bots:
        print("usage: python -m bench.common echo|jiyn-uncapped", file=sys.stderr)
        return 2
    bots[arguments[0]]()
    return 0


def describe_error(error: BaseException) -> str:
    """One line for a failed benchmark step."""
    return f"{error.__class__.__name__}: {error}"


def format_bytes(count: float) -> str:
    """Mebibytes with one decimal."""
    return f"{count / 2**20:.1f} MiB"


JsonDict = dict[str, Any]

if __name__ == "__main__":
    raise SystemExit(main())
