"""Dates and times typed by people, read in one place: a day (an outcome's date, /export's
period) and a moment (when a detention happened)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime

# 25.11.2026, 25.11.26, 2026-11-25
DAY_FORMATS: tuple[str, ...] = ("%d.%m.%Y", "%d.%m.%y", "%Y-%m-%d")
# [day.month[.year]] [hour:minute]: 21.11 18:30, 21.11.2026, 18:30
MOMENT_PATTERN = re.compile(
    r"^\s*(?:(?P<day>\d{1,2})[./-](?P<month>\d{1,2})(?:[./-](?P<year>\d{2,4}))?)?"
    r"\s*(?:(?P<hour>\d{1,2})[:.](?P<minute>\d{2}))?\s*$"
)


def parse_day(text: str, formats: Sequence[str] = DAY_FORMATS) -> date | None:
    """A date typed in one of `formats` (tried in order), else None."""
    cleaned = text.strip()
    for pattern in formats:
        try:
            return datetime.strptime(cleaned, pattern).date()
        except ValueError:
            continue
    return None


def parse_moment(text: str, now: datetime) -> datetime | None:
    """A date and/or time typed by a person, in the timezone of `now`; None if unreadable."""
    match = MOMENT_PATTERN.match(text)
    if not match or not (match["day"] or match["hour"]):
        return None
    try:
        year = int(match["year"]) if match["year"] else now.year
        if year < 100:
            year += 2000
        moment = now.replace(
            year=year,
            month=int(match["month"]) if match["month"] else now.month,
            day=int(match["day"]) if match["day"] else now.day,
            hour=int(match["hour"]) if match["hour"] else 12,
            minute=int(match["minute"]) if match["minute"] else 0,
            second=0,
            microsecond=0,
        )
    except ValueError:
        return None
    return moment
