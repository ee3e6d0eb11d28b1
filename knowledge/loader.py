"""Load knowledge/content/ (YAML) into a KnowledgeBase and validate it."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from knowledge.model import (
    ASSEMBLY_FORMS,
    KINDS,
    LANGUAGES,
    SANCTION_CODES,
    STATUSES,
    Article,
    CaseInfo,
    KnowledgeBase,
    KnowledgeError,
    Localized,
    MciPeriod,
    MciTable,
    MciYear,
    SanctionInfo,
    Source,
    Text,
    Venue,
    VenueList,
)

CONTENT_DIR = Path(__file__).resolve().parent / "content"
MCI_FILE_NAME = "mci.yaml"
SOURCES_FILE_NAME = "sources.yaml"
MAX_ID_LENGTH = 40
# Written next to a statement its sources do not confirm; the reply shows it as a warning.
UNCERTAIN_MARK = "[?]"
# Each language of an article carries at least this many sample questions for retrieval.
MIN_QUESTIONS = 3
# The body's first paragraph is the direct answer a phone shows first.
MAX_LEAD_LENGTH = 320
# Kazakhstan's bounding box, generous by a fraction of a degree.
KZ_LAT = (40.5, 55.5)
KZ_LON = (46.4, 87.4)

# libyaml's safe loader when PyYAML was built with it (about 10× faster), else the pure one.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SOURCE_DATE_PATTERN = re.compile(r"^(?:\d{4}(?:-\d{2}(?:-\d{2})?)?|n\.d\.)$")
_CASE_DATE_PATTERN = re.compile(r"^\d{4}(?:-\d{2}(?:-\d{2})?)?$")
# Numbers as the three languages write them: "5", "2020", "10 000", "4 325", "1.5".
_NUMBER = re.compile(r"\d+(?:[ \u00a0\u202f,.]\d{3})*(?:[.,]\d+)?")


def load_knowledge(path: Path | None = None) -> KnowledgeBase:
    """Load and validate the content under `path` (default knowledge/content); cached per state."""
    root = (path or CONTENT_DIR).resolve()
    return _load_cached(root, _fingerprint(root))


def read_knowledge(path: Path | None = None) -> tuple[KnowledgeBase, list[str]]:
    """Load the content without raising: the knowledge base and every problem found."""
    root = (path or CONTENT_DIR).resolve()
    kb, problems = _parse_tree(root)
    return kb, problems + validate(kb)


def _fingerprint(root: Path) -> tuple[tuple[str, int, int], ...]:
    # Names, sizes and modification times: a changed file gives a new cache key.
    files = sorted(root.rglob("*.yaml")) if root.is_dir() else []
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)


@lru_cache(maxsize=8)
def _load_cached(root: Path, _fingerprint: tuple[tuple[str, int, int], ...]) -> KnowledgeBase:
    kb, problems = read_knowledge(root)
    if problems:
        raise KnowledgeError(problems)
    from knowledge.search import index_for  # search builds on the model; import it late

    index_for(kb)  # build the search index now, once, rather than on the first question
    return kb


def _parse_tree(root: Path) -> tuple[KnowledgeBase, list[str]]:
    problems: list[str] = []
    articles: dict[str, Article] = {}
    mci: MciTable | None = None
    register: dict[str, tuple[Localized | None, Localized | None]] = {}
    if not root.is_dir():
        return KnowledgeBase(articles={}, mci=None, root=root), [f"{root}: no such directory"]
    for file_path in sorted(root.rglob("*.yaml")):
        where = str(file_path.relative_to(root))
        try:
            data = yaml.load(file_path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            problems.append(f"{where}: not valid YAML ({_first_line(error)})")
            continue
        if not isinstance(data, dict):
            problems.append(f"{where}: expected a mapping at the top level")
            continue
        if file_path.name == MCI_FILE_NAME and file_path.parent == root:
            mci = _parse_mci(data, file_path, where, problems)
            continue
        if file_path.name == SOURCES_FILE_NAME and file_path.parent == root:
            register = _parse_register(data, where, problems)
            continue
        article = _parse_article(data, file_path, where, problems)
        if article is None:
            continue
        if article.id in articles:
            other = articles[article.id].path
            other_name = other.relative_to(root) if other else "?"
            problems.append(f"{where}: id {article.id!r} is already used by {other_name}")
            continue
        articles[article.id] = article
    if register:
        articles = {key: _with_register(article, register) for key, article in articles.items()}
        if mci is not None:
            mci = replace(
                mci,
                years=tuple(
                    replace(entry, sources=_registered(entry.sources, register))
                    for entry in mci.years
                ),
            )
    kb = KnowledgeBase(articles=articles, mci=mci, root=root)
    kb.cache["registered_urls"] = frozenset(register)
    return kb, problems


def _parse_register(
    data: dict[str, Any], where: str, problems: list[str]
) -> dict[str, tuple[Localized | None, Localized | None]]:
    """url -> (titles, publisher) from sources.yaml, the one place sources are translated."""
    register: dict[str, tuple[Localized | None, Localized | None]] = {}
    entries = data.get("sources")
    if not isinstance(entries, list):
        problems.append(f"{where}: 'sources' must be a list")
        return register
    for index, item in enumerate(entries, start=1):
        url = _text_of(item.get("url")) if isinstance(item, dict) else ""
        if not url:
            problems.append(f"{where}: entry #{index} needs a url")
            continue
        titles = _localized(item.get("title"))
        publisher = _localized(item.get("publisher"))
        for field_name, value in (("title", titles), ("publisher", publisher)):
            if value is None or not all(value.values()):
                problems.append(f"{where}: {url}: {field_name} needs kk, ru and en")
        if url in register:
            problems.append(f"{where}: {url} is listed twice")
        register[url] = (titles, publisher)
    return register


def _registered(
    sources: tuple[Source, ...], register: dict[str, tuple[Localized | None, Localized | None]]
) -> tuple[Source, ...]:
    out = []
    for source in sources:
        titles, publisher = register.get(source.url, (None, None))
        out.append(replace(source, titles=titles, publisher=publisher))
    return tuple(out)


def _with_register(
    article: Article, register: dict[str, tuple[Localized | None, Localized | None]]
) -> Article:
    return replace(article, sources=_registered(article.sources, register))


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _text_of(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _localized(value: Any) -> Localized | None:
    if not isinstance(value, dict):
        return None
    return Localized(**{lang: _text_of(value.get(lang)) for lang in LANGUAGES})


def _date_string(value: Any) -> str:
    """YAML may give a date object or a string; sources keep the text form."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    return value.strip() if isinstance(value, str) else ""


def _parse_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _parse_sources(value: Any) -> tuple[Source, ...]:
    if not isinstance(value, list):
        return ()
    sources = []
    for item in value:
        if isinstance(item, dict):
            sources.append(
                Source(
                    url=_text_of(item.get("url")),
                    title=_text_of(item.get("title")),
                    date=_date_string(item.get("date")),
                )
            )
        else:
            sources.append(Source(url="", title="", date=""))
    return tuple(sources)


def _string_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value.strip(),)
    if not isinstance(value, list):
        return ()
    return tuple(str(item).strip() for item in value if item is not None and str(item).strip())


def _parse_article(
    data: dict[str, Any], file_path: Path, where: str, problems: list[str]
) -> Article | None:
    article_id = data.get("id")
    if not isinstance(article_id, str) or not article_id.strip():
        problems.append(f"{where}: missing id")
        return None
    texts: dict[str, Text] = {}
    for lang in LANGUAGES:
        block = data.get(lang)
        if isinstance(block, dict):
            texts[lang] = Text(
                title=_text_of(block.get("title")),
                body=_text_of(block.get("body")),
                keywords=_string_list(block.get("keywords")),
                questions=_string_list(block.get("questions")),
            )
    raw_checked = data.get("checked")
    checked = _parse_date(raw_checked)
    kind = _text_of(data.get("kind"))
    sanction = case = venue_list = None
    if kind == "sanctions":
        sanction = SanctionInfo(
            code=_text_of(data.get("code")), article=_date_string(data.get("article"))
        )
    elif kind == "cases":
        case = _parse_case(data.get("case"), where, problems)
    elif kind == "venues":
        venue_list = _parse_venues(data, where, problems)
    article = Article(
        id=article_id.strip(),
        kind=kind,
        status=_text_of(data.get("status")),
        checked=checked,
        sources=_parse_sources(data.get("sources")),
        related=_string_list(data.get("related")),
        texts=texts,
        sanction=sanction,
        case=case,
        venue_list=venue_list,
        path=file_path,
    )
    if raw_checked is not None and checked is None:
        problems.append(f"{where}: checked {raw_checked!r} is not a date (YYYY-MM-DD)")
    return article


def _parse_case(value: Any, where: str, problems: list[str]) -> CaseInfo | None:
    if not isinstance(value, dict):
        problems.append(f"{where}: cases need a 'case' mapping")
        return None
    people_raw = value.get("people")
    people = {
        lang: _string_list(people_raw.get(lang)) if isinstance(people_raw, dict) else ()
        for lang in LANGUAGES
    }
    article_ref = value.get("article")
    return CaseInfo(
        date=_date_string(value.get("date")),
        date_uncertain=bool(value.get("date_uncertain", False)),
        city=_text_of(value.get("city")),
        article=_text_of(article_ref) or None,
        people=people,
    )


def _parse_venues(data: dict[str, Any], where: str, problems: list[str]) -> VenueList:
    venues = []
    raw_venues = data.get("venues")
    if raw_venues is None:
        raw_venues = []
    if not isinstance(raw_venues, list):
        problems.append(f"{where}: 'venues' must be a list")
        raw_venues = []
    for index, item in enumerate(raw_venues):
        if not isinstance(item, dict):
            problems.append(f"{where}: venue #{index + 1} is not a mapping")
            continue
        venue = _parse_venue(item, f"{where}: venue #{index + 1}", problems)
        if venue is not None:
            venues.append(venue)
    city_name = _localized(data.get("city_name")) or Localized("", "", "")
    return VenueList(city=_text_of(data.get("city")), city_name=city_name, venues=tuple(venues))


def _parse_venue(item: dict[str, Any], where: str, problems: list[str]) -> Venue | None:
    try:
        lat = float(item.get("lat"))  # type: ignore[arg-type]
        lon = float(item.get("lon"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        problems.append(f"{where}: lat/lon must be numbers")
        return None
    capacity_raw = item.get("capacity")
    capacity = capacity_raw if isinstance(capacity_raw, int) else None
    if capacity_raw is not None and capacity is None:
        problems.append(f"{where}: capacity must be a whole number or null")
    valid_from = _date_string(item.get("valid_from")) or None
    valid_until = _date_string(item.get("valid_until")) or None
    return Venue(
        id=_text_of(item.get("id")),
        name=_localized(item.get("name")) or Localized("", "", ""),
        address=_localized(item.get("address")) or Localized("", "", ""),
        lat=lat,
        lon=lon,
        coords_approximate=bool(item.get("coords_approximate", True)),
        capacity=capacity,
        forms=_string_list(item.get("forms")),
        route=bool(item.get("route", False)),
        decision=_localized(item.get("decision")),
        valid_from=valid_from,
        valid_until=valid_until,
        status=_text_of(item.get("status")) or "confirmed",
    )


def _parse_mci(data: dict[str, Any], file_path: Path, where: str, problems: list[str]) -> MciTable:
    years = []
    raw_years = data.get("years")
    if not isinstance(raw_years, list):
        problems.append(f"{where}: 'years' must be a list")
        raw_years = []
    for index, item in enumerate(raw_years):
        if not isinstance(item, dict) or not isinstance(item.get("year"), int):
            problems.append(f"{where}: entry #{index + 1} needs an integer 'year'")
            continue
        periods = []
        raw_values = item.get("values")
        if not isinstance(raw_values, list):
            raw_values = []
        for value_item in raw_values:
            start = _parse_date(value_item.get("from")) if isinstance(value_item, dict) else None
            value = value_item.get("value") if isinstance(value_item, dict) else None
            if start is None or not isinstance(value, int) or isinstance(value, bool):
                problems.append(
                    f"{where}: {item['year']}: each value needs 'from' (a date) and an integer"
                    " 'value'"
                )
                continue
            periods.append(MciPeriod(start=start, value=value))
        years.append(
            MciYear(
                year=item["year"],
                status=_text_of(item.get("status")) or "confirmed",
                periods=tuple(periods),
                note=_localized(item.get("note")),
                sources=_parse_sources(item.get("sources")),
            )
        )
    raw_checked = data.get("checked")
    checked = _parse_date(raw_checked)
    if checked is None:
        problems.append(f"{where}: checked {raw_checked!r} is not a date (YYYY-MM-DD)")
    return MciTable(checked=checked, years=tuple(years), path=file_path)


def validate(kb: KnowledgeBase) -> list[str]:
    """Every problem in the loaded content, as human-readable lines (empty when all is well)."""
    problems: list[str] = []
    venue_owner: dict[str, str] = {}
    for key, article in sorted(kb.articles.items()):
        where = _where(kb, article)
        if key != article.id:
            problems.append(f"{where}: indexed as {key!r} but its id is {article.id!r}")
        problems.extend(f"{where}: {problem}" for problem in _article_problems(kb, article))
        if article.venue_list is not None:
            for venue in article.venue_list.venues:
                if venue.id in venue_owner:
                    problems.append(
                        f"{where}: venue id {venue.id!r} is already used in {venue_owner[venue.id]}"
                    )
                venue_owner.setdefault(venue.id, article.id)
    if kb.mci is not None:
        problems.extend(f"{MCI_FILE_NAME}: {problem}" for problem in _mci_problems(kb.mci))
    return problems


def _where(kb: KnowledgeBase, article: Article) -> str:
    if article.path is not None and kb.root is not None:
        try:
            return str(article.path.relative_to(kb.root))
        except ValueError:
            return str(article.path)
    return article.id


def _article_problems(kb: KnowledgeBase, article: Article) -> list[str]:
    problems = []
    if not _ID_PATTERN.match(article.id):
        problems.append(f"id {article.id!r} is not lower-case kebab-case")
    if len(article.id) > MAX_ID_LENGTH:
        problems.append(f"id {article.id!r} is longer than {MAX_ID_LENGTH} characters")
    if article.path is not None and article.path.stem != article.id:
        problems.append(f"id {article.id!r} differs from the file name {article.path.name!r}")
    if article.kind not in KINDS:
        problems.append(f"kind {article.kind!r} is not one of {', '.join(KINDS)}")
    elif article.path is not None and article.path.parent.name != article.kind:
        problems.append(f"kind {article.kind!r} is stored in folder {article.path.parent.name!r}")
    if article.status not in STATUSES:
        problems.append(f"status {article.status!r} is not one of {', '.join(STATUSES)}")
    if article.checked is None:
        problems.append("checked is missing or not a date (YYYY-MM-DD)")
    for lang in LANGUAGES:
        text = article.texts.get(lang)
        if text is None:
            problems.append(f"language {lang} is missing")
            continue
        if not text.title:
            problems.append(f"{lang}.title is empty")
        if not text.body:
            problems.append(f"{lang}.body is empty")
        elif len(text.lead) > MAX_LEAD_LENGTH:
            problems.append(
                f"{lang}: the first paragraph (the direct answer) has {len(text.lead)} characters;"
                f" keep it under {MAX_LEAD_LENGTH}"
            )
        if len(text.questions) < MIN_QUESTIONS:
            problems.append(f"{lang}.questions needs at least {MIN_QUESTIONS} sample questions")
        if article.uncertain and UNCERTAIN_MARK not in text.body:
            problems.append(
                f"{lang}: an uncertain article marks the uncertain statement with {UNCERTAIN_MARK}"
            )
    problems.extend(_cross_language_problems(article))
    problems.extend(_source_problems(article.sources))
    registered = kb.cache.get("registered_urls")
    if registered is not None:
        for source in article.sources:
            if source.url and source.url not in registered:
                problems.append(f"source {source.url} is not in {SOURCES_FILE_NAME}")
    for related_id in article.related:
        if related_id == article.id:
            problems.append("related lists the article itself")
        elif related_id not in kb.articles:
            problems.append(f"related id {related_id!r} does not exist")
    if article.kind == "sanctions":
        problems.extend(_sanction_problems(article.sanction))
    if article.kind == "cases":
        problems.extend(_case_problems(kb, article.case))
    if article.kind == "venues":
        problems.extend(_venue_list_problems(article))
    return problems


def _source_problems(sources: tuple[Source, ...]) -> list[str]:
    if not sources:
        return ["needs at least one source"]
    problems = []
    for number, source in enumerate(sources, start=1):
        missing = [name for name in ("url", "title", "date") if not getattr(source, name)]
        if missing:
            problems.append(f"source #{number} lacks {', '.join(missing)}")
        elif not source.url.startswith(("http://", "https://")):
            problems.append(f"source #{number} url {source.url!r} is not an http(s) address")
        elif _is_home_page(source.url):
            problems.append(
                f"source #{number} {source.url} is a site's home page: cite the document"
            )
        if source.date and not _SOURCE_DATE_PATTERN.match(source.date):
            problems.append(
                f"source #{number} date {source.date!r} is not YYYY-MM-DD, YYYY-MM, YYYY or n.d."
            )
    return problems


_LANGUAGE_SEGMENTS = {"en", "eng", "ru", "rus", "kk", "kz", "kaz", "amp", "index.html"}


def _is_home_page(url: str) -> bool:
    """A site's front page ("https://adilet.zan.kz/rus", "https://cabar.asia/en") names no
    document: nothing in it can be checked."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s and s.lower() not in _LANGUAGE_SEGMENTS]
    return not segments and not parts.query


def numbers_in(text: str) -> list[str]:
    """The numbers a text states, written the same way in every language ("10 000" → "10000")."""
    found = []
    for match in _NUMBER.finditer(text):
        value = re.sub(r"[ \u00a0\u202f]", "", match.group())
        if re.fullmatch(r"\d{1,3}(,\d{3})+", value):
            value = value.replace(",", "")
        found.append(value.replace(",", "."))
    return sorted(found)


def _cross_language_problems(article: Article) -> list[str]:
    """The three languages of an article state the same numbers (days, years, articles,
    amounts) and flag the same number of uncertain statements."""
    if not all(lang in article.texts for lang in LANGUAGES):
        return []
    problems = []
    facts = {
        lang: numbers_in(f"{article.texts[lang].title}\n{article.texts[lang].body}")
        for lang in LANGUAGES
    }
    marks = {lang: article.texts[lang].body.count(UNCERTAIN_MARK) for lang in LANGUAGES}
    for lang in ("kk", "ru"):
        if facts[lang] != facts["en"]:
            missing = sorted(set(facts["en"]) - set(facts[lang]))
            extra = sorted(set(facts[lang]) - set(facts["en"]))
            problems.append(
                f"{lang} and en state different numbers (only in en: {missing or '-'};"
                f" only in {lang}: {extra or '-'}; or a number appears a different count)"
            )
        if marks[lang] != marks["en"]:
            problems.append(
                f"{lang} flags {marks[lang]} uncertain statement(s) with {UNCERTAIN_MARK},"
                f" en flags {marks['en']}"
            )
    return problems


def content_warnings(kb: KnowledgeBase, today: date, max_age_days: int) -> list[str]:
    """What an editor should look at but does not stop the bot: stale checks, undated sources."""
    warnings = []
    for article in sorted(kb.articles.values(), key=lambda a: a.id):
        where = _where(kb, article)
        if article.checked is not None and (today - article.checked).days > max_age_days:
            age = (today - article.checked).days
            warnings.append(f"{where}: checked {article.checked} ({age} days ago); check it again")
        for source in article.sources:
            if source.date == "n.d.":
                warnings.append(f"{where}: source {source.url} has no date")
    return warnings


def _sanction_problems(sanction: SanctionInfo | None) -> list[str]:
    if sanction is None:
        return ["sanctions need 'code' and 'article'"]
    if not sanction.code and not sanction.article:
        return []  # a general sanctions topic (the MCI, fine reductions …), not one article
    problems = []
    if sanction.code not in SANCTION_CODES:
        problems.append(f"code {sanction.code!r} is not one of {', '.join(SANCTION_CODES)}")
    if not sanction.article:
        problems.append("sanctions need an 'article' number")
    return problems


def _case_problems(kb: KnowledgeBase, case: CaseInfo | None) -> list[str]:
    if case is None:
        return []  # already reported while parsing
    problems = []
    if not _CASE_DATE_PATTERN.match(case.date):
        problems.append(f"case.date {case.date!r} is not YYYY-MM-DD, YYYY-MM or YYYY")
    if not case.city:
        problems.append("case.city is missing")
    if case.article is not None:
        target = kb.articles.get(case.article)
        if target is None:
            problems.append(f"case.article {case.article!r} does not exist")
        elif target.kind != "sanctions":
            problems.append(f"case.article {case.article!r} is not a sanctions article")
    return problems


def _venue_list_problems(article: Article) -> list[str]:
    venue_list = article.venue_list
    if venue_list is None:
        return ["venues need 'city', 'city_name' and 'venues'"]
    problems = []
    if not venue_list.city:
        problems.append("city is missing")
    elif article.id != f"venues-{venue_list.city}":
        problems.append(f"id should be 'venues-{venue_list.city}' for city {venue_list.city!r}")
    for lang, name in zip(LANGUAGES, venue_list.city_name.values(), strict=True):
        if not name:
            problems.append(f"city_name.{lang} is empty")
    for venue in venue_list.venues:
        problems.extend(f"venue {venue.id or '?'}: {p}" for p in _venue_problems(venue))
    return problems


def _venue_problems(venue: Venue) -> list[str]:
    problems = []
    if not venue.id or not _ID_PATTERN.match(venue.id):
        problems.append("id is missing or not kebab-case")
    if not (KZ_LAT[0] <= venue.lat <= KZ_LAT[1] and KZ_LON[0] <= venue.lon <= KZ_LON[1]):
        problems.append(f"coordinates {venue.lat}, {venue.lon} are outside Kazakhstan")
    for field_name in ("name", "address"):
        localized: Localized = getattr(venue, field_name)
        for lang, value in zip(LANGUAGES, localized.values(), strict=True):
            if not value:
                problems.append(f"{field_name}.{lang} is empty")
    bad_forms = [form for form in venue.forms if form not in ASSEMBLY_FORMS]
    if bad_forms:
        problems.append(f"forms {bad_forms} are not among {', '.join(ASSEMBLY_FORMS)}")
    if venue.status not in STATUSES:
        problems.append(f"status {venue.status!r} is not one of {', '.join(STATUSES)}")
    if venue.capacity is not None and venue.capacity <= 0:
        problems.append("capacity must be positive")
    for field_name in ("valid_from", "valid_until"):
        value = getattr(venue, field_name)
        if value is not None and _parse_date(value) is None:
            problems.append(f"{field_name} {value!r} is not a date (YYYY-MM-DD)")
    if venue.valid_from and venue.valid_until and venue.valid_until < venue.valid_from:
        problems.append("valid_until is before valid_from")
    return problems


def _mci_problems(table: MciTable) -> list[str]:
    problems = []
    if table.checked is None:
        problems.append("checked is missing or not a date")
    seen: set[int] = set()
    previous_year = None
    for entry in table.years:
        label = str(entry.year)
        if entry.year in seen:
            problems.append(f"year {label} appears twice")
        seen.add(entry.year)
        if previous_year is not None and entry.year < previous_year:
            problems.append(f"year {label} is out of order")
        previous_year = entry.year
        if entry.status not in STATUSES:
            problems.append(f"{label}: status {entry.status!r} is not one of {', '.join(STATUSES)}")
        if not entry.periods:
            problems.append(f"{label}: needs at least one value")
        starts = [period.start for period in entry.periods]
        if starts != sorted(starts) or len(set(starts)) != len(starts):
            problems.append(f"{label}: periods are not in date order")
        for period in entry.periods:
            if period.start.year != entry.year:
                problems.append(f"{label}: period from {period.start} is not in {label}")
            if period.value <= 0:
                problems.append(f"{label}: value {period.value} must be positive")
        problems.extend(f"{label}: {problem}" for problem in _source_problems(entry.sources))
    return problems
