"""The volunteer team: admins add and remove volunteers (/volunteer) or make single-use invite
links (/invite); an invite is accepted with /start vol_<token>. Volunteers and admins get the
review commands in their own command menu (a per-chat scope), nobody else sees them."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable

from telegram import Bot, BotCommand, BotCommandScopeChat, Update
from telegram.error import TelegramError

from bot.core.i18n import gettext_for
from bot.core.models import Role
from bot.services import users
from bot.telegram.context import JiynContext
from handlers.menu import BOT_COMMANDS
from handlers.review.access import authorize
from handlers.review.commands import ADMIN_COMMANDS, REVIEW_COMMANDS
from handlers.review.common import review_service

log = logging.getLogger(__name__)

INVITE_PREFIX = "vol_"
INVITE_PATTERN = r"^/start(@\w+)? vol_[A-Za-z0-9_-]{16,48}$"
TELEGRAM_ID = re.compile(r"[0-9]{1,15}")


async def set_review_commands(bot: Bot, chat_id: int, role: Role, language: str) -> None:
    """Show the review commands in this person's menu (or take them away for a user)."""
    scope = BotCommandScopeChat(chat_id)
    try:
        if role == Role.USER:
            await bot.delete_my_commands(scope=scope)
            return
        _ = gettext_for(language)
        entries = list(BOT_COMMANDS) + list(REVIEW_COMMANDS)
        if role == Role.ADMIN:
            entries += list(ADMIN_COMMANDS)
        await bot.set_my_commands(
            [BotCommand(name, _(description)) for name, description in entries], scope=scope
        )
    except TelegramError:
        log.warning("could not update the command menu of a volunteer's chat")


async def _commands_for(context: JiynContext, user_id: int) -> None:
    services = context.services
    role = await services.access.role_of(user_id)
    language = await services.users.language_of(user_id, services.settings.default_language)
    await set_review_commands(context.bot, user_id, role, language)


async def manage_volunteers(update: Update, context: JiynContext) -> None:
    """/volunteer add <id> · /volunteer remove <id> · /volunteer (the list)."""
    _ = context.gettext
    if await authorize(update, context, "volunteers") is None:
        return
    services = context.services
    admin_id = update.effective_user.id
    args = context.args or []
    message = update.effective_message
    if len(args) == 2 and args[0] in ("add", "remove") and TELEGRAM_ID.fullmatch(args[1]):
        target = int(args[1])
        if target in services.settings.admin_ids:
            await message.reply_text(_("This person is an admin (JIYN_ADMIN_IDS)."))
            return
        adding = args[0] == "add"
        changed = await services.users.set_volunteer(target, adding)
        released = 0
        if not adding and changed:
            released = await review_service(context).release_all_of(target, admin_id)
            await review_service(context).clear_input(target)
        await services.access.record_audit(
            admin_id,
            "volunteer_add" if adding else "volunteer_remove",
            detail={"user": target, "changed": changed, "released": released},
        )
        if adding:
            template = (
                _("{id} is now a volunteer.") if changed else _("{id} is already a volunteer.")
            )
        elif changed:
            template = _("{id} is no longer a volunteer.")
        else:
            template = _("{id} was not a volunteer.")
        text = template.format(id=target)
        if released:
            text += " " + context.ngettext(
                "{n} report they held is back in the queue.",
                "{n} reports they held are back in the queue.",
                released,
            ).format(n=released)
        await message.reply_text(text)
        if changed:
            await _commands_for(context, target)
            if adding:
                await _welcome(context, target)
        return
    if args:
        await message.reply_html(_usage(context))
        return
    volunteers = await services.users.volunteer_ids()
    admins_label, volunteers_label = _("Admins"), _("Volunteers")
    lines = [
        f"<b>{html.escape(admins_label)}:</b> " + _ids(sorted(services.settings.admin_ids)),
        f"<b>{html.escape(volunteers_label)}:</b> " + (_ids(volunteers) or "—"),
    ]
    lines += ["", _usage(context)]
    await message.reply_html("\n".join(lines))


def _ids(ids: list[int]) -> str:
    return ", ".join(f"<code>{telegram_id}</code>" for telegram_id in ids)


def _usage(context: JiynContext) -> str:
    _ = context.gettext
    return html.escape(
        _(
            "/volunteer add ID — make someone a volunteer\n"
            "/volunteer remove ID — take the role away\n"
            "/invite — a link that makes its first user a volunteer"
        )
    )


async def _welcome(context: JiynContext, user_id: int) -> None:
    services = context.services
    language = await services.users.language_of(user_id, services.settings.default_language)
    _ = gettext_for(language)
    try:
        await context.bot.send_message(user_id, _welcome_text(_))
    except TelegramError:
        pass  # they have not started the bot yet; /queue works once they do


def _welcome_text(_: Callable[[str], str]) -> str:
    return _(
        "You are now a Jiyn volunteer. /queue shows the reports to review, /stats the numbers, "
        "/export the data. Review works only here, in this private chat; the volunteer group "
        "gets alerts without personal data."
    )


async def create_invite(update: Update, context: JiynContext) -> None:
    """/invite: a link that makes the first person who opens it a volunteer."""
    _ = context.gettext
    if await authorize(update, context, "invite") is None:
        return
    services = context.services
    admin_id = update.effective_user.id
    token = await services.users.create_invite(admin_id)
    await services.access.record_audit(admin_id, "invite_created")
    link = f"https://t.me/{context.bot.username}?start={INVITE_PREFIX}{token}"
    hours = int(users.INVITE_LIFETIME.total_seconds() // 3600)
    await update.effective_message.reply_html(
        html.escape(
            context.ngettext(
                "Send this link to one new volunteer. It works once, for {n} hour:",
                "Send this link to one new volunteer. It works once, for {n} hours:",
                hours,
            ).format(n=hours)
        )
        + f"\n{html.escape(link)}",
        disable_web_page_preview=True,
    )


async def accept_invite(update: Update, context: JiynContext) -> None:
    """/start vol_<token>: become a volunteer if the link is valid, unused and not expired."""
    _ = context.gettext
    services = context.services
    user_id = update.effective_user.id
    message = update.effective_message
    if update.effective_chat.type != "private":
        return
    token = (message.text or "").split(maxsplit=1)[1].removeprefix(INVITE_PREFIX)
    role = await services.access.role_of(user_id)
    if role != Role.USER:
        await message.reply_text(_("You are already on the volunteer team. /queue"))
        return
    inviter = await services.users.redeem_invite(token, user_id)
    await services.access.record_audit(
        user_id,
        "invite_accepted" if inviter is not None else "invite_refused",
        allowed=inviter is not None,
    )
    if inviter is None:
        await message.reply_text(
            _("This invite link is not valid any more. Ask an admin for a new one.")
        )
        return
    await message.reply_text(_welcome_text(_))
    await _commands_for(context, user_id)
    inviter_language = await services.users.language_of(inviter, services.settings.default_language)
    try:
        await context.bot.send_message(
            inviter, _invite_used_text(gettext_for(inviter_language), user_id)
        )
    except TelegramError:
        log.warning("could not tell an admin that their invite was used")


def _invite_used_text(_: Callable[[str], str], user_id: int) -> str:
    return _("Your invite link was used: {id} is now a volunteer.").format(id=user_id)


async def register_team_commands(context: JiynContext) -> None:
    """At start: the review commands in the menus of every admin and volunteer."""
    services = context.services
    team = sorted(services.settings.admin_ids) + await services.users.volunteer_ids()
    for user_id in team:
        await _commands_for(context, user_id)
