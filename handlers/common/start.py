"""Greeting, help and the topic menu."""

from __future__ import annotations

from telegram import Update

from bot.telegram.context import JiynContext
from handlers.common.keyboards import main_menu


async def show_start(update: Update, context: JiynContext) -> None:
    """Greet the user and show the topic menu."""
    _ = context.gettext
    await update.effective_message.reply_html(
        _(
            "<b>Jiyn</b> helps you use your right of peaceful assembly in Kazakhstan.\n\n"
            "Ask a question in your own words, find where assemblies may be held, learn what "
            "to do if you are detained, or report a detention."
        ),
        reply_markup=main_menu(_),
    )


async def show_help(update: Update, context: JiynContext) -> None:
    """Explain what the bot can do and list its commands."""
    _ = context.gettext
    await update.effective_message.reply_html(
        _(
            "Write your question as you would ask a person, for example: "
            "<i>How many days before a rally must I notify the akimat?</i>\n\n"
            "/start — main menu\n"
            "/language — change the language\n"
            "/help — this message\n\n"
            "Answers are general legal information, not advice for your case: "
            "talk to a lawyer when you can."
        ),
        reply_markup=main_menu(_),
    )
