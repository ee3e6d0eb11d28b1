"""The gate of the review tools: every review command, button and typed answer goes through
`authorize`. The role is checked on the server at each call (admins from the configuration,
volunteers from the database), so a forwarded or forged button gives nothing, and every refusal
is written to the audit log (bot.services.review.access)."""

from __future__ import annotations

import contextlib

from telegram import Update
from telegram.error import TelegramError

from bot.core.models import Role
from bot.services.review.access import DETAIL_LIMIT, allows
from bot.telegram.context import JiynContext


def _attempt(update: Update) -> str:
    """What was tried, for the audit log: the button's data or the command's first word."""
    if update.callback_query is not None:
        return (update.callback_query.data or "")[:DETAIL_LIMIT]
    text = update.effective_message.text if update.effective_message else None
    return (text or "").split(maxsplit=1)[0][:DETAIL_LIMIT] if text else ""


def in_private_chat(update: Update) -> bool:
    """The update comes from the sender's own private chat with the bot."""
    chat, user = update.effective_chat, update.effective_user
    return chat is not None and user is not None and chat.type == "private" and chat.id == user.id


async def authorize(
    update: Update, context: JiynContext, action: str, report_id: int | None = None
) -> Role | None:
    """The caller's role if they may perform `action` here; otherwise a short localized refusal
    (a toast for buttons, a reply for messages), an audit entry, and None."""
    services = context.services
    user = update.effective_user
    if user is None:
        return None
    role = await services.access.role_of(user.id)
    private = in_private_chat(update)
    if private and allows(role, action):
        return role
    _ = context.gettext
    reason = "role" if not allows(role, action) else "chat"
    await services.access.record_audit(
        user.id,
        action,
        allowed=False,
        report_id=report_id,
        detail={"reason": reason, "attempt": _attempt(update)},
    )
    text = (
        _("Sorry, this is only for Jiyn volunteers.")
        if reason == "role"
        else _("Review works only in a private chat with the bot.")
    )
    if update.callback_query is not None:
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)
    return None
