"""Access control end to end: every review command and button against every role, forwarded
and forged buttons, the volunteer group, admins from the configuration only, /volunteer and
single-use expiring invites. Every refusal is in the audit log."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.models import ReportStatus, Role, User
from bot.localapi.server import LocalBotApi
from bot.services import users
from tests.support.harness import calls_to, find_button_message, settle
from tests.support.review import (
    ADMIN_ID,
    PERSONAL,
    USER_ID,
    VOLUNTEER_CHAT,
    VOLUNTEER_ID,
    Reviewer,
    actor,
    add_people,
    audit_entries,
    file_report,
    forge,
    holder,
    make_volunteer,
    refused,
    report_row,
    review_bot,
    said,
    services,
)

USER, VOLUNTEER, ADMIN = "user", "volunteer", "admin"
# Who may use what, written out here rather than read from bot.services.review.access, so a wrong
# entry there fails this test.
COMMANDS = {
    "/queue": VOLUNTEER,
    "/stats": VOLUNTEER,
    "/export": VOLUNTEER,
    "/export 2020-01-01 almaty": VOLUNTEER,
    "/volunteer": ADMIN,
    "/volunteer add 123456": ADMIN,
    "/invite": ADMIN,
}
BUTTONS = {
    "rv:open:{id}": VOLUNTEER,
    "rv:card:{id}": VOLUNTEER,
    "rv:claim:{id}": VOLUNTEER,
    "rv:release:{id}": VOLUNTEER,
    "rv:verify:{id}": VOLUNTEER,
    "rv:reject:{id}": VOLUNTEER,
    "rv:dup:{id}": VOLUNTEER,
    "rv:note:{id}": VOLUNTEER,
    "rv:out:{id}": VOLUNTEER,
    "rv:oc:{id}:released": VOLUNTEER,
    "rv:oc:{id}:fined": VOLUNTEER,
    "rv:close:{id}": VOLUNTEER,
    "rv:media:{id}": VOLUNTEER,
    "rv:write:{id}": VOLUNTEER,
    "rv:log:{id}": ADMIN,
    "q:l:open:*:0": VOLUNTEER,
    "q:l:closed:almaty:0": VOLUNTEER,
    "q:c:open": VOLUNTEER,
    "ex:7": VOLUNTEER,
    "st:7": VOLUNTEER,
}
RANK = {USER: 0, VOLUNTEER: 1, ADMIN: 2}


async def test_every_review_command_and_button_checks_the_role(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        expected_refusals = 0
        for role in (USER, VOLUNTEER, ADMIN):
            person = Reviewer(bot, people[role])
            report_id, code = await file_report(bot, people["reporter"])
            for command, needed in COMMANDS.items():
                calls = await person.says(command)
                allowed = RANK[role] >= RANK[needed]
                expected_refusals += not allowed
                assert refused(calls) != allowed, (role, command)
                if not allowed:
                    assert code not in said(calls)
            for template, needed in BUTTONS.items():
                data = template.format(id=report_id)
                calls = await forge(bot, people[role], data)
                allowed = RANK[role] >= RANK[needed]
                expected_refusals += not allowed
                assert refused(calls) != allowed, (role, data)
                if not allowed:
                    shown = said(calls)
                    assert code not in shown and PERSONAL["name"] not in shown, data
            await person.says("/cancel")  # drop any question a button left waiting
            if role == USER:
                row = await report_row(bot, report_id)
                assert row.status == ReportStatus.NEW.value and holder(bot, row) is None
                assert row.outcome is None
        denials = [e for e in await audit_entries(bot) if not e.allowed]
        assert len(denials) == expected_refusals
        assert {actor(bot, e) for e in denials} <= {USER_ID, VOLUNTEER_ID}
        assert not [
            c
            for c in api.calls
            if c.method == "sendDocument" and c.params.get("chat_id") == USER_ID
        ]


async def test_a_forwarded_or_foreign_button_gives_nothing(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        report_id, code = await file_report(bot, people["reporter"])
        volunteer = Reviewer(bot, people["volunteer"])
        await volunteer.opens(report_id)
        card = find_button_message(api, VOLUNTEER_ID, f"rv:claim:{report_id}")

        # Someone else presses the button of the volunteer's card (a forwarded copy).
        mark = api.mark()
        api.press_button(people["user"], card, f"rv:claim:{report_id}", strict=False)
        calls = await settle(bot, mark)
        assert refused(calls) and code not in said(calls)
        assert not calls_to(calls, VOLUNTEER_ID)  # the refusal goes only to who pressed

        # Even a volunteer gets nothing from a button on a message outside their own chat.
        calls = await forge(bot, people["volunteer"], f"rv:claim:{report_id}", chat_id=USER_ID)
        assert "private chat" in said(calls) and code not in said(calls)
        assert holder(bot, await report_row(bot, report_id)) is None
        [first, second] = [e for e in await audit_entries(bot) if not e.allowed]
        assert (actor(bot, first), first.report_id) == (USER_ID, report_id)
        assert (actor(bot, second), second.action) == (VOLUNTEER_ID, "claim")


async def test_review_commands_in_the_volunteer_group_show_nothing(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        _report_id, code = await file_report(bot, people["reporter"])
        for command in ("/queue", "/export", "/stats"):
            mark = api.mark()
            api.send_group_text(people["admin"], VOLUNTEER_CHAT, command)
            calls = await settle(bot, mark)
            assert "private chat" in said(calls)
            assert code not in said(calls) and PERSONAL["name"] not in said(calls)
            assert not [c for c in calls if c.method in ("sendDocument", "sendPhoto")]


async def test_admin_rights_come_from_the_configuration_at_every_check(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        admin = Reviewer(bot, people["admin"])
        assert not refused(await admin.says("/volunteer"))
        await services(bot).users.flush()  # first contacts are written in batches
        async with services(bot).sessions() as session:
            stored = await session.get(User, services(bot).cipher.lookup_hash(ADMIN_ID))
        assert stored is not None and stored.role == Role.USER  # never stored as admin
    async with review_bot(api, database_url, tmp_path, JIYN_ADMIN_IDS="") as bot:
        admin = Reviewer(bot, people["admin"])
        assert refused(await admin.says("/queue"))
        assert refused(await admin.says("/volunteer"))


async def test_volunteers_are_added_and_removed_and_lose_power_at_once(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        admin = Reviewer(bot, people["admin"])
        newcomer = Reviewer(bot, people["user"])
        report_id, _code = await file_report(bot, people["reporter"])
        assert refused(await newcomer.says("/queue"))

        calls = await admin.says(f"/volunteer add {USER_ID}")
        assert f"{USER_ID} is now a volunteer" in said(calls)
        assert "You are now a Jiyn volunteer" in said(calls_to(calls, USER_ID))
        scope = {"type": "chat", "chat_id": USER_ID}
        assert "queue" in [c["command"] for c in api.my_commands(scope=scope)]
        assert not refused(await newcomer.says("/queue"))
        await newcomer.opens(report_id)
        await newcomer.taps(f"rv:claim:{report_id}")
        await newcomer.taps(f"rv:reject:{report_id}")  # a reason is now awaited

        calls = await admin.says(f"/volunteer remove {USER_ID}")
        assert "1 report they held is back in the queue" in said(calls)
        assert api.my_commands(scope=scope) == []
        row = await report_row(bot, report_id)
        assert row.status == ReportStatus.NEW.value and holder(bot, row) is None
        calls = await newcomer.says("Not a real detention")  # the waiting question is gone
        assert (await report_row(bot, report_id)).status == ReportStatus.NEW.value
        assert refused(await newcomer.says("/queue"))

        calls = await admin.says("/volunteer")
        assert str(ADMIN_ID) in said(calls) and str(USER_ID) not in said(calls)
        calls = await admin.says(f"/volunteer remove {ADMIN_ID}")
        assert "admin" in said(calls)


async def test_a_volunteer_removed_while_typing_cannot_finish(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        report_id, _code = await file_report(bot, people["reporter"])
        volunteer = Reviewer(bot, people["volunteer"])
        await volunteer.opens(report_id)
        await volunteer.taps(f"rv:note:{report_id}")
        # Taken away directly in the database: the check at typing time must notice.
        await users.set_volunteer(services(bot).sessions, services(bot).cipher, VOLUNTEER_ID, False)
        calls = await volunteer.says("A note typed too late")
        assert refused(calls)
        assert "A note typed too late" not in said(calls)


async def test_an_invite_link_works_once_and_expires(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        admin = Reviewer(bot, people["admin"])
        calls = await admin.says("/invite")
        match = re.search(r"https://t\.me/jiyn_local_bot\?start=(vol_[A-Za-z0-9_-]+)", said(calls))
        assert match, said(calls)
        newcomer = Reviewer(bot, people["user"])
        calls = await newcomer.says(f"/start {match.group(1)}")
        assert "You are now a Jiyn volunteer" in said(calls)
        assert f"{USER_ID} is now a volunteer" in said(calls_to(calls, ADMIN_ID))
        assert not refused(await newcomer.says("/queue"))

        other = Reviewer(bot, people["volunteer2"])
        calls = await other.says(f"/start {match.group(1)}")  # the same link again
        assert "больше не действует" in said(calls)  # "not valid any more", in Russian
        assert refused(await other.says("/queue"))

        token = await users.create_invite(
            services(bot).sessions, services(bot).cipher, ADMIN_ID, lifetime=timedelta(seconds=-1)
        )
        calls = await other.says(f"/start vol_{token}")
        assert "больше не действует" in said(calls)
        assert refused(await other.says("/queue"))
        actions = [(e.action, e.allowed) for e in await audit_entries(bot)]
        assert ("invite_created", True) in actions and ("invite_accepted", True) in actions
        assert actions.count(("invite_refused", False)) == 2


@pytest.mark.parametrize("command", ["/volunteer add abc", "/volunteer promote 5"])
async def test_volunteer_command_explains_its_usage(
    api: LocalBotApi, database_url: str, tmp_path: Path, command: str
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        calls = await Reviewer(bot, people["admin"]).says(command)
        assert "/volunteer add ID" in said(calls)
        async with services(bot).sessions() as session:
            volunteers = (
                await session.scalars(select(User).where(User.role == Role.VOLUNTEER))
            ).all()
        assert volunteers == []
