"""Messages between a volunteer and a reporter through the bot. Neither side sees the other's
Telegram account: the bot sends new messages with only the typed text (never forwards), and
the buttons name reports and messages, not people. A volunteer may write only if the reporter
agreed to be contacted or wrote first; a reporter's reply goes to the volunteer who wrote."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.core.i18n import gettext_for
from bot.core.models import OutboxMessage, Role
from bot.core.text import typed
from bot.services.review.access import RANK
from bot.services.review.workflow import MAX_MESSAGE, Pending, ReviewError
from bot.telegram.context import JiynContext
from bot.telegram.outbox import DELIVERED, RELAY, WAITING
from handlers.review.access import authorize, in_private_chat
from handlers.review.common import error_text, review_service, tell

log = logging.getLogger(__name__)

WRITE_PATTERN = r"^rv:write:[0-9]{1,9}$"
REPLY_PATTERN = r"^rl:(new:[0-9]{1,9}|re:[0-9]{1,9}:[0-9]{1,9})$"


async def ask_message_to_reporter(update: Update, context: JiynContext) -> None:
    """rv:write:<id>: check the volunteer may write to this reporter, then wait for the text."""
    _ = context.gettext
    report_id = int(update.callback_query.data.rsplit(":", 1)[-1])
    role = await authorize(update, context, "write", report_id)
    if role is None:
        return
    service = review_service(context)
    user_id = update.effective_user.id
    try:
        contact = await service.writable_contact(report_id, user_id, admin=role == Role.ADMIN)
    except ReviewError as error:
        await tell(update, error_text(context, error))
        return
    await service.expect_input(user_id, "write", report_id)
    await update.callback_query.answer()
    await update.effective_chat.send_message(
        f"<b>{html.escape(contact.code)}</b>\n"
        + html.escape(
            _("Type your message to the reporter. They will not see your name or account.")
            + "\n"
            + _("Send /cancel to stop.")
        ),
        parse_mode="HTML",
    )


async def _relayable_text(update: Update, context: JiynContext) -> str | None:
    """The typed message as it will be stored, or None after asking again (empty, which a
    message of control characters alone is, or too long)."""
    text = typed(update.effective_message.text or "").strip()
    if text and len(text) <= MAX_MESSAGE:
        return text
    _ = context.gettext
    await update.effective_message.reply_text(
        _("Please write at most {limit} characters.").format(limit=MAX_MESSAGE)
    )
    return None


async def send_message_to_reporter(
    update: Update, context: JiynContext, pending: Pending, role: Role
) -> bool:
    """The volunteer's typed message goes to the reporter as a new bot message with a Reply
    button; False keeps the question open (the text was empty or too long)."""
    _ = context.gettext
    text = await _relayable_text(update, context)
    if text is None:
        return False
    service = review_service(context)
    user_id = update.effective_user.id
    try:
        contact = await service.writable_contact(
            pending.report_id, user_id, admin=role == Role.ADMIN
        )
    except ReviewError as error:
        await update.effective_message.reply_text(error_text(context, error))
        return True
    outbox = context.services.outbox
    rows: list[OutboxMessage] = []
    messages: list[tuple[str, InlineKeyboardMarkup]] = []

    def to_outbox(session: object, event_id: int, kept: str) -> None:
        body, reply = _message_to_reporter(
            gettext_for(contact.language), contact.code, kept, contact.report_id, event_id
        )
        messages.append((body, reply))
        if outbox is not None:
            rows.append(outbox.add(session, RELAY, contact.chat_id, body, reply_markup=reply))

    await service.record_message_to_reporter(contact.report_id, user_id, text, then=to_outbox)
    if outbox is not None:
        # Delivered now, or from the outbox when Telegram answers again.
        outcomes = await outbox.deliver_now([row.id for row in rows])
        delivered = all(outcome in (DELIVERED, WAITING) for outcome in outcomes.values())
    else:
        [(body, reply)] = messages
        try:
            await context.bot.send_message(
                contact.chat_id, body, parse_mode="HTML", reply_markup=reply
            )
            delivered = True
        except (Forbidden, BadRequest):
            delivered = False
    if not delivered:
        await update.effective_message.reply_text(
            _("The message could not be delivered: the reporter has blocked the bot.")
        )
        return True
    await update.effective_message.reply_text(
        _("Sent to the reporter of {code}. Their answer will come here.").format(code=contact.code)
    )
    return True


async def ask_reply(update: Update, context: JiynContext) -> None:
    """rl:re:<report>:<message> (Reply) and rl:new:<report> (write to the volunteer): only the
    person who filed the report may use them; then wait for the text."""
    _ = context.gettext
    query = update.callback_query
    parts = query.data.split(":")
    report_id = int(parts[2])
    event_id = int(parts[3]) if parts[1] == "re" else None
    service = review_service(context)
    user_id = update.effective_user.id
    try:
        if not in_private_chat(update):
            raise ReviewError("not_yours")
        volunteer_id = await service.reply_route(user_id, report_id, event_id)
        volunteer_id = await _available_volunteer(context, report_id, volunteer_id)
    except ReviewError as error:
        if error.reason == "not_yours":
            services = context.services
            await services.access.record_audit(
                user_id,
                "reply",
                allowed=False,
                report_id=report_id,
                detail={"reason": "not_reporter", "attempt": query.data},
            )
        await tell(update, error_text(context, error))
        return
    await service.expect_input(user_id, "reply", report_id, volunteer_id)
    await query.answer()
    await update.effective_chat.send_message(
        _("Type your message to the volunteer. They will not see your name or account.")
        + "\n"
        + _("Send /cancel to stop.")
    )


async def _available_volunteer(context: JiynContext, report_id: int, volunteer_id: int) -> int:
    """The volunteer if they still have the role, else whoever holds the report now."""
    services = context.services
    role = await services.access.role_of(volunteer_id)
    if RANK[role] >= RANK[Role.VOLUNTEER]:
        return volunteer_id
    holder = await review_service(context).holder_of(report_id)
    if holder is not None and holder != volunteer_id:
        role = await services.access.role_of(holder)
        if RANK[role] >= RANK[Role.VOLUNTEER]:
            return holder
    raise ReviewError("no_volunteer")


async def send_reply_to_volunteer(update: Update, context: JiynContext, pending: Pending) -> bool:
    """The reporter's typed message goes to the volunteer, without who sent it; False keeps
    the question open (the text was empty or too long)."""
    _ = context.gettext
    text = await _relayable_text(update, context)
    if text is None:
        return False
    service = review_service(context)
    user_id = update.effective_user.id
    try:
        # Again at sending time: the report may have been forgotten, the volunteer removed.
        await service.check_reporter(user_id, pending.report_id)
        volunteer_id = await _available_volunteer(
            context, pending.report_id, int(pending.target_id or 0)
        )
    except ReviewError as error:
        await update.effective_message.reply_text(error_text(context, error))
        return True
    services = context.services
    language = await services.users.language_of(volunteer_id, services.settings.default_language)
    outbox = services.outbox
    rows: list[OutboxMessage] = []
    messages: list[tuple[str, InlineKeyboardMarkup]] = []

    def to_outbox(session: object, code: str, kept: str) -> None:
        body, buttons = _message_to_volunteer(gettext_for(language), code, kept, pending.report_id)
        messages.append((body, buttons))
        if outbox is not None:
            rows.append(outbox.add(session, RELAY, volunteer_id, body, reply_markup=buttons))

    await service.record_message_from_reporter(pending.report_id, text, then=to_outbox)
    if outbox is not None:
        outcomes = await outbox.deliver_now([row.id for row in rows])
        delivered = all(outcome in (DELIVERED, WAITING) for outcome in outcomes.values())
    else:
        [(body, buttons)] = messages
        try:
            await context.bot.send_message(
                volunteer_id, body, parse_mode="HTML", reply_markup=buttons
            )
            delivered = True
        except TelegramError:
            delivered = False
    if not delivered:
        log.warning("could not relay a reporter's message to a volunteer")
        await update.effective_message.reply_text(
            _("Sorry, the message could not be delivered. Please try again later.")
        )
        return True
    await update.effective_message.reply_text(_("Sent. The volunteer's answer will come here."))
    return True


def _message_to_reporter(
    _: Callable[[str], str], code: str, text: str, report_id: int, event_id: int
) -> tuple[str, InlineKeyboardMarkup]:
    """A volunteer's message as the reporter gets it, in the reporter's language."""
    title = _("Message from a Jiyn volunteer about report {code}:").format(code=code)
    reply = InlineKeyboardButton(_("↩️ Reply"), callback_data=f"rl:re:{report_id}:{event_id}")
    return (
        f"<b>{html.escape(title)}</b>\n\n{html.escape(text)}",
        InlineKeyboardMarkup([[reply]]),
    )


def _message_to_volunteer(
    _: Callable[[str], str], code: str, text: str, report_id: int
) -> tuple[str, InlineKeyboardMarkup]:
    """A reporter's message as the volunteer gets it, in the volunteer's language."""
    title = _("Message from the reporter of {code}:").format(code=code)
    buttons = [
        InlineKeyboardButton(_("✉️ Answer"), callback_data=f"rv:write:{report_id}"),
        InlineKeyboardButton(_("Open the report"), callback_data=f"rv:open:{report_id}"),
    ]
    return (
        f"<b>{html.escape(title)}</b>\n\n{html.escape(text)}",
        InlineKeyboardMarkup([buttons]),
    )
