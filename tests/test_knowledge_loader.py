"""Loading and validating knowledge content (knowledge/loader.py, knowledge/model.py)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge.loader import CONTENT_DIR, load_knowledge, read_knowledge, validate
from knowledge.model import KnowledgeError

FIXTURES = Path(__file__).parent / "fixtures" / "knowledge"


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """A writable copy of the fixture knowledge base."""
    target = tmp_path / "content"
    shutil.copytree(FIXTURES, target)
    return target


def edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Load a YAML file, let `change` mutate it, write it back."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def problems_of(root: Path) -> list[str]:
    """Every problem read_knowledge reports for a content tree."""
    return read_knowledge(root)[1]


def test_fixture_content_loads_into_typed_records() -> None:
    kb = load_knowledge(FIXTURES)
    assert sorted(kb.articles) == [
        "case-sample-2019",
        "if-detained",
        "koap-488",
        "march-approval",
        "markup-sample",
        "notice-period",
        "venues-karaganda",
    ]
    notice = kb.articles["notice-period"]
    assert notice.kind == "rules" and notice.status == "confirmed"
    assert notice.checked == date(2026, 1, 15)
    assert notice.text("en").title == "Notice period"
    assert notice.text("kk").keywords == ("хабарлама", "мерзім", "пикет")
    assert notice.related == ("march-approval", "if-detained")
    assert notice.sources[0].date == "2020-05-25"
    assert kb.articles["koap-488"].sanction is not None
    assert kb.articles["koap-488"].sanction.article == "488"
    case = kb.articles["case-sample-2019"].case
    assert case is not None and (case.year, case.month, case.city) == (2019, 6, "karaganda")
    assert case.people["en"] == ("Assel Sarybayeva",)
    venue_list = kb.articles["venues-karaganda"].venue_list
    assert venue_list is not None and venue_list.city_name.get("ru") == "Караганда"
    assert [venue.id for venue in kb.venues] == ["karaganda-test-square", "karaganda-old-park"]


def test_venue_validity_dates() -> None:
    kb = load_knowledge(FIXTURES)
    current = [venue.id for venue in kb.venues if venue.is_current(date(2026, 1, 1))]
    assert current == ["karaganda-test-square"]
    assert all(venue.is_current(date(2021, 1, 1)) for venue in kb.venues)
    assert not any(venue.is_current(date(2019, 1, 1)) for venue in kb.venues)


def test_mci_table_values() -> None:
    table = load_knowledge(FIXTURES).mci
    assert table is not None
    assert table.value_for(2026) == 4325
    assert table.value_for(2020, date(2020, 2, 1)) == 2651
    assert table.value_for(2020, date(2020, 4, 1)) == 2778
    assert table.value_for(2020) == 2778  # no day given: the value for most of the year
    assert table.value_for(2031) is None
    assert table.year(2024) is not None and table.year(2024).status == "uncertain"


def test_fixture_content_has_no_problems() -> None:
    assert problems_of(FIXTURES) == []


def test_real_content_validates_without_problems() -> None:
    kb, problems = read_knowledge(CONTENT_DIR)
    assert problems == []
    assert validate(kb) == []
    assert len(kb.articles) > 0 and kb.mci is not None


def test_loading_is_cached_until_a_file_changes(content: Path) -> None:
    first = load_knowledge(content)
    assert load_knowledge(content) is first
    edit(content / "rules" / "notice-period.yaml", lambda d: d["en"].update(title="Changed"))
    second = load_knowledge(content)
    assert second is not first
    assert second.articles["notice-period"].text("en").title == "Changed"


def test_invalid_content_raises_with_every_problem(content: Path) -> None:
    edit(content / "rules" / "notice-period.yaml", lambda d: d.pop("en"))
    edit(content / "rules" / "march-approval.yaml", lambda d: d.update(status="maybe"))
    with pytest.raises(KnowledgeError) as raised:
        load_knowledge(content)
    problems = raised.value.problems
    assert any("notice-period.yaml: language en is missing" in p for p in problems)
    assert any("march-approval.yaml: status 'maybe'" in p for p in problems)
    assert "2 problem(s)" in str(raised.value)


ARTICLE = "rules/notice-period.yaml"

# (file, change, expected fragment of a problem)
BROKEN: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (ARTICLE, lambda d: d.pop("kk"), "language kk is missing"),
    (ARTICLE, lambda d: d["ru"].update(title=""), "ru.title is empty"),
    (ARTICLE, lambda d: d["en"].update(body="  "), "en.body is empty"),
    (ARTICLE, lambda d: d.update(sources=[]), "needs at least one source"),
    (ARTICLE, lambda d: d["sources"][0].pop("url"), "source #1 lacks url"),
    (ARTICLE, lambda d: d["sources"][0].update(title=""), "source #1 lacks title"),
    (ARTICLE, lambda d: d["sources"][0].pop("date"), "source #1 lacks date"),
    (ARTICLE, lambda d: d["sources"][0].update(date="May 2020"), "is not YYYY-MM-DD"),
    (ARTICLE, lambda d: d["sources"][0].update(url="example.org"), "not an http(s) address"),
    (ARTICLE, lambda d: d.update(id="notice-periods"), "differs from the file name"),
    (ARTICLE, lambda d: d.update(related=["no-such-article"]), "'no-such-article' does not"),
    (ARTICLE, lambda d: d.update(kind="news"), "kind 'news' is not one of"),
    (ARTICLE, lambda d: d.update(kind="rights"), "is stored in folder 'rules'"),
    (ARTICLE, lambda d: d.update(status="draft"), "status 'draft' is not one of"),
    (ARTICLE, lambda d: d.update(checked="2026-13-45"), "is not a date"),
    (ARTICLE, lambda d: d.pop("checked"), "checked is missing"),
    ("sanctions/koap-488.yaml", lambda d: d.update(code="ukk"), "code 'ukk' is not one of"),
    ("cases/case-sample-2019.yaml", lambda d: d["case"].update(article="koap-999"), "koap-999"),
    ("cases/case-sample-2019.yaml", lambda d: d["case"].update(date="June 2019"), "case.date"),
    (
        "venues/venues-karaganda.yaml",
        lambda d: d["venues"][0].update(lat=60.1),
        "are outside Kazakhstan",
    ),
    (
        "venues/venues-karaganda.yaml",
        lambda d: d["venues"][0].update(lon=40.0),
        "are outside Kazakhstan",
    ),
    (
        "venues/venues-karaganda.yaml",
        lambda d: d["venues"][1].update(id="karaganda-test-square"),
        "venue id 'karaganda-test-square' is already used",
    ),
    (
        "venues/venues-karaganda.yaml",
        lambda d: d["venues"][0].update(forms=["flashmob"]),
        "forms ['flashmob']",
    ),
    (
        "venues/venues-karaganda.yaml",
        lambda d: d.update(city="astana"),
        "should be 'venues-astana'",
    ),
    ("mci.yaml", lambda d: d["years"].append(dict(d["years"][0])), "year 2020 appears twice"),
    ("mci.yaml", lambda d: d["years"].reverse(), "out of order"),
    (
        "mci.yaml",
        lambda d: d["years"][0]["values"].reverse(),
        "2020: periods are not in date order",
    ),
    (
        "mci.yaml",
        lambda d: d["years"][1]["values"][0].update({"from": "2023-12-01"}),
        "period from 2023-12-01 is not in 2024",
    ),
    ("mci.yaml", lambda d: d["years"][2]["values"][0].update(value=-5), "must be positive"),
    ("mci.yaml", lambda d: d["years"][2].update(sources=[]), "2026: needs at least one source"),
    ("mci.yaml", lambda d: d["years"][2].update(status="guess"), "status 'guess'"),
]


@pytest.mark.parametrize(("relative", "change", "expected"), BROKEN)
def test_each_problem_is_detected(
    content: Path, relative: str, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    assert problems_of(content) == []
    edit(content / relative, change)
    problems = problems_of(content)
    assert any(expected in problem for problem in problems), problems


def test_duplicate_ids_are_detected(content: Path) -> None:
    shutil.copy(content / ARTICLE, content / "rules" / "notice-copy.yaml")
    problems = problems_of(content)
    assert any("id 'notice-period' is already used" in p for p in problems), problems


def test_long_and_badly_formed_ids_are_detected(content: Path) -> None:
    long_id = "a-very-long-article-id-that-goes-on-and-on-and-on"
    shutil.move(content / ARTICLE, content / "rules" / f"{long_id}.yaml")
    edit(content / "rules" / f"{long_id}.yaml", lambda d: d.update(id=long_id))
    shutil.move(
        content / "rules" / "march-approval.yaml", content / "rules" / "March_Approval.yaml"
    )
    edit(content / "rules" / "March_Approval.yaml", lambda d: d.update(id="March_Approval"))
    problems = problems_of(content)
    assert any("is longer than 40 characters" in p for p in problems), problems
    assert any("'March_Approval' is not lower-case kebab-case" in p for p in problems), problems


def test_yaml_syntax_errors_are_reported(content: Path) -> None:
    (content / "rules" / "broken.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    problems = problems_of(content)
    assert any(p.startswith("rules/broken.yaml: not valid YAML") for p in problems), problems


def test_general_sanctions_topics_need_no_article_number(content: Path) -> None:
    edit(content / "sanctions" / "koap-488.yaml", lambda d: d.update(code=None, article=None))
    assert problems_of(content) == []


# -- rules that keep the content no stronger than its sources ----------------------------------


def test_the_three_languages_must_state_the_same_numbers(content: Path) -> None:
    path = content / "rules" / "notice-period.yaml"
    edit(path, lambda d: d["ru"].update(body=d["ru"]["body"].replace("5", "3")))
    found = problems_of(content)
    assert any("ru and en state different numbers" in p and "'5'" in p for p in found), found
    assert not any(p.startswith("rules/notice-period.yaml: kk and en") for p in found)


def test_a_number_written_with_a_thousands_separator_is_the_same_number() -> None:
    from knowledge.loader import numbers_in

    assert numbers_in("129 750 тенге, 2026") == numbers_in("129,750 tenge, 2026")
    assert numbers_in("ст. 488 ч. 6") == numbers_in("Art. 488 p. 6") == ["488", "6"]


def test_an_uncertain_article_flags_its_uncertain_statement_in_every_language(
    content: Path,
) -> None:
    path = content / "rules" / "march-approval.yaml"
    edit(path, lambda d: d["kk"].update(body=d["kk"]["body"].replace("[?]", "")))
    found = problems_of(content)
    assert any("march-approval.yaml: kk: an uncertain article marks" in p for p in found)
    assert any("kk flags 0 uncertain statement(s)" in p for p in found)


def test_a_sites_home_page_is_not_a_source(content: Path) -> None:
    for url in ("https://adilet.zan.kz/rus", "https://cabar.asia/en/", "https://example.org"):
        path = content / "rules" / "notice-period.yaml"
        edit(path, lambda d, url=url: d["sources"][0].update(url=url))
        assert any(
            "notice-period.yaml: source #1" in p and "home page" in p
            for p in problems_of(content)
        ), url
    assert not any("home page" in p for p in problems_of(FIXTURES))


def test_every_source_is_in_the_register_with_three_languages(content: Path) -> None:
    register = content / "sources.yaml"
    edit(register, lambda d: d["sources"].pop(0))  # https://example.org/code/488
    edit(register, lambda d: d["sources"][0]["title"].pop("kk"))
    found = problems_of(content)
    assert any("koap-488.yaml: source https://example.org/code/488 is not in" in p for p in found)
    assert any("sources.yaml" in p and "title needs kk, ru and en" in p for p in found)


def test_the_register_gives_titles_and_publishers_in_each_language() -> None:
    kb = load_knowledge(FIXTURES)
    [source] = kb.articles["notice-period"].sources
    assert source.title_in("kk") == "Мысал заң, хабарлама туралы бап"
    assert source.publisher_in("ru") == "Пример закона"


def test_each_language_needs_sample_questions_and_a_short_direct_answer(content: Path) -> None:
    path = content / "rules" / "notice-period.yaml"
    edit(path, lambda d: d["en"].update(questions=["one", "two"]))
    edit(path, lambda d: d["ru"].update(body="Длинно. " * 60 + "5"))
    found = problems_of(content)
    assert any("notice-period.yaml: en.questions needs at least 3" in p for p in found)
    assert any("notice-period.yaml: ru: the first paragraph" in p for p in found)
