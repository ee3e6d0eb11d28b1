"""Everyone's command menu (the list Telegram shows next to the input field), assembled from
the journeys' entries in this order."""

from __future__ import annotations

from handlers.ask import commands as ask
from handlers.common import commands as common
from handlers.report import commands as report

# (command, description), descriptions marked for translation.
BOT_COMMANDS: tuple[tuple[str, str], ...] = (
    *common.FIRST,
    *ask.COMMANDS,
    *report.COMMANDS,
    *common.LAST,
)
