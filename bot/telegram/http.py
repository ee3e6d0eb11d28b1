"""Talking to the Bot API under load: the HTTP client, Telegram's rate limits and retries.

- `AiohttpRequest`: a python-telegram-bot request class on an aiohttp connection pool. It costs
  less CPU per call than PTB's default httpx client (numbers in BENCHMARKS.md, "Answers").
- `TelegramRateLimiter`: keeps outgoing messages under Telegram's limits (about 30 a second
  overall, about 1 a second in one chat with short bursts, 20 a minute in one group), so a burst
  is spread out instead of refused; retries 429 after the time Telegram asks for, and 5xx,
  network errors and timeouts with bounded exponential backoff: a few times, and for as long as
  `RetryPolicy.retry_seconds` (JIYN_ANSWER_RETRY_SECONDS, 120 s by default) after the first
  failure, so an answer outlives a Telegram outage of a minute or two. Messages that must not be
  lost at all go through the outbox (bot.telegram.outbox), which asks for a single quick retry here
  (rate_limit_args `OUTBOX_SEND`) and retries itself, across restarts.

`build_application` wires them with `make_request()`, `make_get_updates_request()` and
`TelegramRateLimiter()`.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import logging
import random
import warnings
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue  # what PTB passes for 'not given'
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import BaseRateLimiter
from telegram.request import BaseRequest, RequestData
from telegram.warnings import PTBDeprecationWarning

from bot.telegram.outage import TelegramOutage

log = logging.getLogger(__name__)

JsonResult = bool | dict[str, Any] | list[dict[str, Any]]
RateLimitArgs = dict[str, Any]

# Connections to the Bot API kept open. Handlers of different chats send at the same time, and
# a call waiting for a free connection adds a whole round trip to an answer.
DEFAULT_POOL_SIZE = 256
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 5.0
DEFAULT_WRITE_TIMEOUT = 5.0
DEFAULT_POOL_TIMEOUT = 1.0
DEFAULT_MEDIA_WRITE_TIMEOUT = 20.0
_JSON_HEADERS = {"Content-Type": "application/json"}
# Built once: json.dumps with any option set builds a new encoder on every call.
_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class AiohttpRequest(BaseRequest):
    """A PTB request class on one aiohttp session with a keep-alive connection pool."""

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        pool_size: int = DEFAULT_POOL_SIZE,
        *,
        read_timeout: float | None = DEFAULT_READ_TIMEOUT,
        write_timeout: float | None = DEFAULT_WRITE_TIMEOUT,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        pool_timeout: float | None = DEFAULT_POOL_TIMEOUT,
        media_write_timeout: float | None = DEFAULT_MEDIA_WRITE_TIMEOUT,
    ) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self._pool_size = pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        # Created in initialize(): an aiohttp session belongs to the running event loop.
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The read timeout used when a call does not pass its own."""
        return self._read_timeout

    @property
    def pool_size(self) -> int:
        """How many connections may be open at once."""
        return self._pool_size

    async def initialize(self) -> None:
        """Open the connection pool."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._pool_size, limit_per_host=0, ttl_dns_cache=300, keepalive_timeout=60
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.USER_AGENT},
                # The Bot API answers JSON; cookies and auto-decompression checks only cost time.
                cookie_jar=aiohttp.DummyCookieJar(),
                raise_for_status=False,
            )

    async def shutdown(self) -> None:
        """Close the connection pool."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one HTTP request; PTB turns the status and body into a result or an error."""
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized")
        has_files = request_data is not None and request_data.contains_files
        write_default = self._media_write_timeout if has_files else self._write_timeout
        read = _given_or(read_timeout, self._read_timeout)
        write = _given_or(write_timeout, write_default)
        connect = _given_or(connect_timeout, self._connect_timeout)
        pool = _given_or(pool_timeout, self._pool_timeout)
        timeout = _client_timeout(read, write, connect, pool)

        body: Any = None
        headers: dict[str, str] | None = None
        if request_data is not None:
            if has_files:
                body = _multipart_body(request_data)
            else:
                # One JSON document: the C encoder on the values as they are costs a fraction
                # of form-encoding each value as JSON and then percent-escaping the long text.
                body = _JSON_ENCODER.encode(request_data.parameters).encode("utf-8")
                headers = _JSON_HEADERS
        try:
            async with self._session.request(
                method, url, data=body, headers=headers, timeout=timeout, allow_redirects=False
            ) as response:
                payload = await response.read()
                return response.status, payload
        except TimeoutError as error:  # aiohttp's timeouts are TimeoutError subclasses
            raise TimedOut(f"aiohttp: {error.__class__.__name__}") from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{error.__class__.__name__}: {error}") from error


def _given_or(value: Any, default: float | None) -> float | None:
    """A timeout passed to one call, or this client's default when the call passed none."""
    return default if isinstance(value, DefaultValue) else value


def _client_timeout(
    read: float | None, write: float | None, connect: float | None, pool: float | None
) -> aiohttp.ClientTimeout:
    """aiohttp's timeouts for PTB's four: it has no separate write timeout, so the whole
    exchange gets the sum as an upper bound, and reading is bounded on its own."""
    parts = (read, write, connect, pool)
    total = None if any(part is None for part in parts) else sum(p for p in parts if p is not None)
    waiting_for_connection = None if connect is None or pool is None else connect + pool
    return aiohttp.ClientTimeout(
        total=total, connect=waiting_for_connection, sock_connect=connect, sock_read=read
    )


def _multipart_body(request_data: RequestData) -> aiohttp.FormData:
    """multipart/form-data with the parameters and the files, as the Bot API expects uploads."""
    form = aiohttp.FormData(quote_fields=False)
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, part in request_data.multipart_data.items():
        if isinstance(part, tuple):
            filename, content, *rest = part
            content_type = rest[0] if rest else "application/octet-stream"
            form.add_field(name, content, filename=filename, content_type=content_type)
        else:
            form.add_field(name, part)
    return form


def make_request(pool_size: int = DEFAULT_POOL_SIZE) -> AiohttpRequest:
    """The request class for every Bot API call except getUpdates."""
    return AiohttpRequest(pool_size)


def make_get_updates_request() -> AiohttpRequest:
    """The request class for getUpdates: one long poll at a time needs one connection."""
    # PTB adds the long-poll timeout to the read timeout of each getUpdates call itself.
    return AiohttpRequest(1)


# ------------------------------------------------------------------------- rate limits


@dataclass(frozen=True)
class Window:
    """At most `limit` sends in any `seconds` long interval."""

    limit: int
    seconds: float

    def __post_init__(self) -> None:
        if self.limit < 1 or self.seconds <= 0:
            raise ValueError("a window needs a positive limit and a positive length")


@dataclass(frozen=True)
class TelegramLimits:
    """The limits the bot keeps to; Telegram's published ones by default."""

    # "No more than 30 messages per second or so" to different users.
    overall: tuple[Window, ...] = (Window(30, 1.0),)
    # "Avoid more than one message per second in a chat; short bursts may be allowed": 1 a
    # second on average, and a burst of 3 so a reply and its follow-up are not held back.
    private_chat: tuple[Window, ...] = (Window(3, 3.0),)
    # "No more than 20 messages per minute in the same group", and the per-chat pace too.
    group_chat: tuple[Window, ...] = (Window(3, 3.0), Window(20, 60.0))


@dataclass(frozen=True)
class RetryPolicy:
    """How failed calls are retried."""

    # 429: wait what Telegram asks and try again, as often as it takes, unless it asks for more
    # than this (the bot is then flood-banned for a long time; waiting inside a handler is worse).
    max_retry_after: float = 300.0
    # 5xx, network errors and timeouts: this many retries, or with `retry_seconds` set, as many
    # as fit in that many seconds after the first failure; waits doubling from base to cap.
    network_retries: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    retry_seconds: float = 0.0

    def retry_again(self, retry_number: int, failing_for: float, delay: float) -> bool:
        """Whether to make network retry number retry_number (1-based) after `delay` seconds,
        the call having failed for `failing_for` seconds."""
        if self.retry_seconds > 0:
            return failing_for + delay <= self.retry_seconds
        return retry_number <= self.network_retries

    def backoff(self, retry_number: int) -> float:
        """Seconds to wait before network retry number retry_number (1-based), with jitter."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (retry_number - 1))
        # Jitter keeps many failed calls from coming back in the same instant.
        return ceiling * random.uniform(0.5, 1.0)


# Calls that put a message into a chat count against its limits; answers to callback and
# inline queries, chat actions and reads do not (Telegram does not count them as messages, and
# holding them back would only make buttons look frozen).
# rate_limit_args of the outbox's sends: one quick retry, then the outbox's own backoff.
OUTBOX_SEND: RateLimitArgs = {"network_retries": 1, "retry_seconds": 0.0}

_PACED_PREFIXES = ("send", "copyMessage", "forwardMessage", "editMessage")
_UNPACED = frozenset({"sendChatAction"})


def is_paced(endpoint: str) -> bool:
    """Whether calls to this Bot API method count against Telegram's message limits."""
    return endpoint.startswith(_PACED_PREFIXES) and endpoint not in _UNPACED


def _is_group_chat(chat_id: object) -> bool:
    # Private chats have positive ids; groups, supergroups and channels negative ids or @names.
    if isinstance(chat_id, int):
        return chat_id < 0
    text = str(chat_id).strip()
    return text.startswith("@") or text.startswith("-")


def _retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB warns that the int form is deprecated; both forms are handled here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    if isinstance(value, dtm.timedelta):
        return value.total_seconds()
    return float(value)


class _SlidingWindows:
    """Send times of one chat (or of the whole bot), checked against its windows."""

    __slots__ = ("paused_until", "sent", "windows")

    def __init__(self, windows: Iterable[Window]) -> None:
        self.windows = tuple(windows)
        self.sent: deque[float] = deque(maxlen=max((w.limit for w in self.windows), default=1))
        self.paused_until = 0.0

    def next_free(self, now: float) -> float:
        """The earliest time at or after now at which one more send keeps every window."""
        earliest = max(now, self.paused_until)
        for window in self.windows:
            if len(self.sent) >= window.limit:
                earliest = max(earliest, self.sent[-window.limit] + window.seconds)
        return earliest

    def record(self, when: float) -> None:
        """Count a send at `when` (never earlier than the last one recorded)."""
        self.sent.append(when)

    def forgettable_after(self) -> float:
        """The time after which this state no longer affects anything."""
        longest = max((w.seconds for w in self.windows), default=0.0)
        last = self.sent[-1] if self.sent else 0.0
        return max(last + longest, self.paused_until)


@dataclass
class _ChatState:
    windows: _SlidingWindows
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class TelegramRateLimiter(BaseRateLimiter[RateLimitArgs]):
    """Paces messages to Telegram's limits and retries what failed; see the module docstring.

    Pacing: calls to one chat go one at a time, first come first served, retries included, so
    the chat's messages arrive in the order they were sent; each waits until its chat's windows
    and then the bot's overall window have room. Nothing is refused or dropped: over the limit,
    a call just waits.

    Retries (PTB leaves these to the bot): 429 waits `retry_after` (and holds the chat's other
    messages for as long); 5xx, network errors and timeouts retry with exponential backoff. A
    timed-out send may have reached Telegram, so a retry can show a message twice; for people
    asking for help that is better than an answer that never comes.
    """

    __slots__ = (
        "_chats",
        "_limits",
        "_on_error",
        "_outage",
        "_overall",
        "_overall_turn",
        "_policy",
        "_sweep_countdown",
    )

    _SWEEP_EVERY = 1024

    def __init__(
        self,
        limits: TelegramLimits | None = None,
        retry: RetryPolicy | None = None,
        on_error: Callable[[TelegramError], None] | None = None,
        outage: TelegramOutage | None = None,
    ) -> None:
        """`on_error` is told of every failed attempt (metrics), retried or not; `outage` of
        every attempt's outcome (the outage log)."""
        self._on_error = on_error
        self._outage = outage
        self._limits = limits or TelegramLimits()
        self._policy = retry or RetryPolicy()
        self._overall = _SlidingWindows(self._limits.overall)
        self._overall_turn = asyncio.Lock()
        self._chats: dict[str, _ChatState] = {}
        self._sweep_countdown = self._SWEEP_EVERY

    @property
    def limits(self) -> TelegramLimits:
        """The limits in force."""
        return self._limits

    @property
    def retry_policy(self) -> RetryPolicy:
        """How failed calls are retried."""
        return self._policy

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Forget the send history."""
        self._chats.clear()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JsonResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: RateLimitArgs | None,
    ) -> JsonResult:
        """Wait for room under the limits, make the call, and retry it while that is right."""
        policy = self._policy
        if rate_limit_args:
            policy = replace(
                policy,
                **{k: v for k, v in rate_limit_args.items() if k in _POLICY_OVERRIDES},
            )
        call = _Call(endpoint, callback, args, kwargs, policy)
        if not is_paced(endpoint):
            return await self._call_with_retries(call, paced=False, chat=None)
        chat_id = data.get("chat_id")
        if chat_id is None:  # e.g. editing an inline message: only the overall limit applies
            return await self._call_with_retries(call, paced=True, chat=None)
        chat = self._chat_state(chat_id)
        # One call per chat at a time, first come first served, retries included: a chat's
        # messages arrive in the order they were sent even when one of them had to wait.
        async with chat.lock:
            return await self._call_with_retries(call, paced=True, chat=chat)

    async def _call_with_retries(
        self, call: _Call, *, paced: bool, chat: _ChatState | None
    ) -> JsonResult:
        network_retries = 0
        failing_since: float | None = None
        policy = call.policy
        loop = asyncio.get_running_loop()
        while True:
            if paced:
                await self._wait_for_room(chat)
            try:
                return await self._attempt(call)
            except RetryAfter as error:
                seconds = _retry_after_seconds(error)
                if seconds > policy.max_retry_after:
                    raise
                log.warning("%s: Telegram asked to wait %.0f s; will retry", call.endpoint, seconds)
                if paced:
                    # Telegram throttles the chat (or, for a call without one, the bot): hold
                    # its other messages too instead of earning more 429s.
                    windows = chat.windows if chat is not None else self._overall
                    until = asyncio.get_running_loop().time() + seconds
                    windows.paused_until = max(windows.paused_until, until)
                await asyncio.sleep(seconds)
            except BadRequest:
                raise  # the request itself is wrong: the same again would fail the same way
            except NetworkError as error:  # also TimedOut, and 5xx answers
                network_retries += 1
                now = loop.time()
                if failing_since is None:
                    failing_since = now
                delay = policy.backoff(network_retries)
                if not policy.retry_again(network_retries, now - failing_since, delay):
                    raise
                # Not a warning: an outage is logged once, by bot.telegram.outage.
                log.debug(
                    "%s %s (%s); retry %d in %.2f s",
                    call.endpoint,
                    "timed out" if isinstance(error, TimedOut) else "failed",
                    error.__class__.__name__,
                    network_retries,
                    delay,
                )
                await asyncio.sleep(delay)

    async def _attempt(self, call: _Call) -> JsonResult:
        try:
            result = await call.callback(*call.args, **call.kwargs)
        except TelegramError as error:
            if self._on_error is not None:
                self._on_error(error)
            if self._outage is not None:
                if isinstance(error, NetworkError) and not isinstance(error, BadRequest):
                    self._outage.failed(error)
                else:
                    self._outage.answered()  # a refusal or a 429 is Telegram answering
            raise
        if self._outage is not None:
            self._outage.answered()
        return result

    def _chat_state(self, chat_id: object) -> _ChatState:
        key = str(chat_id)
        state = self._chats.get(key)
        if state is None:
            self._sweep()
            group = _is_group_chat(chat_id)
            windows = self._limits.group_chat if group else self._limits.private_chat
            state = self._chats[key] = _ChatState(_SlidingWindows(windows))
        return state

    def _sweep(self) -> None:
        """Now and then forget chats whose history no longer limits anything."""
        self._sweep_countdown -= 1
        if self._sweep_countdown > 0:
            return
        self._sweep_countdown = self._SWEEP_EVERY
        now = asyncio.get_running_loop().time()
        for key in [
            key
            for key, state in self._chats.items()
            if not state.lock.locked() and state.windows.forgettable_after() < now
        ]:
            del self._chats[key]

    async def _wait_for_room(self, chat: _ChatState | None) -> None:
        """Return when one more message keeps the chat's and the overall limits; count it."""
        if chat is not None:
            await _wait_for_windows(chat.windows)
        # One call at a time waits for the overall window, first come first served; each is
        # counted when it actually leaves, so a late wake-up never lets the next one out early.
        async with self._overall_turn:
            sent_at = await _wait_for_windows(self._overall)
            if chat is not None:
                chat.windows.record(sent_at)
            self._overall.record(sent_at)


async def _wait_for_windows(windows: _SlidingWindows) -> float:
    """Sleep until one more send keeps these windows; the time it may go."""
    loop = asyncio.get_running_loop()
    while True:
        now = loop.time()
        ready_at = windows.next_free(now)
        if ready_at <= now:
            return now
        # Loop: a 429 may have pushed the pause further while this call slept.
        await asyncio.sleep(ready_at - now)


@dataclass(frozen=True)
class _Call:
    """One Bot API call as PTB hands it to the rate limiter."""

    endpoint: str
    callback: Callable[..., Coroutine[Any, Any, JsonResult]]
    args: Any
    kwargs: dict[str, Any]
    policy: RetryPolicy


_POLICY_OVERRIDES = frozenset({"network_retries", "retry_seconds", "max_retry_after"})
