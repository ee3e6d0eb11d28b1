"""What an update of a person costs: a question is answered without a database query, from a
known person (the user directory and the waiting-question index answer from memory) and from a
new one (written with the next batch of first contacts), and what those shortcuts skip still
takes effect: a new Telegram language, a chosen language, /forget.
(A typed answer waiting across a restart: tests/test_review_flow.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select

from bot.core.crypto import Cipher
from bot.core.db import create_engine
from bot.core.i18n import gettext_for
from bot.core.models import User
from tests.support.harness import TEST_KEY, Person, RunningBot, settle

QUESTION_RU = "Какой штраф за участие в несанкционированном митинге?"
QUESTION_EN = "What is the fine for joining an unauthorised rally?"
# Statements about a person: their user row, or a question waiting for their typed answer.
PERSON_TABLES = ("users", "pending_inputs")
CIPHER = Cipher((TEST_KEY.encode(),))


@contextmanager
def statements_about_people(bot: RunningBot) -> Iterator[list[str]]:
    """Every SQL statement the bot sends that reads or writes a user row or a waiting question.
    Background jobs are not counted: they touch other tables, or read the team by role (the
    volunteers to remind), which no update does."""
    seen: list[str] = []
    engine = bot.application.bot_data["services"].engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if any(table in statement for table in PERSON_TABLES) and "users.role =" not in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _stored_user(database_url: str, telegram_id: int) -> Any:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(
                select(User).where(User.id_hash == CIPHER.lookup_hash(telegram_id))
            )
            return result.one_or_none()
    finally:
        await engine.dispose()


def _users(bot: RunningBot) -> Any:
    return bot.application.bot_data["services"].users


async def test_a_known_persons_question_costs_no_query(bot: RunningBot, database_url: str) -> None:
    person = Person(bot, bot.api.user(61001, language_code="ru"))
    await person.says(QUESTION_RU)
    await _users(bot).flush()
    assert (await _stored_user(database_url, 61001)).telegram_language == "ru"
    with statements_about_people(bot) as known:
        calls = await person.says(QUESTION_RU)
        calls += await person.says(QUESTION_EN)
    assert "488" in person.texts(calls)
    assert known == []


async def test_a_new_telegram_language_is_saved(bot: RunningBot, database_url: str) -> None:
    person = Person(bot, bot.api.user(61002, language_code="ru"))
    await person.says(QUESTION_RU)
    await _users(bot).flush()
    person = Person(bot, bot.api.user(61002, language_code="kk"))
    with statements_about_people(bot) as changed:
        await person.says(QUESTION_RU)
    assert changed
    assert (await _stored_user(database_url, 61002)).telegram_language == "kk"


async def test_a_chosen_language_and_forget_take_effect_at_once(
    bot: RunningBot, database_url: str
) -> None:
    person = Person(bot, bot.api.user(61003, language_code="ru"))
    await person.says(QUESTION_RU)  # known from here on
    await person.says("/language")
    await person.taps("lang:set:en")
    calls = await person.says(QUESTION_RU)  # the saved choice wins over the question's language
    assert gettext_for("en")("Sources:") in person.texts(calls)
    assert (await _stored_user(database_url, 61003)).language == "en"

    await person.says("/forget")
    await person.taps("forget:confirm")
    assert await _stored_user(database_url, 61003) is None
    calls = await person.says(QUESTION_RU)  # Telegram's language again, and registered again
    assert gettext_for("ru")("Sources:") in person.texts(calls)
    await _users(bot).flush()
    stored = await _stored_user(database_url, 61003)
    assert stored is not None and stored.language is None


async def test_first_contacts_cost_no_query_and_are_written_together(
    bot: RunningBot, database_url: str
) -> None:
    # The index of typed answers waiting is read once after a start; not what is measured here.
    await Person(bot, bot.api.user(61099)).says(QUESTION_RU)
    people = [Person(bot, bot.api.user(61100 + n, language_code="kk")) for n in range(20)]
    with statements_about_people(bot) as seen:
        mark = bot.api.mark()
        for person in people:
            bot.api.send_text(person.user, QUESTION_RU)
        calls = await settle(bot, mark)
        await _users(bot).flush()
    assert len([c for c in calls if c.method == "sendMessage"]) == len(people)
    # No read of anyone's row, on the answer's path or off it; the rows written together (one
    # insert a batch, and the batch may have gone out while the answers were being sent).
    assert seen and all(statement.startswith("INSERT INTO users") for statement in seen)
    assert len(seen) <= 2
    for person in people:
        stored = await _stored_user(database_url, person.chat_id)
        assert stored is not None and stored.telegram_language == "kk"
