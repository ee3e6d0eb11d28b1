"""Typed answers to review and relay buttons (a reject reason, a note, a message...). The
question waits in the database, so it survives a restart. This handler runs in a group before
every other one: when a question is waiting, the text answers it (even in the middle of a
report draft: the person just pressed a button asking for it) and nothing else sees the text.
/cancel drops the question; any other command drops it and then runs as usual; so does pressing
any button, so a question left behind never catches a text meant for something else."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.core.db import DATABASE_ERRORS
from bot.services.review.workflow import INPUT_KINDS
from bot.telegram.context import JiynContext
from handlers.common import middleware
from handlers.review.access import authorize
from handlers.review.cards import take_review_answer
from handlers.review.common import review_service
from handlers.review.relay import send_message_to_reporter, send_reply_to_volunteer

# Runs before the middleware's group (-1), so it loads the user and language itself.
INPUT_GROUP = -2


async def take_typed_answer(update: Update, context: JiynContext) -> None:
    """Answer the waiting question with this text, or let the update through if none waits."""
    user = update.effective_user
    message = update.effective_message
    if user is None or message is None or message.text is None or user.is_bot:
        return
    service = review_service(context)
    try:
        pending = await service.pending_input(user.id)
    except DATABASE_ERRORS:
        return  # the database is down: let the update through (a report goes on from memory)
    if pending is None:
        return
    text = message.text.strip()
    if text.startswith("/"):
        await service.clear_input(user.id)
        command = text.split(maxsplit=1)[0].split("@", 1)[0]
        if command != "/cancel":
            return  # the command runs as usual; the question is dropped
        await middleware.load_user(update, context)
        await message.reply_text(context.gettext("Cancelled."))
        raise ApplicationHandlerStop
    await middleware.load_user(update, context)
    if pending.kind == "reply":
        keep_waiting = not await send_reply_to_volunteer(update, context, pending)
    else:
        # Roles are checked again now: they may have changed since the button was pressed.
        role = await authorize(update, context, INPUT_KINDS[pending.kind], pending.report_id)
        if role is None:
            keep_waiting = False
        elif pending.kind == "write":
            keep_waiting = not await send_message_to_reporter(update, context, pending, role)
        else:
            keep_waiting = not await take_review_answer(update, context, pending, role)
    if not keep_waiting:
        await service.clear_input(user.id)
    raise ApplicationHandlerStop


async def drop_question_on_button(update: Update, context: JiynContext) -> None:
    """Any button press abandons a waiting question (the button may ask a new one)."""
    user = update.effective_user
    if user is None or user.is_bot:
        return
    service = review_service(context)
    # Look first: most presses have no question waiting, and the service knows that from memory.
    try:
        if await service.pending_input(user.id) is not None:
            await service.clear_input(user.id)
    except DATABASE_ERRORS:
        return  # the database is down: the press goes on to its own handler
