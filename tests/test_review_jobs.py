"""Scheduled review jobs end to end: escalation of unclaimed urgent reports, reminders of stale
claims, the daily digest and the retention purge. Their state is in the database, so across a
restart nothing is sent twice and nothing due is skipped. Jobs are started by hand here (the
same callbacks the JobQueue runs every minute), with times moved back in the database instead
of waiting."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.core.config import ConfigError, load_settings
from bot.core.models import JobState, PendingInput, Report, ReportStatus, utcnow
from bot.localapi.server import ApiCall, LocalBotApi
from bot.services.review.workflow import ReviewService
from tests.support.harness import RunningBot, calls_to, settle
from tests.support.review import (
    PERSONAL,
    VOLUNTEER_CHAT,
    VOLUNTEER_ID,
    Reviewer,
    add_people,
    file_report,
    make_volunteer,
    report_events,
    report_row,
    review_bot,
    said,
    services,
)

REVIEW_JOBS = {
    "review-escalation": timedelta(minutes=1),
    "review-stale-claims": timedelta(minutes=1),
    "review-digest": timedelta(minutes=1),
    "review-cleanup": timedelta(hours=1),
}


async def run_job(bot: RunningBot, name: str) -> list[ApiCall]:
    """Run a registered job now, as the scheduler would, and return what the bot sent."""
    [job] = bot.application.job_queue.get_jobs_by_name(name)
    mark = bot.api.mark()
    await job.run(bot.application)
    return await settle(bot, mark)


async def move_back(bot: RunningBot, report_id: int, **columns: timedelta) -> None:
    """Make a report's moments (created_at, claimed_at, closed_at...) older."""
    now = utcnow()
    async with services(bot).sessions.begin() as session:
        await session.execute(
            update(Report)
            .where(Report.id == report_id)
            .values(**{column: now - delta for column, delta in columns.items()})
        )


def group_texts(calls: list[ApiCall]) -> str:
    """What the volunteer chat received."""
    return said(calls_to(calls, VOLUNTEER_CHAT))


async def test_the_jobs_are_scheduled_every_minute(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        for name in REVIEW_JOBS:
            [job] = bot.application.job_queue.get_jobs_by_name(name)
            assert job.next_t is not None
            assert job.job.trigger.interval == REVIEW_JOBS[name]
        assert bot.application.job_queue.get_jobs_by_name("purge")


async def test_an_unclaimed_urgent_report_is_escalated_once_across_restarts(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        waiting_id, waiting = await file_report(bot, people["reporter"], urgent=True)
        claimed_id, claimed = await file_report(bot, people["reporter"], urgent=True)
        calm_id, calm = await file_report(bot, people["reporter"], urgent=False)
        fresh_id, fresh = await file_report(bot, people["reporter"], urgent=True)
        volunteer = Reviewer(bot, people["volunteer"])
        await volunteer.opens(claimed_id)
        await volunteer.taps(f"rv:claim:{claimed_id}")
    # While the bot is down, the reports get older than JIYN_ESCALATE_MINUTES (10).
    async with review_bot(api, database_url, tmp_path) as bot:
        for report_id in (waiting_id, claimed_id, calm_id):
            await move_back(bot, report_id, created_at=timedelta(minutes=11))
        await move_back(bot, fresh_id, created_at=timedelta(minutes=9))
        sent = group_texts(await run_job(bot, "review-escalation"))
        assert "without a volunteer" in sent and waiting in sent
        for other in (claimed, calm, fresh):
            assert other not in sent
        assert PERSONAL["name"] not in sent and PERSONAL["place"] not in sent
        assert not group_texts(await run_job(bot, "review-escalation"))
        assert (await report_row(bot, waiting_id)).escalated_at is not None
    async with review_bot(api, database_url, tmp_path) as bot:
        assert not group_texts(await run_job(bot, "review-escalation"))
        await move_back(bot, fresh_id, created_at=timedelta(minutes=11))
        sent = group_texts(await run_job(bot, "review-escalation"))
        assert fresh in sent and waiting not in sent
        events = [e.action for e in await report_events(bot, waiting_id)]
        assert events.count("escalated") == 1


async def test_a_stale_claim_is_reminded_once_per_claim(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        report_id, code = await file_report(bot, people["reporter"])
        volunteer = Reviewer(bot, people["volunteer"])
        await volunteer.opens(report_id)
        await volunteer.taps(f"rv:claim:{report_id}")
        await move_back(bot, report_id, claimed_at=timedelta(hours=23))
        assert not calls_to(await run_job(bot, "review-stale-claims"), VOLUNTEER_ID)
        await move_back(bot, report_id, claimed_at=timedelta(hours=25))
        calls = await run_job(bot, "review-stale-claims")
        reminder = said(calls_to(calls, VOLUNTEER_ID))
        assert code in reminder and f"rv:open:{report_id}" in reminder
        assert not calls_to(calls, VOLUNTEER_CHAT)  # private, not in the group
    async with review_bot(api, database_url, tmp_path) as bot:
        assert not calls_to(await run_job(bot, "review-stale-claims"), VOLUNTEER_ID)
        volunteer = Reviewer(bot, people["volunteer"])
        await volunteer.taps(f"rv:open:{report_id}")
        await volunteer.taps(f"rv:release:{report_id}")
        await volunteer.taps(f"rv:claim:{report_id}")  # a new claim: a new reminder later
        await move_back(bot, report_id, claimed_at=timedelta(hours=25))
        assert code in said(calls_to(await run_job(bot, "review-stale-claims"), VOLUNTEER_ID))


async def test_the_daily_digest_is_sent_once_a_day_across_restarts(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    # 00:00: the digest of today is always due, whenever the test runs.
    async with review_bot(api, database_url, tmp_path, JIYN_DIGEST_TIME="00:00") as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        urgent_id, urgent = await file_report(bot, people["reporter"], urgent=True)
        _astana_id, _astana = await file_report(bot, people["reporter"], city="astana")
        volunteer = Reviewer(bot, people["volunteer"])
        await volunteer.opens(urgent_id)
        await volunteer.taps(f"rv:claim:{urgent_id}")
        await volunteer.taps(f"rv:verify:{urgent_id}")
        digest = group_texts(await run_job(bot, "review-digest"))
        assert "Daily digest" in digest
        assert "New reports: 2 (urgent: 1)" in digest
        assert "verified 1" in digest and "Waiting for a volunteer: 1 (urgent: 0)" in digest
        assert "Almaty 1" in digest and "Astana 1" in digest
        assert urgent not in digest and PERSONAL["name"] not in digest
        assert not group_texts(await run_job(bot, "review-digest"))
    async with review_bot(api, database_url, tmp_path, JIYN_DIGEST_TIME="00:00") as bot:
        assert not group_texts(await run_job(bot, "review-digest"))
        # The next day comes while the bot is running: its digest is not skipped.
        yesterday = (utcnow() - timedelta(days=1)).date().isoformat()
        async with services(bot).sessions.begin() as session:
            await session.execute(
                update(JobState).where(JobState.name == "digest").values(last_key=yesterday)
            )
        assert "Daily digest" in group_texts(await run_job(bot, "review-digest"))


async def test_closed_reports_lose_notes_and_messages_at_the_retention_purge(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        report_id, _code = await file_report(bot, people["reporter"])
        volunteer = Reviewer(bot, people["volunteer"])
        await volunteer.opens(report_id)
        await volunteer.taps(f"rv:claim:{report_id}")
        await volunteer.taps(f"rv:note:{report_id}")
        await volunteer.says("Адвокат Иванов, +77770000000")
        await volunteer.taps(f"rv:verify:{report_id}")
        await volunteer.taps(f"rv:close:{report_id}")
        await move_back(bot, report_id, closed_at=timedelta(days=91))
        await run_job(bot, "purge")
        assert all(e.detail_enc is None for e in await report_events(bot, report_id))
        calls = await volunteer.opens(report_id)
        card = said(calls)
        assert "has been deleted" in card
        for secret in (*PERSONAL.values(), "Адвокат Иванов"):
            assert secret not in card
        row = await report_row(bot, report_id)
        assert row.status == ReportStatus.CLOSED.value and row.city == "almaty"


async def test_expired_questions_are_dropped(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        report_id, _code = await file_report(bot, people["reporter"])
        volunteer = Reviewer(bot, people["volunteer"])
        await volunteer.opens(report_id)
        await volunteer.taps(f"rv:note:{report_id}")
        async with services(bot).sessions.begin() as session:
            await session.execute(
                update(PendingInput).values(expires_at=utcnow() - timedelta(seconds=1))
            )
        calls = await volunteer.says("What is the fine for a rally?")
        assert "488" in said(calls)  # an expired question does not take the text
        await run_job(bot, "review-cleanup")
        review = ReviewService(services(bot).sessions, services(bot).cipher)
        assert await review.pending_input(VOLUNTEER_ID) is None
        assert not [e for e in await report_events(bot, report_id) if e.action == "note"]


def test_review_settings_have_defaults_and_one_line_errors(tmp_path: Path) -> None:
    settings = load_settings({"JIYN_DATA_DIR": str(tmp_path)}, env_file=tmp_path / "none")
    assert (settings.escalate_minutes, settings.stale_claim_hours) == (10, 24)
    assert settings.digest_time == time(21, 0)
    settings = load_settings(
        {
            "JIYN_DATA_DIR": str(tmp_path),
            "JIYN_ESCALATE_MINUTES": "5",
            "JIYN_STALE_CLAIM_HOURS": "48",
            "JIYN_DIGEST_TIME": "7:30",
        },
        env_file=tmp_path / "none",
    )
    assert (settings.escalate_minutes, settings.stale_claim_hours) == (5, 48)
    assert settings.digest_time == time(7, 30)
    for variable, value, unit in (
        ("JIYN_ESCALATE_MINUTES", "0", "minutes"),
        ("JIYN_STALE_CLAIM_HOURS", "a day", "hours"),
        ("JIYN_DIGEST_TIME", "25:00", "HH:MM"),
        ("JIYN_DIGEST_TIME", "9pm", "HH:MM"),
    ):
        with pytest.raises(ConfigError) as raised:
            load_settings(
                {"JIYN_DATA_DIR": str(tmp_path), variable: value}, env_file=tmp_path / "none"
            )
        message = str(raised.value)
        assert message.startswith(variable + ": expected") and unit in message
        assert "\n" not in message
