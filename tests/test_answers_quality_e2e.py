"""What issue 11 asked of answers, through the real bot and the local Bot API server: the direct
answer first, uncertain statements and venues flagged on every surface, the sources button,
"Did you mean…", two questions in one, and the anonymous log of questions without an answer."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from bot.core.db import create_engine, create_session_factory
from bot.core.models import QuestionGap
from bot.services.ask import gaps
from bot.telegram.html import html_to_plain
from tests.support.harness import RunningBot, run_cli, to_chat


def _callback_data(call) -> list[str]:
    markup = call.params.get("reply_markup") or {}
    return [b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row]


async def _gap_rows(database_url: str, expected: int = 1) -> list[QuestionGap]:
    """The kept questions, once `expected` are there: the bot keeps one after it has answered."""
    engine = create_engine(database_url)
    try:
        for _attempt in range(100):
            async with create_session_factory(engine)() as session:
                rows = list((await session.execute(select(QuestionGap))).scalars())
            if len(rows) >= expected:
                return rows
            await asyncio.sleep(0.05)
        return rows
    finally:
        await engine.dispose()


async def test_the_answer_starts_with_the_direct_answer_and_quotes_the_question(
    bot: RunningBot,
) -> None:
    user = bot.api.user(7301, language_code="ru")
    [reply] = await bot.say(user, "за сколько дней надо уведомить акимат о митинге")
    text = html_to_plain(reply.params["text"])
    first = text.split("\n\n", 1)[0]
    assert "5" in first and "рабоч" in first and len(first) <= 320
    assert reply.params["reply_parameters"]["message_id"]  # a reply to the question
    assert "kb:src:notification-procedure" in _callback_data(reply)


async def test_the_sources_button_lists_every_source_in_the_readers_language(
    bot: RunningBot,
) -> None:
    user = bot.api.user(7302, language_code="kk")
    [reply] = await bot.say(user, "шеруге қанша күн бұрын өтініш беру керек")
    button = next(d for d in _callback_data(reply) if d.startswith("kb:src:"))
    message = bot.api.bot_messages(user["id"])[-1]
    mark = bot.api.mark()
    bot.api.press_button(user, message, button)
    [listing] = await bot.api.wait_for_call("sendMessage", since=mark, predicate=to_chat(7302))
    text = html_to_plain(listing.params["text"])
    assert "Дереккөздер:" in text and "заң" in text.lower()
    assert text.count("•") >= 2


async def test_an_unconfirmed_venue_is_labelled_on_the_pins_the_list_and_the_answer(
    bot: RunningBot,
) -> None:
    user = bot.api.user(7303, language_code="en")
    [picker] = await bot.say(user, "/venues")
    labels = {
        b["callback_data"]: b["text"]
        for row in picker.params["reply_markup"]["inline_keyboard"]
        for b in row
    }
    assert labels["venues:city:turkestan"].endswith("⚠️")
    message = bot.api.bot_messages(user["id"])[-1]
    mark = bot.api.mark()
    bot.api.press_button(user, message, "venues:city:turkestan")
    [article] = await bot.api.wait_for_call("sendMessage", since=mark, predicate=to_chat(7303))
    assert "⚠️ (not confirmed)" in html_to_plain(article.params["text"])
    pins = await bot.api.wait_for_call("sendVenue", since=mark)
    assert all("designation not confirmed" in pin.params["address"] for pin in pins)
    mark = bot.api.mark()
    bot.api.send_location(user, 43.2975, 68.2517)  # Turkestan
    [listing] = await bot.api.wait_for_call("sendMessage", since=mark, predicate=to_chat(7303))
    assert "designation not confirmed" in listing.params["text"]


async def test_an_inline_answer_keeps_the_uncertainty_flags(bot: RunningBot) -> None:
    user = bot.api.user(7304, language_code="en")
    mark = bot.api.mark()
    bot.api.send_inline_query(user, "where can we hold a rally in Turkestan")
    [answer] = await bot.api.wait_for_call("answerInlineQuery", since=mark)
    content = answer.params["results"][0]["input_message_content"]["message_text"]
    assert "⚠️" in content


async def test_two_questions_in_one_message_get_both_answers(bot: RunningBot) -> None:
    user = bot.api.user(7305, language_code="en")
    [reply] = await bot.say(
        user, "How many days before a rally must I notify the akimat, and where in Almaty?"
    )
    text = html_to_plain(reply.params["text"])
    assert "5 working days" in text and "Almaty" in text
    assert "kb:show:venues-almaty" in _callback_data(reply)


async def test_unanswered_questions_are_kept_without_anything_that_identifies_the_person(
    bot: RunningBot, database_url: str
) -> None:
    user = bot.api.user(7306, language_code="ru")
    question = "позвоните +7 701 123 45 67 или @ivan_k, ivan@mail.kz: какая погода завтра?"
    [reply] = await bot.say(user, question)
    assert "Извините" in html_to_plain(reply.params["text"])
    [row] = await _gap_rows(database_url)
    assert row.question == "позвоните +# # # # # или [name], [email]: какая погода завтра?"
    assert (row.language, row.outcome, row.article_id) == ("ru", "no_answer", None)
    assert row.created_on == datetime.now(UTC).date()
    columns = set(QuestionGap.__table__.columns.keys())
    assert columns == {"id", "question", "language", "outcome", "article_id", "created_on"}
    assert str(user["id"]) not in row.question


async def test_a_thumbs_down_keeps_the_question_it_answered(
    bot: RunningBot, database_url: str
) -> None:
    user = bot.api.user(7307, language_code="en")
    [reply] = await bot.say(user, "how many days before a rally must I notify the akimat")
    down = next(d for d in _callback_data(reply) if d.startswith("kb:fb:") and d.endswith(":down"))
    message = bot.api.bot_messages(user["id"])[-1]
    mark = bot.api.mark()
    bot.api.press_button(user, message, down)
    await bot.api.wait_for_call("answerCallbackQuery", since=mark)
    await bot.api.wait_for_call("editMessageReplyMarkup", since=mark)
    [row] = await _gap_rows(database_url)
    assert row.question == "how many days before a rally must I notify the akimat"
    assert (row.outcome, row.article_id) == ("thumbs_down", down.split(":")[2])


@pytest.mark.usefixtures("bot")
async def test_the_gaps_are_listed_most_frequent_first_and_purged_after_their_days(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    try:
        for question in ("Визу продлить?", "визу продлить?", "штраф за парковку 5000"):
            await gaps.record_gap(sessions, question, "ru", "no_answer")
        async with sessions.begin() as session:
            old = datetime.now(UTC).date() - timedelta(days=31)
            session.add(
                QuestionGap(question="old", language="en", outcome="clarify", created_on=old)
            )
        listed = await gaps.list_gaps(sessions)
        assert [(row.question.lower(), row.count) for row in listed][:2] == [
            ("визу продлить?", 2),
            ("штраф за парковку #", 1),
        ]
        assert await gaps.purge_gaps(sessions, 30) == 1
        assert "old" not in [row.question for row in await gaps.list_gaps(sessions)]
        assert isinstance(listed[0].last_seen, date)
    finally:
        await engine.dispose()


async def test_jiyn_kb_gaps_prints_the_kept_questions(
    bot: RunningBot, database_url: str, tmp_path: Path
) -> None:
    user = bot.api.user(7308, language_code="en")
    await bot.say(user, "how do I extend my visa")
    result = await run_cli(
        "kb",
        "gaps",
        JIYN_DATABASE_URL=database_url,
        JIYN_DATA_DIR=str(tmp_path),
        JIYN_ENCRYPTION_KEY=Fernet.generate_key().decode(),
    )
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    assert line.split() == ["1", "no_answer", "en", "-", "how", "do", "I", "extend", "my", "visa"]
