"""How a report's place and head count read to people: the one lookup of a gazetteer key's
name in a language (bot.core.gazetteer), used by the report summary, the review cards, the
volunteer-chat alerts, the digest and the exports' labels."""

from __future__ import annotations

from collections.abc import Callable

from bot.core.gazetteer import gazetteer
from bot.core.i18n import gettext_for
from bot.core.models import UNKNOWN_PEOPLE
from bot.telegram.context import JiynContext


def city_label(
    context: JiynContext, city: str | None, language: str | None = None, town: str | None = None
) -> str:
    """The town's name in the language, from the gazetteer; a town it does not know as the
    reporter typed it."""
    return town_name(language or context.language, city, town)


def town_name(language: str, city: str | None, town: str | None = None) -> str:
    """The name of a gazetteer key in the language, or the typed town, or "another town"."""
    place = gazetteer().get(city)
    if place is not None:
        return place.name(language)
    if town:
        return town
    _ = gettext_for(language)
    return _("another town")


def people_label(_: Callable[[str], str], people: str | None) -> str:
    """How many people were detained, as the reporter gave it."""
    if people is None or people == UNKNOWN_PEOPLE:
        return _("not known")
    if people == "20+":
        return _("more than 20")
    return people.replace("-", "–")  # "2-5" reads as the button did: 2–5
