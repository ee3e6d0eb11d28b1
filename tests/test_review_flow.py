"""Review end to end: the queue, the card, claim → verify/reject/duplicate → close, notes,
outcomes, typed answers that survive a restart, reporter notifications in their language, and
the audit trail of every view and change."""

from __future__ import annotations

from pathlib import Path

from bot.core.crypto import Cipher
from bot.core.models import ReportStatus
from bot.localapi.server import LocalBotApi
from tests.support.harness import TEST_KEY, calls_to, settle
from tests.support.review import (
    PERSONAL,
    REPORTER_ID,
    VOLUNTEER_ID,
    Reviewer,
    actor,
    add_people,
    audit_entries,
    file_report,
    forge,
    holder,
    make_volunteer,
    report_events,
    report_row,
    review_bot,
    said,
)


async def test_queue_orders_by_urgency_then_age_and_filters(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        _old_id, old = await file_report(bot, people["reporter"], city="almaty")
        _astana_id, astana = await file_report(bot, people["reporter"], city="astana")
        urgent_id, urgent = await file_report(bot, people["reporter"], urgent=True)
        volunteer = Reviewer(bot, people["volunteer"])

        calls = await volunteer.says("/queue")
        [queue] = [c for c in calls if c.method == "sendMessage"]
        labels = [row[0]["text"] for row in queue.params["reply_markup"]["inline_keyboard"][:3]]
        assert [label.split(" · ")[0] for label in labels] == [f"🚨 {urgent}", old, astana]
        assert "3 reports" in queue.params["text"]
        assert PERSONAL["name"] not in said(calls)  # the queue shows no personal data

        calls = await volunteer.taps("q:c:open")
        assert "Astana" in said(calls) and "Almaty" in said(calls)
        calls = await volunteer.taps("q:l:open:astana:0")
        assert astana in said(calls) and old not in said(calls)

        await volunteer.taps("q:c:open")
        calls = await volunteer.taps("q:l:open:*:0")
        assert astana in said(calls) and old in said(calls)
        await volunteer.taps(f"rv:open:{urgent_id}")
        await volunteer.taps(f"rv:claim:{urgent_id}")
        calls = await volunteer.says("/queue")
        calls = await volunteer.taps("q:l:in_review:*:0")
        assert urgent in said(calls) and old not in said(calls)
        calls = await volunteer.taps("q:l:new:*:0")
        assert urgent not in said(calls) and old in said(calls)
        assert not bot.api.refused_calls()


async def test_claim_verify_outcome_close_tells_the_reporter_in_their_language(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        report_id, code = await file_report(bot, people["reporter"], language="kk")
        volunteer = Reviewer(bot, people["volunteer"])
        calls = await volunteer.opens(report_id)
        card = said(calls)
        assert code in card and PERSONAL["name"] in card and PERSONAL["police"] in card

        calls = await volunteer.taps(f"rv:claim:{report_id}")
        to_reporter = said(calls_to(calls, REPORTER_ID))
        assert code in to_reporter and "ерікті" in to_reporter  # Kazakh: "a volunteer ..."
        assert (await report_row(bot, report_id)).status == ReportStatus.IN_REVIEW.value

        await volunteer.taps(f"rv:verify:{report_id}")
        await volunteer.taps(f"rv:out:{report_id}")
        await volunteer.taps(f"rv:oc:{report_id}:fined")
        calls = await volunteer.says("abc")
        assert "whole number" in said(calls)
        calls = await volunteer.says("15")
        assert "fined 15 MCI" in said(calls)
        calls = await volunteer.taps(f"rv:close:{report_id}")
        assert "жабылды" in said(calls_to(calls, REPORTER_ID))  # "closed" in Kazakh

        row = await report_row(bot, report_id)
        assert row.status == ReportStatus.CLOSED.value and row.closed_at is not None
        assert (row.outcome, row.outcome_number) == ("fined", 15)
        actions = [event.action for event in await report_events(bot, report_id)]
        assert actions[0] == "created"
        for action in ("viewed", "claimed", "verified", "outcome", "closed"):
            assert action in actions
        assert all(
            actor(bot, event) == VOLUNTEER_ID
            for event in await report_events(bot, report_id)
            if event.action in ("viewed", "claimed", "verified", "outcome", "closed")
        )
        assert not bot.api.refused_calls()


async def test_reject_reason_and_note_are_typed_and_survive_a_restart(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        report_id, code = await file_report(bot, people["reporter"], language="ru")
        volunteer = Reviewer(bot, people["volunteer"])
        await volunteer.opens(report_id)
        await volunteer.taps(f"rv:claim:{report_id}")
        calls = await volunteer.taps(f"rv:reject:{report_id}")
        assert "reason" in said(calls)
    async with review_bot(api, database_url, tmp_path) as bot:
        volunteer = Reviewer(bot, people["volunteer"])
        reason = "Фото из другого города, 2019 год"
        calls = await volunteer.says(reason)  # answered after the restart, not a question
        assert "Rejected" in said(calls)
        assert "не подтверждено" in said(calls_to(calls, REPORTER_ID))
        assert reason not in said(calls_to(calls, REPORTER_ID))  # the reason stays internal
        row = await report_row(bot, report_id)
        assert row.status == ReportStatus.REJECTED.value

        await volunteer.taps(f"rv:note:{report_id}")
        note = "Позвонили адвокату, ждём ответа"
        calls = await volunteer.says(note)
        assert note in said(calls)  # the card now shows the note
        events = await report_events(bot, report_id)
        cipher = Cipher((TEST_KEY.encode(),))
        [rejected] = [e for e in events if e.action == "rejected"]
        assert cipher.decrypt_json(rejected.detail_enc) == reason
        [noted] = [e for e in events if e.action == "note"]
        assert cipher.decrypt(noted.detail_enc) == note and actor(bot, noted) == VOLUNTEER_ID

        calls = await volunteer.says("What is the fine for a rally?")
        assert "488" in said(calls)  # the question was answered: nothing is waiting any more
        assert code not in said(calls)


async def test_duplicate_merges_into_the_original_and_cancel_drops_the_question(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        original_id, original = await file_report(bot, people["reporter"])
        copy_id, copy = await file_report(bot, people["reporter"])
        volunteer = Reviewer(bot, people["volunteer"])
        await volunteer.opens(copy_id)
        await volunteer.taps(f"rv:claim:{copy_id}")

        await volunteer.taps(f"rv:dup:{copy_id}")
        calls = await volunteer.says("/cancel")
        assert "Cancelled" in said(calls)
        calls = await volunteer.says(original)
        assert "Marked as a duplicate" not in said(calls)  # the question was dropped

        await volunteer.taps(f"rv:dup:{copy_id}")
        await volunteer.taps(f"rv:card:{copy_id}")  # another button abandons the question
        calls = await volunteer.says(original)
        assert "Marked as a duplicate" not in said(calls)
        assert (await report_row(bot, copy_id)).status == ReportStatus.IN_REVIEW.value

        await volunteer.taps(f"rv:dup:{copy_id}")
        calls = await volunteer.says(copy)
        assert "cannot duplicate itself" in said(calls)
        calls = await volunteer.says("R-ZZZZ")
        assert "no report with this code" in said(calls)
        calls = await volunteer.says(original.lower().removeprefix("r-"))
        assert f"duplicate of {original}" in said(calls)
        row = await report_row(bot, copy_id)
        assert row.status == ReportStatus.DUPLICATE.value and row.duplicate_of_id == original_id
        merged = [e for e in await report_events(bot, original_id) if e.action == "merged"]
        assert len(merged) == 1 and actor(bot, merged[0]) == VOLUNTEER_ID


async def test_a_second_volunteer_cannot_take_or_change_a_claimed_report(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        await make_volunteer(bot, people["volunteer2"]["id"])
        report_id, _code = await file_report(bot, people["reporter"])
        first = Reviewer(bot, people["volunteer"])
        second = Reviewer(bot, people["volunteer2"])
        await first.opens(report_id)
        await first.taps(f"rv:claim:{report_id}")
        calls = await second.opens(report_id)  # Vera reads Russian
        assert "<b>Волонтёр:</b> другой волонтёр" in said(calls)
        assert f"rv:verify:{report_id}" not in said(calls)
        for action in ("claim", "verify", "reject", "dup", "out", "release", "write"):
            calls = await forge(bot, people["volunteer2"], f"rv:{action}:{report_id}")
            assert "Этим сообщением занимается другой волонтёр" in said(calls), action
        row = await report_row(bot, report_id)
        assert holder(bot, row) == VOLUNTEER_ID and row.status == ReportStatus.IN_REVIEW.value

        admin = Reviewer(bot, people["admin"])
        await admin.opens(report_id)
        await admin.taps(f"rv:claim:{report_id}")  # an admin may take over
        assert holder(bot, await report_row(bot, report_id)) == people["admin"]["id"]
        entries = await audit_entries(bot)
        assert not [e for e in entries if not e.allowed]  # state refusals are not role refusals
        await settle(bot, 0)


async def test_every_view_and_change_is_in_the_audit_trail(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        report_id, code = await file_report(bot, people["reporter"])
        volunteer = Reviewer(bot, people["volunteer"])
        await volunteer.says("/queue")
        await volunteer.taps(f"rv:open:{report_id}")
        await volunteer.taps(f"rv:claim:{report_id}")
        await volunteer.taps(f"rv:note:{report_id}")
        await volunteer.says("Checked with the lawyer")
        await volunteer.taps(f"rv:verify:{report_id}")

        admin = Reviewer(bot, people["admin"])
        await admin.opens(report_id)
        calls = await admin.taps(f"rv:log:{report_id}")
        history = said(calls)
        assert f"History of {code}" in history
        for action in ("created", "viewed", "claimed", "note", "verified"):
            assert action in history, action
        assert str(VOLUNTEER_ID) in history and "system" in history  # "created": no actor

        events = [(e.action, actor(bot, e)) for e in await report_events(bot, report_id)]
        assert events == [
            ("created", None),
            ("viewed", VOLUNTEER_ID),
            ("claimed", VOLUNTEER_ID),
            ("note", VOLUNTEER_ID),
            ("verified", VOLUNTEER_ID),
            ("viewed", people["admin"]["id"]),
            ("history_viewed", people["admin"]["id"]),
        ]
        assert all(e.created_at is not None for e in await report_events(bot, report_id))
        [queue_view] = [e for e in await audit_entries(bot) if e.action == "queue"]
        assert (actor(bot, queue_view), queue_view.allowed) == (VOLUNTEER_ID, True)


def test_every_card_button_has_its_action() -> None:
    """The card buttons' table (handlers/review/cards.py) covers every button the pattern and
    the access rules know, and nothing else."""
    from handlers.review.cards import CARD_ACTIONS, CARD_BUTTONS

    assert set(CARD_BUTTONS) == set(CARD_ACTIONS)
