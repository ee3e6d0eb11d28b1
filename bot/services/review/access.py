"""Who may do what in the review tools: roles, the least role of each action, and the audit
log. Every review command, button and typed answer goes through handlers.review.access.authorize,
which checks the role on the server at each call (admins from the configuration, volunteers from
the database), so a forwarded or forged button gives nothing, and every refusal is written to
the audit log."""

from __future__ import annotations

from typing import Any

from bot.core.config import Settings
from bot.core.crypto import Cipher
from bot.core.db import SessionFactory
from bot.core.models import AuditEntry, Role
from bot.core.text import typed
from bot.services import users
from bot.services.component import Component

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
                # A refused command's first word, in the detail, is typed text.
                detail_enc=cipher.encrypt_json(_kept(detail)) if detail else None,
            )
        )


def _kept(detail: dict[str, Any]) -> dict[str, Any]:
    """The detail with its texts as `typed` keeps them."""
    return {key: typed(value) if isinstance(value, str) else value for key, value in detail.items()}


class AccessService(Component):
    """Roles (admins from the configuration, volunteers from the database) and the audit log."""

    def __init__(self, settings: Settings, sessions: SessionFactory, cipher: Cipher) -> None:
        self._settings = settings
        self._sessions = sessions
        self._cipher = cipher

    async def role_of(self, user_id: int) -> Role:
        """The user's role now."""
        return await role_of(self._settings, self._sessions, self._cipher, user_id)

    async def record_audit(
        self,
        actor_id: int | None,
        action: str,
        *,
        allowed: bool = True,
        report_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append one entry to the audit log; the detail is stored encrypted."""
        await record_audit(
            self._sessions,
            self._cipher,
            actor_id,
            action,
            allowed=allowed,
            report_id=report_id,
            detail=detail,
        )
