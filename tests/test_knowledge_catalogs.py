"""The answer composer's interface strings are in the kk, ru and en catalogs (answers.po)."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from bot.core.i18n import gettext_for, ngettext_for

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "knowledge" / "answer.py"]
PLURAL_FORMS = {
    "kk": "nplurals=2; plural=(n != 1);",
    "en": "nplurals=2; plural=(n != 1);",
    "ru": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && "
    "(n%100<10 || n%100>=20) ? 1 : 2);",
}
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


def extracted() -> set[str | tuple[str, str]]:
    """Every message the source passes to _() or ngettext() literally."""
    messages: set[str | tuple[str, str]] = set()
    for path in SOURCES:
        for _lineno, message, _comments, _context in extract_from_file(
            "python", str(path), keywords=KEYWORDS
        ):
            messages.add(message if isinstance(message, str) else tuple(message))
    return messages


def catalog(language: str):
    """The parsed answers.po of a language."""
    path = ROOT / "locales" / language / "LC_MESSAGES" / "answers.po"
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def test_sources_use_translatable_strings() -> None:
    messages = extracted()
    assert "Sources:" in messages
    assert ("…and {count} more source", "…and {count} more sources") in messages


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_every_message_is_translated(language: str) -> None:
    po = catalog(language)
    assert po.locale is not None and str(po.locale) == language
    assert po.plural_forms == PLURAL_FORMS[language]
    for message in extracted():
        key = message if isinstance(message, str) else message[0]
        entry = po.get(key)
        assert entry is not None, f"{language}: missing {key!r}"
        assert not entry.fuzzy, f"{language}: fuzzy {key!r}"
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        assert all(strings), f"{language}: untranslated {key!r}"
        if language == "en":
            expected = message if isinstance(message, tuple) else (message,)
            assert strings == expected[: len(strings)]


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_placeholders_survive_translation(language: str) -> None:
    po = catalog(language)
    for message in extracted():
        key = message if isinstance(message, str) else message[0]
        strings = po[key].string
        for translated in strings if isinstance(strings, tuple) else (strings,):
            assert set(_fields(translated)) == set(_fields(key)), (language, key)


def _fields(text: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


def test_catalogs_are_loaded_by_the_bot() -> None:
    assert gettext_for("ru")("Sources:") == "Источники:"
    assert gettext_for("kk")("Report a detention") == "Ұстау туралы хабарлау"
    plural = ngettext_for("ru")
    one, few, many = "…and {count} more source", "…and {count} more sources", 5
    assert plural(one, few, 1) == "…и ещё {count} источник"
    assert plural(one, few, 3) == "…и ещё {count} источника"
    assert plural(one, few, many) == "…и ещё {count} источников"
