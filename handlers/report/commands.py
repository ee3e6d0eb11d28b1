"""The report journey's entries in the command menu."""

from __future__ import annotations

from bot.core.i18n import N_

COMMANDS: tuple[tuple[str, str], ...] = (
    ("report", N_("Report a detention")),
    ("myreports", N_("My reports and their status")),
)
