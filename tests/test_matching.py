"""Typed answers and towns: the matcher and the gazetteer on the spellings people use."""

from __future__ import annotations

import json
import math

import pytest

from bot.core.gazetteer import DATA_FILE, PLACE_RADIUS_KM, gazetteer, valid_coordinates
from bot.core.matching import Answers, fold, words
from handlers.report.steps import (
    COUNT_ANSWERS,
    ROLE_ANSWERS,
    SKIP_ANSWERS,
    SUMMARY_ANSWERS,
    WHEN_ANSWERS,
    YES_NO_ANSWERS,
    parse_people,
)
from knowledge.loader import load_knowledge

# The nine cities with venue files: their keys are stored in reports and must never change.
VENUE_CITIES = (
    "almaty", "astana", "shymkent", "uralsk", "atyrau", "kokshetau", "kyzylorda",
    "taldykorgan", "turkestan",
)  # fmt: skip


def test_scripts_and_transliterations_fold_together() -> None:
    assert fold("Алматы") == fold("Almaty") == fold("Almatı") == fold("ALMATY")
    assert fold("Жаңаөзен") == fold("Жанаозен") == fold("Zhanaozen") == fold("Janaozen")
    assert fold("Ақтөбе") == fold("Aqtöbe") == fold("Aktobe")
    assert fold("Шымкент") == fold("Shymkent")
    assert words("Алматы, площадь Республики!") == ["almati", "ploshad", "respubliki"]


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Алматы", "almaty"),
        ("almaty", "almaty"),
        ("Алматыда", "almaty"),
        ("Алматы, площадь Республики", "almaty"),
        ("в Алмате", "almaty"),
        ("Жанаозен", "zhanaozen"),
        ("Жаңаөзенде", "zhanaozen"),
        ("Zhanaozen", "zhanaozen"),
        ("Усть-Каменогорск", "oskemen"),
        ("Өскеменде", "oskemen"),
        ("Уральске", "uralsk"),
        ("Oral", "uralsk"),
        ("Қарағандыда", "karaganda"),
        ("Караганды", "karaganda"),
        ("Караганада", "karaganda"),  # a typo
        ("Петропавловск", "petropavl"),
        ("Семипалатинск", "semey"),
        ("Кульсары", "kulsary"),
        ("Актау, 14 мкр", "aktau"),
        ("Nur-Sultan", "astana"),
        ("Капшагай", "konaev"),
        ("Каскелен", "kaskelen"),
    ],
)
def test_typed_towns_are_found_in_the_gazetteer(typed: str, key: str) -> None:
    place = gazetteer().find(typed)
    assert place is not None and place.key == key, (typed, place)


@pytest.mark.parametrize("typed", ["Ойжайлау", "Paris", "asdf", "у нас в ауле", "?!"])
def test_unknown_towns_are_not_guessed(typed: str) -> None:
    assert gazetteer().find(typed) is None


def test_the_gazetteer_covers_the_country_with_three_names_each() -> None:
    places = gazetteer().places
    assert len(places) > 300
    for key in VENUE_CITIES:
        assert key in places
    main = {place.key for place in gazetteer().main_places("kk")}
    # Every region centre and city of republican significance is a button.
    assert main == {
        "almaty", "astana", "shymkent", "aktau", "aktobe", "atyrau", "karaganda",
        "kokshetau", "konaev", "kostanay", "kyzylorda", "uralsk", "oskemen", "pavlodar",
        "petropavl", "semey", "taldykorgan", "taraz", "turkestan", "zhezkazgan",
    }  # fmt: skip
    for place in places.values():
        assert all(place.names[lang].strip() for lang in ("kk", "ru", "en"))
        if place.latitude is None or place.longitude is None:
            assert place.key == "koyandy"  # found by name only
            continue
        assert valid_coordinates(place.latitude, place.longitude)
        assert 40 <= place.latitude <= 56 and 46 <= place.longitude <= 88, place.key
    assert places["zhanaozen"].names == {"kk": "Жаңаөзен", "ru": "Жанаозен", "en": "Zhanaozen"}
    assert "GeoNames" in json.loads(DATA_FILE.read_text(encoding="utf-8"))["source"]


def test_every_town_of_the_knowledge_base_is_in_the_gazetteer() -> None:
    knowledge = load_knowledge()
    cities = {a.case.city for a in knowledge.by_kind("cases") if a.case is not None}
    cities |= {a.venue_list.city for a in knowledge.by_kind("venues") if a.venue_list}
    assert cities - {"multiple", "nationwide"} <= set(gazetteer().places)
    assert gazetteer().find("Қоянды ауылы").key == "koyandy"  # type: ignore[union-attr]


def test_venue_cities_have_the_venue_articles_names() -> None:
    knowledge = load_knowledge()
    for article in knowledge.by_kind("venues"):
        if article.venue_list is None:
            continue
        place = gazetteer().get(article.venue_list.city)
        assert place is not None, article.id
        for language in ("kk", "ru", "en"):
            assert place.name(language) == article.venue_list.city_name.get(language)


def test_nearest_settlement_and_points_outside_the_country() -> None:
    place, distance = gazetteer().nearest(43.35, 52.86)  # type: ignore[misc]
    assert place.key == "zhanaozen" and distance < 2
    assert gazetteer().nearest(55.7558, 37.6173) is None  # Moscow
    for latitude, longitude in ((math.inf, 50.0), (math.nan, 50.0), (43.0, -math.inf), (91, 0)):
        assert not valid_coordinates(latitude, longitude)
        assert gazetteer().nearest(latitude, longitude) is None
    assert PLACE_RADIUS_KM >= 50


@pytest.mark.parametrize(
    ("answers", "typed", "key"),
    [
        (ROLE_ANSWERS, "Я видел задержание", "witness"),
        (ROLE_ANSWERS, "Мен көрдім", "witness"),
        (ROLE_ANSWERS, "Задержали моего брата", "relative"),
        (ROLE_ANSWERS, "Ағамды ұстап әкетті", "relative"),
        (ROLE_ANSWERS, "my sister was detained", "relative"),
        (ROLE_ANSWERS, "меня задержали вчера", "self"),
        (ROLE_ANSWERS, "I was detained", "self"),
        (ROLE_ANSWERS, "Меня задерживают!!!", "now"),
        (ROLE_ANSWERS, "мені ұстап жатыр", "now"),
        (WHEN_ANSWERS, "прямо сейчас", "now"),
        (WHEN_ANSWERS, "бүгін", "today"),
        (WHEN_ANSWERS, "yesterday", "custom"),
        (YES_NO_ANSWERS, "Да, конечно", "yes"),
        (YES_NO_ANSWERS, "иә", "yes"),
        (YES_NO_ANSWERS, "жоқ", "no"),
        (YES_NO_ANSWERS, "no thanks", "no"),
        (SUMMARY_ANSWERS, "Отправить", "confirm"),
        (SUMMARY_ANSWERS, "жіберу", "confirm"),
        (SUMMARY_ANSWERS, "изменить имя", "name"),
        (COUNT_ANSWERS, "несколько человек", "2-5"),
        (COUNT_ANSWERS, "көп", "20+"),
        (COUNT_ANSWERS, "не знаю", "unknown"),
    ],
)
def test_typed_answers_mean_their_button(answers: Answers, typed: str, key: str) -> None:
    assert answers.match(typed) == key


def test_unclear_answers_match_nothing() -> None:
    assert ROLE_ANSWERS.match("банан") is None
    assert YES_NO_ANSWERS.match("да нет") is None  # both: ask again
    assert WHEN_ANSWERS.match("") is None


def test_skip_is_read_only_as_the_whole_message() -> None:
    assert SKIP_ANSWERS.match("Не знаю", whole=True) == "skip"
    assert SKIP_ANSWERS.match("білмеймін", whole=True) == "skip"
    assert SKIP_ANSWERS.match("Схватили у входа, не знаю почему", whole=True) is None


@pytest.mark.parametrize(
    ("typed", "people"),
    [
        ("3", "3"),
        ("12 человек", "12"),
        ("about 7 people", "7"),
        ("٣", "3"),  # Arabic-Indic digit: a decimal digit int() reads
        ("１２", "12"),  # full-width digits
        ("2-5", "2-5"),
        ("2–5", "2-5"),
        ("6-20", "6-20"),
        ("20+", "20+"),
        ("больше 20", "20+"),
        ("один", "1"),
        ("I don't know", "unknown"),
        ("²", None),  # a digit to str.isdigit(), not a number to int()
        ("³⁴", None),
        ("0", None),
        ("100001", None),
        ("1, 2 или 3", None),
        ("a lot of people, maybe 30", "20+"),
        ("banana", None),
    ],
)
def test_counts_are_read_as_given(typed: str, people: str | None) -> None:
    assert parse_people(typed) == people
