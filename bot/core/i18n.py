"""Gettext catalogs compiled in memory from locales/*/LC_MESSAGES/*.po, and locale choice."""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES_DIR = Path(__file__).resolve().parents[2] / "locales"
LANGUAGES: tuple[str, ...] = ("kk", "ru", "en")
DEFAULT_LANGUAGE = "ru"
LANGUAGE_NAMES = {"kk": "Қазақша", "ru": "Русский", "en": "English"}


def N_(message: str) -> str:
    """Mark a string for extraction without translating it here."""
    return message


def normalize_language(code: str | None) -> str | None:
    """Map a Telegram language_code such as 'ru-RU' or 'kk' to a supported language."""
    if not code:
        return None
    base = code.replace("_", "-").split("-", 1)[0].lower()
    return base if base in LANGUAGES else None


def choose_language(saved: str | None, telegram_code: str | None, default: str) -> str:
    """The user's saved choice, else Telegram's language_code if supported, else the default."""
    return normalize_language(saved) or normalize_language(telegram_code) or default


def _compile(po_path: Path, locale: str) -> Translations:
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer)


@cache
def get_translations(language: str) -> gettext.NullTranslations:
    """All catalogs of one language merged; compiled from .po at first use (no manual step)."""
    folder = LOCALES_DIR / language / "LC_MESSAGES"
    merged: Translations | None = None
    for po_path in sorted(folder.glob("*.po")):
        compiled = _compile(po_path, language)
        if merged is None:
            merged = compiled
        else:
            merged.merge(compiled)
    return merged if merged is not None else gettext.NullTranslations()


def gettext_for(language: str) -> Callable[[str], str]:
    """The gettext function of a language."""
    return get_translations(language).gettext


def ngettext_for(language: str) -> Callable[[str, str, int], str]:
    """The ngettext function of a language."""
    return get_translations(language).ngettext
