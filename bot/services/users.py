"""Users: registration on first contact, saved language, role."""

from __future__ import annotations

from sqlalchemy import delete, select

from bot.db import SessionFactory
from bot.i18n import choose_language, normalize_language
from bot.models import Role, User


async def touch_user(
    sessions: SessionFactory, telegram_id: int, telegram_language: str | None, admin: bool
) -> User:
    """Load the user, creating it on first contact, and keep its Telegram language current."""
    async with sessions.begin() as session:
        user = await session.get(User, telegram_id)
        if user is None:
            user = User(
                telegram_id=telegram_id,
                telegram_language=telegram_language,
                role=Role.ADMIN if admin else Role.USER,
            )
            session.add(user)
        else:
            if user.telegram_language != telegram_language:
                user.telegram_language = telegram_language
            if admin and user.role != Role.ADMIN:
                user.role = Role.ADMIN
        return user


async def set_language(sessions: SessionFactory, telegram_id: int, language: str) -> None:
    """Save the user's chosen interface language."""
    chosen = normalize_language(language)
    if chosen is None:
        raise ValueError(f"unsupported language {language!r}")
    async with sessions.begin() as session:
        user = await session.get(User, telegram_id)
        if user is None:
            session.add(User(telegram_id=telegram_id, language=chosen))
        else:
            user.language = chosen


async def saved_language(sessions: SessionFactory, telegram_id: int) -> str | None:
    """The language the user chose with /language, if any."""
    async with sessions() as session:
        return await session.scalar(select(User.language).where(User.telegram_id == telegram_id))


async def forget_user(sessions: SessionFactory, telegram_id: int) -> bool:
    """Delete the user's row (language choice); True if there was one."""
    async with sessions.begin() as session:
        result = await session.execute(delete(User).where(User.telegram_id == telegram_id))
        return bool(result.rowcount)


async def user_language(sessions: SessionFactory, telegram_id: int, default: str) -> str:
    """The language to write to a user in when they did not just send an update."""
    async with sessions() as session:
        user = await session.get(User, telegram_id)
    if user is None:
        return default
    return choose_language(user.language, user.telegram_language, default)
