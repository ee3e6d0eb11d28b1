"""Feedback on answers."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.core.db import SessionFactory
from bot.core.models import Feedback
from bot.services.component import Component


async def record_feedback(
    sessions: SessionFactory, article_id: str, helpful: bool, language: str
) -> None:
    """Store one vote on an article."""
    async with sessions.begin() as session:
        session.add(Feedback(article_id=article_id, helpful=helpful, language=language))


async def feedback_counts(sessions: SessionFactory, article_id: str) -> tuple[int, int]:
    """(helpful, not helpful) votes of an article."""
    async with sessions() as session:
        rows = await session.execute(
            select(Feedback.helpful, func.count())
            .where(Feedback.article_id == article_id)
            .group_by(Feedback.helpful)
        )
        counts: dict[bool, int] = {helpful: count for helpful, count in rows.all()}
    return counts.get(True, 0), counts.get(False, 0)


class FeedbackService(Component):
    """Votes on answers."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def record(self, article_id: str, helpful: bool, language: str) -> None:
        """Store one vote on an article."""
        await record_feedback(self._sessions, article_id, helpful, language)

    async def counts(self, article_id: str) -> tuple[int, int]:
        """(helpful, not helpful) votes of an article."""
        return await feedback_counts(self._sessions, article_id)
