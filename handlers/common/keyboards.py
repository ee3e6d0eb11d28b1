"""Inline keyboards shared by several journeys. Callback data is prefixed: "menu:ask"."""

from __future__ import annotations

from collections.abc import Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.i18n import LANGUAGE_NAMES, LANGUAGES


def main_menu(_: Callable[[str], str]) -> InlineKeyboardMarkup:
    """The topic menu shown by /start and after anything unexpected."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(_("❓ Ask a question"), callback_data="menu:ask")],
            [InlineKeyboardButton(_("📍 Where to hold an assembly"), callback_data="menu:venues")],
            [InlineKeyboardButton(_("⚖️ If you are detained"), callback_data="menu:rights")],
            [InlineKeyboardButton(_("🚨 Report a detention"), callback_data="menu:report")],
            [InlineKeyboardButton(_("🌐 Language"), callback_data="menu:language")],
        ]
    )


def language_picker() -> InlineKeyboardMarkup:
    """One button per supported language, each named in its own language."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(LANGUAGE_NAMES[code], callback_data=f"lang:set:{code}")]
            for code in LANGUAGES
        ]
    )


def button(label: str, data: str) -> list[InlineKeyboardButton]:
    """A row of one inline button."""
    return [InlineKeyboardButton(label, callback_data=data)]
