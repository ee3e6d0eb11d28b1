"""Designated venues: /venues → a city → its places as map pins; a location → the nearest."""

from __future__ import annotations

import html
from datetime import date

from babel.numbers import format_decimal
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.core.gazetteer import distance_km, valid_coordinates
from bot.telegram.context import JiynContext
from handlers.common.replies import answer, asked_message, send_reply
from knowledge.answer import article_reply
from knowledge.model import Article, KnowledgeBase, Venue

MENU_PATTERN = r"^menu:venues$"
CITY_PATTERN = r"^venues:city:[a-z-]+$"

NEAREST_COUNT = 3
FAR_KM = 50.0  # beyond this, say the person's town may be missing from our lists


def city_articles(knowledge: KnowledgeBase) -> list[Article]:
    """Venue articles of every city, the cities with current venues first."""
    today = date.today()
    articles = [a for a in knowledge.by_kind("venues") if a.venue_list is not None]
    return sorted(
        articles,
        key=lambda a: (not any(v.is_current(today) for v in a.venue_list.venues), a.id),
    )


def current_venues(article: Article) -> list[Venue]:
    """The city's venues in force today."""
    today = date.today()
    return [v for v in article.venue_list.venues if v.is_current(today)]


async def ask_city(update: Update, context: JiynContext) -> None:
    """Show one button per city."""
    _ = context.gettext
    if update.callback_query:
        await update.callback_query.answer()
    articles = city_articles(context.services.knowledge)
    buttons = [
        InlineKeyboardButton(
            article.venue_list.city_name.get(context.language)
            + (" ⚠️" if any(v.status != "confirmed" for v in current_venues(article)) else ""),
            callback_data=f"venues:city:{article.venue_list.city}",
        )
        for article in articles
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    await answer(
        update,
        _("Choose a city. You can also send your location to see the nearest places.")
        + "\n"
        + _("⚠️ marks a city where some places are not confirmed as designated."),
        InlineKeyboardMarkup(rows),
    )


async def _send_venue_pin(update: Update, context: JiynContext, venue: Venue, note: str) -> None:
    await update.effective_chat.send_venue(
        latitude=venue.lat,
        longitude=venue.lon,
        title=venue.name.get(context.language)[:100],
        address=note[:200],
    )


def status_label(venue: Venue, context: JiynContext) -> str:
    """How sure we are that the place is designated, for every surface that shows it."""
    _ = context.gettext
    if venue.status == "confirmed":
        return ""
    return "⚠️ " + _("designation not confirmed")


def _venue_note(venue: Venue, context: JiynContext) -> str:
    _ = context.gettext
    parts = [status_label(venue, context), venue.address.get(context.language)]
    if venue.capacity:
        parts.append(
            context.ngettext("up to {n} person", "up to {n} people", venue.capacity).format(
                n=venue.capacity
            )
        )
    if venue.coords_approximate:
        parts.append(_("pin approximate"))
    return " · ".join(p for p in parts if p)


async def show_city(update: Update, context: JiynContext) -> None:
    """Send the city's article, then each of its current venues as a map pin."""
    _ = context.gettext
    query = update.callback_query
    city = query.data.split(":", 2)[2]
    knowledge = context.services.knowledge
    article = knowledge.get(f"venues-{city}")
    if article is None or article.venue_list is None:
        await query.answer(_("This button is no longer active."))
        return
    await query.answer()
    reply = article_reply(knowledge, article.id, context.language)
    await send_reply(asked_message(update), reply)
    for venue in current_venues(article):
        await _send_venue_pin(update, context, venue, _venue_note(venue, context))


async def show_nearest(update: Update, context: JiynContext) -> None:
    """List the designated venues nearest to a shared location, with distances."""
    _ = context.gettext
    location = update.effective_message.location
    if not valid_coordinates(location.latitude, location.longitude):
        await update.effective_message.reply_html(
            _("This location can't be right. Please send it again.")
        )
        return
    today = date.today()
    candidates = [v for v in context.services.knowledge.venues if v.is_current(today)]
    if not candidates:
        await update.effective_message.reply_html(_("I have no venue list yet."))
        return
    ranked = sorted(
        ((distance_km(location.latitude, location.longitude, v.lat, v.lon), v) for v in candidates),
        key=lambda pair: pair[0],  # venues themselves are not comparable on a tie
    )[:NEAREST_COUNT]
    lines = [_("<b>Venues nearest to you</b>")]
    for distance, venue in ranked:
        line = _("• {name} — {distance} km").format(
            name=html.escape(venue.name.get(context.language), quote=False),
            distance=format_distance(distance, context.language),
        )
        label = status_label(venue, context)
        lines.append(f"{line} · {html.escape(label, quote=False)}" if label else line)
    if ranked[0][0] > FAR_KM:
        lines.append(
            _(
                "None of the places we know of is close to you. Your town's list may be missing: "
                "ask the akimat which places the maslikhat has designated."
            )
        )
    lines.append(_("Pins are approximate: check the address before you go."))
    await update.effective_message.reply_html("\n".join(lines))
    for _distance, venue in ranked:
        await _send_venue_pin(update, context, venue, _venue_note(venue, context))


def format_distance(kilometres: float, language: str) -> str:
    """A distance for people: one decimal under 10 km, whole kilometres above."""
    pattern = "#,##0.0" if kilometres < 10 else "#,##0"
    return format_decimal(kilometres, format=pattern, locale=language)
