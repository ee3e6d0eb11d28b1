"""Helpers shared by the review tests (this module holds no tests): the bot configured with an
admin and a volunteer chat, reports filed through the real report service, forged button
presses, and readers of what the bot sent and stored."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.app import build_application
from bot.core.i18n import LANGUAGES, gettext_for
from bot.core.models import AuditEntry, Report, ReportEvent
from bot.localapi.server import ApiCall, LocalBotApi, UploadedFile
from bot.runner import polling
from bot.services import users
from bot.services.report.reports import DraftData
from bot.telegram.context import Services
from bot.telegram.http import TelegramLimits, Window
from tests.support.harness import Person, RunningBot, make_settings, settle

VOLUNTEER_CHAT = -1009100
ADMIN_ID = 7001
VOLUNTEER_ID = 7002
USER_ID = 7003
REPORTER_ID = 7004
SECOND_VOLUNTEER_ID = 7005
NOT_ALLOWED = "Sorry, this is only for Jiyn volunteers."
# The refusal as each person reads it.
REFUSALS = {gettext_for(language)(NOT_ALLOWED) for language in LANGUAGES}
PERSONAL = {
    "name": "Айгерим Секретова",
    "police": "ОП Медеуского района фургон 777",
    "details": "Схватили у входа в парк Ганди",
    "place": "Угол Абая и Байтурсынова",
    "phone": "+77011234567",
}


def review_settings_env(**extra: str) -> dict[str, str]:
    """The environment of a bot with one admin and a volunteer chat (which is written to in
    the default language: English here, to read the tests easily)."""
    return {
        "JIYN_ADMIN_IDS": str(ADMIN_ID),
        "JIYN_VOLUNTEER_CHAT_ID": str(VOLUNTEER_CHAT),
        "JIYN_DEFAULT_LANGUAGE": "en",
        **extra,
    }


def add_people(api: LocalBotApi) -> dict[str, dict[str, Any]]:
    """The Telegram users of the review tests, known to the local server (so their chats
    exist, as they would for people who have started the bot)."""
    people = {
        "admin": api.user(ADMIN_ID, first_name="Admina", language_code="en", username="adm_x"),
        "volunteer": api.user(
            VOLUNTEER_ID, first_name="Volodymyr", language_code="en", username="vol_secret"
        ),
        "user": api.user(USER_ID, first_name="Ulan", language_code="en", username="ulan_u"),
        "reporter": api.user(
            REPORTER_ID, first_name="Aigerim", language_code="ru", username="aigerim_kz"
        ),
        "volunteer2": api.user(
            SECOND_VOLUNTEER_ID, first_name="Vera", language_code="ru", username="vera_v"
        ),
    }
    # The group must exist on the server before the bot writes to it.
    api.send_group_text(people["user"], VOLUNTEER_CHAT, "hello")
    return people


# A volunteer works through many messages in one chat; at Telegram's pace (about one a second
# per chat, which tests/test_http.py covers) these tests would mostly wait. The rate limiter
# stays in place, with roomier windows.
FAST_LIMITS = TelegramLimits(
    private_chat=(Window(1000, 1.0),), group_chat=(Window(1000, 1.0), Window(20, 60.0))
)


@asynccontextmanager
async def review_bot(
    api: LocalBotApi, database_url: str, tmp_path: Path, **extra: str
) -> AsyncIterator[RunningBot]:
    """The real bot with an admin and a volunteer chat configured."""
    settings = make_settings(api, database_url, tmp_path, **review_settings_env(**extra))
    application = build_application(settings, rate_limits=FAST_LIMITS)
    async with polling(application, poll_timeout=1):
        running = RunningBot(api=api, application=application, settings=settings)
        # Likewise the volunteer chat's pace (18 a minute; tests/test_report_e2e.py covers it).
        notifier = services(running).notifier
        assert notifier is not None
        notifier.interval = 0.05
        await settle(running, 0)
        yield running


def services(bot: RunningBot) -> Services:
    """The running application's services."""
    return bot.application.bot_data["services"]


def actor(bot: RunningBot, row: ReportEvent | AuditEntry) -> int | None:
    """Who did it: the Telegram id stored encrypted in the event or audit entry."""
    return services(bot).cipher.decrypt_id(row.actor_enc)


def holder(bot: RunningBot, row: Report) -> int | None:
    """The volunteer holding the report: the Telegram id stored encrypted in the row."""
    return services(bot).cipher.decrypt_id(row.claimed_by_enc)


async def make_volunteer(bot: RunningBot, user_id: int) -> None:
    """Give the volunteer role in the database (what /volunteer add does)."""
    await users.set_volunteer(services(bot).sessions, services(bot).cipher, user_id, True)


async def file_report(
    bot: RunningBot,
    reporter: dict[str, Any],
    *,
    urgent: bool = False,
    consent: bool = True,
    city: str = "almaty",
    language: str = "ru",
    people: str = "3",
    media: list[dict[str, str]] | None = None,
) -> tuple[int, str]:
    """A report filed through the real report service, as the report conversation does it;
    returns (id, code)."""
    data = DraftData(
        role="now" if urgent else "witness",
        occurred_at=None,
        place=PERSONAL["place"],
        city=city,
        people=people,
        name=PERSONAL["name"],
        police=PERSONAL["police"],
        details=PERSONAL["details"],
        media=media or [],
        contact="phone",
        phone=PERSONAL["phone"],
        consent=consent,
        urgent=urgent,
    )
    reports = services(bot).reports
    code = await reports.submit(reporter["id"], reporter["id"], language, data, None)
    return await report_id_of(bot, code), code


async def report_id_of(bot: RunningBot, code: str) -> int:
    """The id of the report with this code."""
    async with services(bot).sessions() as session:
        return int(await session.scalar(select(Report.id).where(Report.code == code)))


async def report_row(bot: RunningBot, report_id: int) -> Report:
    """The report as stored now."""
    async with services(bot).sessions() as session:
        return await session.get(Report, report_id)


async def report_events(bot: RunningBot, report_id: int) -> list[ReportEvent]:
    """The report's history, oldest first."""
    async with services(bot).sessions() as session:
        rows = await session.scalars(
            select(ReportEvent).where(ReportEvent.report_id == report_id).order_by(ReportEvent.id)
        )
        return list(rows.all())


async def audit_entries(bot: RunningBot) -> list[AuditEntry]:
    """The audit log, oldest first."""
    async with services(bot).sessions() as session:
        return list((await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all())


async def forge(
    bot: RunningBot, user: dict[str, Any], data: str, chat_id: int | None = None
) -> list[ApiCall]:
    """Press a button that was never sent to this user (forged callback data), as if on a
    message in `chat_id` (their own chat by default)."""
    chat = chat_id if chat_id is not None else user["id"]
    message = {
        "message_id": 987654,
        "date": 0,
        "chat": {"id": chat, "type": "private", "first_name": "X"},
        "text": "forged",
    }
    mark = bot.api.mark()
    bot.api.press_button(user, message, data, strict=False)
    return await settle(bot, mark)


def said(calls: list[ApiCall]) -> str:
    """Everything the calls showed: texts, captions, callback answers, button labels and data
    (of the calls the server carried out)."""
    parts = []
    for call in calls:
        if not call.ok:
            continue
        params = call.params
        for key in ("text", "caption"):
            if params.get(key):
                parts.append(str(params[key]))
        markup = params.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []) if isinstance(markup, dict) else []:
            for button in row:
                parts.append(f"{button.get('text')} {button.get('callback_data', '')}")
    return "\n".join(parts)


def refused(calls: list[ApiCall]) -> bool:
    """Whether the bot answered with the "only for volunteers" refusal (in any language)."""
    shown = said(calls)
    return any(refusal in shown for refusal in REFUSALS)


class Reviewer(Person):
    """A person talking to the bot in a private chat, with a few review shortcuts."""

    async def opens(self, report_id: int) -> list[ApiCall]:
        """Open the report's card with the button a queue line or an alert carries."""
        return await forge(self.bot, self.user, f"rv:open:{report_id}")


def documents(calls: list[ApiCall]) -> dict[str, bytes]:
    """The files the bot sent, by file name."""
    found = {}
    for call in calls:
        if call.method == "sendDocument":
            upload = call.params["document"]
            assert isinstance(upload, UploadedFile)
            found[upload.filename] = upload.data
    return found


def read_csv(data: bytes) -> list[dict[str, str]]:
    """Rows of an exported CSV (UTF-8 with a byte order mark)."""
    assert data.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


async def file_through_the_bot(person: Person, consent: bool) -> str:
    """A whole report written in the chat; returns its code."""
    await person.says("/report")
    await person.taps("report:role:witness")
    await person.taps("report:when:now")
    await person.says("У акимата")
    await person.taps("report:city:almaty")
    await person.taps("report:count:1")
    await person.taps("report:skip")  # name
    await person.taps("report:skip")  # police
    await person.says("Задержали за плакат")
    await person.taps("report:skip")  # media
    await person.taps("report:contact:telegram")
    await person.taps("report:consent:" + ("yes" if consent else "no"))
    calls = await person.taps("report:confirm")
    return said(calls).split("<b>")[1].split("</b>")[0]
