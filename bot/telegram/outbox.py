"""The outbox: messages that must reach a person survive a Telegram outage and a restart.

A report's confirmation with its code, a status update to a reporter, a message relayed
between a volunteer and a reporter, and the volunteer chat's alerts of new reports and
escalations are written to the `outbox` table, in the same transaction as the change they tell
of (the report filed, the status changed, the relayed message stored, the reports marked
announced or escalated), and then sent: at once by the code that wrote them (`deliver_now`, so
a handler's message keeps its place among its other answers), else by the delivery loop,
which retries with exponential backoff (`Settings.outbox_backoff`) until Telegram accepts the
message or the kind's expiry passes (`EXPIRY`). A row is deleted only after Telegram accepted
the message, so nothing is lost to an outage, a crash or a restart; a message whose sending
succeeded in the instant before a crash, before its row was deleted, is sent again by the next
process (at least once: the window is one database statement long). One process serves at a
time (bot.leader), so claims in memory are enough to keep two sends of a row apart.

Per chat, messages go out in the order they were written: a chat's newer message waits while
an older one is retried. The chat id, the text and the buttons are one Fernet ciphertext
(`payload_enc`, rotated by `jiyn keys rotate`); the row shows only the kind, the attempts, the
times and the day it was written. Expired and refused messages (the person blocked the bot) are
deleted and counted in the metrics, never logged with their content.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, ReplyKeyboardRemove
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import ExtBot

from bot.core.crypto import Cipher, DecryptionError
from bot.core.db import SessionFactory
from bot.core.models import OutboxMessage, utcnow
from bot.services.component import Component
from bot.services.review.notify import ALERT
from bot.telegram.http import OUTBOX_SEND, _retry_after_seconds
from bot.telegram.metrics import Metrics

log = logging.getLogger(__name__)

CONFIRMATION = "confirmation"
STATUS = "status"
RELAY = "relay"
ESCALATION = "escalation"
# How long each kind is worth sending: a confirmation a day late is still the person's code; a
# status or a relayed message stays useful for days. A volunteer-chat alert or escalation is
# worth a day: it points at a report nobody may have taken yet, but by then the daily digest
# and /queue have told the volunteers the same. After that the row is deleted unsent.
EXPIRY: dict[str, timedelta] = {
    CONFIRMATION: timedelta(hours=24),
    STATUS: timedelta(hours=72),
    RELAY: timedelta(hours=72),
    ALERT: timedelta(hours=24),
    ESCALATION: timedelta(hours=24),
}
VOLUNTEER_CHAT_KINDS = (ALERT, ESCALATION)
DELIVERED = "delivered"
WAITING = "waiting"
DEFAULT_BACKOFF = (1.0, 60.0)  # seconds: the first retry's wait and the longest wait
BATCH = 500  # rows looked at per pass of the delivery loop
IDLE_CHECK_SECONDS = 30.0  # the loop looks even without being woken (a missed wake-up)
STOP_GRACE_SECONDS = 5.0  # at stop, how long a send under way may take to finish
# /forget waits for a send under way of the person's rows, at most 100 × 0.05 s.
FORGET_WAIT_STEPS = 100
FORGET_WAIT_STEP = 0.05


@dataclass(frozen=True)
class _Payload:
    chat_id: int
    text: str
    parse_mode: str | None
    reply_markup: dict[str, Any] | None


def _markup(value: dict[str, Any] | None) -> Any:
    if value is None:
        return None
    if "inline_keyboard" in value:
        return InlineKeyboardMarkup.de_json(value, None)
    if value.get("remove_keyboard"):
        return ReplyKeyboardRemove()
    raise ValueError("unsupported reply markup in the outbox")


class Outbox(Component):
    """Writes messages to the outbox table and delivers them; see the module docstring. A
    component on Services: started after the other services, stopped before them."""

    async def initialize(self) -> None:
        """Start the delivery loop."""
        self.start()

    async def shutdown(self) -> None:
        """Stop the delivery loop."""
        await self.stop()

    def __init__(
        self,
        sessions: SessionFactory,
        cipher: Cipher,
        bot: ExtBot[Any],  # its rate limiter takes the RetryPolicy overrides (OUTBOX_SEND)
        metrics: Metrics | None = None,
        backoff: tuple[float, float] = DEFAULT_BACKOFF,
        expiry: dict[str, timedelta] | None = None,
    ) -> None:
        self.sessions = sessions
        self.cipher = cipher
        self.bot = bot
        self.metrics = metrics
        self.backoff_base, self.backoff_cap = backoff
        self.expiry = {**EXPIRY, **(expiry or {})}
        self._claimed: set[int] = set()
        # Rows /forget is deleting: not to be sent, even by a send that read them just before.
        self._cancelled: set[int] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pause_until = 0.0
        self._stopping = False

    # ------------------------------------------------------------------ writing

    def add(
        self,
        session: AsyncSession,
        kind: str,
        chat_id: int,
        text: str,
        *,
        parse_mode: str | None = "HTML",
        reply_markup: InlineKeyboardMarkup | ReplyKeyboardRemove | None = None,
    ) -> OutboxMessage:
        """Put a message into the caller's transaction; its id is known after a flush."""
        if kind not in self.expiry:
            raise ValueError(f"unknown outbox kind {kind!r}")
        now = utcnow()
        payload = {
            "chat_id": int(chat_id),
            "text": text,
            "parse_mode": parse_mode,
            "reply_markup": reply_markup.to_dict() if reply_markup is not None else None,
        }
        row = OutboxMessage(
            kind=kind,
            payload_enc=self.cipher.encrypt_json(payload),
            attempts=0,
            next_attempt_at=now,
            expires_at=now + self.expiry[kind],
            created_on=now.date(),
        )
        session.add(row)
        return row

    async def enqueue(
        self,
        kind: str,
        chat_id: int,
        text: str,
        *,
        parse_mode: str | None = "HTML",
        reply_markup: InlineKeyboardMarkup | ReplyKeyboardRemove | None = None,
    ) -> int:
        """Write one message in a transaction of its own; returns its row id."""
        async with self.sessions.begin() as session:
            row = self.add(
                session, kind, chat_id, text, parse_mode=parse_mode, reply_markup=reply_markup
            )
            await session.flush()
            return row.id

    async def send(
        self,
        kind: str,
        chat_id: int,
        text: str,
        *,
        parse_mode: str | None = "HTML",
        reply_markup: InlineKeyboardMarkup | ReplyKeyboardRemove | None = None,
    ) -> None:
        """Write a message and try to deliver it now (else the loop will)."""
        row_id = await self.enqueue(
            kind, chat_id, text, parse_mode=parse_mode, reply_markup=reply_markup
        )
        await self.deliver_now([row_id])

    # ------------------------------------------------------------------ delivering

    async def deliver_now(self, row_ids: list[int]) -> dict[int, str]:
        """Try these rows at once, in order, unless older messages are still waiting (they go
        first, from the loop). Returns each row's outcome: "delivered", "blocked", "refused",
        "expired", "unreadable" or "waiting" (left for the loop). Never raises."""
        outcomes = dict.fromkeys(row_ids, WAITING)
        try:
            for row_id in row_ids:
                async with self.sessions() as session:
                    older = await session.scalar(
                        select(func.count(OutboxMessage.id)).where(OutboxMessage.id < row_id)
                    )
                if older or asyncio.get_running_loop().time() < self._pause_until:
                    break
                outcomes[row_id] = await self._deliver_row(row_id)
                if outcomes[row_id] == WAITING:
                    break
        except Exception:  # the database is down: the row (if written) waits for the loop
            log.warning("outbox: immediate delivery failed; the delivery loop will retry")
        self.wake()
        return outcomes

    async def _deliver_row(self, row_id: int) -> str:
        """Send one row if it is still there and nobody else is sending it; its outcome
        (WAITING when it is to be retried)."""
        if row_id in self._claimed:
            return WAITING
        if row_id in self._cancelled:
            return DELIVERED  # being forgotten: nothing to send
        self._claimed.add(row_id)
        try:
            async with self.sessions() as session:
                row = await session.get(OutboxMessage, row_id)
                if row is None:
                    return DELIVERED  # delivered meanwhile
                kind, attempts, expires_at = row.kind, row.attempts, row.expires_at
                token = row.payload_enc
            if expires_at <= utcnow():
                return await self._drop(row_id, kind, "expired")
            try:
                payload = _Payload(**self.cipher.decrypt_json(token))
            except (DecryptionError, TypeError, ValueError):
                return await self._drop(row_id, kind, "unreadable")
            try:
                await self.bot.send_message(
                    payload.chat_id,
                    payload.text,
                    parse_mode=payload.parse_mode,
                    reply_markup=_markup(payload.reply_markup),
                    rate_limit_args=OUTBOX_SEND,
                )
            except Forbidden:
                return await self._drop(row_id, kind, "blocked")  # the person blocked the bot
            except BadRequest as error:
                reason = type(error).__name__
                log.warning("outbox: Telegram refused a %s message (%s)", kind, reason)
                return await self._drop(row_id, kind, "refused")
            except TelegramError as error:
                await self._retry_later(row_id, attempts + 1, error)
                return WAITING
            # Accepted by Telegram: from here to the delete is the only window for a duplicate.
            async with self.sessions.begin() as session:
                await session.execute(delete(OutboxMessage).where(OutboxMessage.id == row_id))
            if self.metrics is not None:
                self.metrics.outbox_delivered.labels(kind).inc()
            return DELIVERED
        finally:
            self._claimed.discard(row_id)

    async def _retry_later(self, row_id: int, attempts: int, error: TelegramError) -> None:
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempts - 1))
        delay *= random.uniform(0.5, 1.0)
        if isinstance(error, RetryAfter):
            delay = max(delay, _retry_after_seconds(error))
        self._pause_until = asyncio.get_running_loop().time() + delay
        async with self.sessions.begin() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id)
                .values(attempts=attempts, next_attempt_at=utcnow() + timedelta(seconds=delay))
            )

    async def _drop(self, row_id: int, kind: str, reason: str) -> str:
        async with self.sessions.begin() as session:
            await session.execute(delete(OutboxMessage).where(OutboxMessage.id == row_id))
        # A person blocking the bot is their choice; the volunteer chat refusing the bot (it
        # was removed from the group) is a misconfiguration someone must hear of.
        if reason != "blocked" or kind in VOLUNTEER_CHAT_KINDS:
            log.warning("outbox: a %s message was not delivered (%s); deleted", kind, reason)
        if self.metrics is not None:
            self.metrics.outbox_dropped.labels(kind, reason).inc()
        return reason

    async def deliver_due(self) -> float:
        """One pass: send every message that is due and first in its chat; returns the seconds
        until the next one is due (or IDLE_CHECK_SECONDS)."""
        loop = asyncio.get_running_loop()
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(
                        OutboxMessage.id, OutboxMessage.payload_enc, OutboxMessage.next_attempt_at
                    )
                    .order_by(OutboxMessage.id)
                    .limit(BATCH)
                )
            ).all()
        waiting_chats: set[int] = set()
        next_due = IDLE_CHECK_SECONDS
        for row_id, token, next_attempt_at in rows:
            if self._stopping:
                break
            try:
                chat_id = int(self.cipher.decrypt_json(token)["chat_id"])
            except (DecryptionError, KeyError, TypeError, ValueError):
                chat_id = -row_id  # unreadable: _deliver_row drops it
            if chat_id in waiting_chats:
                continue  # an older message to this chat goes first
            wait = (next_attempt_at - utcnow()).total_seconds()
            wait = max(wait, self._pause_until - loop.time())
            if wait > 0:
                waiting_chats.add(chat_id)
                next_due = min(next_due, wait)
                continue
            if await self._deliver_row(row_id) == WAITING:
                waiting_chats.add(chat_id)
                next_due = min(next_due, max(self._pause_until - loop.time(), 0.05))
        return next_due

    async def forget_chat(self, chat_id: int) -> int:
        """Delete the messages waiting for one chat (/forget); returns how many."""
        doomed: list[int] = []
        async with self.sessions() as session:
            rows = (
                await session.execute(select(OutboxMessage.id, OutboxMessage.payload_enc))
            ).all()
            for row_id, token in rows:
                try:
                    if int(self.cipher.decrypt_json(token)["chat_id"]) == int(chat_id):
                        doomed.append(row_id)
                except (DecryptionError, KeyError, TypeError, ValueError):
                    continue
        # A send of one of these rows may be under way (it read the row before this): let its
        # attempt end first, then delete, so a forgotten message never goes out afterwards.
        self._cancelled.update(doomed)
        try:
            for _ in range(FORGET_WAIT_STEPS):
                if not self._claimed.intersection(doomed):
                    break
                await asyncio.sleep(FORGET_WAIT_STEP)
            if doomed:
                async with self.sessions.begin() as session:
                    await session.execute(
                        delete(OutboxMessage).where(OutboxMessage.id.in_(doomed))
                    )
        finally:
            self._cancelled.difference_update(doomed)
        return len(doomed)

    async def waiting(self) -> int:
        """How many messages wait to be delivered."""
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count(OutboxMessage.id))) or 0)

    # ------------------------------------------------------------------ the loop

    def wake(self) -> None:
        """Something was written: look soon."""
        self._wake.set()

    def start(self) -> None:
        """Run the delivery loop in the background (after a restart it resumes at once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox")
            self._wake.set()

    async def stop(self) -> None:
        """Stop the loop; undelivered messages stay in the database for the next start. A send
        under way is given a few seconds to finish and its row deleted, so that a clean stop
        does not send it again after the restart."""
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), STOP_GRACE_SECONDS)
            except (TimeoutError, asyncio.CancelledError):
                pass
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            self._stopping = False

    async def _run(self) -> None:
        delay = 0.0
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
            if self._stopping:
                return
            try:
                delay = await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # The database is down: the messages are safe in it; look again shortly.
                log.warning("outbox: delivery pass failed (%s); retrying", type(error).__name__)
                delay = min(self.backoff_cap, 5.0)
