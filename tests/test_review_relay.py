"""The relay between a volunteer and a reporter, end to end: neither side ever receives the
other's Telegram id, username or name; a volunteer writes only with consent or after the
reporter wrote first; reply buttons work only for the reporter; every message is audited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.core.crypto import Cipher
from bot.localapi.server import ApiCall, LocalBotApi
from tests.support.harness import TEST_KEY, Person, calls_to, find_button_message
from tests.support.review import (
    PERSONAL,
    REPORTER_ID,
    USER_ID,
    VOLUNTEER_ID,
    Reviewer,
    actor,
    add_people,
    audit_entries,
    file_report,
    file_through_the_bot,
    forge,
    make_volunteer,
    report_events,
    report_id_of,
    review_bot,
    said,
)


def identity(person: dict[str, Any]) -> list[str]:
    """What would identify this Telegram user."""
    return [str(person["id"]), person["username"], person["first_name"]]


def shown_to(calls: list[ApiCall], chat_id: int) -> str:
    """Everything the bot sent to a chat (all parameters but the chat id itself)."""
    return "\n".join(
        json.dumps({k: v for k, v in c.params.items() if k != "chat_id"}, ensure_ascii=False)
        for c in calls_to(calls, chat_id)
    )


async def test_messages_go_both_ways_without_either_identity(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        reporter = Person(bot, people["reporter"])
        code = await file_through_the_bot(reporter, consent=True)
        report_id = await report_id_of(bot, code)
        volunteer = Reviewer(bot, people["volunteer"])
        start = api.mark()

        await volunteer.opens(report_id)
        await volunteer.taps(f"rv:claim:{report_id}")
        await volunteer.taps(f"rv:write:{report_id}")
        calls = await volunteer.says("Здравствуйте! Адвокат уже едет в РУВД.")
        received = said(calls_to(calls, REPORTER_ID))
        assert code in received
        assert "Адвокат уже едет в РУВД." in received

        await reporter.taps(find_reply_button(api))
        calls = await reporter.says("Спасибо, меня отпустили в 22:00")
        assert "Спасибо, меня отпустили в 22:00" in said(calls_to(calls, VOLUNTEER_ID))
        await volunteer.taps(f"rv:write:{report_id}")
        calls = await volunteer.says("Рады слышать. Сохраните протокол.")
        assert "Сохраните протокол." in said(calls_to(calls, REPORTER_ID))

        everything = api.calls[start:]
        assert not [c for c in everything if c.method in ("forwardMessage", "copyMessage")]
        to_reporter = shown_to(everything, REPORTER_ID)
        to_volunteer = shown_to(everything, VOLUNTEER_ID)
        for secret in identity(people["volunteer"]):
            assert secret not in to_reporter, secret
        for secret in identity(people["reporter"]):
            assert secret not in to_volunteer, secret

        events = await report_events(bot, report_id)
        cipher = Cipher((TEST_KEY.encode(),))
        relayed = [(e.action, actor(bot, e)) for e in events if e.action.startswith("relay")]
        assert relayed == [
            ("relay_out", VOLUNTEER_ID),
            ("relay_in", None),  # who wrote is not even stored
            ("relay_out", VOLUNTEER_ID),
        ]
        [reply] = [e for e in events if e.action == "relay_in"]
        assert cipher.decrypt_json(reply.detail_enc) == "Спасибо, меня отпустили в 22:00"
        assert not api.refused_calls()


def find_reply_button(api: LocalBotApi) -> str:
    """The data of the newest Reply button in the reporter's chat."""
    for message in reversed(api.bot_messages(REPORTER_ID)):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if button.get("callback_data", "").startswith("rl:re:"):
                    return button["callback_data"]
    raise AssertionError("no Reply button in the reporter's chat")


async def test_without_consent_the_volunteer_waits_for_the_reporter_to_write(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        report_id, _code = await file_report(bot, people["reporter"], consent=False)
        volunteer = Reviewer(bot, people["volunteer"])
        calls = await volunteer.opens(report_id)
        assert PERSONAL["phone"] not in said(calls)  # shared, but not for calling
        assert "hidden: no consent" in said(calls)
        await volunteer.taps(f"rv:claim:{report_id}")
        calls = await forge(bot, people["volunteer"], f"rv:write:{report_id}")
        assert "did not agree to be contacted" in said(calls)
        await volunteer.says("This must not reach anyone")
        assert "This must not reach anyone" not in said(api.calls)

        # The status update lets the reporter start the conversation.
        reporter = Person(bot, people["reporter"])
        find_button_message(api, REPORTER_ID, f"rl:new:{report_id}")
        await reporter.taps(f"rl:new:{report_id}")
        calls = await reporter.says("Можно со мной связаться здесь")
        assert "Можно со мной связаться здесь" in said(calls_to(calls, VOLUNTEER_ID))

        await volunteer.taps(f"rv:write:{report_id}")
        calls = await volunteer.says("Спасибо, напишу сюда")
        assert "Спасибо, напишу сюда" in said(calls_to(calls, REPORTER_ID))


async def test_reply_buttons_work_only_for_the_reporter(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        report_id, _code = await file_report(bot, people["reporter"], consent=True)
        volunteer = Reviewer(bot, people["volunteer"])
        await volunteer.opens(report_id)
        await volunteer.taps(f"rv:claim:{report_id}")
        await volunteer.taps(f"rv:write:{report_id}")
        await volunteer.says("Как вы?")
        reply_data = find_reply_button(api)

        for data in (reply_data, f"rl:new:{report_id}"):
            calls = await forge(bot, people["user"], data)
            assert "no longer active" in said(calls)
            await Person(bot, people["user"]).says("I pretend to be the reporter")
        assert "I pretend to be the reporter" not in said(calls_to(api.calls, VOLUNTEER_ID))
        denials = [e for e in await audit_entries(bot) if not e.allowed]
        assert [(actor(bot, e), e.action) for e in denials] == [(USER_ID, "reply")] * 2

        reporter = Person(bot, people["reporter"])
        await reporter.says("/forget")
        await reporter.taps("forget:confirm")
        calls = await reporter.taps(reply_data)
        assert "больше не действует" in said(calls)  # "no longer active", in Russian
        calls = await forge(bot, people["volunteer"], f"rv:write:{report_id}")
        assert "deleted their data" in said(calls)
