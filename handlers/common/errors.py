"""The one error handler: log with context but no personal data, apologise to the user."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from types import TracebackType

from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError

from bot.telegram.context import JiynContext
from bot.telegram.metrics import update_kind

log = logging.getLogger("jiyn.errors")


def describe_update(update: object) -> str:
    """Which kind of update failed, with ids only: never text, names or phone numbers."""
    if not isinstance(update, Update):
        return type(update).__name__
    kinds = [
        name
        for name in (
            "message",
            "edited_message",
            "callback_query",
            "inline_query",
            "my_chat_member",
        )
        if getattr(update, name, None) is not None
    ]
    chat = update.effective_chat
    return f"update_id={update.update_id} kind={','.join(kinds) or 'other'} chat_type=" + (
        chat.type if chat else "none"
    )


def failed_handler(traceback: TracebackType | None) -> str:
    """The innermost function of our handlers in the traceback
    ("handlers.report.conversation.ask_name"),
    else "other": a name from the code, never from the update."""
    found = "other"
    while traceback is not None:
        module = str(traceback.tb_frame.f_globals.get("__name__", ""))
        if module.startswith("handlers.") and module != __name__:
            found = f"{module}.{traceback.tb_frame.f_code.co_name}"
        traceback = traceback.tb_next
    return found


def is_storage_fault(error: BaseException | None) -> bool:
    """The database failed (PostgreSQL gone, SQLite read-only, a disk I/O error, a pool
    timeout): an outage to tell the person about, not a bug in a handler."""
    return isinstance(error, SQLAlchemyError | sqlite3.Error | ConnectionError)


async def handle_error(update: object, context: JiynContext) -> None:
    """Log the failure, count it, summarise it to the administrators (rate-limited), and tell
    the user something went wrong, in their language. A storage fault is an outage, not a
    bug: one warning line without a traceback, and the person is told the database is down
    (a report in progress is kept in memory meanwhile, see ReportService.save_draft)."""
    error = context.error
    if isinstance(error, NetworkError) and not isinstance(error, BadRequest):
        # Telegram did not answer for longer than answers are retried: an outage, logged once by
        # bot.telegram.outage. One line per update, no traceback, and no apology (it would not
        # arrive).
        log.warning(
            "answer to %s not sent: Telegram is not answering (%s)",
            describe_update(update),
            type(error).__name__,
        )
        context.services.metrics.handler_errors.labels(type(error).__name__).inc()
        return
    storage_fault = is_storage_fault(error)
    if storage_fault:
        log.warning(
            "database unavailable in %s for %s: %s",
            failed_handler(error.__traceback__ if error else None),
            describe_update(update),
            type(error).__name__,
        )
    else:
        log.error(
            "handler failed for %s: %s",
            describe_update(update),
            type(error).__name__,
            exc_info=(type(error), error, error.__traceback__) if error else None,
        )
    services = context.services
    error_name = type(error).__name__
    services.metrics.handler_errors.labels(error_name).inc()
    services.errors.record(
        error_name,
        failed_handler(error.__traceback__ if error else None),
        update_kind(update),
    )
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if isinstance(error, Forbidden):
        return  # the user blocked the bot: nothing to send
    if update.effective_chat.type != "private" and update.callback_query is None:
        return
    _ = context.gettext
    if update.callback_query is not None:
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer()  # it may have been answered already
    text = (
        _(
            "⚠️ Our database is not answering right now, so this could not be done. "
            "Please try again in a few minutes."
        )
        if storage_fault
        else _(
            "Sorry, something went wrong on our side. Nothing you sent is lost. "
            "Please try again in a minute."
        )
    )
    try:
        await context.bot.send_message(update.effective_chat.id, text)
    except (NetworkError, TelegramError):
        log.warning("could not send the apology for %s", describe_update(update))
