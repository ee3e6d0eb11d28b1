"""Logging setup: secrets never reach the logs."""

from __future__ import annotations

import logging
from collections.abc import Iterable


class SecretMaskingFormatter(logging.Formatter):
    """Formats a record (message and traceback alike), then replaces known secrets with ***."""

    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        self._secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        """The formatted line with every secret masked."""
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def configure_logging(level: int, secrets: Iterable[str], filename: str | None = None) -> None:
    """Root logging to stderr (or a file) with secrets masked; chatty libraries quietened."""
    handler: logging.Handler = (
        logging.FileHandler(filename, encoding="utf-8") if filename else logging.StreamHandler()
    )
    handler.setFormatter(
        SecretMaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and the URL contains the bot token.
    for noisy in ("httpx", "httpcore", "apscheduler", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # python-telegram-bot logs whole updates and API calls at DEBUG: what people type.
    logging.getLogger("telegram").setLevel(max(level, logging.INFO))
