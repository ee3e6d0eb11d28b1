"""Questions without a good answer, kept anonymously for the editors (`jiyn kb gaps`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, select

from bot.core.db import SessionFactory, rowcount
from bot.core.models import QuestionGap
from bot.core.text import typed
from bot.services.component import Component

OUTCOMES = ("no_answer", "clarify", "thumbs_down")
MAX_STORED_LENGTH = 1000

# What could identify the person who asked, removed before anything is stored.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_LINK = re.compile(r"(?:https?://|www\.|t\.me/)\S+", re.IGNORECASE)
_HANDLE = re.compile(r"@\w+")
_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")


def scrub(question: str) -> str:
    """The question without e-mail addresses, links, @names or digits (phones, ids, dates), and
    as `typed` keeps text (no control characters: the editors read it in a terminal)."""
    text = _EMAIL.sub("[email]", typed(question))
    text = _LINK.sub("[link]", text)
    text = _HANDLE.sub("[name]", text)
    text = _DIGITS.sub("#", text)
    return _SPACES.sub(" ", text).strip()[:MAX_STORED_LENGTH]


@dataclass(frozen=True)
class GapSummary:
    """One distinct question with how often, and how, it went unanswered."""

    question: str
    language: str
    outcome: str
    article_id: str | None
    count: int
    last_seen: date


async def record_gap(
    sessions: SessionFactory,
    question: str,
    language: str,
    outcome: str,
    article_id: str | None = None,
) -> None:
    """Keep one unanswered question (scrubbed, dated by the day only)."""
    text = scrub(question)
    if not text or outcome not in OUTCOMES:
        return
    async with sessions.begin() as session:
        session.add(
            QuestionGap(
                question=text,
                language=language,
                outcome=outcome,
                article_id=article_id,
                created_on=datetime.now(UTC).date(),
            )
        )


async def purge_gaps(sessions: SessionFactory, days: int) -> int:
    """Delete what is older than `days` days; how many were deleted."""
    cutoff = datetime.now(UTC).date() - timedelta(days=days)
    async with sessions.begin() as session:
        result = await session.execute(
            delete(QuestionGap).where(QuestionGap.created_on < cutoff)
        )
    return rowcount(result)


async def list_gaps(sessions: SessionFactory, limit: int = 100) -> list[GapSummary]:
    """Distinct questions (letter case aside), the most frequent first, then the most recent.
    Grouped here rather than in SQL: SQLite's lower() leaves Cyrillic as it is, and the table
    holds at most JIYN_GAPS_RETENTION_DAYS of questions."""
    query = select(
        QuestionGap.question,
        QuestionGap.language,
        QuestionGap.outcome,
        QuestionGap.article_id,
        QuestionGap.created_on,
    )
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    groups: dict[tuple[str, str, str, str | None], list[tuple[str, date]]] = {}
    for question, language, outcome, article_id, created_on in rows:
        key = (question.casefold(), language, outcome, article_id)
        groups.setdefault(key, []).append((question, created_on))
    summaries = [
        GapSummary(
            question=min(question for question, _day in seen),
            language=language,
            outcome=outcome,
            article_id=article_id,
            count=len(seen),
            last_seen=max(day for _question, day in seen),
        )
        for (_folded, language, outcome, article_id), seen in groups.items()
    ]
    summaries.sort(key=lambda row: (-row.count, -row.last_seen.toordinal(), row.question))
    return summaries[:limit]


class GapService(Component):
    """The questions that got no answer, kept anonymously for the editors."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def record(
        self, question: str, language: str, outcome: str, article_id: str | None = None
    ) -> None:
        """Keep one unanswered question (scrubbed, dated by the day only)."""
        await record_gap(self._sessions, question, language, outcome, article_id)

    async def purge(self, days: int) -> int:
        """Delete what is older than `days` days; how many were deleted."""
        return await purge_gaps(self._sessions, days)

    async def summary(self, limit: int = 100) -> list[GapSummary]:
        """The most frequent unanswered questions."""
        return await list_gaps(self._sessions, limit)
