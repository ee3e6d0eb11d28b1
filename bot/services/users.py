"""Users: registration on first contact, saved language, role."""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bot.db import SessionFactory
from bot.i18n import choose_language, normalize_language
from bot.models import Role, User, VolunteerInvite, utcnow

INVITE_LIFETIME = timedelta(hours=24)
# Users whose language settings are kept in memory; the least recently seen go first. An entry
# is about 200 bytes, so a whole evening of protests fits in a few megabytes.
DEFAULT_DIRECTORY_CAPACITY = 50_000


@dataclass(frozen=True, slots=True)
class KnownUser:
    """What an update needs of a user's row: the saved choice and Telegram's language."""

    language: str | None
    telegram_language: str | None


class UserDirectory:
    """The users table for the update path, with the language settings of recent users kept in
    memory, so an update of a known user costs no query (before every handler, that query was
    the largest part of answering a question).

    The cache stays right because this process is the only writer of those fields and every
    write of them goes through here: `set_language`, `forget`. Roles are not cached (they are
    checked in the database at every review action, see bot.services.access)."""

    def __init__(
        self, sessions: SessionFactory, capacity: int = DEFAULT_DIRECTORY_CAPACITY
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._sessions = sessions
        self._capacity = capacity
        self._known: OrderedDict[int, KnownUser] = OrderedDict()

    async def saved_language(self, telegram_id: int, telegram_language: str | None) -> str | None:
        """The user's saved choice; registers them on first contact and keeps their Telegram
        language current (a write only when it changed)."""
        known = self._known.get(telegram_id)
        if known is not None and known.telegram_language == telegram_language:
            self._known.move_to_end(telegram_id)
            return known.language
        user = await touch_user(self._sessions, telegram_id, telegram_language)
        self._remember(telegram_id, KnownUser(user.language, user.telegram_language))
        return user.language

    async def set_language(self, telegram_id: int, language: str) -> None:
        """Save the user's chosen interface language."""
        await set_language(self._sessions, telegram_id, language)
        self._known.pop(telegram_id, None)

    async def forget(self, telegram_id: int) -> bool:
        """Delete the user's settings (see forget_user); True if there were any."""
        try:
            return await forget_user(self._sessions, telegram_id)
        finally:
            self._known.pop(telegram_id, None)

    def _remember(self, telegram_id: int, known: KnownUser) -> None:
        self._known[telegram_id] = known
        self._known.move_to_end(telegram_id)
        while len(self._known) > self._capacity:
            self._known.popitem(last=False)


async def touch_user(
    sessions: SessionFactory, telegram_id: int, telegram_language: str | None
) -> User:
    """Load the user, creating it on first contact, and keep its Telegram language current.

    Admin rights are never stored: they are read from JIYN_ADMIN_IDS at every check
    (bot.services.access), so removing an id from the configuration takes effect at once.
    """
    async with sessions() as session:
        user = await session.get(User, telegram_id)
    if user is not None and user.telegram_language == telegram_language:
        return user  # the usual case: a read, no write
    # A write transaction that starts with its write: SQLite takes the write lock at once
    # (waiting for another writer) instead of failing when a read turns into a write.
    try:
        async with sessions.begin() as session:
            if user is None:
                user = User(
                    telegram_id=telegram_id, telegram_language=telegram_language, role=Role.USER
                )
                session.add(user)
            else:
                await session.execute(
                    update(User)
                    .where(User.telegram_id == telegram_id)
                    .values(telegram_language=telegram_language)
                    .execution_options(synchronize_session=False)
                )
                user.telegram_language = telegram_language
    except IntegrityError:
        # Created meanwhile by another update of the same person (an admin adding them).
        async with sessions() as session:
            user = await session.get(User, telegram_id)
        if user is None:
            raise
    return user


async def set_language(sessions: SessionFactory, telegram_id: int, language: str) -> None:
    """Save the user's chosen interface language."""
    chosen = normalize_language(language)
    if chosen is None:
        raise ValueError(f"unsupported language {language!r}")
    async with sessions.begin() as session:
        # A write first (see touch_user), then a new row if there was none.
        updated = await session.execute(
            update(User)
            .where(User.telegram_id == telegram_id)
            .values(language=chosen)
            .execution_options(synchronize_session=False)
        )
        if not updated.rowcount:
            session.add(User(telegram_id=telegram_id, language=chosen))


async def saved_language(sessions: SessionFactory, telegram_id: int) -> str | None:
    """The language the user chose with /language, if any."""
    async with sessions() as session:
        return await session.scalar(select(User.language).where(User.telegram_id == telegram_id))


async def forget_user(sessions: SessionFactory, telegram_id: int) -> bool:
    """Delete the user's row (language choice); True if there was one. A volunteer keeps the row
    with the role, languages cleared: /forget is about what they reported, not their duty."""
    async with sessions.begin() as session:
        # Writes only (no read first), so SQLite takes its write lock at once.
        kept = await session.execute(
            update(User)
            .where(User.telegram_id == telegram_id, User.role == Role.VOLUNTEER)
            .values(language=None, telegram_language=None)
            .execution_options(synchronize_session=False)
        )
        if kept.rowcount:
            return True
        result = await session.execute(delete(User).where(User.telegram_id == telegram_id))
        return bool(result.rowcount)


async def stored_role(sessions: SessionFactory, telegram_id: int) -> Role:
    """The role saved in the database (never ADMIN: admins come from the configuration)."""
    async with sessions() as session:
        role = await session.scalar(select(User.role).where(User.telegram_id == telegram_id))
    return Role.VOLUNTEER if role == Role.VOLUNTEER else Role.USER


async def set_volunteer(sessions: SessionFactory, telegram_id: int, volunteer: bool) -> bool:
    """Make the user a volunteer or take the role away; True if the role changed."""
    wanted = Role.VOLUNTEER if volunteer else Role.USER
    async with sessions.begin() as session:
        # A write first (see forget_user); then a new row if there was none.
        changed = await session.execute(
            update(User)
            .where(User.telegram_id == telegram_id, User.role != wanted)
            .values(role=wanted)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount:
            return True
        if not volunteer or await session.get(User, telegram_id) is not None:
            return False
        session.add(User(telegram_id=telegram_id, role=wanted))
        return True


async def volunteer_ids(sessions: SessionFactory) -> list[int]:
    """Telegram ids of every volunteer in the database, ascending."""
    async with sessions() as session:
        rows = await session.scalars(
            select(User.telegram_id).where(User.role == Role.VOLUNTEER).order_by(User.telegram_id)
        )
        return list(rows.all())


async def user_language(sessions: SessionFactory, telegram_id: int, default: str) -> str:
    """The language to write to a user in when they did not just send an update."""
    async with sessions() as session:
        user = await session.get(User, telegram_id)
    if user is None:
        return default
    return choose_language(user.language, user.telegram_language, default)


def _invite_hash(token: str) -> str:
    # Tokens are long and random, so a plain hash is enough to make a stolen copy useless.
    return hashlib.sha256(token.encode()).hexdigest()


async def create_invite(
    sessions: SessionFactory, created_by: int, lifetime: timedelta = INVITE_LIFETIME
) -> str:
    """A new single-use invite token (only its hash is stored)."""
    token = secrets.token_urlsafe(18)
    now = utcnow()
    async with sessions.begin() as session:
        session.add(
            VolunteerInvite(
                token_hash=_invite_hash(token),
                created_by=created_by,
                created_at=now,
                expires_at=now + lifetime,
            )
        )
    return token


async def redeem_invite(sessions: SessionFactory, token: str, telegram_id: int) -> int | None:
    """Use an invite: the user becomes a volunteer. Returns who created the invite, or None if
    the token is unknown, used or expired. Atomic: a link works once even if two people press
    it at the same moment."""
    now = utcnow()
    async with sessions.begin() as session:
        result = await session.execute(
            update(VolunteerInvite)
            .where(
                VolunteerInvite.token_hash == _invite_hash(token),
                VolunteerInvite.used_at.is_(None),
                VolunteerInvite.expires_at > now,
            )
            .values(used_at=now, used_by=telegram_id)
        )
        if not result.rowcount:
            return None
        user = await session.get(User, telegram_id)
        if user is None:
            session.add(User(telegram_id=telegram_id, role=Role.VOLUNTEER))
        else:
            user.role = Role.VOLUNTEER
        return await session.scalar(
            select(VolunteerInvite.created_by).where(
                VolunteerInvite.token_hash == _invite_hash(token)
            )
        )


async def delete_expired_invites(sessions: SessionFactory) -> int:
    """Drop invites that expired unused; returns how many."""
    async with sessions.begin() as session:
        result = await session.execute(
            delete(VolunteerInvite).where(
                VolunteerInvite.used_at.is_(None), VolunteerInvite.expires_at <= utcnow()
            )
        )
        return int(result.rowcount or 0)
