"""The common entries of the command menu: first and last around the journeys' own."""

from __future__ import annotations

from bot.core.i18n import N_

FIRST: tuple[tuple[str, str], ...] = (("start", N_("Main menu")),)
LAST: tuple[tuple[str, str], ...] = (
    ("forget", N_("Delete my data")),
    ("language", N_("Change the language")),
    ("help", N_("How to use the bot")),
)
