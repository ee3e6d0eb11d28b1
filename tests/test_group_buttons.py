"""Buttons in a group act only for the person the bot answered: another member pressing them gets
a short alert in their own language, and nothing of the asker's changes (the message, the chat,
their settings, their votes); the asker's own presses work as in a private chat."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.core.i18n import gettext_for
from bot.core.models import Report
from bot.localapi.server import ApiCall, LocalBotApi
from bot.services.ask.feedback import feedback_counts
from bot.services.users import saved_language
from tests.support.harness import (
    Person,
    RunningBot,
    find_button_message,
    report_in_conversation,
    settle,
)
from tests.support.review import services

GROUP = -1_005_550
ASKER_ID = 7_555_001
OTHER_ID = 7_555_002
FOR_THE_ASKER = "This button is for the person who asked."
MENU = ("menu:ask", "menu:venues", "menu:rights", "menu:report", "menu:language")


def people(api: LocalBotApi) -> tuple[dict[str, Any], dict[str, Any]]:
    """The asker (English) and another member of the group (Kazakh), both in the group."""
    asker = api.user(ASKER_ID, first_name="Asker", language_code="en")
    other = api.user(OTHER_ID, first_name="Other", language_code="kk")
    api.send_group_text(asker, GROUP, "hello")
    return asker, other


async def says_in_group(
    bot: RunningBot, user: dict[str, Any], text: str
) -> tuple[dict[str, Any], list[ApiCall]]:
    """The user writes in the group; their message and what the bot did about it."""
    mark = bot.api.mark()
    message = bot.api.send_group_text(user, GROUP, text)["message"]
    return message, await settle(bot, mark)


async def presses(
    bot: RunningBot,
    user: dict[str, Any],
    data: str,
    message: dict[str, Any] | None = None,
    *,
    forged: bool = False,
) -> list[ApiCall]:
    """The user presses a button of `message`, by default the newest group message that offers
    it; `forged`: a message the bot never sent (forged, or forwarded into the group)."""
    message = message or find_button_message(bot.api, GROUP, data)
    mark = bot.api.mark()
    bot.api.press_button(user, message, data, strict=not forged)
    return await settle(bot, mark)


def assert_only_alerted(calls: list[ApiCall], language: str) -> None:
    """The presser got the alert in their language, and nothing else happened anywhere."""
    assert [call.method for call in calls] == ["answerCallbackQuery"], calls
    assert calls[0].params["text"] == gettext_for(language)(FOR_THE_ASKER)
    assert calls[0].params.get("show_alert") in (True, "true")


def quoted_user(call: ApiCall) -> int:
    """Whose message the bot's message answers."""
    return int(call.result["reply_to_message"]["from"]["id"])


def sent(calls: list[ApiCall]) -> list[ApiCall]:
    """The messages (and pins) the bot sent in these calls."""
    return [call for call in calls if call.method.startswith("send") and call.ok]


async def test_menu_buttons_in_a_group_act_only_for_the_person_who_asked(
    bot: RunningBot,
) -> None:
    asker, other = people(bot.api)
    await says_in_group(bot, asker, "/start")
    menu = find_button_message(bot.api, GROUP, "menu:venues")
    assert menu["reply_to_message"]["from"]["id"] == ASKER_ID
    for data in MENU:
        assert_only_alerted(await presses(bot, other, data), "kk")
    assert bot.api.bot_messages(GROUP)[-1]["message_id"] == menu["message_id"]

    # The asker's own press answers as before, quoting the asker, so that answer's buttons are
    # theirs too.
    calls = sent(await presses(bot, asker, "menu:venues"))
    assert "Choose a city" in calls[0].params["text"] and quoted_user(calls[0]) == ASKER_ID
    assert_only_alerted(await presses(bot, other, "venues:city:almaty"), "kk")
    calls = sent(await presses(bot, asker, "venues:city:almaty"))
    assert quoted_user(calls[0]) == ASKER_ID and "sendVenue" in [c.method for c in calls]
    article = find_button_message(bot.api, GROUP, "kb:fb:venues-almaty:up")
    related = [
        button["callback_data"]
        for row in article["reply_markup"]["inline_keyboard"]
        for button in row
        if button["callback_data"].startswith(("kb:show:", "kb:src:"))
    ]
    assert related
    for data in related:
        assert_only_alerted(await presses(bot, other, data, article), "kk")
    calls = sent(await presses(bot, asker, related[0], article))
    assert quoted_user(calls[0]) == ASKER_ID
    assert not bot.api.refused_calls()


async def test_another_member_cannot_set_a_language_from_the_askers_picker(
    bot: RunningBot,
) -> None:
    asker, other = people(bot.api)
    await says_in_group(bot, asker, "/language")
    picker = find_button_message(bot.api, GROUP, "lang:set:kk")
    assert_only_alerted(await presses(bot, other, "lang:set:ru"), "kk")
    sessions, cipher = services(bot).sessions, services(bot).cipher
    assert await saved_language(sessions, cipher, OTHER_ID) is None
    assert await saved_language(sessions, cipher, ASKER_ID) is None
    assert find_button_message(bot.api, GROUP, "lang:set:kk")["text"] == picker["text"]

    calls = await presses(bot, asker, "lang:set:ru")
    assert await saved_language(sessions, cipher, ASKER_ID) == "ru"
    assert await saved_language(sessions, cipher, OTHER_ID) is None
    [edit] = [call for call in calls if call.method == "editMessageText"]
    assert edit.params["message_id"] == picker["message_id"] and "Язык" in edit.params["text"]
    [menu] = sent(calls)
    assert quoted_user(menu) == ASKER_ID and "Что вам нужно?" in menu.params["text"]
    assert_only_alerted(await presses(bot, other, "menu:language"), "kk")


async def test_another_member_cannot_vote_on_the_askers_answer(bot: RunningBot) -> None:
    asker, other = people(bot.api)
    await says_in_group(bot, asker, "/rights")
    answer = find_button_message(bot.api, GROUP, "kb:fb:if-detained:down")
    assert answer["reply_to_message"]["from"]["id"] == ASKER_ID
    sessions = services(bot).sessions
    for vote in ("up", "down"):
        assert_only_alerted(await presses(bot, other, f"kb:fb:if-detained:{vote}"), "kk")
    assert await feedback_counts(sessions, "if-detained") == (0, 0)
    assert find_button_message(bot.api, GROUP, "kb:fb:if-detained:down") == answer

    calls = await presses(bot, asker, "kb:fb:if-detained:down")
    assert await feedback_counts(sessions, "if-detained") == (0, 1)
    assert [call.method for call in calls] == ["answerCallbackQuery", "editMessageReplyMarkup"]
    # The answer quotes "/rights", which is no question for the editors' log.
    assert await services(bot).gaps.summary() == []


async def test_forget_buttons_in_a_group_delete_nothing_of_anyone(bot: RunningBot) -> None:
    asker, other = people(bot.api)
    code = await report_in_conversation(Person(bot, asker), name="Asker's brother")
    await Person(bot, other).says("/language")
    await Person(bot, other).taps("lang:set:kk")
    asked, calls = await says_in_group(bot, asker, "/forget")
    assert not sent(calls)  # /forget is answered only in the private chat
    # A confirmation in the group answering the asker's /forget, forged or forwarded there.
    message = {
        "message_id": 987_654,
        "date": 0,
        "chat": asked["chat"],
        "from": bot.api.bot_user,
        "text": "Delete?",
        "reply_to_message": asked,
    }
    for data in ("forget:confirm", "forget:keep"):
        assert_only_alerted(await presses(bot, other, data, message, forged=True), "kk")
    sessions, cipher = services(bot).sessions, services(bot).cipher
    assert await saved_language(sessions, cipher, OTHER_ID) == "kk"
    assert await brother_of(bot, code) == "Asker's brother"
    # Buttons of a message that answers nobody act for nobody in a group.
    unanswered = {key: value for key, value in message.items() if key != "reply_to_message"}
    calls = await presses(bot, asker, "forget:confirm", unanswered, forged=True)
    assert_only_alerted(calls, "en")
    assert await brother_of(bot, code) == "Asker's brother"


async def brother_of(bot: RunningBot, code: str) -> str | None:
    """The detained person's name in the report, as stored (decrypted)."""
    async with services(bot).sessions() as session:
        name = await session.scalar(select(Report.detained_name_enc).where(Report.code == code))
    return services(bot).cipher.decrypt(name)
