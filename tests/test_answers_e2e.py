"""Answering through the real bot and the local Bot API server: a question in each language,
related articles, feedback, /venues, a location, /rights and inline mode."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.core.db import create_engine
from bot.core.i18n import gettext_for
from bot.core.models import Feedback
from bot.telegram.html import html_to_plain
from tests.support.harness import RunningBot, to_chat


def _callback_data(call) -> list[str]:
    markup = call.params.get("reply_markup") or {}
    return [b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row]


@pytest.mark.parametrize(
    ("language", "question", "expected"),
    [
        ("ru", "За сколько дней нужно уведомить акимат о пикете?", ["5", "рабоч"]),
        ("kk", "Шеруге қанша күн бұрын өтініш беру керек?", ["10", "жұмыс"]),
        ("en", "Can a foreigner join a rally in Kazakhstan?", ["citizen"]),
    ],
)
async def test_a_question_is_answered_in_the_users_language_with_sources(
    bot: RunningBot, language: str, question: str, expected: list[str]
) -> None:
    user = bot.api.user(7000 + len(question), language_code=language)
    [reply] = await bot.say(user, question)
    text = html_to_plain(reply.params["text"]).lower()
    for fragment in expected:
        assert fragment in text
    _ = gettext_for(language)
    assert _("Sources:").lower() in text
    assert "2026" in text  # the "checked on" date
    data = _callback_data(reply)
    assert any(d.startswith("kb:fb:") and d.endswith(":up") for d in data)
    assert not bot.api.refused_calls()


async def test_related_article_button_sends_that_article(bot: RunningBot) -> None:
    user = bot.api.user(7101, language_code="ru")
    [reply] = await bot.say(user, "Сколько дней до митинга нужно подать уведомление в акимат?")
    related = [d for d in _callback_data(reply) if d.startswith("kb:show:")]
    assert related
    message = bot.api.bot_messages(user["id"])[-1]
    mark = bot.api.mark()
    bot.api.press_button(user, message, related[0])
    [article] = await bot.api.wait_for_call("sendMessage", since=mark, predicate=to_chat(7101))
    shown_id = related[0].split(":")[2]
    assert any(d == f"kb:fb:{shown_id}:up" for d in _callback_data(article))


async def test_feedback_is_stored_once_and_the_buttons_go_away(
    bot: RunningBot, database_url: str
) -> None:
    user = bot.api.user(7102, language_code="en")
    [reply] = await bot.say(user, "How many days in advance must I notify about a picket?")
    vote = next(d for d in _callback_data(reply) if d.startswith("kb:fb:") and d.endswith(":up"))
    article_id = vote.split(":")[2]
    message = bot.api.bot_messages(user["id"])[-1]
    mark = bot.api.mark()
    bot.api.press_button(user, message, vote)
    [thanks] = await bot.api.wait_for_call("answerCallbackQuery", since=mark)
    assert thanks.params["text"].startswith("Thank you")
    [edit] = await bot.api.wait_for_call("editMessageReplyMarkup", since=mark)
    assert not any(d.startswith("kb:fb:") for d in _callback_data(edit))
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(select(Feedback.article_id, Feedback.helpful))).all()
    finally:
        await engine.dispose()
    assert [(row.article_id, row.helpful) for row in rows] == [(article_id, True)]


async def test_out_of_scope_question_gets_no_answer_and_the_topics(bot: RunningBot) -> None:
    user = bot.api.user(7103, language_code="en")
    [reply] = await bot.say(user, "best pizza in almaty")
    data = _callback_data(reply)
    assert "menu:venues" in data and "menu:report" in data
    assert not any(d.startswith("kb:fb:") for d in data)


async def test_a_detention_message_gets_steps_and_the_report_button_first(
    bot: RunningBot,
) -> None:
    user = bot.api.user(7104, language_code="ru")
    [reply] = await bot.say(user, "Моего брата только что задержали на митинге!")
    assert _callback_data(reply)[0] == "report:start"
    assert "протокол" in reply.params["text"].lower()


async def test_venues_city_picker_then_pins(bot: RunningBot) -> None:
    user = bot.api.user(7105, language_code="en")
    [picker] = await bot.say(user, "/venues")
    assert "venues:city:almaty" in _callback_data(picker)
    assert "venues:city:astana" in _callback_data(picker)
    message = bot.api.bot_messages(user["id"])[-1]
    mark = bot.api.mark()
    bot.api.press_button(user, message, "venues:city:astana")
    [article] = await bot.api.wait_for_call("sendMessage", since=mark, predicate=to_chat(7105))
    assert "astana" in article.params["text"].lower()
    pins = await bot.api.wait_for_call("sendVenue", since=mark, count=4)
    for pin in pins:
        assert 50.0 < pin.params["latitude"] < 52.0 and 70.0 < pin.params["longitude"] < 72.5
    titles = " ".join(pin.params["title"].lower() for pin in pins)
    assert "circus" in titles


async def test_a_location_lists_the_nearest_venues_with_distances(bot: RunningBot) -> None:
    user = bot.api.user(7106, language_code="ru")
    mark = bot.api.mark()
    bot.api.send_location(user, 43.2380, 76.9450)  # central Almaty
    [listing] = await bot.api.wait_for_call("sendMessage", since=mark, predicate=to_chat(7106))
    assert "км" in listing.params["text"]
    pins = await bot.api.wait_for_call("sendVenue", since=mark, count=3)
    for pin in pins:
        assert 43.0 < pin.params["latitude"] < 43.5  # all in Almaty, not Astana
    assert not bot.api.refused_calls()


async def test_rights_command_sends_the_detention_checklist(bot: RunningBot) -> None:
    user = bot.api.user(7107, language_code="kk")
    [reply] = await bot.say(user, "/rights")
    assert "хаттама" in reply.params["text"].lower()


async def test_inline_query_returns_a_shareable_answer(bot: RunningBot) -> None:
    user = bot.api.user(7108, language_code="en")
    mark = bot.api.mark()
    bot.api.send_inline_query(user, "how long can police hold me without a court")
    [answer] = await bot.api.wait_for_call("answerInlineQuery", since=mark)
    [result] = answer.params["results"]
    content = result["input_message_content"]
    assert content["parse_mode"] == "HTML"
    assert "72" in content["message_text"]
    assert result["title"]


async def test_empty_inline_query_suggests_articles(bot: RunningBot) -> None:
    user = bot.api.user(7109, language_code="ru")
    mark = bot.api.mark()
    bot.api.send_inline_query(user, "")
    [answer] = await bot.api.wait_for_call("answerInlineQuery", since=mark)
    assert len(answer.params["results"]) == 3


async def test_every_button_of_every_answer_has_a_handler(bot: RunningBot) -> None:
    """knowledge/answer.py writes the buttons' callback data, the handlers register their
    patterns (handlers/ask/questions.py and the others): every button of every article's
    reply, and of the answers to its sample questions, is matched by a registered pattern."""
    import re

    from knowledge.answer import answer_question, article_reply
    from tests.support.harness import all_callback_patterns

    patterns = [re.compile(pattern) for pattern in all_callback_patterns(bot)]
    kb = bot.application.bot_data["services"].knowledge
    replies = []
    for article in kb.articles.values():
        for language in ("kk", "ru", "en"):
            replies.append(article_reply(kb, article.id, language))
            for question in article.text(language).questions[:2]:
                replies.append(answer_question(kb, question, language))
    data = {
        button.callback_data
        for reply in replies
        if reply is not None
        for row in reply.buttons
        for button in row
        if button.callback_data
    }
    assert len(data) > 100
    assert [d for d in sorted(data) if not any(p.match(d) for p in patterns)] == []
