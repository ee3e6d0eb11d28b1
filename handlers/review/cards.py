"""Volunteer review in a private chat: the report card and its actions (claim, verify, reject
with a reason, duplicate of another code, note, outcome, close, release), its media and its
history. Reasons, notes, codes and numbers are typed after pressing a button; the
question waits in the database (see handlers.review.typed_input)."""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest

from bot.core.dates import parse_day
from bot.core.models import ReportStatus, Role
from bot.services.review.records import Change, InTransaction
from bot.services.review.workflow import (
    OUTCOMES,
    Pending,
    ReportCard,
    ReviewError,
    ReviewService,
)
from bot.telegram.context import JiynContext
from bot.telegram.html import clip_utf16, utf16_len
from handlers.common.places import city_label, people_label
from handlers.review.access import authorize
from handlers.review.common import (
    OUTCOME_LABELS,
    REPORTER_ROLES,
    STATUS_LABELS,
    ReporterUpdate,
    age_label,
    edit_or_send,
    error_text,
    local_time,
    review_service,
    tell,
)

CARD_DETAILS_LIMIT = 1500
CARD_FIELD_LIMIT = 300  # UTF-16 units: name, place, police unit
CARD_TEXT_LIMIT = 3900  # below Telegram's 4096, leaving room for HTML escaping margins
CARD_NOTE_LIMIT = 300
# Button data → the access action it needs.
CARD_ACTIONS = {
    "open": "card",
    "card": "card",
    "claim": "claim",
    "release": "release",
    "verify": "verify",
    "reject": "reject",
    "dup": "duplicate",
    "note": "note",
    "out": "outcome",
    "close": "close",
    "media": "media",
    "log": "history",
}
# Report ids fit PostgreSQL's integer: at most 9 digits, ASCII only.
CARD_PATTERN = rf"^rv:({'|'.join(CARD_ACTIONS)}):[0-9]{{1,9}}$"
OUTCOME_PATTERN = r"^rv:oc:[0-9]{1,9}:(released|fined|arrested|court|unknown)$"


# ---------------------------------------------------------------- card


def _outcome_text(context: JiynContext, card: ReportCard) -> str:
    _ = context.gettext
    if card.outcome == "fined" and card.outcome_number:
        return context.ngettext("fined {n} MCI", "fined {n} MCI", card.outcome_number).format(
            n=card.outcome_number
        )
    if card.outcome == "arrested" and card.outcome_number:
        return context.ngettext(
            "arrested for {n} day", "arrested for {n} days", card.outcome_number
        ).format(n=card.outcome_number)
    if card.outcome == "court" and card.outcome_date:
        return _("court on {date}").format(date=card.outcome_date.strftime("%d.%m.%Y"))
    return _(OUTCOME_LABELS.get(card.outcome or "none", OUTCOME_LABELS["none"]))


def card_text(context: JiynContext, card: ReportCard, viewer_id: int) -> str:
    """The report as a volunteer reads it (HTML)."""
    _ = context.gettext
    unknown = _("not known")
    header = (
        ("🚨 " if card.urgent else "")
        + f"<b>{html.escape(card.code)}</b> · "
        + html.escape(_(STATUS_LABELS.get(card.status, card.status)))
    )
    where = card.place or ""
    if card.latitude is not None:
        where = (where + " " if where else "") + f"📍 {card.latitude:.5f}, {card.longitude:.5f}"
    if card.claimed_by is None:
        holder = _("nobody yet")
    elif card.claimed_by == viewer_id:
        holder = _("you")
    else:
        holder = _("another volunteer")
    if card.contact_via_telegram or not card.phone:
        contact = _("through the bot only")
    elif not card.consent:
        # The number was shared, but not the wish to be called: keep it out of sight.
        contact = _("a phone number, hidden: no consent to contact")
    else:
        contact = card.phone
    rows = [
        (_("Filed"), f"{local_time(context, card.created_at)} ({age_label(_, card.created_at)})"),
        (_("When it happened"), local_time(context, card.occurred_at)),
        (_("City"), city_label(context, card.city, town=card.town)),
        (_("Reported by"), _(REPORTER_ROLES.get(card.reporter_role, card.reporter_role))),
        (_("People detained"), people_label(_, card.people)),
    ]
    if card.purged:
        personal = []
    else:
        personal = [
            (_("Place"), clip_utf16(where or unknown, CARD_FIELD_LIMIT)),
            (_("Name"), clip_utf16(card.name or unknown, CARD_FIELD_LIMIT)),
            (_("Police unit"), clip_utf16(card.police or unknown, CARD_FIELD_LIMIT)),
            (_("What happened"), clip_utf16(card.details or "—", CARD_DETAILS_LIMIT)),
            (_("Photos, videos and voice messages"), str(len(card.media))),
            (_("Contact"), contact),
            (_("May be contacted"), _("yes") if card.consent else _("no")),
        ]
    review = [(_("Volunteer"), holder), (_("Outcome"), _outcome_text(context, card))]
    if card.duplicate_of:
        review.append((_("Duplicate of"), card.duplicate_of))
    lines = [header]
    lines += [
        f"<b>{html.escape(label)}:</b> {html.escape(value)}"
        for label, value in rows + personal + review
    ]
    if card.purged:
        lines.append(
            "<i>" + html.escape(_("Personal data of this report has been deleted.")) + "</i>"
        )
    if card.notes:
        notes_label = _("Notes")
        lines.append(f"<b>{html.escape(notes_label)}:</b>")
        used = utf16_len("\n".join(lines))
        # Newest notes first until the card would outgrow one Telegram message.
        shown: list[str] = []
        for note in reversed(card.notes):
            line = (
                f"• {html.escape(local_time(context, note.created_at))} — "
                f"{html.escape(clip_utf16(note.text, CARD_NOTE_LIMIT))}"
            )
            if used + utf16_len(line) + 1 > CARD_TEXT_LIMIT:
                shown.append("• …")
                break
            shown.append(line)
            used += utf16_len(line) + 1
        lines += reversed(shown)
    return "\n".join(lines)


def card_keyboard(
    context: JiynContext, card: ReportCard, viewer_id: int, role: Role
) -> InlineKeyboardMarkup:
    """The actions the viewer may take on the report in its current status."""
    _ = context.gettext
    admin = role == Role.ADMIN
    holder = card.claimed_by == viewer_id or admin
    status = card.status

    def button(label: str, action: str) -> InlineKeyboardButton:
        """A button for an action on this report."""
        return InlineKeyboardButton(label, callback_data=f"rv:{action}:{card.id}")

    rows: list[list[InlineKeyboardButton]] = []
    if status == ReportStatus.NEW.value:
        rows.append([button(_("✋ Claim"), "claim")])
    elif status == ReportStatus.IN_REVIEW.value:
        if admin and card.claimed_by != viewer_id:
            rows.append([button(_("✋ Take over"), "claim")])
        if holder:
            rows.append([button(_("✅ Verify"), "verify"), button(_("❌ Reject"), "reject")])
            rows.append([button(_("🔁 Duplicate"), "dup"), button(_("⚖️ Outcome"), "out")])
    elif status == ReportStatus.VERIFIED.value and holder:
        rows.append([button(_("⚖️ Outcome"), "out"), button(_("🔒 Close"), "close")])
    elif status in (ReportStatus.REJECTED.value, ReportStatus.DUPLICATE.value) and holder:
        rows.append([button(_("🔒 Close"), "close")])
    extra = [button(_("📝 Note"), "note")]
    if holder and card.may_write and status not in (ReportStatus.NEW, ReportStatus.CLOSED):
        extra.insert(0, button(_("✉️ Write to reporter"), "write"))
    rows.append(extra)
    more = []
    if not card.purged and (card.media or card.latitude is not None):
        more.append(button(_("📎 Media and map"), "media"))
    if status == ReportStatus.IN_REVIEW.value and holder:
        more.append(button(_("↩️ Release"), "release"))
    if more:
        rows.append(more)
    last = [button(_("🔄 Refresh"), "card")]
    if admin:
        last.append(button(_("📜 History"), "log"))
    rows.append(last)
    return InlineKeyboardMarkup(rows)


async def send_card(
    update: Update,
    context: JiynContext,
    report_id: int,
    role: Role,
    *,
    record_view: bool,
    note: str | None = None,
) -> None:
    """Send the report card as a new message, after a line saying what was just done."""
    user_id = update.effective_user.id
    card = await review_service(context).card(report_id, user_id, record_view=record_view)
    text = card_text(context, card, user_id)
    if note:
        text = f"<i>{html.escape(note)}</i>\n\n{text}"
    await update.effective_chat.send_message(
        text, parse_mode="HTML", reply_markup=card_keyboard(context, card, user_id, role)
    )


async def _refresh_card(update: Update, context: JiynContext, report_id: int, role: Role) -> None:
    """Redraw the pressed card after an action (no new view is recorded: the action is)."""
    user_id = update.effective_user.id
    card = await review_service(context).card(report_id, user_id, record_view=False)
    await edit_or_send(
        update, card_text(context, card, user_id), card_keyboard(context, card, user_id, role)
    )


@dataclass(frozen=True)
class CardPress:
    """A press of an rv:<action>:<report id> button by someone allowed to press it."""

    update: Update
    context: JiynContext
    report_id: int
    user_id: int
    role: Role

    @property
    def admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def service(self) -> ReviewService:
        return review_service(self.context)

    async def answer(self, text: str | None = None) -> None:
        """The toast under the button (or none)."""
        query = self.update.callback_query
        await (query.answer(text) if text is not None else query.answer())


# What a card button does; True when the card is refreshed afterwards.
CardAction = Callable[[CardPress], Awaitable[bool]]


class StatusChange(Protocol):
    """A service call that changes a report's status (claim, verify, close)."""

    def __call__(
        self, report_id: int, actor_id: int, *, admin: bool, then: InTransaction | None = None
    ) -> Awaitable[Change]: ...


async def _open_card(press: CardPress) -> bool:
    """Open: the card as a new message."""
    await press.answer()
    card = await press.service.card(press.report_id, press.user_id)
    text = card_text(press.context, card, press.user_id)
    markup = card_keyboard(press.context, card, press.user_id, press.role)
    await press.update.effective_chat.send_message(text, parse_mode="HTML", reply_markup=markup)
    return False


async def _refresh_in_place(press: CardPress) -> bool:
    """Refresh, on the card itself."""
    await press.answer()
    card = await press.service.card(press.report_id, press.user_id)
    text = card_text(press.context, card, press.user_id)
    markup = card_keyboard(press.context, card, press.user_id, press.role)
    await edit_or_send(press.update, text, markup)
    return False


async def _change_status(press: CardPress, change: StatusChange, said: str) -> bool:
    """A change the reporter hears of: their update is written with it and sent after."""
    reporter = ReporterUpdate(press.context)
    await change(press.report_id, press.user_id, admin=press.admin, then=reporter)
    await press.answer(said)
    await reporter.deliver()
    return True


async def _claim(press: CardPress) -> bool:
    _ = press.context.gettext
    said = _("The report is yours. The reporter is told it is in review.")
    return await _change_status(press, press.service.claim, said)


async def _release(press: CardPress) -> bool:
    _ = press.context.gettext
    await press.service.release(press.report_id, press.user_id, admin=press.admin)
    await press.answer(_("Released: the report is back in the queue."))
    return True


async def _verify(press: CardPress) -> bool:
    _ = press.context.gettext
    return await _change_status(press, press.service.verify, _("Verified."))


async def _close(press: CardPress) -> bool:
    _ = press.context.gettext
    return await _change_status(press, press.service.close, _("Closed."))


def _decide_typed(kind: str) -> CardAction:
    """Reject or mark as a duplicate: asks for the reason or the original's code."""

    async def decide(press: CardPress) -> bool:
        await press.service.check_decision(press.report_id, press.user_id, admin=press.admin)
        await _ask(press.update, press.context, kind, press.report_id)
        return False

    return decide


async def _note(press: CardPress) -> bool:
    await press.service.require_code(press.report_id)
    await _ask(press.update, press.context, "note", press.report_id)
    return False


async def _outcome(press: CardPress) -> bool:
    await press.service.check_outcome(press.report_id, press.user_id, admin=press.admin)
    await press.answer()
    await _offer_outcomes(press.update, press.context, press.report_id)
    return False


async def _media(press: CardPress) -> bool:
    await press.answer()
    await _send_media(press.update, press.context, press.report_id)
    return False


async def _history(press: CardPress) -> bool:
    await press.answer()
    await _send_history(press.update, press.context, press.report_id)
    return False


# One entry per button of CARD_ACTIONS (tests/test_review_flow.py checks they match).
CARD_BUTTONS: dict[str, CardAction] = {
    "open": _open_card,
    "card": _refresh_in_place,
    "claim": _claim,
    "release": _release,
    "verify": _verify,
    "reject": _decide_typed("reject"),
    "dup": _decide_typed("duplicate"),
    "note": _note,
    "out": _outcome,
    "close": _close,
    "media": _media,
    "log": _history,
}


async def press_card_button(update: Update, context: JiynContext) -> None:
    """Every rv:<action>:<report id> button; the role is checked before anything else."""
    _prefix, action, raw_id = update.callback_query.data.split(":")
    report_id = int(raw_id)
    role = await authorize(update, context, CARD_ACTIONS[action], report_id)
    if role is None:
        return
    press = CardPress(update, context, report_id, update.effective_user.id, role)
    try:
        refresh = await CARD_BUTTONS[action](press)
    except ReviewError as error:
        # Only a toast: the card stays as it is (Refresh shows what changed meanwhile).
        await tell(update, error_text(context, error))
        return
    if refresh:
        await _refresh_card(update, context, report_id, role)


# ---------------------------------------------------------------- typed answers


def prompt_text(context: JiynContext, kind: str) -> str:
    """The question asked for a typed answer, with how to stop."""
    _ = context.gettext
    prompts = {
        "reject": _("Why is the report rejected? Type the reason: only volunteers see it."),
        "duplicate": _("Type the code of the report this one repeats, like R-AB12."),
        "note": _("Type your note for the other volunteers."),
        "fined": _("How many MCI is the fine? Type a number."),
        "arrested": _("For how many days was the person arrested? Type a number."),
        "court": _("When is the court hearing? Type the date, like 25.11.2026."),
    }
    return prompts[kind] + "\n" + _("Send /cancel to stop.")


async def _ask(update: Update, context: JiynContext, kind: str, report_id: int) -> None:
    """Wait for a typed answer of this kind and ask the question."""
    await review_service(context).expect_input(update.effective_user.id, kind, report_id)
    if update.callback_query is not None:
        await update.callback_query.answer()
    code = await review_service(context).code_of(report_id) or ""
    await update.effective_chat.send_message(
        f"<b>{html.escape(code)}</b>\n" + html.escape(prompt_text(context, kind)),
        parse_mode="HTML",
    )


async def _offer_outcomes(update: Update, context: JiynContext, report_id: int) -> None:
    """The card's buttons become the outcome choices (and Back)."""
    _ = context.gettext
    labels = {
        "released": _("Released"),
        "fined": _("Fined (MCI)"),
        "arrested": _("Arrested (days)"),
        "court": _("Court date"),
        "unknown": _("Unknown"),
    }
    buttons = [
        InlineKeyboardButton(labels[kind], callback_data=f"rv:oc:{report_id}:{kind}")
        for kind in OUTCOMES
    ]
    buttons.append(InlineKeyboardButton(_("◀ Back"), callback_data=f"rv:card:{report_id}"))
    markup = InlineKeyboardMarkup([buttons[0:2], buttons[2:4], buttons[4:]])
    try:
        await update.callback_query.edit_message_reply_markup(markup)
    except BadRequest:  # the card is gone (deleted, too old): ask in a new message
        code = await review_service(context).code_of(report_id) or ""
        await update.effective_chat.send_message(
            f"<b>{html.escape(code)}</b>\n" + html.escape(_("What happened to the detained?")),
            parse_mode="HTML",
            reply_markup=markup,
        )


async def choose_outcome(update: Update, context: JiynContext) -> None:
    """rv:oc:<id>:<kind>: released and unknown are saved at once; the others ask a number or
    a date."""
    _ = context.gettext
    query = update.callback_query
    _prefix, _action, raw_id, kind = query.data.split(":")
    report_id = int(raw_id)
    role = await authorize(update, context, "outcome", report_id)
    if role is None:
        return
    service = review_service(context)
    user_id = update.effective_user.id
    try:
        if kind in ("fined", "arrested", "court"):
            await service.check_outcome(report_id, user_id, admin=role == Role.ADMIN)
            await _ask(update, context, kind, report_id)
            return
        await service.record_outcome(report_id, user_id, kind, admin=role == Role.ADMIN)
    except ReviewError as error:
        await tell(update, error_text(context, error))
        return
    await query.answer(_("Outcome saved."))
    await _refresh_card(update, context, report_id, role)



async def take_review_answer(
    update: Update, context: JiynContext, pending: Pending, role: Role
) -> bool:
    """Complete the action a typed answer was asked for; False keeps the question open (the
    answer was not readable)."""
    _ = context.gettext
    text = (update.effective_message.text or "").strip()
    service = review_service(context)
    user_id = update.effective_user.id
    admin = role == Role.ADMIN
    report_id = pending.report_id
    done = _("Saved.")
    try:
        if pending.kind == "reject":
            reporter = ReporterUpdate(context)
            await service.reject(report_id, user_id, text, admin=admin, then=reporter)
            await reporter.deliver()
            done = _("Rejected. The reporter is told it could not be confirmed.")
        elif pending.kind == "duplicate":
            reporter = ReporterUpdate(context)
            _change, original = await service.mark_duplicate(
                report_id, user_id, text, admin=admin, then=reporter
            )
            await reporter.deliver()
            done = _("Marked as a duplicate of {code}.").format(code=original)
        elif pending.kind == "note":
            await service.add_note(report_id, user_id, text)
            done = _("Note saved.")
        elif pending.kind in ("fined", "arrested"):
            if not re.fullmatch(r"[0-9]{1,6}", text):
                raise ReviewError("bad_number")
            await service.record_outcome(
                report_id, user_id, pending.kind, admin=admin, number=int(text)
            )
            done = _("Outcome saved.")
        elif pending.kind == "court":
            on = parse_day(text)
            if on is None:
                raise ReviewError("bad_date")
            await service.record_outcome(report_id, user_id, "court", admin=admin, on=on)
            done = _("Outcome saved.")
    except ReviewError as error:
        if error.reason in ("bad_text", "bad_number", "bad_date", "unknown_code", "same_report"):
            await update.effective_message.reply_text(
                error_text(context, error) + "\n" + prompt_text(context, pending.kind)
            )
            return False
        await update.effective_message.reply_text(error_text(context, error))
        return True
    await send_card(update, context, report_id, role, record_view=False, note=done)
    return True


# ---------------------------------------------------------------- media and history


async def _send_media(update: Update, context: JiynContext, report_id: int) -> None:
    """The report's location pin and its attachments, sent by their Telegram file ids."""
    _ = context.gettext
    card = await review_service(context).card(report_id, update.effective_user.id)
    chat = update.effective_chat
    if card.purged or (not card.media and card.latitude is None):
        await chat.send_message(_("This report has no photos, videos or location."))
        return
    if card.latitude is not None and card.longitude is not None:
        await chat.send_location(card.latitude, card.longitude)
    for item in card.media:
        caption = card.code
        kind = item.get("type")
        if kind == "photo":
            await chat.send_photo(item["file_id"], caption=caption)
        elif kind == "video":
            await chat.send_video(item["file_id"], caption=caption)
        elif kind == "voice":
            await chat.send_voice(item["file_id"], caption=caption)
        elif kind == "video_note":  # a round video has no caption
            await chat.send_video_note(item["file_id"])
        elif kind == "audio":
            await chat.send_audio(item["file_id"], caption=caption)
        else:
            await chat.send_document(item["file_id"], caption=caption)


async def _send_history(update: Update, context: JiynContext, report_id: int) -> None:
    """Who did what with the report, and when (admins only)."""
    _ = context.gettext
    service = review_service(context)
    lines = await service.history(report_id, update.effective_user.id)
    code = await service.code_of(report_id) or ""
    title = _("History of {code}").format(code=code)
    text = [f"<b>{html.escape(title)}</b>"]
    for line in lines[-40:]:
        actor = _("system") if line.actor_id is None else str(line.actor_id)
        text.append(
            f"{html.escape(local_time(context, line.created_at))} · {html.escape(actor)} · "
            f"{html.escape(line.action)}"
        )
    await update.effective_chat.send_message("\n".join(text), parse_mode="HTML")
