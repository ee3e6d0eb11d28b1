"""The ask journey's entries in the command menu."""

from __future__ import annotations

from bot.core.i18n import N_

COMMANDS: tuple[tuple[str, str], ...] = (
    ("venues", N_("Where assemblies may be held")),
    ("rights", N_("If you are detained")),
)
