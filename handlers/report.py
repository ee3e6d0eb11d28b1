"""Reporting a detention: one question at a time, buttons wherever possible, every answer saved
(encrypted) before the next question, so a restart or a crash loses nothing."""

from __future__ import annotations

import html
import re
import warnings
from datetime import datetime, timedelta
from enum import IntEnum

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatType
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import JiynContext
from bot.models import utcnow
from bot.persistence import REPORT_CONVERSATION
from bot.services import reports as limits
from bot.services.reports import DraftData, TooManyReports
from bot.telegram_html import clip_utf16
from handlers import language, rights, start, venues


class ReportStep(IntEnum):
    """Where the person is in the report conversation (0 = paused, not restored on restart)."""

    PAUSED = 0
    ROLE = 1
    WHEN = 2
    WHEN_CUSTOM = 3
    WHERE = 4
    CITY = 5
    COUNT = 6
    NAME = 7
    POLICE = 8
    DETAILS = 9
    MEDIA = 10
    CONTACT = 11
    CONSENT = 12
    SUMMARY = 13


ROLES = ("now", "self", "witness", "relative")
COUNT_CHOICES = {"1": 1, "2-5": 5, "6-20": 20, "20+": 21}
EDITABLE = {
    "when": ReportStep.WHEN,
    "where": ReportStep.WHERE,
    "count": ReportStep.COUNT,
    "name": ReportStep.NAME,
    "police": ReportStep.POLICE,
    "details": ReportStep.DETAILS,
    "media": ReportStep.MEDIA,
    "contact": ReportStep.CONTACT,
}
NEXT_STEP = {
    ReportStep.WHEN: ReportStep.WHERE,
    ReportStep.WHEN_CUSTOM: ReportStep.WHERE,
    ReportStep.WHERE: ReportStep.COUNT,
    ReportStep.CITY: ReportStep.COUNT,
    ReportStep.COUNT: ReportStep.NAME,
    ReportStep.NAME: ReportStep.POLICE,
    ReportStep.POLICE: ReportStep.DETAILS,
    ReportStep.DETAILS: ReportStep.MEDIA,
    ReportStep.MEDIA: ReportStep.CONTACT,
    ReportStep.CONTACT: ReportStep.CONSENT,
    ReportStep.CONSENT: ReportStep.SUMMARY,
}
CITY_DETECTION_KM = 60.0
# The summary must fit one message (4096 UTF-16 units). Every answer is shown whole up to this
# length; only the longest (what happened, up to MAX_DETAILS) can be cut, and it is stored whole.
SUMMARY_VALUE_LIMIT = 1200
DATE_PATTERN = re.compile(
    r"^\s*(?:(?P<day>\d{1,2})[./-](?P<month>\d{1,2})(?:[./-](?P<year>\d{2,4}))?)?"
    r"\s*(?:(?P<hour>\d{1,2})[:.](?P<minute>\d{2}))?\s*$"
)


def _button(label: str, data: str) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(label, callback_data=data)]


def _city_name(context: JiynContext, city: str | None) -> str:
    _ = context.gettext
    if not city or city == "other":
        return _("another town")
    article = context.services.knowledge.get(f"venues-{city}")
    if article is None or article.venue_list is None:
        return city
    return article.venue_list.city_name.get(context.language)


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
    if data.latitude is not None:
        where = (where + " " if where else "") + f"📍 {data.latitude:.5f}, {data.longitude:.5f}"
    contact = _("through Telegram") if data.contact == "telegram" else _("by phone")
    rows = [
        (_("Who is reporting"), role_names.get(data.role or "", "—")),
        (_("When"), _format_when(context, data.occurred_at)),
        (_("Where"), f"{where or '—'} ({_city_name(context, data.city)})"),
        (_("How many people"), str(data.people_count) if data.people_count else _("not known")),
        (_("Name"), data.name or _("not known")),
        (_("Police unit"), data.police or _("not known")),
        (_("What happened"), data.details or "—"),
        (_("Photos and videos"), str(len(data.media))),
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
        "media": _("✏️ Photos"),
        "contact": _("✏️ Contact"),
    }
    edit_buttons = [
        InlineKeyboardButton(label, callback_data=f"report:edit:{field}")
        for field, label in labels.items()
    ]
    rows = [edit_buttons[i : i + 2] for i in range(0, len(edit_buttons), 2)]
    rows.append(_button(_("✅ Send the report"), "report:confirm"))
    rows.append(_button(_("✖️ Cancel"), "report:cancel"))
    return InlineKeyboardMarkup(rows)


async def ask_step(update: Update, context: JiynContext, step: ReportStep, data: DraftData) -> None:
    """Send the question of a step with its buttons."""
    _ = context.gettext
    chat = update.effective_chat
    skip = _button(_("Skip"), "report:skip")
    if step == ReportStep.ROLE:
        await chat.send_message(
            _("Who is reporting?"),
            reply_markup=InlineKeyboardMarkup(
                [
                    _button(_("🚨 I am being detained right now"), "report:role:now"),
                    _button(_("I saw a detention"), "report:role:witness"),
                    _button(_("A relative or friend was detained"), "report:role:relative"),
                    _button(_("I was detained earlier"), "report:role:self"),
                ]
            ),
        )
    elif step == ReportStep.WHEN:
        await chat.send_message(
            _("When did it happen?"),
            reply_markup=InlineKeyboardMarkup(
                [
                    _button(_("Right now"), "report:when:now"),
                    _button(_("Earlier today"), "report:when:today"),
                    _button(_("Another day or time…"), "report:when:custom"),
                ]
            ),
        )
    elif step == ReportStep.WHEN_CUSTOM:
        await chat.send_message(
            _("Type the date and time, for example 21.11 18:30 (or just 18:30 for today).")
        )
    elif step == ReportStep.WHERE:
        await chat.send_message(
            _(
                "Where did it happen? Press the button to send your location, or type the place "
                "(street, landmark)."
            ),
            reply_markup=ReplyKeyboardMarkup(
                [[KeyboardButton(_("📍 Send my location"), request_location=True)]],
                resize_keyboard=True,
                one_time_keyboard=True,
            ),
        )
        await chat.send_message(_("Or:"), reply_markup=InlineKeyboardMarkup([skip]))
    elif step == ReportStep.CITY:
        articles = [
            a for a in context.services.knowledge.by_kind("venues") if a.venue_list is not None
        ]
        buttons = [
            InlineKeyboardButton(
                a.venue_list.city_name.get(context.language),
                callback_data=f"report:city:{a.venue_list.city}",
            )
            for a in articles
        ]
        buttons.append(InlineKeyboardButton(_("Another town"), callback_data="report:city:other"))
        rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
        await chat.send_message(_("Which city?"), reply_markup=InlineKeyboardMarkup(rows))
    elif step == ReportStep.COUNT:
        await chat.send_message(
            _("How many people were detained? Choose or type a number."),
            reply_markup=InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton("1", callback_data="report:count:1"),
                        InlineKeyboardButton("2–5", callback_data="report:count:2-5"),
                        InlineKeyboardButton("6–20", callback_data="report:count:6-20"),
                        InlineKeyboardButton(_("more than 20"), callback_data="report:count:20+"),
                    ],
                    _button(_("I don't know"), "report:skip"),
                ]
            ),
        )
    elif step == ReportStep.NAME:
        question = (
            _("Your name (optional). Only volunteers will see it; it is stored encrypted.")
            if data.role in ("now", "self")
            else _(
                "The detained person's name, if you know it. Only volunteers will see it; "
                "it is stored encrypted."
            )
        )
        await chat.send_message(question, reply_markup=InlineKeyboardMarkup([skip]))
    elif step == ReportStep.POLICE:
        await chat.send_message(
            _("Which police station, unit or van number, if you know?"),
            reply_markup=InlineKeyboardMarkup([_button(_("I don't know"), "report:skip")]),
        )
    elif step == ReportStep.DETAILS:
        await chat.send_message(
            _("What happened? A few words are enough."),
            reply_markup=InlineKeyboardMarkup([skip]),
        )
    elif step == ReportStep.MEDIA:
        await chat.send_message(
            _("Photos or videos? Send them now, then press Done."),
            reply_markup=InlineKeyboardMarkup([_button(_("Done"), "report:media:done"), skip]),
        )
    elif step == ReportStep.CONTACT:
        await chat.send_message(
            _(
                "How can volunteers reach you? By default they write to you here, through the "
                "bot, without seeing your Telegram account. You can also share your phone number."
            ),
            reply_markup=ReplyKeyboardMarkup(
                [[KeyboardButton(_("📞 Share my phone number"), request_contact=True)]],
                resize_keyboard=True,
                one_time_keyboard=True,
            ),
        )
        await chat.send_message(
            _("Or:"),
            reply_markup=InlineKeyboardMarkup(
                [_button(_("Only through this chat"), "report:contact:telegram")]
            ),
        )
    elif step == ReportStep.CONSENT:
        await chat.send_message(
            _("May volunteers contact you about this report?"),
            reply_markup=InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(_("Yes"), callback_data="report:consent:yes"),
                        InlineKeyboardButton(_("No"), callback_data="report:consent:no"),
                    ]
                ]
            ),
        )
    elif step == ReportStep.SUMMARY:
        await chat.send_message(
            summary_text(context, data),
            parse_mode="HTML",
            reply_markup=summary_keyboard(context),
        )


async def _save(
    update: Update, context: JiynContext, step: ReportStep, data: DraftData
) -> ReportStep:
    if step != ReportStep.PAUSED:
        data.paused_step = None
    saved = await context.services.reports.save_draft(
        update.effective_chat.id, update.effective_user.id, step, data
    )
    if not saved:
        _ = context.gettext
        await update.effective_chat.send_message(
            _(
                "⚠️ Our database is not answering right now. Your answers are kept and will be "
                "saved as soon as it is back. You can go on."
            )
        )
    return step


async def _advance(
    update: Update, context: JiynContext, current: ReportStep, data: DraftData
) -> ReportStep:
    """Save the answer and ask the next question (back to the summary when editing)."""
    following = ReportStep.SUMMARY if data.editing else NEXT_STEP[current]
    if following == ReportStep.SUMMARY:
        data.editing = False
    draft = await context.services.reports.get_draft(update.effective_user.id)
    if draft is not None and draft.report_id is not None:
        await context.services.reports.update_quick(draft.report_id, data)
    await _save(update, context, following, data)
    await ask_step(update, context, following, data)
    return following


async def _current(update: Update, context: JiynContext) -> tuple[ReportStep, DraftData]:
    draft = await context.services.reports.get_draft(update.effective_user.id)
    if draft is None:
        return ReportStep.ROLE, DraftData()
    step = draft.step or draft.data.paused_step or ReportStep.ROLE
    return ReportStep(step), draft.data


async def _answers(update: Update, context: JiynContext) -> DraftData:
    _step, data = await _current(update, context)
    return data


async def _answer_query(update: Update) -> None:
    if update.callback_query:
        await update.callback_query.answer()


# ---------------------------------------------------------------- entry and control


async def _private_chat_only(update: Update, context: JiynContext) -> bool:
    """True in the private chat with the bot; elsewhere say reports are written there only."""
    chat = update.effective_chat
    if chat is not None and chat.type == ChatType.PRIVATE:
        return True
    _ = context.gettext
    text = _(
        "Reports are written only in a private chat with the bot, where no one else sees them."
    )
    if update.callback_query:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)
    return False


async def start_report(update: Update, context: JiynContext) -> ReportStep | int:
    """Open a report, or offer to continue an unfinished one (in the private chat only)."""
    _ = context.gettext
    if not await _private_chat_only(update, context):
        return ConversationHandler.END
    await _answer_query(update)
    draft = await context.services.reports.get_draft(update.effective_user.id)
    if draft is not None:
        await update.effective_chat.send_message(
            _("You have an unfinished report. Continue it or start over?"),
            reply_markup=InlineKeyboardMarkup(
                [
                    _button(_("Continue"), "report:resume"),
                    _button(_("Start over"), "report:restart"),
                ]
            ),
        )
        return ReportStep(draft.step or draft.data.paused_step or ReportStep.ROLE)
    await update.effective_chat.send_message(
        _(
            "Let's report a detention. One question at a time; you can skip what you don't know. "
            "Send /cancel to stop."
        ),
        reply_markup=ReplyKeyboardRemove(),
    )
    data = DraftData()
    await _save(update, context, ReportStep.ROLE, data)
    await ask_step(update, context, ReportStep.ROLE, data)
    return ReportStep.ROLE


async def resume_report(update: Update, context: JiynContext) -> ReportStep | int:
    """Ask again the question the person stopped at (in the private chat only)."""
    if not await _private_chat_only(update, context):
        return ConversationHandler.END
    await _answer_query(update)
    step, data = await _current(update, context)
    await _save(update, context, step, data)
    await ask_step(update, context, step, data)
    return step


async def restart_report(update: Update, context: JiynContext) -> ReportStep | int:
    """Drop the unfinished draft and start from the first question."""
    await context.services.reports.delete_draft(update.effective_user.id)
    return await start_report(update, context)


async def cancel_report(update: Update, context: JiynContext) -> int:
    """Stop and delete the draft: nothing is sent."""
    _ = context.gettext
    await _answer_query(update)
    deleted = await context.services.reports.delete_draft(update.effective_user.id)
    await update.effective_chat.send_message(
        _("The report is cancelled and its draft deleted. Nothing was sent.")
        if deleted
        else _("There is nothing to cancel."),
        reply_markup=ReplyKeyboardRemove(),
    )
    return ConversationHandler.END


async def pause_for_command(update: Update, context: JiynContext) -> int:
    """Another command in the middle of a report: keep the draft, then do what was asked."""
    _ = context.gettext
    step, data = await _current(update, context)
    data.paused_step = int(step)
    await _save(update, context, ReportStep.PAUSED, data)
    await update.effective_chat.send_message(
        _("Your report draft is kept. Send /report to continue it."),
        reply_markup=ReplyKeyboardRemove(),
    )
    command = (update.effective_message.text or "").split()[0].lstrip("/").split("@")[0]
    targets = {
        "start": start.show_start,
        "help": start.show_help,
        "language": language.ask_language,
        "venues": venues.ask_city,
        "rights": rights.show_rights,
    }
    handler = targets.get(command)
    if handler is not None:
        context.args = []
        await handler(update, context)
    return ConversationHandler.END


async def reject_input(update: Update, context: JiynContext) -> ReportStep:
    """Something that does not answer the current question: say so and ask again."""
    _ = context.gettext
    step, data = await _current(update, context)
    if update.callback_query:
        await update.callback_query.answer(_("This button belongs to an earlier question."))
    else:
        await update.effective_chat.send_message(
            _("That doesn't answer the question. Please use the buttons or type your answer.")
        )
    await ask_step(update, context, step, data)
    return step


async def _too_long(update: Update, context: JiynContext, limit: int) -> ReportStep:
    _ = context.gettext
    step, data = await _current(update, context)
    await update.effective_chat.send_message(
        _("That is too long: at most {limit} characters, please.").format(limit=limit)
    )
    await ask_step(update, context, step, data)
    return step


# ---------------------------------------------------------------- answers


async def choose_role(update: Update, context: JiynContext) -> ReportStep:
    """Who is reporting; "being detained now" files an urgent report at once."""
    await _answer_query(update)
    role = update.callback_query.data.rsplit(":", 1)[-1]
    data = await _answers(update, context)
    data.role = role
    if role != "now":
        return await _next(update, context, ReportStep.WHEN, data)
    data.urgent = True
    data.occurred_at = utcnow().isoformat()
    _ = context.gettext
    try:
        code = await context.services.reports.submit_quick(
            update.effective_chat.id,
            update.effective_user.id,
            context.language,
            data,
            ReportStep.WHERE,
        )
    except TooManyReports:
        return await _refuse_flood(update, context)
    if context.services.notifier is not None:
        context.services.notifier.wake()
    await update.effective_chat.send_message(
        _(
            "🚨 Volunteers are alerted: report {code}. If you can, answer a few more questions; "
            "each answer is added to the report at once."
        ).format(code=code)
    )
    await ask_step(update, context, ReportStep.WHERE, data)
    return ReportStep.WHERE


async def _next(
    update: Update, context: JiynContext, step: ReportStep, data: DraftData
) -> ReportStep:
    await _save(update, context, step, data)
    await ask_step(update, context, step, data)
    return step


async def _refuse_flood(update: Update, context: JiynContext) -> int:
    _ = context.gettext
    await update.effective_chat.send_message(
        _(
            "You have sent many reports today, so I can't take another one now. If it is "
            "urgent, contact a human rights organisation directly."
        )
    )
    return ConversationHandler.END


async def choose_when(update: Update, context: JiynContext) -> ReportStep:
    """Now, earlier today, or another moment typed next."""
    await _answer_query(update)
    choice = update.callback_query.data.rsplit(":", 1)[-1]
    data = await _answers(update, context)
    if choice == "custom":
        return await _next(update, context, ReportStep.WHEN_CUSTOM, data)
    now = utcnow()
    if choice == "today":
        local = now.astimezone(context.services.settings.timezone)
        now = local.replace(hour=12, minute=0) if local.hour >= 12 else local
    data.occurred_at = now.isoformat()
    return await _advance(update, context, ReportStep.WHEN, data)


def parse_moment(text: str, now: datetime) -> datetime | None:
    """A date and/or time typed by a person, in the timezone of `now`; None if unreadable."""
    match = DATE_PATTERN.match(text)
    if not match or not (match["day"] or match["hour"]):
        return None
    try:
        year = int(match["year"]) if match["year"] else now.year
        if year < 100:
            year += 2000
        moment = now.replace(
            year=year,
            month=int(match["month"]) if match["month"] else now.month,
            day=int(match["day"]) if match["day"] else now.day,
            hour=int(match["hour"]) if match["hour"] else 12,
            minute=int(match["minute"]) if match["minute"] else 0,
            second=0,
            microsecond=0,
        )
    except ValueError:
        return None
    return moment


async def type_when(update: Update, context: JiynContext) -> ReportStep:
    """A typed date and time."""
    _ = context.gettext
    now = utcnow().astimezone(context.services.settings.timezone)
    moment = parse_moment(update.effective_message.text or "", now)
    if moment is None or moment > now + timedelta(minutes=10) or moment < now - timedelta(days=366):
        data = await _answers(update, context)
        await update.effective_chat.send_message(
            _("I couldn't read that date. Please write it like 21.11 18:30, not in the future.")
        )
        await ask_step(update, context, ReportStep.WHEN_CUSTOM, data)
        return ReportStep.WHEN_CUSTOM
    data = await _answers(update, context)
    data.occurred_at = moment.isoformat()
    return await _advance(update, context, ReportStep.WHEN_CUSTOM, data)


def _detect_city(context: JiynContext, latitude: float, longitude: float) -> str | None:
    best: tuple[float, str] | None = None
    for article in context.services.knowledge.by_kind("venues"):
        if article.venue_list is None:
            continue
        for venue in article.venue_list.venues:
            distance = venues.distance_km(latitude, longitude, venue.lat, venue.lon)
            if best is None or distance < best[0]:
                best = (distance, article.venue_list.city)
    return best[1] if best and best[0] <= CITY_DETECTION_KM else None


async def send_location(update: Update, context: JiynContext) -> ReportStep:
    """A Telegram location: the city is recognised when we know one near."""
    _ = context.gettext
    location = update.effective_message.location
    data = await _answers(update, context)
    data.latitude, data.longitude = location.latitude, location.longitude
    data.city = _detect_city(context, location.latitude, location.longitude) or data.city
    await update.effective_chat.send_message(
        _("Location saved."), reply_markup=ReplyKeyboardRemove()
    )
    if data.city is None:
        return await _next(update, context, ReportStep.CITY, data)
    return await _advance(update, context, ReportStep.WHERE, data)


async def type_place(update: Update, context: JiynContext) -> ReportStep:
    """A typed place; then the city."""
    _ = context.gettext
    text = (update.effective_message.text or "").strip()
    if len(text) > limits.MAX_PLACE:
        return await _too_long(update, context, limits.MAX_PLACE)
    data = await _answers(update, context)
    data.place = text
    await update.effective_chat.send_message(_("Place saved."), reply_markup=ReplyKeyboardRemove())
    return await _next(update, context, ReportStep.CITY, data)


async def skip_place(update: Update, context: JiynContext) -> ReportStep:
    """No place given: still ask the city, it matters for triage."""
    await _answer_query(update)
    data = await _answers(update, context)
    await update.effective_chat.send_message("👌", reply_markup=ReplyKeyboardRemove())
    return await _next(update, context, ReportStep.CITY, data)


async def choose_city(update: Update, context: JiynContext) -> ReportStep:
    """The city from the buttons (one the bot offers: button data can be forged)."""
    city = update.callback_query.data.rsplit(":", 1)[-1]
    if city != "other" and context.services.knowledge.get(f"venues-{city}") is None:
        return await reject_input(update, context)
    await _answer_query(update)
    data = await _answers(update, context)
    data.city = city
    return await _advance(update, context, ReportStep.CITY, data)


async def choose_count(update: Update, context: JiynContext) -> ReportStep:
    """How many people, from the buttons."""
    await _answer_query(update)
    data = await _answers(update, context)
    data.people_count = COUNT_CHOICES[update.callback_query.data.rsplit(":", 1)[-1]]
    return await _advance(update, context, ReportStep.COUNT, data)


async def type_count(update: Update, context: JiynContext) -> ReportStep:
    """How many people, typed."""
    _ = context.gettext
    text = (update.effective_message.text or "").strip()
    if not text.isdigit() or not 1 <= int(text) <= limits.MAX_PEOPLE:
        data = await _answers(update, context)
        await update.effective_chat.send_message(
            _("Please type a number, like 3, or use the buttons.")
        )
        await ask_step(update, context, ReportStep.COUNT, data)
        return ReportStep.COUNT
    data = await _answers(update, context)
    data.people_count = int(text)
    return await _advance(update, context, ReportStep.COUNT, data)


def _text_answer(field_name: str, step: ReportStep, limit: int):  # type: ignore[no-untyped-def]
    async def save_text(update: Update, context: JiynContext) -> ReportStep:
        """Store a typed answer of this step."""
        text = (update.effective_message.text or "").strip()
        if len(text) > limit:
            return await _too_long(update, context, limit)
        data = await _answers(update, context)
        setattr(data, field_name, text or None)
        return await _advance(update, context, step, data)

    save_text.__name__ = f"type_{field_name}"
    return save_text


type_name = _text_answer("name", ReportStep.NAME, limits.MAX_NAME)
type_police = _text_answer("police", ReportStep.POLICE, limits.MAX_POLICE)
type_details = _text_answer("details", ReportStep.DETAILS, limits.MAX_DETAILS)


async def skip_step(update: Update, context: JiynContext) -> ReportStep:
    """Skip the current question."""
    step, data = await _current(update, context)
    if step == ReportStep.WHERE:
        return await skip_place(update, context)
    await _answer_query(update)
    return await _advance(update, context, step, data)


async def add_media(update: Update, context: JiynContext) -> ReportStep:
    """A photo, video or file: kept as Telegram file ids (encrypted)."""
    _ = context.gettext
    message = update.effective_message
    data = await _answers(update, context)
    if message.photo:
        item = {"type": "photo", "file_id": message.photo[-1].file_id}
    elif message.video:
        item = {"type": "video", "file_id": message.video.file_id}
    else:
        item = {"type": "document", "file_id": message.document.file_id}
    if len(data.media) >= limits.MAX_MEDIA:
        await message.reply_text(
            _("That is the most I can attach ({limit}). Press Done.").format(
                limit=limits.MAX_MEDIA
            ),
            reply_markup=InlineKeyboardMarkup([_button(_("Done"), "report:media:done")]),
        )
        return ReportStep.MEDIA
    data.media.append(item)
    await _save(update, context, ReportStep.MEDIA, data)
    await message.reply_text(
        context.ngettext(
            "{n} file attached. Send more or press Done.",
            "{n} files attached. Send more or press Done.",
            len(data.media),
        ).format(n=len(data.media)),
        reply_markup=InlineKeyboardMarkup([_button(_("Done"), "report:media:done")]),
    )
    return ReportStep.MEDIA


async def finish_media(update: Update, context: JiynContext) -> ReportStep:
    """Done with photos."""
    await _answer_query(update)
    data = await _answers(update, context)
    return await _advance(update, context, ReportStep.MEDIA, data)


async def share_contact(update: Update, context: JiynContext) -> ReportStep:
    """The person shared their phone number with the button."""
    _ = context.gettext
    contact = update.effective_message.contact
    data = await _answers(update, context)
    if contact.user_id is not None and contact.user_id != update.effective_user.id:
        await update.effective_chat.send_message(
            _("Please share your own number with the button, or choose to be reached here.")
        )
        await ask_step(update, context, ReportStep.CONTACT, data)
        return ReportStep.CONTACT
    data.contact = "phone"
    data.phone = contact.phone_number[: limits.MAX_PHONE]
    await update.effective_chat.send_message(
        _("Phone number saved."), reply_markup=ReplyKeyboardRemove()
    )
    return await _advance(update, context, ReportStep.CONTACT, data)


async def choose_telegram_contact(update: Update, context: JiynContext) -> ReportStep:
    """Reach me only through this chat."""
    await _answer_query(update)
    data = await _answers(update, context)
    data.contact, data.phone = "telegram", None
    await update.effective_chat.send_message("👌", reply_markup=ReplyKeyboardRemove())
    return await _advance(update, context, ReportStep.CONTACT, data)


async def choose_consent(update: Update, context: JiynContext) -> ReportStep:
    """May volunteers contact the reporter."""
    await _answer_query(update)
    data = await _answers(update, context)
    data.consent = update.callback_query.data.endswith(":yes")
    return await _advance(update, context, ReportStep.CONSENT, data)


async def edit_field(update: Update, context: JiynContext) -> ReportStep:
    """From the summary: answer one question again, then come back to the summary."""
    field_name = update.callback_query.data.rsplit(":", 1)[-1]
    if field_name not in EDITABLE:  # forged button data
        return await reject_input(update, context)
    await _answer_query(update)
    data = await _answers(update, context)
    data.editing = True
    return await _next(update, context, EDITABLE[field_name], data)


async def confirm_report(update: Update, context: JiynContext) -> int:
    """Send the report: a reference code, what happens next, what to do now."""
    _ = context.gettext
    await _answer_query(update)
    draft = await context.services.reports.get_draft(update.effective_user.id)
    if draft is None:
        await update.effective_chat.send_message(_("This report was already sent or cancelled."))
        return ConversationHandler.END
    try:
        code = await context.services.reports.submit(
            update.effective_chat.id,
            update.effective_user.id,
            context.language,
            draft.data,
            draft.report_id,
        )
    except TooManyReports:
        return await _refuse_flood(update, context)
    if context.services.notifier is not None:
        context.services.notifier.wake()
    await update.effective_chat.send_message(
        _(
            "✅ Report <b>{code}</b> is received.\n\n"
            "What happens next: volunteers review reports by urgency. If you agreed, they will "
            "write to you here, through the bot. /myreports shows the status; you can delete "
            "your data at any time with /forget.\n\n"
            "What to do now:"
        ).format(code=html.escape(code)),
        parse_mode="HTML",
        reply_markup=ReplyKeyboardRemove(),
    )
    await rights.send_checklist(update, context)
    return ConversationHandler.END


def report_conversation() -> ConversationHandler:
    """The ConversationHandler of the report journey."""
    # An edited message is not an answer: it would overwrite the answer to a later question
    # (and a live location sends an edit every few seconds).
    fresh = ~filters.UpdateType.EDITED
    text = filters.TEXT & ~filters.COMMAND & fresh
    skip = CallbackQueryHandler(skip_step, pattern=r"^report:skip$")
    anything = MessageHandler(filters.ALL & ~filters.COMMAND & fresh, reject_input)
    # The conversation is per person on purpose (per_message=False): its buttons belong to
    # whichever step is current, and stale ones are answered by reject_input. PTB warns about
    # this combination; the warning is noise here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*per_message=False.*")
        return ConversationHandler(
            name=REPORT_CONVERSATION,
            persistent=True,
            entry_points=[
                CommandHandler("report", start_report),
                CommandHandler("start", start_report, filters.Regex(r"^/start(@\w+)? report$")),
                CallbackQueryHandler(start_report, pattern=r"^(menu:report|report:start)$"),
                CallbackQueryHandler(resume_report, pattern=r"^report:resume$"),
            ],
            states={
                ReportStep.ROLE: [
                    CallbackQueryHandler(
                        choose_role, pattern=r"^report:role:(now|self|witness|relative)$"
                    )
                ],
                ReportStep.WHEN: [
                    CallbackQueryHandler(choose_when, pattern=r"^report:when:(now|today|custom)$")
                ],
                ReportStep.WHEN_CUSTOM: [MessageHandler(text, type_when)],
                ReportStep.WHERE: [
                    MessageHandler(filters.LOCATION & fresh, send_location),
                    MessageHandler(text, type_place),
                    skip,
                ],
                ReportStep.CITY: [
                    CallbackQueryHandler(choose_city, pattern=r"^report:city:[a-z-]+$")
                ],
                ReportStep.COUNT: [
                    CallbackQueryHandler(choose_count, pattern=r"^report:count:(1|2-5|6-20|20\+)$"),
                    MessageHandler(text, type_count),
                    skip,
                ],
                ReportStep.NAME: [MessageHandler(text, type_name), skip],
                ReportStep.POLICE: [MessageHandler(text, type_police), skip],
                ReportStep.DETAILS: [MessageHandler(text, type_details), skip],
                ReportStep.MEDIA: [
                    MessageHandler(
                        (filters.PHOTO | filters.VIDEO | filters.Document.ALL) & fresh, add_media
                    ),
                    CallbackQueryHandler(finish_media, pattern=r"^report:media:done$"),
                    skip,
                ],
                ReportStep.CONTACT: [
                    MessageHandler(filters.CONTACT & fresh, share_contact),
                    CallbackQueryHandler(
                        choose_telegram_contact, pattern=r"^report:contact:telegram$"
                    ),
                ],
                ReportStep.CONSENT: [
                    CallbackQueryHandler(choose_consent, pattern=r"^report:consent:(yes|no)$")
                ],
                ReportStep.SUMMARY: [
                    CallbackQueryHandler(confirm_report, pattern=r"^report:confirm$"),
                    CallbackQueryHandler(edit_field, pattern=r"^report:edit:[a-z]+$"),
                ],
            },
            fallbacks=[
                CommandHandler("cancel", cancel_report),
                CallbackQueryHandler(cancel_report, pattern=r"^report:cancel$"),
                CallbackQueryHandler(resume_report, pattern=r"^report:resume$"),
                CallbackQueryHandler(restart_report, pattern=r"^report:restart$"),
                CommandHandler("report", resume_report),
                CommandHandler(
                    ["start", "help", "language", "venues", "rights"], pause_for_command
                ),
                CallbackQueryHandler(reject_input, pattern=r"^report:"),
                anything,
            ],
            allow_reentry=False,
        )
