"""Telling a Telegram outage from a failed call: one warning when the Bot API stops answering,
one line when it answers again, instead of a warning (or a traceback) for every call retried.

Every Bot API call reports here: the rate limiter (bot.telegram.http) for all calls but
getUpdates, and the bot's getUpdates (bot.telegram.jiyn_bot). A failure is a 5xx answer, a
network error or a timeout; a refusal (400, 403) or a 429 is an answer, so it ends an outage
like a success.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("jiyn.telegram")


class TelegramOutage:
    """Whether the Bot API is failing now, logged once per outage."""

    def __init__(self, what: str = "calls") -> None:
        self.what = what  # "calls" (sending and the rest) or "getUpdates": each has its outage
        self._since: float | None = None  # time.monotonic() of the first failure
        self._failures = 0
        self.outages = 0  # outages seen since the start (tests, metrics)

    @property
    def down(self) -> bool:
        """Whether the last call failed."""
        return self._since is not None

    def failed(self, error: BaseException) -> None:
        """A call failed with a 5xx, a network error or a timeout."""
        self._failures += 1
        if self._since is None:
            self._since = time.monotonic()
            self.outages += 1
            # The error's class only: its message may name the URL, which holds the token.
            log.warning(
                "Telegram Bot API is not answering %s (%s); retrying. Messages that must not "
                "be lost wait in the outbox; answers are retried for a while",
                self.what,
                type(error).__name__,
            )

    def answered(self) -> None:
        """A call got an answer from Telegram."""
        if self._since is None:
            return
        seconds = time.monotonic() - self._since
        log.info(
            "Telegram Bot API answers %s again after %.0f s (%d failed calls meanwhile)",
            self.what,
            seconds,
            self._failures,
        )
        self._since = None
        self._failures = 0
