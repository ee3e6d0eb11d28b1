"""Reporting a detention: one question at a time, buttons wherever possible, every answer saved
(encrypted) before the next question, so a restart or a crash loses nothing.

This module holds the step machinery (save, advance, resume, pause), the handlers of the
answers and the ConversationHandler. The steps and typed-answer tables are in steps.py, the
questions in prompts.py, the summary in summary.py; the diagram of the states is README.md."""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable
from datetime import datetime, timedelta

from telegram import (
    InlineKeyboardMarkup,
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

from bot.core.dates import parse_moment
from bot.core.gazetteer import OTHER, gazetteer, is_city_key, valid_coordinates
from bot.core.models import OutboxMessage, utcnow
from bot.services.report import reports as limits
from bot.services.report.reports import DraftData, TooManyReports
from bot.telegram.context import JiynContext
from bot.telegram.outbox import CONFIRMATION
from bot.telegram.persistence import REPORT_CONVERSATION
from handlers.ask import rights, venues
from handlers.common import language, start
from handlers.common.keyboards import button
from handlers.report.prompts import ask_step
from handlers.report.steps import (
    CONTACT_ANSWERS,
    DONE_ANSWERS,
    EDITABLE,
    NEXT_STEP,
    OTHER_TOWN_ANSWERS,
    PHONE_PATTERN,
    RESUME_ANSWERS,
    ROLE_ANSWERS,
    SKIP_ANSWERS,
    SUMMARY_ANSWERS,
    WHEN_ANSWERS,
    YES_NO_ANSWERS,
    ReportStep,
    parse_people,
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
        await ask_step(update, context, ReportStep.RESUME, draft.data)
        return ReportStep.RESUME
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


async def type_resume(update: Update, context: JiynContext) -> ReportStep | int:
    """A typed "continue" or "start over" about the unfinished draft."""
    choice = RESUME_ANSWERS.match(update.effective_message.text or "")
    if choice == "continue":
        return await resume_report(update, context)
    if choice == "restart":
        return await restart_report(update, context)
    return await _not_understood(update, context, ReportStep.RESUME)


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
        # Every question takes a typed answer, so inviting one is never a trap.
        await update.effective_chat.send_message(
            _("That doesn't answer the question. Please use the buttons or type your answer.")
        )
    await ask_step(update, context, step, data)
    return step


async def _not_understood(update: Update, context: JiynContext, step: ReportStep) -> ReportStep:
    """A typed answer that means none of the buttons: say so and ask the same question."""
    _ = context.gettext
    data = await _answers(update, context)
    await update.effective_chat.send_message(
        _("I didn't understand that answer. Press a button, or write it in other words.")
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


async def choose_role(update: Update, context: JiynContext) -> ReportStep | int:
    """Who is reporting, from the buttons."""
    await _answer_query(update)
    return await _set_role(update, context, update.callback_query.data.rsplit(":", 1)[-1])


async def type_role(update: Update, context: JiynContext) -> ReportStep | int:
    """Who is reporting, typed."""
    role = ROLE_ANSWERS.match(update.effective_message.text or "")
    if role is None:
        return await _not_understood(update, context, ReportStep.ROLE)
    return await _set_role(update, context, role)


async def _set_role(update: Update, context: JiynContext, role: str) -> ReportStep | int:
    """Save the role; "being detained now" files an urgent report at once."""
    data = await _answers(update, context)
    data.role = role
    if role != "now":
        return await _next(update, context, ReportStep.WHEN, data)
    data.urgent = True
    data.occurred_at = utcnow().isoformat()
    _ = context.gettext

    def confirmation(code: str) -> str:
        return html.escape(
            _(
                "🚨 Volunteers are alerted: report {code}. If you can, answer a few more "
                "questions; each answer is added to the report at once."
            ).format(code=code)
        )

    rows: list[OutboxMessage] = []
    try:
        code = await context.services.reports.submit_quick(
            update.effective_chat.id,
            update.effective_user.id,
            context.language,
            data,
            ReportStep.WHERE,
            filed=_confirm_in_outbox(update, context, rows, confirmation, None),
        )
    except TooManyReports:
        return await _refuse_flood(update, context)
    if context.services.notifier is not None:
        context.services.notifier.wake()
    await _send_confirmation(update, context, rows, confirmation(code), None)
    await ask_step(update, context, ReportStep.WHERE, data)
    return ReportStep.WHERE


def _confirm_in_outbox(
    update: Update,
    context: JiynContext,
    rows: list[OutboxMessage],
    render: Callable[[str], str],
    markup: ReplyKeyboardRemove | None,
) -> Callable[[object, str], object] | None:
    """What writes a report's confirmation to the outbox in the transaction filing it."""
    outbox = context.services.outbox
    if outbox is None:
        return None
    chat_id = update.effective_chat.id

    def filed(session: object, code: str) -> None:
        rows.append(
            outbox.add(session, CONFIRMATION, chat_id, render(code), reply_markup=markup)
        )

    return filed


async def _send_confirmation(
    update: Update,
    context: JiynContext,
    rows: list[OutboxMessage],
    text: str,
    markup: ReplyKeyboardRemove | None,
) -> None:
    """Deliver the confirmation written to the outbox now (or, in an outage, from the outbox
    later); without an outbox, send it."""
    outbox = context.services.outbox
    if outbox is not None and rows:
        await outbox.deliver_now([row.id for row in rows])
        return
    await update.effective_chat.send_message(text, parse_mode="HTML", reply_markup=markup)


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
    return await _set_when(update, context, update.callback_query.data.rsplit(":", 1)[-1])


async def type_when_choice(update: Update, context: JiynContext) -> ReportStep:
    """A typed answer to "when": a date and time, or words meaning one of the buttons."""
    text = update.effective_message.text or ""
    moment = _typed_moment(context, text)
    if moment is not None:
        data = await _answers(update, context)
        data.occurred_at = moment.isoformat()
        return await _advance(update, context, ReportStep.WHEN, data)
    choice = WHEN_ANSWERS.match(text)
    if choice is None:
        return await _not_understood(update, context, ReportStep.WHEN)
    return await _set_when(update, context, choice)


async def _set_when(update: Update, context: JiynContext, choice: str) -> ReportStep:
    data = await _answers(update, context)
    if choice == "custom":
        return await _next(update, context, ReportStep.WHEN_CUSTOM, data)
    now = utcnow()
    if choice == "today":
        local = now.astimezone(context.services.settings.timezone)
        now = local.replace(hour=12, minute=0) if local.hour >= 12 else local
    data.occurred_at = now.isoformat()
    return await _advance(update, context, ReportStep.WHEN, data)


def _typed_moment(context: JiynContext, text: str) -> datetime | None:
    """A typed date and time within the last year (not in the future), else None."""
    now = utcnow().astimezone(context.services.settings.timezone)
    moment = parse_moment(text, now)
    if moment is None or moment > now + timedelta(minutes=10) or moment < now - timedelta(days=366):
        return None
    return moment


async def type_when(update: Update, context: JiynContext) -> ReportStep:
    """A typed date and time."""
    _ = context.gettext
    moment = _typed_moment(context, update.effective_message.text or "")
    if moment is None:
        data = await _answers(update, context)
        await update.effective_chat.send_message(
            _("I couldn't read that date. Please write it like 21.11 18:30, not in the future.")
        )
        await ask_step(update, context, ReportStep.WHEN_CUSTOM, data)
        return ReportStep.WHEN_CUSTOM
    data = await _answers(update, context)
    data.occurred_at = moment.isoformat()
    return await _advance(update, context, ReportStep.WHEN_CUSTOM, data)


async def send_location(update: Update, context: JiynContext) -> ReportStep:
    """A Telegram location, placed in the nearest settlement of the country."""
    _ = context.gettext
    location = update.effective_message.location
    if not valid_coordinates(location.latitude, location.longitude):
        await update.effective_chat.send_message(
            _("This location can't be right. Please send it again, or type the place.")
        )
        data = await _answers(update, context)
        await ask_step(update, context, ReportStep.WHERE, data)
        return ReportStep.WHERE
    data = await _answers(update, context)
    data.latitude, data.longitude = location.latitude, location.longitude
    nearest = gazetteer().nearest(location.latitude, location.longitude)
    if nearest is None:
        await update.effective_chat.send_message(
            _("Location saved."), reply_markup=ReplyKeyboardRemove()
        )
        return await _next(update, context, ReportStep.CITY, data)
    data.city, data.town = nearest[0].key, None
    await update.effective_chat.send_message(
        _("Location saved: {town}.").format(town=nearest[0].name(context.language)),
        reply_markup=ReplyKeyboardRemove(),
    )
    return await _advance(update, context, ReportStep.WHERE, data)


async def type_place(update: Update, context: JiynContext) -> ReportStep:
    """A typed place; then the city."""
    _ = context.gettext
    text = (update.effective_message.text or "").strip()
    if len(text) > limits.MAX_PLACE:
        return await _too_long(update, context, limits.MAX_PLACE)
    if SKIP_ANSWERS.match(text, whole=True):
        return await skip_place(update, context)
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
    """The town from the buttons (one of the gazetteer: button data can be forged); "another
    town" asks for its name."""
    _ = context.gettext
    city = update.callback_query.data.rsplit(":", 1)[-1]
    if not is_city_key(city):
        return await reject_input(update, context)
    await _answer_query(update)
    if city == OTHER:
        await update.effective_chat.send_message(
            _("Type the name of the town or village."),
            reply_markup=InlineKeyboardMarkup([button(_("I'd rather not say"), "report:skip")]),
        )
        return ReportStep.CITY
    data = await _answers(update, context)
    data.city, data.town = city, None
    return await _advance(update, context, ReportStep.CITY, data)


async def type_city(update: Update, context: JiynContext) -> ReportStep:
    """A typed town: the gazetteer's if it knows it (any language, endings, typos), else kept
    as typed."""
    _ = context.gettext
    text = (update.effective_message.text or "").strip()
    if len(text) > limits.MAX_TOWN:
        return await _too_long(update, context, limits.MAX_TOWN)
    if OTHER_TOWN_ANSWERS.match(text, whole=True):
        await update.effective_chat.send_message(_("Type the name of the town or village."))
        return ReportStep.CITY
    data = await _answers(update, context)
    if SKIP_ANSWERS.match(text, whole=True):
        data.city, data.town = OTHER, None
        return await _advance(update, context, ReportStep.CITY, data)
    place = gazetteer().find(text)
    if place is not None:
        data.city, data.town = place.key, None
        await update.effective_chat.send_message(
            _("Town: {town}.").format(town=place.name(context.language))
        )
    else:
        data.city, data.town = OTHER, text
    return await _advance(update, context, ReportStep.CITY, data)


async def choose_count(update: Update, context: JiynContext) -> ReportStep:
    """How many people, from the buttons."""
    await _answer_query(update)
    data = await _answers(update, context)
    data.people = update.callback_query.data.rsplit(":", 1)[-1]
    return await _advance(update, context, ReportStep.COUNT, data)


async def type_count(update: Update, context: JiynContext) -> ReportStep:
    """How many people, typed: a number, a range or "I don't know", in words or digits."""
    _ = context.gettext
    people = parse_people(update.effective_message.text or "")
    if people is None:
        data = await _answers(update, context)
        await update.effective_chat.send_message(
            _("Please type a number, like 3, or use the buttons.")
        )
        await ask_step(update, context, ReportStep.COUNT, data)
        return ReportStep.COUNT
    data = await _answers(update, context)
    data.people = people
    return await _advance(update, context, ReportStep.COUNT, data)


def _text_answer(field_name: str, step: ReportStep, limit: int):  # type: ignore[no-untyped-def]
    async def save_text(update: Update, context: JiynContext) -> ReportStep:
        """Store a typed answer of this step ("skip" alone skips it)."""
        text = (update.effective_message.text or "").strip()
        if len(text) > limit:
            return await _too_long(update, context, limit)
        if SKIP_ANSWERS.match(text, whole=True):
            return await skip_step(update, context)
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
    if step == ReportStep.CITY:
        data.city, data.town = OTHER, None
    return await _advance(update, context, step, data)


async def add_media(update: Update, context: JiynContext) -> ReportStep:
    """A photo, video, voice or video note, audio or file: kept as Telegram file ids
    (encrypted)."""
    _ = context.gettext
    message = update.effective_message
    data = await _answers(update, context)
    if message.photo:
        item = {"type": "photo", "file_id": message.photo[-1].file_id}
    else:
        kind, attachment = next(
            (kind, getattr(message, kind))
            for kind in ("video", "voice", "video_note", "audio", "document")
            if getattr(message, kind) is not None
        )
        item = {"type": kind, "file_id": attachment.file_id}
    if len(data.media) >= limits.MAX_MEDIA:
        await message.reply_text(
            _("That is the most I can attach ({limit}). Press Done.").format(
                limit=limits.MAX_MEDIA
            ),
            reply_markup=InlineKeyboardMarkup([button(_("Done"), "report:media:done")]),
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
        reply_markup=InlineKeyboardMarkup([button(_("Done"), "report:media:done")]),
    )
    return ReportStep.MEDIA


async def finish_media(update: Update, context: JiynContext) -> ReportStep:
    """Done with photos."""
    await _answer_query(update)
    data = await _answers(update, context)
    return await _advance(update, context, ReportStep.MEDIA, data)


async def type_media_text(update: Update, context: JiynContext) -> ReportStep:
    """Text while attachments are asked for: "done" (or "skip") goes on; anything else is
    explained."""
    _ = context.gettext
    if DONE_ANSWERS.match(update.effective_message.text or "", whole=True):
        return await finish_media(update, context)
    await update.effective_chat.send_message(
        _(
            "Here I take photos, videos and voice messages. Send one, or press Done (or "
            "write “done”) to go on."
        ),
        reply_markup=InlineKeyboardMarkup([button(_("Done"), "report:media:done")]),
    )
    return ReportStep.MEDIA


async def share_contact(update: Update, context: JiynContext) -> ReportStep:
    """The person shared their phone number with the button."""
    _ = context.gettext
    contact = update.effective_message.contact
    data = await _answers(update, context)
    # The button shares the person's own card; a card without user_id is any address-book entry.
    if contact.user_id != update.effective_user.id:
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


async def type_contact(update: Update, context: JiynContext) -> ReportStep:
    """A typed phone number, or words meaning "only through this chat"."""
    _ = context.gettext
    text = (update.effective_message.text or "").strip()
    if PHONE_PATTERN.match(text):
        data = await _answers(update, context)
        data.contact, data.phone = "phone", text[: limits.MAX_PHONE]
        await update.effective_chat.send_message(
            _("Phone number saved."), reply_markup=ReplyKeyboardRemove()
        )
        return await _advance(update, context, ReportStep.CONTACT, data)
    if CONTACT_ANSWERS.match(text) or SKIP_ANSWERS.match(text, whole=True):
        return await choose_telegram_contact(update, context)
    return await _not_understood(update, context, ReportStep.CONTACT)


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


async def type_consent(update: Update, context: JiynContext) -> ReportStep:
    """A typed yes or no to being contacted."""
    answer = YES_NO_ANSWERS.match(update.effective_message.text or "")
    if answer is None:
        return await _not_understood(update, context, ReportStep.CONSENT)
    data = await _answers(update, context)
    data.consent = answer == "yes"
    return await _advance(update, context, ReportStep.CONSENT, data)


async def type_summary(update: Update, context: JiynContext) -> ReportStep | int:
    """At the summary, a typed "send" sends and a field's name changes that field."""
    choice = SUMMARY_ANSWERS.match(update.effective_message.text or "")
    if choice == "confirm":
        return await confirm_report(update, context)
    if choice is None:
        return await _not_understood(update, context, ReportStep.SUMMARY)
    data = await _answers(update, context)
    data.editing = True
    return await _next(update, context, EDITABLE[choice], data)


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

    def confirmation(code: str) -> str:
        return _(
            "✅ Report <b>{code}</b> is received.\n\n"
            "What happens next: volunteers review reports by urgency. If you agreed, they will "
            "write to you here, through the bot. /myreports shows the status; you can delete "
            "your data at any time with /forget.\n\n"
            "What to do now:"
        ).format(code=html.escape(code))

    rows: list[OutboxMessage] = []
    try:
        code = await context.services.reports.submit(
            update.effective_chat.id,
            update.effective_user.id,
            context.language,
            draft.data,
            draft.report_id,
            filed=_confirm_in_outbox(
                update, context, rows, confirmation, ReplyKeyboardRemove()
            ),
        )
    except TooManyReports:
        return await _refuse_flood(update, context)
    if context.services.notifier is not None:
        context.services.notifier.wake()
    await _send_confirmation(update, context, rows, confirmation(code), ReplyKeyboardRemove())
    if draft.data.role in ("witness", "relative"):
        await rights.send_relatives_steps(update, context)
    else:
        await rights.send_checklist(update, context)
    return ConversationHandler.END


def report_conversation() -> ConversationHandler:
    """The ConversationHandler of the report journey."""
    # An edited message is not an answer: it would overwrite the answer to a later question
    # (and a live location sends an edit every few seconds).
    fresh = ~filters.UpdateType.EDITED
    text = filters.TEXT & ~filters.COMMAND & fresh
    skip = CallbackQueryHandler(skip_step, pattern=r"^report:skip$")
    attachments = (
        filters.PHOTO
        | filters.VIDEO
        | filters.VOICE
        | filters.VIDEO_NOTE
        | filters.AUDIO
        | filters.Document.ALL
    )
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
                    ),
                    MessageHandler(text, type_role),
                ],
                ReportStep.WHEN: [
                    CallbackQueryHandler(choose_when, pattern=r"^report:when:(now|today|custom)$"),
                    MessageHandler(text, type_when_choice),
                ],
                ReportStep.WHEN_CUSTOM: [MessageHandler(text, type_when)],
                ReportStep.WHERE: [
                    MessageHandler(filters.LOCATION & fresh, send_location),
                    MessageHandler(text, type_place),
                    skip,
                ],
                ReportStep.CITY: [
                    CallbackQueryHandler(choose_city, pattern=r"^report:city:[a-z0-9-]+$"),
                    MessageHandler(text, type_city),
                    skip,
                ],
                ReportStep.COUNT: [
                    CallbackQueryHandler(
                        choose_count, pattern=r"^report:count:(1|2-5|6-20|20\+|unknown)$"
                    ),
                    MessageHandler(text, type_count),
                    skip,
                ],
                ReportStep.NAME: [MessageHandler(text, type_name), skip],
                ReportStep.POLICE: [MessageHandler(text, type_police), skip],
                ReportStep.DETAILS: [MessageHandler(text, type_details), skip],
                ReportStep.MEDIA: [
                    MessageHandler(attachments & fresh, add_media),
                    MessageHandler(text, type_media_text),
                    CallbackQueryHandler(finish_media, pattern=r"^report:media:done$"),
                    skip,
                ],
                ReportStep.CONTACT: [
                    MessageHandler(filters.CONTACT & fresh, share_contact),
                    MessageHandler(text, type_contact),
                    CallbackQueryHandler(
                        choose_telegram_contact, pattern=r"^report:contact:telegram$"
                    ),
                ],
                ReportStep.CONSENT: [
                    CallbackQueryHandler(choose_consent, pattern=r"^report:consent:(yes|no)$"),
                    MessageHandler(text, type_consent),
                ],
                ReportStep.RESUME: [MessageHandler(text, type_resume)],
                ReportStep.SUMMARY: [
                    CallbackQueryHandler(confirm_report, pattern=r"^report:confirm$"),
                    CallbackQueryHandler(edit_field, pattern=r"^report:edit:[a-z]+$"),
                    MessageHandler(text, type_summary),
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
