"""The real Application against the local Bot API server and a real database: greeting in the
user's language, /language that survives a restart, replies to the unexpected."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.crypto import Cipher
from bot.core.db import create_engine
from bot.core.i18n import gettext_for
from bot.core.models import User
from bot.localapi.server import LocalBotApi
from tests.support.harness import TEST_KEY, RunningBot, make_settings, run_bot

GREETING = (
    "<b>Jiyn</b> helps you use your right of peaceful assembly in Kazakhstan.\n\n"
    "Ask a question in your own words, find where assemblies may be held, learn what "
    "to do if you are detained, or report a detention."
)
MENU_DATA = ["menu:ask", "menu:venues", "menu:rights", "menu:report", "menu:language"]


def _button_rows(call) -> list[list[dict]]:
    return call.params["reply_markup"]["inline_keyboard"]


def _callback_data(call) -> list[str]:
    return [button["callback_data"] for row in _button_rows(call) for button in row]


def _labels(call) -> list[str]:
    return [button["text"] for row in _button_rows(call) for button in row]


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
async def test_start_answers_in_the_telegram_language_with_the_menu(
    bot: RunningBot, language: str
) -> None:
    user = bot.api.user(1000 + len(language), first_name="Aigerim", language_code=language)
    [reply] = await bot.say(user, "/start")
    _ = gettext_for(language)
    assert reply.params["text"] == _(GREETING)
    assert reply.params["parse_mode"] == "HTML"
    assert _callback_data(reply) == MENU_DATA
    assert _labels(reply)[0] == _("❓ Ask a question")
    assert not bot.api.refused_calls()


async def test_start_texts_differ_between_languages(bot: RunningBot) -> None:
    texts = set()
    for offset, language in enumerate(["kk", "ru", "en"]):
        user = bot.api.user(2000 + offset, language_code=language)
        [reply] = await bot.say(user, "/start")
        texts.add(reply.params["text"])
    assert len(texts) == 3


async def test_unsupported_telegram_language_gets_the_default(bot: RunningBot) -> None:
    user = bot.api.user(3001, language_code="de")
    [reply] = await bot.say(user, "/start")
    assert reply.params["text"] == gettext_for("ru")(GREETING)


async def _choose_language(bot: RunningBot, user: dict, language: str) -> None:
    [picker] = await bot.say(user, "/language")
    assert _callback_data(picker) == ["lang:set:kk", "lang:set:ru", "lang:set:en"]
    mark = bot.api.mark()
    message = bot.api.bot_messages(user["id"])[-1]
    bot.api.press_button(user, message, f"lang:set:{language}")
    await bot.api.wait_for_call("answerCallbackQuery", since=mark)
    [confirmation] = await bot.api.wait_for_call("editMessageText", since=mark)
    assert confirmation.params["text"] == gettext_for(language)(
        "Language: English. You can change it with /language."
    )
    await bot.api.wait_for_call("sendMessage", since=mark)


async def test_language_choice_wins_and_survives_a_restart(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(api, database_url, tmp_path)
    user = api.user(4001, first_name="Dana", language_code="en")
    async with run_bot(api, settings) as bot:
        await _choose_language(bot, user, "kk")
        [reply] = await bot.say(user, "/start")
        assert reply.params["text"] == gettext_for("kk")(GREETING)

    async with run_bot(api, settings) as restarted:
        [reply] = await restarted.say(user, "/start")
        assert reply.params["text"] == gettext_for("kk")(GREETING)

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    select(User).where(
                        User.id_hash == Cipher((TEST_KEY.encode(),)).lookup_hash(4001)
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    assert row.language == "kk"
    assert row.telegram_language == "en"


async def test_a_sticker_gets_a_reply_with_the_menu(bot: RunningBot) -> None:
    user = bot.api.user(5001, language_code="ru")
    mark = bot.api.mark()
    bot.api.send_sticker(user)
    [reply] = await bot.api.wait_for_call("sendMessage", since=mark)
    assert reply.params["text"] == gettext_for("ru")(
        "I can't read this kind of message. Please write your question as text or use the menu."
    )
    assert _callback_data(reply) == MENU_DATA


async def test_an_unknown_command_gets_a_reply_with_the_menu(bot: RunningBot) -> None:
    user = bot.api.user(5002, language_code="en")
    [reply] = await bot.say(user, "/frobnicate")
    assert reply.params["text"].startswith("I don't know this command.")
    assert _callback_data(reply) == MENU_DATA


async def test_a_stale_button_is_answered_and_the_menu_shown(bot: RunningBot) -> None:
    user = bot.api.user(5003, language_code="en")
    [start] = await bot.say(user, "/start")
    message = bot.api.bot_messages(user["id"])[-1]
    mark = bot.api.mark()
    bot.api.press_button(user, message, "gone:action:42", strict=False)
    [answer] = await bot.api.wait_for_call("answerCallbackQuery", since=mark)
    assert answer.params["text"] == "This button is no longer active."
    [menu] = await bot.api.wait_for_call("sendMessage", since=mark)
    assert _callback_data(menu) == MENU_DATA
    assert start.ok


async def test_commands_are_registered_in_every_language(bot: RunningBot) -> None:
    calls = await bot.api.wait_for_call("setMyCommands", count=4, since=0)
    by_language = {call.params.get("language_code"): call.params["commands"] for call in calls}
    assert set(by_language) == {"kk", "ru", "en", None}
    descriptions = {lang: cmds[0]["description"] for lang, cmds in by_language.items()}
    assert descriptions["ru"] == "Главное меню"
    assert descriptions["kk"] == "Басты мәзір"
    assert descriptions["en"] == "Main menu"


async def test_group_chatter_is_ignored(bot: RunningBot) -> None:
    user = bot.api.user(5004, language_code="en")
    mark = bot.api.mark()
    bot.api.send_group_text(user, -100555, "hello everyone")
    [private] = await bot.say(user, "/start")
    sent_to_group = [
        call
        for call in bot.api.calls[mark:]
        if call.method == "sendMessage" and str(call.params.get("chat_id")) == "-100555"
    ]
    assert private.ok and not sent_to_group
