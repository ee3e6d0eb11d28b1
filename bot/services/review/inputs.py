"""Typed answers a button asks for (a reason, a code, a note, an outcome's number or date)."""

from __future__ import annotations

from sqlalchemy import delete, select

from bot.core.db import rowcount
from bot.core.models import PendingInput, utcnow
from bot.services.review.records import (
    INPUT_KINDS,
    INPUT_LIFETIME,
    Pending,
    ReviewBase,
)


class PendingInputs(ReviewBase):
    """Typed answers a button asks for (a reason, a code, a note, an outcome's number or date)."""

    async def expect_input(
        self, owner_id: int, kind: str, report_id: int, target_id: int | None = None
    ) -> None:
        """Remember that the owner's next text answers `kind` for this report (replacing any
        earlier question); it expires after INPUT_LIFETIME."""
        if kind not in INPUT_KINDS:
            raise ValueError(f"unknown input kind {kind!r}")
        hashes = self.cipher.lookup_hashes(owner_id)
        self._maybe_waiting.add(hashes[0])  # before the write: never a moment it is missed
        async with self.sessions.begin() as session:
            await session.execute(delete(PendingInput).where(PendingInput.owner_hash.in_(hashes)))
            now = utcnow()
            session.add(
                PendingInput(
                    owner_hash=hashes[0],
                    owner_enc=self.cipher.encrypt(str(owner_id)),
                    kind=kind,
                    report_id=report_id,
                    target_enc=self.cipher.encrypt(str(target_id))
                    if target_id is not None
                    else None,
                    created_at=now,
                    expires_at=now + INPUT_LIFETIME,
                )
            )

    async def pending_input(self, owner_id: int) -> Pending | None:
        """What the owner was asked to type, if the question has not expired. Called with the
        owner's own updates (their text, their button presses)."""
        hashes = self.cipher.lookup_hashes(owner_id)
        if not await self._may_be_waiting(hashes):
            return None
        async with self.sessions() as session:
            row = await session.scalar(
                select(PendingInput).where(
                    PendingInput.owner_hash.in_(hashes), PendingInput.expires_at > utcnow()
                )
            )
        if row is None:
            self._maybe_waiting.difference_update(hashes)
            return None
        return Pending(row.kind, row.report_id, self.cipher.decrypt_id(row.target_enc))

    async def _may_be_waiting(self, hashes: list[str]) -> bool:
        if not self._waiting_loaded:
            async with self._waiting_loading:
                if not self._waiting_loaded:
                    # Questions asked before a restart: read once.
                    async with self.sessions() as session:
                        owners = await session.scalars(
                            select(PendingInput.owner_hash).where(
                                PendingInput.expires_at > utcnow()
                            )
                        )
                        self._maybe_waiting.update(owners.all())
                    self._waiting_loaded = True
        return any(lookup in self._maybe_waiting for lookup in hashes)

    async def clear_input(self, owner_id: int) -> bool:
        """Forget what the owner was asked to type; True if there was something."""
        hashes = self.cipher.lookup_hashes(owner_id)
        async with self.sessions.begin() as session:
            result = await session.execute(
                delete(PendingInput).where(PendingInput.owner_hash.in_(hashes))
            )
        self._maybe_waiting.difference_update(hashes)
        return bool(rowcount(result))

    async def delete_expired_inputs(self) -> int:
        """Drop questions nobody answered in time; returns how many."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                delete(PendingInput).where(PendingInput.expires_at <= utcnow())
            )
            return rowcount(result)
