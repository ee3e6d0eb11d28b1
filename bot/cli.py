"""The `jiyn` command: run, console, db upgrade, ask, kb check, kb gaps, backup, restore,
keygen."""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bot import __version__
from bot.core.config import ConfigError, Settings, load_settings, redact_url
from bot.core.logs import configure_logging

if TYPE_CHECKING:
    from bot.services.ask.gaps import GapSummary

log = logging.getLogger("jiyn")

EXIT_CONFIG = 2
DB_ATTEMPTS = 5


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as error:
        print(f"jiyn: configuration error: {error}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


def _upgrade_with_retries(settings: Settings) -> None:
    """Apply migrations, waiting for a database that is still starting up."""
    from bot.core.migrate import upgrade_database

    delay = 1.0
    for attempt in range(1, DB_ATTEMPTS + 1):
        try:
            upgrade_database(settings.database_url, encryption_keys=settings.encryption_keys)
            return
        except Exception as error:  # any driver error means the same to the operator
            print(
                f"jiyn: database {redact_url(settings.database_url)} is not available "
                f"({type(error).__name__}); attempt {attempt} of {DB_ATTEMPTS}",
                file=sys.stderr,
            )
            if attempt == DB_ATTEMPTS:
                raise SystemExit(1) from None
            time.sleep(delay)
            delay *= 2


def _listen_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError("expected HOST:PORT, like 0.0.0.0:8443")
    return host.strip("[]"), int(port)


def command_run(args: argparse.Namespace) -> int:
    """Run the bot against the Bot API with long polling or a webhook."""
    settings = _settings_or_exit()
    if not settings.bot_token:
        print(
            "jiyn: no bot token. Get one from @BotFather in Telegram and set it:\n"
            "  export JIYN_BOT_TOKEN=123456789:AAE...\n"
            "To try the bot without a token, run: jiyn console",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    if bool(args.webhook_url) != bool(args.listen):
        print("jiyn: --webhook-url and --listen go together", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(logging.INFO, secrets=settings.secrets)
    from bot.leader import AlreadyRunning, Leadership, restart_as_standby

    leadership = Leadership(settings.database_url)
    if not leadership.is_postgres:
        try:
            # Before the migrations: they must not run under a process that is serving.
            leadership.claim_sqlite()
        except AlreadyRunning as error:
            print(f"jiyn: {error}", file=sys.stderr)
            return 1
    _upgrade_with_retries(settings)

    import asyncio

    from bot.app import build_application
    from bot.runner import WebhookOptions
    from bot.serve import serve

    application = build_application(settings)
    log.info("starting Jiyn %s against %s", __version__, settings.api_base_url)
    options = None
    if args.webhook_url:
        host, port = args.listen
        options = WebhookOptions(
            url=args.webhook_url,
            host=host,
            port=port,
            path=urlsplit(args.webhook_url).path.lstrip("/"),
            # Telegram echoes this secret in a header, so forged POSTs to our port are refused.
            secret_token=hashlib.sha256(
                f"jiyn-webhook:{settings.bot_token}".encode()
            ).hexdigest()[:48],
        )
    asyncio.run(serve(application, leadership, options, on_lost=restart_as_standby))
    return 0


def command_console(args: argparse.Namespace) -> int:
    """Talk to the real bot in this terminal through a local Bot API server."""
    settings = _settings_or_exit()
    configure_logging(
        logging.INFO,
        secrets=settings.secrets,
        filename=str(settings.data_dir / "console.log"),
    )
    _upgrade_with_retries(settings)
    from bot.localapi.console import run_console

    return run_console(settings, user_id=args.user_id, language_code=args.language)


def command_db_upgrade(_args: argparse.Namespace) -> int:
    """Apply the database migrations."""
    settings = _settings_or_exit()
    _upgrade_with_retries(settings)
    print(f"database {redact_url(settings.database_url)} is up to date")
    return 0


def command_ask(args: argparse.Namespace) -> int:
    """Print the reply the bot would send to a question, HTML stripped."""
    from knowledge.cli import ask_command

    return ask_command(args.question, args.lang, args.json)


def command_kb_check(args: argparse.Namespace) -> int:
    """Validate the knowledge base."""
    from knowledge.cli import check_command

    return check_command(max_age_days=args.max_age_days)


def command_kb_gaps(args: argparse.Namespace) -> int:
    """List the questions that got no answer, a "Did you mean…" or a 👎."""
    import asyncio

    from bot.core.db import create_engine, create_session_factory
    from bot.services.ask.gaps import list_gaps

    settings = _settings_or_exit()
    _upgrade_with_retries(settings)

    async def read() -> list[GapSummary]:
        engine = create_engine(settings.database_url)
        try:
            return await list_gaps(create_session_factory(engine), args.limit)
        finally:
            await engine.dispose()

    rows = asyncio.run(read())
    if not rows:
        print("no unanswered questions kept")
    for row in rows:
        landed = row.article_id or "-"
        print(f"{row.count:>4}  {row.outcome:<11}  {row.language}  {landed:<28}  {row.question}")
    return 0


def command_keys_rotate(_args: argparse.Namespace) -> int:
    """Re-encrypt the personal data under the first key of JIYN_ENCRYPTION_KEY."""
    import asyncio

    from bot.core.crypto import Cipher
    from bot.core.db import create_engine, create_session_factory
    from bot.services.keys import rotate_keys

    settings = _settings_or_exit()
    _upgrade_with_retries(settings)

    async def rotate() -> int:
        engine = create_engine(settings.database_url)
        try:
            return await rotate_keys(
                create_session_factory(engine), Cipher(settings.encryption_keys)
            )
        finally:
            await engine.dispose()

    count = asyncio.run(rotate())
    print(f"re-encrypted {count} values under the first key; older keys can now be removed")
    return 0


def command_backup(args: argparse.Namespace) -> int:
    """Write a consistent copy of the database (the bot may be running)."""
    from pathlib import Path

    from bot.core.backup import BackupError, backup

    settings = _settings_or_exit()
    try:
        backup(settings.database_url, Path(args.file))
    except BackupError as error:
        print(f"jiyn: backup failed: {error}", file=sys.stderr)
        return 1
    print(f"backup of {redact_url(settings.database_url)} written to {args.file}")
    return 0


def command_restore(args: argparse.Namespace) -> int:
    """Put a backup into an empty database."""
    from pathlib import Path

    from bot.core.backup import BackupError, restore

    settings = _settings_or_exit()
    try:
        restore(settings.database_url, Path(args.file))
    except BackupError as error:
        print(f"jiyn: restore failed: {error}", file=sys.stderr)
        return 1
    print(f"{args.file} restored into {redact_url(settings.database_url)}")
    return 0


def command_keygen(_args: argparse.Namespace) -> int:
    """Print a new encryption key for JIYN_ENCRYPTION_KEY."""
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode())
    return 0


DEFAULT_MAX_AGE_DAYS = 180


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `jiyn` command."""
    parser = argparse.ArgumentParser(
        prog="jiyn", description="Jiyn: a Telegram bot for the right of peaceful assembly."
    )
    parser.add_argument("--version", action="version", version=f"jiyn {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="run the bot (long polling, or a webhook)")
    run.add_argument("--webhook-url", help="public HTTPS URL Telegram posts updates to")
    run.add_argument(
        "--listen", type=_listen_address, help="HOST:PORT the webhook server listens on"
    )
    run.set_defaults(handler=command_run)

    console = commands.add_parser("console", help="chat with the bot here, no token needed")
    console.add_argument("--user-id", type=int, default=100001, help="your Telegram id here")
    console.add_argument(
        "--language", choices=["kk", "ru", "en"], default="ru", help="your Telegram app language"
    )
    console.set_defaults(handler=command_console)

    database = commands.add_parser("db", help="database maintenance")
    database_commands = database.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    database_commands.add_parser("upgrade", help="apply migrations").set_defaults(
        handler=command_db_upgrade
    )

    ask = commands.add_parser("ask", help="print the reply the bot would send to a question")
    ask.add_argument(
        "--lang", choices=["kk", "ru", "en"], help="reply language (default: the question's)"
    )
    ask.add_argument("--json", action="store_true", help="one JSON object per reply")
    ask.add_argument("question", help="the question, or - to read one question per line from stdin")
    ask.set_defaults(handler=command_ask)

    knowledge = commands.add_parser("kb", help="knowledge base maintenance")
    knowledge_commands = knowledge.add_subparsers(
        dest="kb_command", metavar="ACTION", required=True
    )
    check = knowledge_commands.add_parser("check", help="validate the content")
    check.add_argument(
        "--max-age-days",
        type=int,
        default=DEFAULT_MAX_AGE_DAYS,
        help="warn about articles checked longer ago than this (default %(default)s)",
    )
    check.set_defaults(handler=command_kb_check)
    gaps = knowledge_commands.add_parser(
        "gaps", help="questions without a good answer, most frequent first"
    )
    gaps.add_argument("--limit", type=int, default=100, help="how many (default %(default)s)")
    gaps.set_defaults(handler=command_kb_gaps)

    keys = commands.add_parser("keys", help="encryption key maintenance")
    keys_commands = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    keys_commands.add_parser(
        "rotate", help="re-encrypt personal data under the first JIYN_ENCRYPTION_KEY"
    ).set_defaults(handler=command_keys_rotate)

    backup = commands.add_parser(
        "backup", help="write a consistent copy of the database, also while the bot runs"
    )
    backup.add_argument("file", help="where to write the copy")
    backup.set_defaults(handler=command_backup)
    restore = commands.add_parser("restore", help="put a backup into an empty database")
    restore.add_argument("file", help="a file written by jiyn backup")
    restore.set_defaults(handler=command_restore)

    keygen = commands.add_parser("keygen", help="print a new JIYN_ENCRYPTION_KEY")
    keygen.set_defaults(handler=command_keygen)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `jiyn` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_CONFIG
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
