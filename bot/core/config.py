"""Settings from JIYN_* environment variables (and an optional .env file), validated once."""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.fernet import Fernet
from dotenv import dotenv_values

from bot.core.i18n import LANGUAGES

log = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://api.telegram.org"
KEY_FILE_NAME = "encryption.key"
_TOKEN_PATTERN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{1,100}$")


class ConfigError(Exception):
    """A configuration value is wrong; the message names the variable and what is expected."""


@dataclass(frozen=True)
class Settings:
    """Validated configuration of one Jiyn process."""

    bot_token: str | None
    api_base_url: str
    database_url: str
    data_dir: Path
    admin_ids: frozenset[int]
    volunteer_chat_id: int | None
    encryption_keys: tuple[bytes, ...]
    retention_days: int
    default_language: str
    timezone: ZoneInfo
    escalate_minutes: int = 10
    stale_claim_hours: int = 24
    digest_time: time = time(21, 0)
    gaps_retention_days: int = 30
    health_port: int | None = None
    # 5xx, network errors and timeouts of an answer are retried this long (then it is lost;
    # messages that must not be lost go through the outbox, bot.telegram.outbox).
    answer_retry_seconds: int = 120
    # The outbox's first retry wait and its longest wait, in seconds (tests shorten them).
    outbox_backoff: tuple[float, float] = (1.0, 60.0)

    @property
    def secrets(self) -> list[str]:
        """Strings that must never appear in logs."""
        found = [key.decode() for key in self.encryption_keys]
        if self.bot_token:
            found.append(self.bot_token)
        password = urlsplit(self.database_url).password
        if password:
            found.append(password)
        return found

    def __repr__(self) -> str:
        # Never show the token or the key, even in a debugger or a log line.
        return (
            f"Settings(api_base_url={self.api_base_url!r}, database_url="
            f"{redact_url(self.database_url)!r}, data_dir={str(self.data_dir)!r}, "
            f"admins={len(self.admin_ids)}, default_language={self.default_language!r})"
        )


def redact_url(url: str) -> str:
    """A database URL with its password replaced by ***."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def _read_environment(environ: Mapping[str, str] | None, env_file: Path | None) -> dict[str, str]:
    values: dict[str, str] = {}
    dotenv_path = env_file if env_file is not None else Path(".env")
    if dotenv_path.is_file():
        values.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return {k: v for k, v in values.items() if k.startswith("JIYN_")}


def _token(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    token = raw.strip()
    if not _TOKEN_PATTERN.match(token):
        raise ConfigError(
            "JIYN_BOT_TOKEN: expected a bot token from @BotFather, like 123456789:AAE..."
        )
    return token


def _base_url(raw: str | None) -> str:
    url = (raw or DEFAULT_API_BASE_URL).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            "JIYN_API_BASE_URL: expected an http(s) URL such as https://api.telegram.org"
        )
    return url


def _database_url(raw: str | None, data_dir: Path) -> str:
    if raw is None or not raw.strip():
        return f"sqlite+aiosqlite:///{(data_dir / 'jiyn.sqlite3').resolve()}"
    url = raw.strip()
    # Accept the plain URLs people copy from their hosting, and pick the async driver for them.
    for plain, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            url = driver + url[len(plain) :]
    if not url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
        raise ConfigError(
            "JIYN_DATABASE_URL: expected postgresql://user:password@host/db "
            "or sqlite:///path/to/file.sqlite3"
        )
    return url


def _admin_ids(raw: str | None) -> frozenset[int]:
    if raw is None or not raw.strip():
        return frozenset()
    ids: set[int] = set()
    for part in raw.split(","):
        item = part.strip()
        if not item:
            continue
        if not item.isdigit():
            raise ConfigError(
                "JIYN_ADMIN_IDS: expected comma-separated numeric Telegram user ids, "
                "like 12345,67890"
            )
        ids.add(int(item))
    return frozenset(ids)


def _chat_id(raw: str | None) -> int | None:
    if raw is None or not raw.strip():
        return None
    try:
        return int(raw.strip())
    except ValueError:
        raise ConfigError(
            "JIYN_VOLUNTEER_CHAT_ID: expected a numeric Telegram chat id, like -1001234567890"
        ) from None


def _language(raw: str | None) -> str:
    language = (raw or "ru").strip().lower()
    if language not in LANGUAGES:
        raise ConfigError("JIYN_DEFAULT_LANGUAGE: expected one of kk, ru, en")
    return language


def _timezone(raw: str | None) -> ZoneInfo:
    name = (raw or "Asia/Almaty").strip()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            "JIYN_TIMEZONE: expected an IANA time zone name, like Asia/Almaty"
        ) from None


def _encryption_keys(raw: str | None, data_dir: Path, create: bool) -> tuple[bytes, ...]:
    if raw is not None and raw.strip():
        # "new,old": the first key encrypts, every key decrypts (see README, key rotation).
        keys = tuple(part.strip().encode() for part in raw.split(",") if part.strip())
        for key in keys:
            try:
                Fernet(key)
            except ValueError:
                raise ConfigError(
                    "JIYN_ENCRYPTION_KEY: expected 32-byte url-safe base64 keys, comma-separated "
                    "(make one with: jiyn keygen)"
                ) from None
        return keys
    key_file = data_dir / KEY_FILE_NAME
    try:
        mode = os.stat(key_file).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as error:
        # Never a new key when the old one may be there but unreadable: the data encrypted
        # with it would be lost.
        raise ConfigError(
            f"{key_file}: cannot read the encryption key ({error.strerror})"
        ) from None
    if mode is not None:
        if not stat.S_ISREG(mode):
            raise ConfigError(f"{key_file}: cannot read the encryption key (it is not a file)")
        try:
            key = key_file.read_bytes().strip()
        except OSError as error:
            raise ConfigError(
                f"{key_file}: cannot read the encryption key ({error.strerror})"
            ) from None
        try:
            Fernet(key)
        except ValueError:
            raise ConfigError(
                f"{key_file}: not an encryption key (expected one 32-byte url-safe base64 key, "
                "as jiyn keygen makes)"
            ) from None
        return (key,)
    key = Fernet.generate_key()
    if create:
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            key_file.write_bytes(key)
            key_file.chmod(0o600)
        except OSError as error:
            raise ConfigError(
                f"{key_file}: cannot write a new encryption key ({error.strerror})"
            ) from None
        log.warning(
            "JIYN_ENCRYPTION_KEY is not set: generated a key into %s. Back it up: "
            "without it the personal data in the database cannot be read.",
            key_file,
        )
    return (key,)


def _positive_int(name: str, raw: str | None, default: int, unit: str = "days") -> int:
    if raw is None or not raw.strip():
        return default
    value = raw.strip()
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{name}: expected a whole number of {unit}, at least 1")
    return int(value)


def _time_of_day(name: str, raw: str | None, default: time) -> time:
    if raw is None or not raw.strip():
        return default
    match = re.fullmatch(r"([0-9]{1,2}):([0-9]{2})", raw.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ConfigError(f"{name}: expected a time of day as HH:MM, like 21:00")
    return time(int(match[1]), int(match[2]))


def _port(name: str, raw: str | None) -> int | None:
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ConfigError(f"{name}: expected a TCP port number between 1 and 65535")
    return int(value)


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    env_file: Path | None = None,
    create_files: bool = True,
) -> Settings:
    """Read and validate the configuration; raises ConfigError with a one-line message."""
    env = _read_environment(environ, env_file)
    data_dir = Path(env.get("JIYN_DATA_DIR") or "./data").expanduser()
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError("JIYN_DATA_DIR: expected a directory path, but it is a file")
    if create_files:
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigError(
                f"JIYN_DATA_DIR: cannot create the directory ({error.strerror})"
            ) from None
        if not os.access(data_dir, os.R_OK | os.W_OK | os.X_OK):
            raise ConfigError(
                f"JIYN_DATA_DIR: {data_dir} is not readable and writable by this user "
                "(it holds the SQLite database and the key file)"
            )
    return Settings(
        bot_token=_token(env.get("JIYN_BOT_TOKEN")),
        api_base_url=_base_url(env.get("JIYN_API_BASE_URL")),
        database_url=_database_url(env.get("JIYN_DATABASE_URL"), data_dir),
        data_dir=data_dir,
        admin_ids=_admin_ids(env.get("JIYN_ADMIN_IDS")),
        volunteer_chat_id=_chat_id(env.get("JIYN_VOLUNTEER_CHAT_ID")),
        encryption_keys=_encryption_keys(env.get("JIYN_ENCRYPTION_KEY"), data_dir, create_files),
        retention_days=_positive_int("JIYN_RETENTION_DAYS", env.get("JIYN_RETENTION_DAYS"), 90),
        default_language=_language(env.get("JIYN_DEFAULT_LANGUAGE")),
        timezone=_timezone(env.get("JIYN_TIMEZONE")),
        escalate_minutes=_positive_int(
            "JIYN_ESCALATE_MINUTES", env.get("JIYN_ESCALATE_MINUTES"), 10, "minutes"
        ),
        stale_claim_hours=_positive_int(
            "JIYN_STALE_CLAIM_HOURS", env.get("JIYN_STALE_CLAIM_HOURS"), 24, "hours"
        ),
        digest_time=_time_of_day("JIYN_DIGEST_TIME", env.get("JIYN_DIGEST_TIME"), time(21, 0)),
        gaps_retention_days=_positive_int(
            "JIYN_GAPS_RETENTION_DAYS", env.get("JIYN_GAPS_RETENTION_DAYS"), 30
        ),
        health_port=_port("JIYN_HEALTH_PORT", env.get("JIYN_HEALTH_PORT")),
        answer_retry_seconds=_positive_int(
            "JIYN_ANSWER_RETRY_SECONDS", env.get("JIYN_ANSWER_RETRY_SECONDS"), 120, "seconds"
        ),
    )
