"""Key rotation: re-encrypt every encrypted column under the newest key and rewrite the lookup
hashes, so an old key can then be removed from JIYN_ENCRYPTION_KEY."""

from __future__ import annotations

from sqlalchemy import LargeBinary, or_, select, update

from bot.core.crypto import Cipher
from bot.core.db import SessionFactory
from bot.core.models import Base, PendingInput, Report, ReportDraft, User


async def rotate_keys(sessions: SessionFactory, cipher: Cipher) -> int:
    """Re-encrypt all *_enc columns of every table; returns the number of values rewritten."""
    rewritten = 0
    async with sessions.begin() as session:
        for table in Base.metadata.sorted_tables:
            columns = [
                c
                for c in table.columns
                if c.name.endswith("_enc") and isinstance(c.type, LargeBinary)
            ]
            if not columns:
                continue
            key = table.primary_key.columns.values()[0]
            rows = (await session.execute(select(key, *columns))).all()
            for row in rows:
                values = {}
                for column in columns:
                    token = row._mapping[column]
                    if token is not None:
                        values[column.name] = cipher.rotate(token)
                if values:
                    await session.execute(update(table).where(key == row[0]).values(**values))
                    rewritten += len(values)
        # Lookup hashes follow the newest key: recompute them from the encrypted ids, for every
        # hashed column (tests/test_keys.py lists them from the models, so a new one cannot be
        # forgotten here).
        for draft in (await session.scalars(select(ReportDraft))).all():
            _chat_id, user_id = cipher.decrypt_json(draft.owner_enc)
            draft.owner_hash = cipher.lookup_hash(user_id)
        for waiting in (await session.scalars(select(PendingInput))).all():
            waiting.owner_hash = cipher.lookup_hash(cipher.decrypt(waiting.owner_enc) or "")
        for report in (
            await session.scalars(
                select(Report).where(
                    or_(Report.reporter_chat_enc.is_not(None), Report.claimed_by_enc.is_not(None))
                )
            )
        ).all():
            if report.reporter_chat_enc is not None:
                # Reports are filed in private chats, where the chat id is the user id.
                reporter = cipher.decrypt(report.reporter_chat_enc) or ""
                report.reporter_hash = cipher.lookup_hash(reporter)
            if report.claimed_by_enc is not None:
                holder = cipher.decrypt(report.claimed_by_enc) or ""
                report.claimed_by_hash = cipher.lookup_hash(holder)
        # users is keyed by the hash: rewrite the key column in place, row by row.
        for id_hash, token in (
            await session.execute(select(User.id_hash, User.telegram_enc))
        ).all():
            new_hash = cipher.lookup_hash(cipher.decrypt(token) or "")
            if new_hash != id_hash:
                await session.execute(
                    update(User).where(User.id_hash == id_hash).values(id_hash=new_hash)
                )
    return rewritten
