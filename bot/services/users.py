"""Users: registration on first contact, saved language, role."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.core.crypto import Cipher
from bot.core.db import SessionFactory, rowcount
from bot.core.i18n import choose_language, normalize_language
from bot.core.models import Role, User, VolunteerInvite, utcnow, utctoday
from bot.services.component import Component

log = logging.getLogger(__name__)

INVITE_LIFETIME = timedelta(hours=24)
# First contacts are written together, this long after the first of a batch: a flyer brings
# thousands at once, and one insert of many rows costs a fraction of one insert each.
FIRST_CONTACT_BATCH_SECONDS = 0.5
FIRST_CONTACT_RETRY_SECONDS = 5.0
# Rows per insert: SQLite takes at most 32,766 parameters in one statement.
FIRST_CONTACT_ROWS_PER_INSERT = 1000
# Users whose language settings are kept in memory; the least recently seen go first. An entry
# is about 200 bytes, so a whole evening of protests fits in a few megabytes.
DEFAULT_DIRECTORY_CAPACITY = 50_000


@dataclass(frozen=True, slots=True)
class KnownUser:
    """What an update needs of a user's row: the saved choice and Telegram's language."""

    language: str | None
    telegram_language: str | None


class UserDirectory(Component):
    """The users table for the update path, with the language settings of recent users kept in
    memory, so an update of a known user costs no query (before every handler, that query was
    the largest part of answering a question).

    Rows are keyed by the keyed hash of the Telegram id (bot.core.crypto), never the id itself; the
    memory is keyed by that hash too. Lookups accept the hash under every configured key, so a
    database not yet rewritten by `jiyn keys rotate` still finds everyone.

    The cache stays right because this process is the only writer of those fields (the
    active process, bot.leader) and every write of them goes through here: `set_language`,
    `forget`. Roles are not cached (they are checked in the database at every review action,
    see bot.services.review.access).

    First contact costs no query either: `initialize` loads every user while they fit in
    memory, so a user the directory does not know is new. They are answered at once and written
    in batches off the answer's path (`FIRST_CONTACT_BATCH_SECONDS`); a crash before the batch
    loses only a row that the person's next message creates again."""

    def __init__(
        self,
        sessions: SessionFactory,
        cipher: Cipher,
        capacity: int = DEFAULT_DIRECTORY_CAPACITY,
        batch_seconds: float = FIRST_CONTACT_BATCH_SECONDS,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._sessions = sessions
        self._cipher = cipher
        self._capacity = capacity
        self._batch_seconds = batch_seconds
        self._known: OrderedDict[str, KnownUser] = OrderedDict()
        # Whether every user in the database is in _known (loaded, and nothing forgotten since).
        self._complete = False
        # First contacts waiting to be written: hash -> (Telegram id, Telegram's language).
        self._new: dict[str, tuple[int, str | None]] = {}
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    async def initialize(self) -> None:
        """Load every user (if they fit) and start writing first contacts."""
        async with self._sessions() as session:
            count = await session.scalar(select(func.count(User.id_hash)))
            if (count or 0) <= self._capacity:
                rows = await session.execute(
                    select(User.id_hash, User.language, User.telegram_language)
                )
                for id_hash, language, telegram_language in rows:
                    self._known[id_hash] = KnownUser(language, telegram_language)
                self._complete = len(self._known) <= self._capacity
        self._writer = asyncio.create_task(self._write_first_contacts(), name="jiyn-first-contacts")

    async def shutdown(self) -> None:
        """Stop the writer and write what is waiting."""
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        with contextlib.suppress(SQLAlchemyError, OSError):
            await self.flush()

    @property
    def first_contacts_waiting(self) -> int:
        """New users answered but not written yet."""
        return len(self._new)

    def _key(self, telegram_id: int) -> str:
        """The hash the user is known under: an older key's if that is what is stored."""
        hashes = self._cipher.lookup_hashes(telegram_id)
        for lookup in hashes:
            if lookup in self._known:
                return lookup
        return hashes[0]

    async def saved_language(self, telegram_id: int, telegram_language: str | None) -> str | None:
        """The user's saved choice; registers them on first contact and keeps their Telegram
        language current (a write only when it changed)."""
        key = self._key(telegram_id)
        known = self._known.get(key)
        if known is not None and known.telegram_language == telegram_language:
            self._known.move_to_end(key)
            return known.language
        if self._complete and (known is None or key in self._new):
            # A first contact: nothing saved to read; the row goes out with the next batch.
            self._new[key] = (telegram_id, telegram_language)
            self._remember(key, KnownUser(None, telegram_language))
            self._wake.set()
            return None
        user = await touch_user(self._sessions, self._cipher, telegram_id, telegram_language)
        self._remember(user.id_hash, KnownUser(user.language, user.telegram_language))
        return user.language

    async def set_language(self, telegram_id: int, language: str) -> None:
        """Save the user's chosen interface language."""
        await set_language(self._sessions, self._cipher, telegram_id, language)
        key = self._key(telegram_id)
        known = self._known.pop(key, None)
        self._new.pop(key, None)  # the row is written now
        # Telegram's language unknown (None) makes the next update read the row again.
        self._remember(
            await self._stored_key(telegram_id) or key,
            KnownUser(normalize_language(language), known.telegram_language if known else None),
        )

    async def _stored_key(self, telegram_id: int) -> str | None:
        hashes = self._cipher.lookup_hashes(telegram_id)
        if len(hashes) == 1:
            return hashes[0]
        async with self._sessions() as session:
            return await session.scalar(select(User.id_hash).where(User.id_hash.in_(hashes)))

    async def forget(self, telegram_id: int) -> bool:
        """Delete the user's settings (see forget_user); True if there were any."""
        hashes = self._cipher.lookup_hashes(telegram_id)
        waiting = any([self._new.pop(lookup, None) is not None for lookup in hashes])
        try:
            return await forget_user(self._sessions, self._cipher, telegram_id) or waiting
        finally:
            for lookup in hashes:
                self._known.pop(lookup, None)

    async def language_of(self, telegram_id: int, default: str) -> str:
        """The language to write to this person in (their choice, Telegram's, or `default`)."""
        return await user_language(self._sessions, self._cipher, telegram_id, default)

    async def stored_role(self, telegram_id: int) -> Role:
        """The role the database gives this person (admins come from the configuration)."""
        return await stored_role(self._sessions, self._cipher, telegram_id)

    async def set_volunteer(self, telegram_id: int, volunteer: bool) -> bool:
        """Make this person a volunteer or a user again; whether anything changed."""
        return await set_volunteer(self._sessions, self._cipher, telegram_id, volunteer)

    async def volunteer_ids(self) -> list[int]:
        """Every volunteer's Telegram id."""
        return await volunteer_ids(self._sessions, self._cipher)

    async def create_invite(self, created_by: int) -> str:
        """A new single-use invite token."""
        return await create_invite(self._sessions, self._cipher, created_by)

    async def redeem_invite(self, token: str, telegram_id: int) -> int | None:
        """Make this person a volunteer with the token; who invited them, or None."""
        return await redeem_invite(self._sessions, self._cipher, token, telegram_id)

    async def delete_expired_invites(self) -> int:
        """Drop invites past their lifetime; how many."""
        return await delete_expired_invites(self._sessions)

    async def flush(self) -> None:
        """Write the first contacts waiting, in one statement."""
        if not self._new:
            return
        batch, self._new = self._new, {}
        today = utctoday()
        rows: list[dict[str, Any]] = [
            {
                "id_hash": id_hash,
                "telegram_enc": self._cipher.encrypt_undated(str(telegram_id)),
                "telegram_language": language,
                "role": Role.USER,
                "created_on": today,
            }
            # In hash order, not arrival order: the table's physical order says less.
            for id_hash, (telegram_id, language) in sorted(batch.items())
        ]
        try:
            async with self._sessions.begin() as session:
                dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
                insert: Any = postgresql_insert if dialect == "postgresql" else sqlite_insert
                for start in range(0, len(rows), FIRST_CONTACT_ROWS_PER_INSERT):
                    chunk = rows[start : start + FIRST_CONTACT_ROWS_PER_INSERT]
                    # Created meanwhile (an admin adding them, /language): that row stays.
                    await session.execute(
                        insert(User)
                        .values(chunk)
                        .on_conflict_do_nothing(index_elements=["id_hash"])
                    )
        except BaseException:
            for id_hash, waiting in batch.items():
                self._new.setdefault(id_hash, waiting)
            raise

    async def _write_first_contacts(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self._batch_seconds)
            self._wake.clear()
            try:
                await self.flush()
            except (SQLAlchemyError, OSError) as error:
                log.warning("could not write new users (%s); will retry", type(error).__name__)
                self._wake.set()
                await asyncio.sleep(FIRST_CONTACT_RETRY_SECONDS)

    def _remember(self, key: str, known: KnownUser) -> None:
        self._known[key] = known
        self._known.move_to_end(key)
        while len(self._known) > self._capacity:
            self._known.popitem(last=False)
            self._complete = False


def _new_user(cipher: Cipher, telegram_id: int, **values: Any) -> User:
    return User(
        id_hash=cipher.lookup_hash(telegram_id),
        telegram_enc=cipher.encrypt_undated(str(telegram_id)),
        created_on=utctoday(),
        **values,
    )


async def _find(session: Any, cipher: Cipher, telegram_id: int) -> User | None:
    user: User | None = await session.scalar(
        select(User).where(User.id_hash.in_(cipher.lookup_hashes(telegram_id))).limit(1)
    )
    return user


async def touch_user(
    sessions: SessionFactory, cipher: Cipher, telegram_id: int, telegram_language: str | None
) -> User:
    """Load the user, creating it on first contact, and keep its Telegram language current.

    Admin rights are never stored: they are read from JIYN_ADMIN_IDS at every check
    (bot.services.review.access), so removing an id from the configuration takes effect at once.
    """
    hashes = cipher.lookup_hashes(telegram_id)
    async with sessions() as session:
        user = await _find(session, cipher, telegram_id)
    if user is not None and user.telegram_language == telegram_language:
        return user  # the usual case: a read, no write
    # A write transaction that starts with its write: SQLite takes the write lock at once
    # (waiting for another writer) instead of failing when a read turns into a write.
    try:
        async with sessions.begin() as session:
            if user is None:
                user = _new_user(
                    cipher, telegram_id, telegram_language=telegram_language, role=Role.USER
                )
                session.add(user)
            else:
                await session.execute(
                    update(User)
                    .where(User.id_hash.in_(hashes))
                    .values(telegram_language=telegram_language)
                    .execution_options(synchronize_session=False)
                )
                user.telegram_language = telegram_language
    except IntegrityError:
        # Created meanwhile by another update of the same person (an admin adding them).
        async with sessions() as session:
            user = await _find(session, cipher, telegram_id)
        if user is None:
            raise
    return user


async def set_language(
    sessions: SessionFactory, cipher: Cipher, telegram_id: int, language: str
) -> None:
    """Save the user's chosen interface language."""
    chosen = normalize_language(language)
    if chosen is None:
        raise ValueError(f"unsupported language {language!r}")
    async with sessions.begin() as session:
        # A write first (see touch_user), then a new row if there was none.
        updated = await session.execute(
            update(User)
            .where(User.id_hash.in_(cipher.lookup_hashes(telegram_id)))
            .values(language=chosen)
            .execution_options(synchronize_session=False)
        )
        if not rowcount(updated):
            session.add(_new_user(cipher, telegram_id, language=chosen, role=Role.USER))


async def saved_language(sessions: SessionFactory, cipher: Cipher, telegram_id: int) -> str | None:
    """The language the user chose with /language, if any."""
    async with sessions() as session:
        return await session.scalar(
            select(User.language).where(User.id_hash.in_(cipher.lookup_hashes(telegram_id)))
        )


async def forget_user(sessions: SessionFactory, cipher: Cipher, telegram_id: int) -> bool:
    """Delete the user's row (language choice); True if there was one. A volunteer keeps the row
    with the role, languages cleared: /forget is about what they reported, not their duty."""
    hashes = cipher.lookup_hashes(telegram_id)
    async with sessions.begin() as session:
        # Writes only (no read first), so SQLite takes its write lock at once.
        kept = await session.execute(
            update(User)
            .where(User.id_hash.in_(hashes), User.role == Role.VOLUNTEER)
            .values(language=None, telegram_language=None)
            .execution_options(synchronize_session=False)
        )
        if rowcount(kept):
            return True
        result = await session.execute(delete(User).where(User.id_hash.in_(hashes)))
        return bool(rowcount(result))


async def stored_role(sessions: SessionFactory, cipher: Cipher, telegram_id: int) -> Role:
    """The role saved in the database (never ADMIN: admins come from the configuration)."""
    async with sessions() as session:
        role = await session.scalar(
            select(User.role).where(User.id_hash.in_(cipher.lookup_hashes(telegram_id))).limit(1)
        )
    return Role.VOLUNTEER if role == Role.VOLUNTEER else Role.USER


async def set_volunteer(
    sessions: SessionFactory, cipher: Cipher, telegram_id: int, volunteer: bool
) -> bool:
    """Make the user a volunteer or take the role away; True if the role changed."""
    wanted = Role.VOLUNTEER if volunteer else Role.USER
    hashes = cipher.lookup_hashes(telegram_id)
    async with sessions.begin() as session:
        # A write first (see forget_user); then a new row if there was none.
        changed = await session.execute(
            update(User)
            .where(User.id_hash.in_(hashes), User.role != wanted)
            .values(role=wanted)
            .execution_options(synchronize_session=False)
        )
        if rowcount(changed):
            return True
        if not volunteer or await _find(session, cipher, telegram_id) is not None:
            return False
        session.add(_new_user(cipher, telegram_id, role=wanted))
        return True


async def volunteer_ids(sessions: SessionFactory, cipher: Cipher) -> list[int]:
    """Telegram ids of every volunteer in the database, ascending (decrypted)."""
    async with sessions() as session:
        tokens = await session.scalars(select(User.telegram_enc).where(User.role == Role.VOLUNTEER))
        return sorted(int(cipher.decrypt(token) or 0) for token in tokens.all())


async def user_language(
    sessions: SessionFactory, cipher: Cipher, telegram_id: int, default: str
) -> str:
    """The language to write to a user in when they did not just send an update."""
    async with sessions() as session:
        user = await _find(session, cipher, telegram_id)
    if user is None:
        return default
    return choose_language(user.language, user.telegram_language, default)


def _invite_hash(token: str) -> str:
    # Tokens are long and random, so a plain hash is enough to make a stolen copy useless.
    return hashlib.sha256(token.encode()).hexdigest()


async def create_invite(
    sessions: SessionFactory,
    cipher: Cipher,
    created_by: int,
    lifetime: timedelta = INVITE_LIFETIME,
) -> str:
    """A new single-use invite token (only its hash is stored)."""
    token = secrets.token_urlsafe(18)
    now = utcnow()
    async with sessions.begin() as session:
        session.add(
            VolunteerInvite(
                token_hash=_invite_hash(token),
                created_by_enc=cipher.encrypt(str(created_by)),
                created_at=now,
                expires_at=now + lifetime,
            )
        )
    return token


async def redeem_invite(
    sessions: SessionFactory, cipher: Cipher, token: str, telegram_id: int
) -> int | None:
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
            .values(used_at=now, used_by_enc=cipher.encrypt(str(telegram_id)))
        )
        if not rowcount(result):
            return None
        user = await _find(session, cipher, telegram_id)
        if user is None:
            session.add(_new_user(cipher, telegram_id, role=Role.VOLUNTEER))
        else:
            user.role = Role.VOLUNTEER
        creator = await session.scalar(
            select(VolunteerInvite.created_by_enc).where(
                VolunteerInvite.token_hash == _invite_hash(token)
            )
        )
        return cipher.decrypt_id(creator)


async def delete_expired_invites(sessions: SessionFactory) -> int:
    """Drop invites that expired unused; returns how many."""
    async with sessions.begin() as session:
        result = await session.execute(
            delete(VolunteerInvite).where(
                VolunteerInvite.used_at.is_(None), VolunteerInvite.expires_at <= utcnow()
            )
        )
        return rowcount(result)
