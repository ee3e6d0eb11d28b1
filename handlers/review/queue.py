"""The review queue in a private chat: /queue with status and city filters, page by page."""

from __future__ import annotations

import html
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.core.db import DATABASE_ERRORS
from bot.core.gazetteer import is_city_key
from bot.services.review.workflow import (
    QUEUE_FILTERS,
)
from bot.telegram.context import JiynContext
from handlers.common.places import city_label
from handlers.review.access import authorize
from handlers.review.common import (
    QUEUE_FILTER_LABELS,
    STATUS_LABELS,
    age_label,
    edit_or_send,
    review_service,
)

log = logging.getLogger(__name__)

PAGE_SIZE = 8
QUEUE_PATTERN = r"^q:l:[a-z_]{1,10}:[a-z0-9*-]{1,32}:[0-9]{1,4}$"
# Telegram shows at most 100 buttons under a message.
MAX_CITY_BUTTONS = 90
CITY_PICKER_PATTERN = r"^q:c:[a-z_]{1,10}$"


def _queue_city(context: JiynContext, city: str) -> str | None:
    """A city filter from button data: "*" is any; unknown slugs are refused."""
    if city == "*":
        return None
    if is_city_key(city):
        return city
    raise ValueError(city)


async def _queue_view(
    context: JiynContext, viewer_id: int, status_filter: str, city: str | None, page: int
) -> tuple[str, InlineKeyboardMarkup]:
    _ = context.gettext
    service = review_service(context)
    items, total = await service.queue(status_filter, city, page * PAGE_SIZE, PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    city_name = city_label(context, city) if city else _("all cities")
    lines = [
        "<b>"
        + html.escape(
            _("Review queue: {status}, {city}").format(
                status=_(QUEUE_FILTER_LABELS[status_filter]), city=city_name
            )
        )
        + "</b>",
        html.escape(
            context.ngettext("{n} report.", "{n} reports.", total).format(n=total)
            + " "
            + _("Urgent first, then the longest waiting.")
        ),
    ]
    if not items:
        lines.append(html.escape(_("Nothing here.")))
    elif pages > 1:
        lines.append(html.escape(_("Page {page} of {pages}").format(page=page + 1, pages=pages)))
    rows: list[list[InlineKeyboardButton]] = []
    for item in items:
        label = " · ".join(
            [
                ("🚨 " if item.urgent else "") + item.code,
                city_label(context, item.city),
                age_label(_, item.created_at),
                _(STATUS_LABELS[item.status]) + (" ✋" if item.claimed_by == viewer_id else ""),
            ]
        )
        rows.append([InlineKeyboardButton(label, callback_data=f"rv:open:{item.id}")])
    city_key = city or "*"
    if pages > 1:
        previous, following = (
            f"q:l:{status_filter}:{city_key}:{number}" for number in (page - 1, page + 1)
        )
        navigation = []
        if page > 0:
            navigation.append(InlineKeyboardButton("◀", callback_data=previous))
        if page + 1 < pages:
            navigation.append(InlineKeyboardButton("▶", callback_data=following))
        rows.append(navigation)
    filters = [
        InlineKeyboardButton(
            ("• " if key == status_filter else "") + _(QUEUE_FILTER_LABELS[key]),
            callback_data=f"q:l:{key}:{city_key}:0",
        )
        for key in QUEUE_FILTERS
    ]
    rows += [filters[i : i + 4] for i in range(0, len(filters), 4)]
    rows.append(
        [
            InlineKeyboardButton(
                _("🏙 City: {city}").format(city=city_name), callback_data=f"q:c:{status_filter}"
            )
        ]
    )
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def show_queue(update: Update, context: JiynContext) -> None:
    """/queue: open reports, urgent first, then the longest waiting."""
    if await authorize(update, context, "queue") is None:
        return
    user_id = update.effective_user.id
    text, markup = await _queue_view(context, user_id, "open", None, 0)
    await update.effective_message.reply_html(text, reply_markup=markup)
    await _audit_queue(context, user_id, "open", None)


async def browse_queue(update: Update, context: JiynContext) -> None:
    """A filter or page button of the queue."""
    query = update.callback_query
    if await authorize(update, context, "queue") is None:
        return
    _prefix, _kind, status_filter, city_key, page = query.data.split(":")
    try:
        if status_filter not in QUEUE_FILTERS:
            raise ValueError(status_filter)
        city = _queue_city(context, city_key)
    except ValueError:
        await query.answer(context.gettext("This button is no longer active."))
        return
    await query.answer()
    user_id = update.effective_user.id
    text, markup = await _queue_view(context, user_id, status_filter, city, int(page))
    await edit_or_send(update, text, markup)
    await _audit_queue(context, user_id, status_filter, city)


async def pick_city(update: Update, context: JiynContext) -> None:
    """The city filter: one button per city that has reports under the status filter."""
    _ = context.gettext
    query = update.callback_query
    if await authorize(update, context, "queue") is None:
        return
    status_filter = query.data.split(":")[2]
    if status_filter not in QUEUE_FILTERS:
        await query.answer(_("This button is no longer active."))
        return
    await query.answer()
    cities = await review_service(context).queue_cities(status_filter)
    buttons = [
        InlineKeyboardButton(_("all cities"), callback_data=f"q:l:{status_filter}:*:0"),
        *(
            InlineKeyboardButton(
                city_label(context, city), callback_data=f"q:l:{status_filter}:{city}:0"
            )
            for city in cities[:MAX_CITY_BUTTONS]
        ),
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    await edit_or_send(update, html.escape(_("Choose a city:")), InlineKeyboardMarkup(rows))


async def _audit_queue(
    context: JiynContext, user_id: int, status_filter: str, city: str | None
) -> None:
    """Record the view, after it was shown: the queue holds nothing personal, so a database
    that can be read but not written (a read-only SQLite file) still shows it."""
    try:
        await context.services.access.record_audit(
            user_id, "queue", detail={"status": status_filter, "city": city}
        )
    except DATABASE_ERRORS as error:
        log.warning(
            "a queue view was not written to the audit log: the database cannot be written (%s)",
            type(error).__name__,
        )
