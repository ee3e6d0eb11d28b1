"""Statistics of reports for volunteers: counts by day, city, status and outcome over a period,
and a chart of them as a PNG (matplotlib, without a display)."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.core.db import SessionFactory
from bot.core.models import Report, utcnow
from bot.services.component import Component

MAX_DAYS = 366


@dataclass
class Stats:
    """Counts of the reports filed from `start` to `end` (local dates, inclusive)."""

    start: date
    end: date
    by_day: dict[date, int]
    by_city: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    by_outcome: Counter[str] = field(default_factory=Counter)
    by_people: Counter[str] = field(default_factory=Counter)  # "3", "2-5", "unknown"...

    @property
    def total(self) -> int:
        """How many reports in the period."""
        return sum(self.by_day.values())


@dataclass(frozen=True)
class ChartText:
    """The translated words on the chart; label maps turn keys (statuses...) into names."""

    title: str
    per_day: str
    by_status: str
    by_city: str
    by_outcome: str
    nothing: str
    status_names: dict[str, str]
    city_names: dict[str, str]
    outcome_names: dict[str, str]


async def collect(sessions: SessionFactory, timezone: ZoneInfo, days: int) -> Stats:
    """Counts of the last `days` days, today included."""
    days = max(1, min(days, MAX_DAYS))
    end = utcnow().astimezone(timezone).date()
    start = end - timedelta(days=days - 1)
    since = datetime.combine(start, time(0), tzinfo=timezone)
    async with sessions() as session:
        rows = (
            await session.execute(
                select(
                    Report.created_at, Report.city, Report.status, Report.outcome, Report.people
                ).where(Report.created_at >= since)
            )
        ).all()
    stats = Stats(start=start, end=end, by_day={start + timedelta(d): 0 for d in range(days)})
    for created_at, city, status, outcome, people in rows:
        day = created_at.astimezone(timezone).date()
        if day in stats.by_day:
            stats.by_day[day] += 1
        stats.by_city[city or "other"] += 1
        stats.by_status[status] += 1
        stats.by_outcome[outcome or "none"] += 1
        stats.by_people[people or "unknown"] += 1
    return stats


def render_chart(stats: Stats, text: ChartText) -> bytes:
    """A PNG with four panels: reports per day, by status, by city, by outcome. CPU-bound: call
    it in a thread."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 7), dpi=100, layout="constrained")
    figure.suptitle(text.title)
    per_day, by_status, by_city, by_outcome = figure.subplots(2, 2).flatten()

    days = list(stats.by_day)
    per_day.bar(range(len(days)), list(stats.by_day.values()), color="#2f6db5")
    step = max(1, len(days) // 8)
    per_day.set_xticks(range(0, len(days), step))
    per_day.set_xticklabels([d.strftime("%d.%m") for d in days[::step]], rotation=45)
    per_day.set_title(text.per_day)
    per_day.yaxis.get_major_locator().set_params(integer=True)

    panels = (
        (by_status, text.by_status, stats.by_status, text.status_names, "#5b8c3a"),
        (by_city, text.by_city, stats.by_city, text.city_names, "#b5682f"),
        (by_outcome, text.by_outcome, stats.by_outcome, text.outcome_names, "#7a4fa3"),
    )
    for axes, title, counts, names, colour in panels:
        axes.set_title(title)
        if not counts:
            axes.text(0.5, 0.5, text.nothing, ha="center", va="center")
            axes.set_axis_off()
            continue
        items = counts.most_common(10)[::-1]
        labels = [names.get(key, key) for key, _n in items]
        axes.barh(labels, [n for _key, n in items], color=colour)
        axes.xaxis.get_major_locator().set_params(integer=True)

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


class StatsService(Component):
    """Counts of reports for /stats."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def collect(self, timezone: ZoneInfo, days: int) -> Stats:
        """The reports of the last `days` days, counted."""
        return await collect(self._sessions, timezone, days)
