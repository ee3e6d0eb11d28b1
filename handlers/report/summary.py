"""The report as the person confirms it: every answer, and a button to change each."""

from __future__ import annotations

import html
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.services.report.reports import DraftData
from bot.telegram.context import JiynContext
from bot.telegram.html import clip_utf16
from handlers.common.keyboards import button
from handlers.common.places import people_label, town_name

# The summary must fit one message (4096 UTF-16 units). Every answer is shown whole up to this
# length; only the longest (what happened, up to MAX_DETAILS) can be cut, and it is stored whole.
SUMMARY_VALUE_LIMIT = 1200



def _format_when(context: JiynContext, iso: str | None) -> str:
    if not iso:
        return "—"
    moment = datetime.fromisoformat(iso).astimezone(context.services.settings.timezone)
    return moment.strftime("%d.%m.%Y %H:%M")


def summary_text(context: JiynContext, data: DraftData) -> str:
    """The whole report as the person will confirm it."""
    _ = context.gettext
    role_names = {
        "now": _("I am being detained"),
        "self": _("I was detained"),
        "witness": _("I saw a detention"),
        "relative": _("A relative or friend was detained"),
    }
    where = data.place or ""
    if data.latitude is not None and data.longitude is not None:
        where = (where + " " if where else "") + f"📍 {data.latitude:.5f}, {data.longitude:.5f}"
    contact = _("through Telegram") if data.contact == "telegram" else _("by phone")
    rows = [
        (_("Who is reporting"), role_names.get(data.role or "", "—")),
        (_("When"), _format_when(context, data.occurred_at)),
        (_("Where"), f"{where or '—'} ({town_name(context.language, data.city, data.town)})"),
        (_("How many people"), people_label(_, data.people)),
        (_("Name"), data.name or _("not known")),
        (_("Police unit"), data.police or _("not known")),
        (_("What happened"), data.details or "—"),
        (_("Photos, videos and voice messages"), str(len(data.media))),
        (_("Contact"), contact),
        (_("Volunteers may contact you"), _("yes") if data.consent else _("no")),
    ]
    title = _("Check your report")
    lines = [f"<b>{title}</b>", ""]
    lines += [
        f"<b>{html.escape(label)}:</b> {html.escape(clip_utf16(value, SUMMARY_VALUE_LIMIT))}"
        for label, value in rows
    ]
    lines += ["", _("Press a field to change it, or send the report.")]
    return "\n".join(lines)


def summary_keyboard(context: JiynContext) -> InlineKeyboardMarkup:
    """Edit buttons for every field, then send and cancel."""
    _ = context.gettext
    labels = {
        "when": _("✏️ When"),
        "where": _("✏️ Where"),
        "count": _("✏️ How many"),
        "name": _("✏️ Name"),
        "police": _("✏️ Police"),
        "details": _("✏️ What happened"),
        "media": _("✏️ Attachments"),
        "contact": _("✏️ Contact"),
    }
    edit_buttons = [
        InlineKeyboardButton(label, callback_data=f"report:edit:{field}")
        for field, label in labels.items()
    ]
    rows = [edit_buttons[i : i + 2] for i in range(0, len(edit_buttons), 2)]
    rows.append(button(_("✅ Send the report"), "report:confirm"))
    rows.append(button(_("✖️ Cancel"), "report:cancel"))
    return InlineKeyboardMarkup(rows)
