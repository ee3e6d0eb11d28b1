"""The review journey's scheduled work (PTB's JobQueue on APScheduler): escalation of unclaimed
urgent reports, reminders of stale claims, the daily digest, clean-up, and the volunteers'
command menus. Jobs read their state from the database, so a restart loses nothing: a missed run
simply finds more to do."""

from __future__ import annotations

import asyncio
import html
import logging
from datetime import timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import Forbidden, TelegramError

from bot.core.i18n import gettext_for
from bot.core.models import OutboxMessage, utcnow
from bot.services.review.workflow import DigestCounts, ReviewService
from bot.telegram.context import JiynApplication, JiynContext
from bot.telegram.outbox import ESCALATION
from handlers.common.places import city_label
from handlers.review.team import register_team_commands

log = logging.getLogger(__name__)

REVIEW_INTERVAL = timedelta(minutes=1)
# The review jobs first run a minute after start, like every minute after: the alerts the
# notifier catches up on after a restart go out first.
REVIEW_FIRST_RUN = 60
CLEANUP_INTERVAL = timedelta(hours=1)
ESCALATION_LINES = 30
DIGEST_MAX_WINDOW = timedelta(days=7)


def _job_lock(context: JiynContext, name: str) -> asyncio.Lock:
    """One run of a job at a time, even when a run is started by hand (tests, a slow run)."""
    locks: dict[str, asyncio.Lock] = context.application.bot_data.setdefault("job_locks", {})
    return locks.setdefault(name, asyncio.Lock())


def _review(context: JiynContext) -> ReviewService:
    return context.services.review


async def escalate_unclaimed_urgent(context: JiynContext) -> None:
    """Tell the volunteer chat about urgent reports nobody claimed within JIYN_ESCALATE_MINUTES.
    Each report is escalated once: the message goes to the outbox in the transaction that saves
    escalated_at, and the outbox sends it now or, in a Telegram outage, when Telegram is back
    (also after a restart)."""
    services = context.services
    notifier, outbox = services.notifier, services.outbox
    if notifier is None or outbox is None:
        return
    async with _job_lock(context, "escalation"):
        review = _review(context)
        minutes = services.settings.escalate_minutes
        due = (await review.due_escalations(timedelta(minutes=minutes)))[:ESCALATION_LINES]
        if not due:
            return
        language = notifier.language
        _ = gettext_for(language)
        timezone = services.settings.timezone
        lines = [
            "<b>"
            + html.escape(
                _("⏰ Urgent reports without a volunteer for more than {n} min:").format(n=minutes)
            )
            + "</b>"
        ]
        for item in due:
            lines.append(
                f"🚨 <b>{html.escape(item.code)}</b> · "
                f"{html.escape(city_label(context, item.city, language))} · "
                f"{item.created_at.astimezone(timezone).strftime('%d.%m %H:%M')}"
            )
        lines.append(html.escape(_("Open /queue in a private chat with the bot and claim them.")))
        rows: list[OutboxMessage] = []

        def to_outbox(session: object) -> None:
            rows.append(outbox.add(session, ESCALATION, notifier.chat_id, "\n".join(lines)))

        async with notifier.slot():
            await review.mark_escalated([item.id for item in due], then=to_outbox)
        await outbox.deliver_now([row.id for row in rows])


async def remind_stale_claims(context: JiynContext) -> None:
    """Remind a volunteer, privately and once per claim, of a report they have held for
    JIYN_STALE_CLAIM_HOURS without deciding it."""
    services = context.services
    async with _job_lock(context, "stale-claims"):
        review = _review(context)
        hours = services.settings.stale_claim_hours
        for item in await review.due_stale_claims(timedelta(hours=hours)):
            if item.claimed_by is None:
                continue
            language = await services.users.language_of(
                item.claimed_by, services.settings.default_language
            )
            _ = gettext_for(language)
            text = _(
                "⏳ You have held report {code} for more than {n} h. Update it, or release it so "
                "another volunteer can take it."
            ).format(code=item.code, n=hours)
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton(_("Open the report"), callback_data=f"rv:open:{item.id}")]]
            )
            try:
                await context.bot.send_message(item.claimed_by, text, reply_markup=markup)
            except Forbidden:
                pass  # they blocked the bot: reminding again would not help
            except TelegramError:
                log.warning("could not remind a volunteer of a stale claim; will retry")
                continue
            await review.mark_reminded(item.id)


async def send_daily_digest(context: JiynContext) -> None:
    """Once a day, after JIYN_DIGEST_TIME (local), a summary to the volunteer chat: what arrived
    and was decided since the last digest, and what is open. The date of the last digest is in
    the database, so a restart neither repeats it nor skips it."""
    services = context.services
    notifier = services.notifier
    if notifier is None:
        return
    settings = services.settings
    async with _job_lock(context, "digest"):
        now = utcnow()
        local_now = now.astimezone(settings.timezone)
        if local_now.time() < settings.digest_time:
            return
        today = local_now.date().isoformat()
        review = _review(context)
        state = await review.job_state("digest")
        if state is not None and state[0] == today:
            return
        since = state[1] if state is not None else now - timedelta(days=1)
        since = max(since, now - DIGEST_MAX_WINDOW)
        counts = await review.digest_counts(since, timedelta(hours=settings.stale_claim_hours))
        text = digest_text(context, notifier.language, local_now.strftime("%d.%m.%Y"), counts)
        await notifier.send_paced(text)
        await review.save_job_state("digest", today)


def digest_text(context: JiynContext, language: str, day: str, counts: DigestCounts) -> str:
    """The digest message: counts only, nothing personal."""
    _ = gettext_for(language)
    by_city = " · ".join(
        f"{city_label(context, city, language)} {n}" for city, n in list(counts.cities.items())[:10]
    )
    lines = [
        _("New reports: {n} (urgent: {urgent})").format(
            n=counts.arrived, urgent=counts.arrived_urgent
        ),
    ]
    if by_city:
        lines.append(_("By city: {cities}").format(cities=by_city))
    lines += [
        _(
            "Decided: verified {verified} · rejected {rejected} · duplicates {duplicate} · "
            "closed {closed}"
        ).format(**counts.decided),
        _("Waiting for a volunteer: {n} (urgent: {urgent})").format(
            n=counts.waiting, urgent=counts.waiting_urgent
        ),
        _("In review: {n}, held for long: {stale}").format(n=counts.in_review, stale=counts.stale),
        _("Open /queue in a private chat with the bot."),
    ]
    header = "<b>" + html.escape(_("📋 Daily digest, {day}").format(day=day)) + "</b>"
    return "\n".join([header, *(html.escape(line) for line in lines)])


async def clean_review_state(context: JiynContext) -> None:
    """Drop unanswered typed-answer questions and unused invites that expired."""
    services = context.services
    questions = await _review(context).delete_expired_inputs()
    invites = await services.users.delete_expired_invites()
    if questions or invites:
        log.info("dropped %d expired questions and %d expired invites", questions, invites)


def schedule(application: JiynApplication) -> None:
    """Register the review journey's jobs."""
    queue = application.job_queue
    for callback, name in (
        (escalate_unclaimed_urgent, "review-escalation"),
        (remind_stale_claims, "review-stale-claims"),
        (send_daily_digest, "review-digest"),
    ):
        queue.run_repeating(callback, interval=REVIEW_INTERVAL, first=REVIEW_FIRST_RUN, name=name)
    queue.run_repeating(
        clean_review_state, interval=CLEANUP_INTERVAL, first=REVIEW_FIRST_RUN, name="review-cleanup"
    )
    queue.run_once(register_team_commands, when=1, name="review-commands")
