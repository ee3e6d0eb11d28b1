"""Data out of the bot for volunteers: /export (CSV and JSON documents; personal fields only for
admins) and /stats (counts by day, city, status and outcome, with a chart)."""

from __future__ import annotations

import asyncio
import html
import io
import re
from collections.abc import Callable
from datetime import date, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update

from bot.core.dates import parse_day
from bot.core.gazetteer import gazetteer, is_city_key
from bot.core.models import ReportStatus, utcnow
from bot.services.review import export as exports
from bot.services.review import stats as statistics
from bot.services.review.access import sees_personal_exports
from bot.telegram.context import JiynContext
from handlers.common.places import city_label, people_label
from handlers.review.access import authorize
from handlers.review.common import OUTCOME_LABELS, STATUS_LABELS

EXPORT_PATTERN = r"^ex:(7|30|all)$"
STATS_PATTERN = r"^st:(7|30|90)$"
STATS_DEFAULT_DAYS = 30
STATUSES = tuple(status.value for status in ReportStatus)
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2999, 12, 31)
EXPORT_DAY_FORMATS = ("%Y-%m-%d", "%d.%m.%Y")


class ExportArguments(ValueError):
    """The /export arguments cannot be read."""


def parse_export_arguments(
    args: list[str], known_city: Callable[[str], str | None], today: date
) -> exports.ExportFilter:
    """`/export [FROM] [TO] [CITY] [STATUS]` in any order: dates as 2026-11-25 or 25.11.2026
    (from EARLIEST_DATE to LATEST_DATE), a town such as almaty or Жаңаөзен, a status such as
    verified. `known_city(word)` is the town's key, or None."""
    dates: list[date] = []
    city: str | None = None
    status: str | None = None
    for arg in args:
        word = arg.strip().lower()
        parsed = _parse_date(word)
        if parsed is not None and len(dates) < 2:
            dates.append(parsed)
        elif word in STATUSES and status is None:
            status = word
        elif city is None and (found := known_city(word)) is not None:
            city = found
        else:
            raise ExportArguments(arg)
    start = dates[0] if dates else None
    end = dates[1] if len(dates) > 1 else (today if dates else None)
    if start and end and start > end:
        start, end = end, start
    return exports.ExportFilter(start=start, end=end, city=city, status=status)


def _parse_date(word: str) -> date | None:
    parsed = parse_day(word, EXPORT_DAY_FORMATS)
    # Beyond these, a day plus the time zone leaves the calendar (year 1, year 9999).
    if parsed is not None and not EARLIEST_DATE <= parsed <= LATEST_DATE:
        raise ExportArguments(word)
    return parsed


def known_town(word: str) -> str | None:
    """The gazetteer key a /export word names: a key (almaty, zhanaozen), "other", or a town's
    name in any language (Жаңаөзен); None if it names none."""
    if is_city_key(word):
        return word
    place = gazetteer().find(word) if re.search(r"[^\W\d_]", word) else None
    return place.key if place is not None else None


async def ask_export(update: Update, context: JiynContext) -> None:
    """/export with filters exports at once; without, offers the usual periods."""
    _ = context.gettext
    role = await authorize(update, context, "export")
    if role is None:
        return
    today = utcnow().astimezone(context.services.settings.timezone).date()
    if context.args:
        try:
            selection = parse_export_arguments(context.args, known_town, today)
        except ExportArguments:
            await update.effective_message.reply_text(_export_usage(context))
            return
        await _send_export(update, context, selection, sees_personal_exports(role))
        return
    await update.effective_message.reply_text(
        _("Which reports? (Filing date.)") + "\n\n" + _export_usage(context),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(_("Last 7 days"), callback_data="ex:7"),
                    InlineKeyboardButton(_("Last 30 days"), callback_data="ex:30"),
                    InlineKeyboardButton(_("All"), callback_data="ex:all"),
                ]
            ]
        ),
    )


def _export_usage(context: JiynContext) -> str:
    _ = context.gettext
    return _(
        "Or type filters: /export 2026-11-01 2026-11-30 almaty verified (dates, a city, a status; "
        "any of them)."
    )


async def export_period(update: Update, context: JiynContext) -> None:
    """ex:7 / ex:30 / ex:all."""
    role = await authorize(update, context, "export")
    if role is None:
        return
    await update.callback_query.answer()
    period = update.callback_query.data.split(":")[1]
    today = utcnow().astimezone(context.services.settings.timezone).date()
    start = None if period == "all" else today - timedelta(days=int(period) - 1)
    selection = exports.ExportFilter(start=start, end=today if start else None)
    await _send_export(update, context, selection, sees_personal_exports(role))


async def _send_export(
    update: Update, context: JiynContext, selection: exports.ExportFilter, personal: bool
) -> None:
    _ = context.gettext
    services = context.services
    timezone = services.settings.timezone
    data = await services.exports.export(timezone, selection, personal=personal)
    generated_at = utcnow().astimezone(timezone)
    await services.access.record_audit(
        update.effective_user.id,
        "export",
        detail={"filter": selection.as_json(), "count": len(data.rows), "personal": personal},
    )
    caption = context.ngettext("{n} report", "{n} reports", len(data.rows)).format(n=len(data.rows))
    caption += " · " + (
        _("with personal data: keep the file safe and delete it when done")
        if personal
        else _("without personal data")
    )
    chat = update.effective_chat
    for extension, content in (
        ("csv", exports.csv_bytes(data)),
        ("json", exports.json_bytes(data, selection, generated_at)),
    ):
        name = exports.file_name(selection, generated_at, extension)
        await chat.send_document(
            InputFile(io.BytesIO(content), filename=name), caption=caption, filename=name
        )


async def show_stats(update: Update, context: JiynContext) -> None:
    """/stats [days] and the st:<days> buttons: counts and a chart."""
    _ = context.gettext
    if await authorize(update, context, "stats") is None:
        return
    days = STATS_DEFAULT_DAYS
    if update.callback_query is not None:
        await update.callback_query.answer()
        days = int(update.callback_query.data.split(":")[1])
    elif context.args:
        if not (
            re.fullmatch(r"[0-9]{1,3}", context.args[0])
            and 1 <= int(context.args[0]) <= statistics.MAX_DAYS
        ):
            await update.effective_message.reply_text(
                _("Type /stats or /stats 7: the number of days, at most {n}.").format(
                    n=statistics.MAX_DAYS
                )
            )
            return
        days = int(context.args[0])
    services = context.services
    collected = await services.stats.collect(services.settings.timezone, days)
    await services.access.record_audit(update.effective_user.id, "stats", detail={"days": days})
    chat = update.effective_chat
    await chat.send_message(
        _stats_text(context, collected),
        parse_mode="HTML",
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(_("7 days"), callback_data="st:7"),
                    InlineKeyboardButton(_("30 days"), callback_data="st:30"),
                    InlineKeyboardButton(_("90 days"), callback_data="st:90"),
                ]
            ]
        ),
    )
    chart = await asyncio.to_thread(
        statistics.render_chart, collected, _chart_text(context, collected)
    )
    await chat.send_photo(
        InputFile(io.BytesIO(chart), filename="jiyn-stats.png"), caption=_period(context, collected)
    )


def _period(context: JiynContext, collected: statistics.Stats) -> str:
    _ = context.gettext
    return _("Reports filed {start} – {end}").format(
        start=collected.start.strftime("%d.%m.%Y"), end=collected.end.strftime("%d.%m.%Y")
    )


def _counts(pairs: list[tuple[str, int]]) -> str:
    return " · ".join(f"{html.escape(name)} {count}" for name, count in pairs) or "—"


def _stats_text(context: JiynContext, collected: statistics.Stats) -> str:
    _ = context.gettext
    busiest = sorted(
        ((day, n) for day, n in collected.by_day.items() if n), key=lambda item: -item[1]
    )[:5]
    sections = [
        (
            _("By status"),
            [(_(STATUS_LABELS.get(k, k)), n) for k, n in collected.by_status.most_common()],
        ),
        (
            _("By city"),
            [(city_label(context, k), n) for k, n in collected.by_city.most_common()],
        ),
        (
            _("By number of people detained"),
            [(people_label(_, k), n) for k, n in collected.by_people.most_common()],
        ),
        (
            _("By outcome"),
            [(_(OUTCOME_LABELS.get(k, k)), n) for k, n in collected.by_outcome.most_common()],
        ),
        (_("Busiest days"), [(day.strftime("%d.%m"), n) for day, n in busiest]),
    ]
    lines = [
        f"<b>{html.escape(_period(context, collected))}</b>",
        html.escape(_("Total: {n}").format(n=collected.total)),
    ]
    lines += [f"<b>{html.escape(title)}:</b> {_counts(pairs)}" for title, pairs in sections]
    return "\n".join(lines)


def _chart_text(context: JiynContext, collected: statistics.Stats) -> statistics.ChartText:
    _ = context.gettext
    cities = {city: city_label(context, city) for city in collected.by_city}
    return statistics.ChartText(
        title=_("Jiyn: detention reports"),
        per_day=_("Reports per day"),
        by_status=_("By status"),
        by_city=_("By city"),
        by_outcome=_("By outcome"),
        nothing=_("no reports"),
        status_names={key: _(label) for key, label in STATUS_LABELS.items()},
        city_names=cities,
        outcome_names={key: _(label) for key, label in OUTCOME_LABELS.items()},
    )
