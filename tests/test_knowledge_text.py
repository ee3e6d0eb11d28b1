"""Normalisation, transliteration, stemming and language detection (knowledge/text.py)."""

from __future__ import annotations

import pytest

from knowledge.text import (
    detect_language,
    fold_kazakh,
    is_stopword,
    kazakh_latin_to_cyrillic,
    kazakh_stem_candidates,
    normalize,
    russian_latin_to_cyrillic,
    script_of,
    stem,
    tokenize,
)


def test_normalize_lowercases_and_folds_yo() -> None:
    assert normalize("ЁЛКА Ещё") == "елка еще"


def test_normalize_joins_thousands_separators() -> None:
    assert normalize("216 250 тенге, 216,250 and 1\u00a0216\u202f250") == (
        "216250 тенге, 216250 and 1216250"
    )


def test_normalize_keeps_separate_numbers_apart() -> None:
    assert normalize("2019, 2020 and 5 10") == "2019, 2020 and 5 10"


def test_tokenize_strips_punctuation_and_splits_hyphens() -> None:
    assert tokenize("Сары-Арка: «митинг»!? (488)") == ["сары", "арка", "митинг", "488"]


def test_tokenize_keeps_apostrophe_letters_and_dotted_capital_i() -> None:
    assert tokenize("S'ag'yn İstanbul") == ["s'ag'yn", "istanbul"]


def test_script_of() -> None:
    assert [script_of(t) for t in ["митинг", "rally", "2026", "әкім"]] == [
        "cyrillic",
        "latin",
        "digits",
        "cyrillic",
    ]


@pytest.mark.parametrize(
    ("latin", "cyrillic"),
    [
        ("qalai", "қалаі"),  # informal ASCII
        ("shetel", "шетел"),
        ("zhiyn", "жіын"),  # informal "i" is read as і; folding makes it meet "жиын"
        ("äkimdik", "әкімдік"),  # 2021 alphabet
        ("qatysu", "қатысу"),
        ("jınalys", "жыналыс"),
        ("ñ", "ң"),
        ("a'kimdik", "әкімдік"),  # apostrophe alphabet
        ("s'eru", "шеру"),
        ("ustap", "устап"),
    ],
)
def test_kazakh_latin_to_cyrillic(latin: str, cyrillic: str) -> None:
    assert kazakh_latin_to_cyrillic(latin) == cyrillic


def test_kazakh_latin_spellings_meet_after_folding() -> None:
    spellings = ["qalai", "qalay", "kalai", "qalaı"]
    folded = {fold_kazakh(kazakh_latin_to_cyrillic(word)) for word in spellings}
    assert folded == {fold_kazakh("қалай")}


@pytest.mark.parametrize(
    ("latin", "cyrillic"),
    [
        ("shtraf", "штраф"),
        ("miting", "митинг"),
        ("chto", "что"),
        ("zaderzhali", "задержали"),
        ("esli", "если"),
        ("uvedomlenie", "уведомление"),
        ("inostranets", "иностранец"),
        ("demonstratsiya", "демонстрация"),
        ("kakoy", "какой"),
        ("moy", "мой"),
        ("shchit", "щит"),
    ],
)
def test_russian_latin_to_cyrillic(latin: str, cyrillic: str) -> None:
    assert russian_latin_to_cyrillic(latin) == cyrillic


def test_fold_kazakh_maps_kazakh_letters_to_lookalikes() -> None:
    assert fold_kazakh("әғқңөұүһі") == "агкноуухи"
    assert fold_kazakh("өткізу") == fold_kazakh("откизу")


@pytest.mark.parametrize(
    "forms",
    [
        ["митинг", "митингке", "митингте", "митингтер", "митингі"],
        ["азамат", "азаматы", "азаматтар", "азаматтың"],
        ["әкімдік", "әкімдікке", "әкімдігі", "әкімдіктің"],
        ["айыппұл", "айыппұлы", "айыппұлды", "айыппұлдар"],
        ["ұстау", "ұстап", "ұстады", "ұстауға", "ұстаған"],
        ["хабарлама", "хабарламаға", "хабарлау"],
        ["рұқсат", "рұқсаты", "рұқсатсыз"],
        ["өткізу", "өткізуге", "откизу"],
    ],
)
def test_kazakh_stemmer_merges_word_forms(forms: list[str]) -> None:
    assert len({stem(form, "kk") for form in forms}) == 1, {f: stem(f, "kk") for f in forms}


def test_kazakh_stemmer_keeps_a_minimum_stem_length() -> None:
    assert stem("ала", "kk") == "ала"
    assert all(len(stem(word, "kk")) >= 3 for word in ["алды", "бала", "орын", "ісі"])


def test_kazakh_stemmer_respects_sound_rules() -> None:
    # "-ты" follows a voiceless consonant, never a vowel: азамат-ы is not азама-ты.
    assert stem("азаматы", "kk") == "азамат"


def test_kazakh_stem_candidates_include_every_segmentation() -> None:
    # "қатыса" is қатыс-а (converb); the greedy stem cuts it as қаты-са.
    assert stem("қатысу", "kk") in kazakh_stem_candidates("қатыса")


def test_russian_and_english_stemming() -> None:
    assert stem("митинге", "ru") == stem("митинга", "ru") == "митинг"
    assert stem("protests", "en") == stem("protesting", "en") == "protest"
    assert stem("2026", "ru") == "2026"


def test_stopwords_per_language() -> None:
    assert is_stopword("что", "ru") and not is_stopword("митинг", "ru")
    assert is_stopword("the", "en") and not is_stopword("rally", "en")
    assert is_stopword("қалай", "kk") and is_stopword("калай", "kk")
    assert is_stopword("істеймін", "kk") and not is_stopword("жастар", "kk")


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Сколько дней нужно для уведомления?", "ru"),
        ("меня задержали", "ru"),
        ("Митинг өткізу үшін не керек?", "kk"),
        ("Мени устап алды", "kk"),  # Kazakh typed without Kazakh letters
        ("Митинг откизу ушин канша кун бурын хабарлау керек", "kk"),
        ("How many days before a rally must I notify?", "en"),
        ("qalai mitingke qatysamyn", "kk"),
        ("mitingke qatysu ushin ruqsat kerek pe", "kk"),
        ("Äkımdık jauap bermese ne bolady", "kk"),
        ("shtraf za miting", "ru"),
        ("chto delat esli zaderzhali", "ru"),
        ("kak podat uvedomlenie", "ru"),
        ("ustap aldy", "kk"),
    ],
)
def test_detect_language(question: str, language: str) -> None:
    assert detect_language(question) == language


def test_detect_language_uses_a_lexicon_when_given() -> None:
    known = {("ru", "митинг"), ("ru", "площадь")}

    def lexicon(word: str, lang: str) -> bool:
        return (lang, word) in known

    # Without function words, only the lexicon tells Russian from Kazakh.
    assert detect_language("miting ploshchad", lexicon) == "ru"


def test_detect_language_defaults_to_russian_for_numbers() -> None:
    assert detect_language("488") == "ru"


def test_a_word_english_knows_is_no_sign_of_translit() -> None:
    known = {("en", "picket"), ("en", "kokshetau"), ("ru", "пикет"), ("ru", "кокшетау")}
    known |= {("ru", "макс")}  # a first name in a Russian case: "max" read as Russian

    def lexicon(word: str, lang: str) -> bool:
        return (lang, word) in known

    assert detect_language("Kokshetau picket max duration", lexicon) == "en"
