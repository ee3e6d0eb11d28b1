"""Who may do what in the review tools. Every review command, button and typed answer goes
through `authorize`: the role is checked on the server at each call (admins from the
configuration, volunteers from the database), so a forwarded or forged button gives nothing, and
every refusal is written to the audit log."""

from __future__ import annotations

import contextlib
from typing import Any

from telegram import Update
from telegram.error import TelegramError

from bot.config import Settings
from bot.context import JiynContext
from bot.crypto import Cipher
from bot.db import SessionFactory
from bot.models import AuditEntry, Role
from bot.services import users

RANK = {Role.USER: 0, Role.VOLUNTEER: 1, Role.ADMIN: 2}

# The least role each review action needs. Claim ownership (only the volunteer holding a report,
# or an admin, may change it) is checked by the review service on top of this.
REQUIRED_ROLE: dict[str, Role] = {
    "queue": Role.VOLUNTEER,
    "card": Role.VOLUNTEER,
    "claim": Role.VOLUNTEER,
    "release": Role.VOLUNTEER,
    "verify": Role.VOLUNTEER,
    "reject": Role.VOLUNTEER,
    "duplicate": Role.VOLUNTEER,
    "note": Role.VOLUNTEER,
    "outcome": Role.VOLUNTEER,
    "close": Role.VOLUNTEER,
    "write": Role.VOLUNTEER,
    "media": Role.VOLUNTEER,
    "stats": Role.VOLUNTEER,
    "export": Role.VOLUNTEER,
    "history": Role.ADMIN,
    "volunteers": Role.ADMIN,
    "invite": Role.ADMIN,
}
DETAIL_LIMIT = 200


async def role_of(
    settings: Settings, sessions: SessionFactory, cipher: Cipher, user_id: int
) -> Role:
    """The user's role now: admin if listed in JIYN_ADMIN_IDS, else what the database says."""
    if user_id in settings.admin_ids:
        return Role.ADMIN
    return await users.stored_role(sessions, cipher, user_id)


def allows(role: Role, action: str) -> bool:
    """Whether `role` may perform `action` (unknown actions are refused)."""
    required = REQUIRED_ROLE.get(action)
    return required is not None and RANK[role] >= RANK[required]


def sees_personal_exports(role: Role) -> bool:
    """Exports leave the bot (laptops, mail), so names, phones and places go only to admins,
    who are named in the server configuration; volunteers get anonymous rows."""
    return role == Role.ADMIN


async def record_audit(
    sessions: SessionFactory,
    cipher: Cipher,
    actor_id: int | None,
    action: str,
    *,
    allowed: bool = True,
    report_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry to the audit log; the detail is stored encrypted."""
    async with sessions.begin() as session:
        session.add(
            AuditEntry(
                actor_enc=cipher.encrypt(str(actor_id)) if actor_id is not None else None,
                action=action[:32],
                allowed=allowed,
                report_id=report_id,
                detail_enc=cipher.encrypt_json(detail) if detail else None,
            )
        )


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
    role = await role_of(services.settings, services.sessions, services.cipher, user.id)
    private = in_private_chat(update)
    if private and allows(role, action):
        return role
    _ = context.gettext
    reason = "role" if not allows(role, action) else "chat"
    await record_audit(
        services.sessions,
        services.cipher,
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
