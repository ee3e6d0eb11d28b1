"""The question of each report step with its buttons: a table from the step to the messages
that ask it (handlers/report/README.md draws the order of the steps)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)

from bot.core.gazetteer import gazetteer
from bot.services.report.reports import DraftData
from bot.telegram.context import JiynContext
from handlers.common.keyboards import button
from handlers.report.steps import ReportStep
from handlers.report.summary import summary_keyboard, summary_text


@dataclass(frozen=True)
class Prompt:
    """One message of a question."""

    text: str
    markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = None
    html: bool = False


Asker = Callable[[JiynContext, DraftData], list[Prompt]]



def _skip(context: JiynContext) -> list[InlineKeyboardButton]:
    return button(context.gettext("Skip"), "report:skip")


def _role(context: JiynContext, data: DraftData) -> list[Prompt]:
    _ = context.gettext
    return [
        Prompt(
            _("Who is reporting?"),
            InlineKeyboardMarkup(
                [
                    button(_("🚨 I am being detained right now"), "report:role:now"),
                    button(_("I saw a detention"), "report:role:witness"),
                    button(_("A relative or friend was detained"), "report:role:relative"),
                    button(_("I was detained earlier"), "report:role:self"),
                ]
            ),
        )
    ]


def _when(context: JiynContext, data: DraftData) -> list[Prompt]:
    _ = context.gettext
    return [
        Prompt(
            _("When did it happen?"),
            InlineKeyboardMarkup(
                [
                    button(_("Right now"), "report:when:now"),
                    button(_("Earlier today"), "report:when:today"),
                    button(_("Another day or time…"), "report:when:custom"),
                ]
            ),
        )
    ]


def _when_custom(context: JiynContext, data: DraftData) -> list[Prompt]:
    _ = context.gettext
    return [Prompt(_("Type the date and time, for example 21.11 18:30 (or just 18:30 for today)."))]


def _where(context: JiynContext, data: DraftData) -> list[Prompt]:
    _ = context.gettext
    return [
        Prompt(
            _(
                "Where did it happen? Press the button to send your location, or type the place "
                "(street, landmark)."
            ),
            ReplyKeyboardMarkup(
                [[KeyboardButton(_("📍 Send my location"), request_location=True)]],
                resize_keyboard=True,
                one_time_keyboard=True,
            ),
        ),
        Prompt(_("Or:"), InlineKeyboardMarkup([_skip(context)])),
    ]


def _city(context: JiynContext, data: DraftData) -> list[Prompt]:
    _ = context.gettext
    buttons = [
        InlineKeyboardButton(place.name(context.language), callback_data=f"report:city:{place.key}")
        for place in gazetteer().main_places(context.language)
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append(button(_("Another town or village"), "report:city:other"))
    return [
        Prompt(
            _("Which town or village? Choose it or type its name."), InlineKeyboardMarkup(rows)
        )
    ]


def _count(context: JiynContext, data: DraftData) -> list[Prompt]:
    _ = context.gettext
    return [
        Prompt(
            _("How many people were detained? Choose or type a number."),
            InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton("1", callback_data="report:count:1"),
                        InlineKeyboardButton("2–5", callback_data="report:count:2-5"),
                        InlineKeyboardButton("6–20", callback_data="report:count:6-20"),
                        InlineKeyboardButton(_("more than 20"), callback_data="report:count:20+"),
                    ],
                    button(_("I don't know"), "report:count:unknown"),
                ]
            ),
        )
    ]


def _name(context: JiynContext, data: DraftData) -> list[Prompt]:
    _ = context.gettext
    question = (
        _("Your name (optional). Only volunteers will see it; it is stored encrypted.")
        if data.role in ("now", "self")
        else _(
            "The detained person's name, if you know it. Only volunteers will see it; "
            "it is stored encrypted."
        )
    )
    return [Prompt(question, InlineKeyboardMarkup([_skip(context)]))]


def _police(context: JiynContext, data: DraftData) -> list[Prompt]:
    _ = context.gettext
    return [
        Prompt(
            _("Which police station, unit or van number, if you know?"),
            InlineKeyboardMarkup([button(_("I don't know"), "report:skip")]),
        )
    ]


def _details(context: JiynContext, data: DraftData) -> list[Prompt]:
    _ = context.gettext
    return [
        Prompt(
            _("What happened? A few words are enough."), InlineKeyboardMarkup([_skip(context)])
        )
    ]


def _media(context: JiynContext, data: DraftData) -> list[Prompt]:
    _ = context.gettext
    return [
        Prompt(
            _(
                "Photos, videos or voice messages? Send them now, then press Done. If you can "
                "only speak, record a voice message."
            ),
            InlineKeyboardMarkup([button(_("Done"), "report:media:done"), _skip(context)]),
        )
    ]


def _contact(context: JiynContext, data: DraftData) -> list[Prompt]:
    _ = context.gettext
    return [
        Prompt(
            _(
                "How can volunteers reach you? By default they write to you here, through the "
                "bot, without seeing your Telegram account. You can also share or type your "
                "phone number."
            ),
            ReplyKeyboardMarkup(
                [[KeyboardButton(_("📞 Share my phone number"), request_contact=True)]],
                resize_keyboard=True,
                one_time_keyboard=True,
            ),
        ),
        Prompt(
            _("Or:"),
            InlineKeyboardMarkup(
                [button(_("Only through this chat"), "report:contact:telegram")]
            ),
        ),
    ]


def _consent(context: JiynContext, data: DraftData) -> list[Prompt]:
    _ = context.gettext
    return [
        Prompt(
            _("May volunteers contact you about this report?"),
            InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(_("Yes"), callback_data="report:consent:yes"),
                        InlineKeyboardButton(_("No"), callback_data="report:consent:no"),
                    ]
                ]
            ),
        )
    ]


def _resume(context: JiynContext, data: DraftData) -> list[Prompt]:
    _ = context.gettext
    return [
        Prompt(
            _("You have an unfinished report. Continue it or start over?"),
            InlineKeyboardMarkup(
                [
                    button(_("Continue"), "report:resume"),
                    button(_("Start over"), "report:restart"),
                ]
            ),
        )
    ]


def _summary(context: JiynContext, data: DraftData) -> list[Prompt]:
    return [Prompt(summary_text(context, data), summary_keyboard(context), html=True)]


# Every step a person can be asked (PAUSED is not a question).
PROMPTS: dict[ReportStep, Asker] = {
    ReportStep.ROLE: _role,
    ReportStep.WHEN: _when,
    ReportStep.WHEN_CUSTOM: _when_custom,
    ReportStep.WHERE: _where,
    ReportStep.CITY: _city,
    ReportStep.COUNT: _count,
    ReportStep.NAME: _name,
    ReportStep.POLICE: _police,
    ReportStep.DETAILS: _details,
    ReportStep.MEDIA: _media,
    ReportStep.CONTACT: _contact,
    ReportStep.CONSENT: _consent,
    ReportStep.RESUME: _resume,
    ReportStep.SUMMARY: _summary,
}


async def ask_step(update: Update, context: JiynContext, step: ReportStep, data: DraftData) -> None:
    """Send the question of a step with its buttons."""
    asker = PROMPTS.get(step)
    if asker is None:
        return
    chat = update.effective_chat
    for prompt in asker(context, data):
        if prompt.html:
            await chat.send_message(prompt.text, parse_mode="HTML", reply_markup=prompt.markup)
        elif prompt.markup is not None:
            await chat.send_message(prompt.text, reply_markup=prompt.markup)
        else:
            await chat.send_message(prompt.text)
