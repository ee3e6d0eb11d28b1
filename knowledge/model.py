"""Typed, immutable records of the knowledge base (articles, venues, cases, the MCI table)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

LANGUAGES: tuple[str, ...] = ("kk", "ru", "en")
KINDS: tuple[str, ...] = ("rules", "rights", "help", "sanctions", "cases", "venues")
STATUSES: tuple[str, ...] = ("confirmed", "uncertain")
SANCTION_CODES: tuple[str, ...] = ("koap", "cc")
ASSEMBLY_FORMS: tuple[str, ...] = ("meeting", "rally", "picket", "demonstration", "march")


class KnowledgeError(Exception):
    """The content cannot be loaded; `problems` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        shown = "\n".join(f"- {problem}" for problem in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the knowledge base:\n{shown}")


@dataclass(frozen=True)
class Localized:
    """One short string in each language (a name, an address, a decision)."""

    kk: str
    ru: str
    en: str

    def get(self, language: str) -> str:
        """The string in `language`, falling back to Russian, then any non-empty one."""
        value = getattr(self, language, "") if language in LANGUAGES else ""
        return value or self.ru or self.en or self.kk

    def values(self) -> tuple[str, str, str]:
        """The three strings in LANGUAGES order."""
        return (self.kk, self.ru, self.en)


@dataclass(frozen=True)
class Text:
    """An article in one language: what the user reads, plus retrieval keywords."""

    title: str
    body: str
    keywords: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()

    @property
    def lead(self) -> str:
        """The direct answer: the body's first paragraph."""
        return self.body.split("\n\n", 1)[0].strip()


@dataclass(frozen=True)
class Source:
    """Where a fact comes from; `date` is YYYY-MM-DD, YYYY-MM, YYYY or "n.d.".

    `title` is the article's own (English) wording; `titles` and `publisher` come from the
    shared register (knowledge/sources.yaml) so replies can name a source in their language.
    """

    url: str
    title: str
    date: str
    titles: Localized | None = None
    publisher: Localized | None = None

    def title_in(self, language: str) -> str:
        """The source's title in `language` when the register has it, else the article's."""
        return self.titles.get(language) if self.titles is not None else self.title

    def publisher_in(self, language: str) -> str:
        """The publisher's short name in `language` (the web site's host when unknown)."""
        if self.publisher is not None:
            return self.publisher.get(language)
        host = self.url.split("://", 1)[-1].split("/", 1)[0]
        return host.removeprefix("www.")


@dataclass(frozen=True)
class SanctionInfo:
    """The code article a `sanctions` article describes."""

    code: str
    article: str


@dataclass(frozen=True)
class CaseInfo:
    """When, where and who of one past sanction (`cases` articles)."""

    date: str
    date_uncertain: bool
    city: str
    article: str | None
    people: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def year(self) -> int | None:
        """The year of the case, when the date has one."""
        head = self.date[:4]
        return int(head) if head.isdigit() else None

    @property
    def month(self) -> int | None:
        """The month of the case (1–12), when the date has one."""
        part = self.date[5:7]
        return int(part) if len(self.date) >= 7 and part.isdigit() else None


@dataclass(frozen=True)
class Venue:
    """One designated place or march route of a city."""

    id: str
    name: Localized
    address: Localized
    lat: float
    lon: float
    coords_approximate: bool
    capacity: int | None
    forms: tuple[str, ...]
    route: bool
    decision: Localized | None
    valid_from: str | None
    valid_until: str | None
    status: str

    def is_current(self, on_date: date) -> bool:
        """True when the venue was in force on `on_date` (removed venues stay as history)."""
        if self.valid_until and self.valid_until <= on_date.isoformat():
            return False
        return not (self.valid_from and self.valid_from > on_date.isoformat())


@dataclass(frozen=True)
class VenueList:
    """The designated places of one city (`venues` articles)."""

    city: str
    city_name: Localized
    venues: tuple[Venue, ...]


@dataclass(frozen=True)
class Article:
    """One answerable topic, written in all three languages."""

    id: str
    kind: str
    status: str
    checked: date | None
    sources: tuple[Source, ...]
    related: tuple[str, ...]
    texts: dict[str, Text]
    sanction: SanctionInfo | None = None
    case: CaseInfo | None = None
    venue_list: VenueList | None = None
    path: Path | None = field(default=None, compare=False)

    def text(self, language: str) -> Text:
        """The article's text in `language`, falling back to Russian, then English."""
        for candidate in (language, "ru", "en", "kk"):
            text = self.texts.get(candidate)
            if text is not None and text.title:
                return text
        return Text(title=self.id, body="")

    @property
    def uncertain(self) -> bool:
        """True when the article's main point is marked uncertain."""
        return self.status == "uncertain"


@dataclass(frozen=True)
class MciPeriod:
    """An MCI value in force from `start` (until the next period of the same year)."""

    start: date
    value: int


@dataclass(frozen=True)
class MciYear:
    """The MCI values of one calendar year."""

    year: int
    status: str
    periods: tuple[MciPeriod, ...]
    note: Localized | None
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class MciTable:
    """The monthly calculation index (МРП / АЕК / MCI) by year."""

    checked: date | None
    years: tuple[MciYear, ...]
    path: Path | None = field(default=None, compare=False)

    def year(self, year: int) -> MciYear | None:
        """The entry of `year`, or None when the table has no such year."""
        for entry in self.years:
            if entry.year == year:
                return entry
        return None

    def value_for(self, year: int, on_date: date | None = None) -> int | None:
        """The MCI in tenge for `year` (on `on_date` when the year has several periods)."""
        entry = self.year(year)
        if entry is None or not entry.periods:
            return None
        if on_date is None or on_date.year != year:
            # Without a day, the value in force for most of the year: the last period's.
            return entry.periods[-1].value
        value = entry.periods[0].value
        for period in entry.periods:
            if period.start <= on_date:
                value = period.value
        return value


@dataclass(frozen=True)
class KnowledgeBase:
    """Every article and the MCI table, with a cache for the search index built on first use."""

    articles: dict[str, Article]
    mci: MciTable | None
    root: Path | None = None
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def get(self, article_id: str) -> Article | None:
        """The article with this id, or None."""
        return self.articles.get(article_id)

    def by_kind(self, kind: str) -> list[Article]:
        """All articles of one kind, in id order."""
        return [article for key, article in sorted(self.articles.items()) if article.kind == kind]

    @property
    def venues(self) -> list[Venue]:
        """Every venue record of every city."""
        return [
            venue
            for article in self.by_kind("venues")
            if article.venue_list is not None
            for venue in article.venue_list.venues
        ]
