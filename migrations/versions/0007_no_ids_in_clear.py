"""No Telegram id in clear: users keyed by the lookup hash, with the day of first contact;
volunteer, actor, target and invite ids encrypted

Existing rows are converted, not dropped: each id is hashed and encrypted with the configured
encryption key (the one `jiyn db upgrade` and `jiyn run` pass in, else JIYN_ENCRYPTION_KEY or
DATA_DIR/encryption.key read through the application's settings). The key is needed only when
there are rows to convert; an empty database upgrades without one. Questions waiting for a typed
answer (pending_inputs, 30 minutes long) are dropped: only their owner's hash was stored, so
their id cannot be encrypted; the person presses the button again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from bot.core.crypto import Cipher
from bot.core.models import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def _cipher() -> Cipher:
    attributes = context.config.attributes
    if "jiyn_cipher" not in attributes:
        keys = attributes.get("encryption_keys")
        if not keys:
            keys = _configured_keys()
        attributes["jiyn_cipher"] = Cipher(tuple(keys))
    cipher: Cipher = attributes["jiyn_cipher"]
    return cipher


def _configured_keys() -> tuple[bytes, ...]:
    """The key from the application's configuration; never a new one (rows converted with a
    key nobody has would be lost)."""
    from bot.core.config import KEY_FILE_NAME, _read_environment, load_settings

    settings = load_settings(create_files=False)
    environment = _read_environment(None, None)
    if not environment.get("JIYN_ENCRYPTION_KEY") and not (
        settings.data_dir / KEY_FILE_NAME
    ).is_file():
        raise RuntimeError(
            "migration 0007 converts stored ids with the encryption key: set "
            "JIYN_ENCRYPTION_KEY (or keep DATA_DIR/encryption.key) and run jiyn db upgrade"
        )
    return settings.encryption_keys


def _encrypt(value: Any) -> bytes | None:
    return None if value is None else _cipher().encrypt(str(int(value)))


def _decrypt(token: Any) -> int | None:
    return None if token is None else _cipher().decrypt_id(bytes(token))


def _users_table() -> None:
    op.create_table(
        "users",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("telegram_enc", sa.LargeBinary(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("telegram_language", sa.String(length=16), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False, server_default="user"),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id_hash"),
        # SQLite: rows in hash order; a rowid would count first contacts (see bot.core.models.User).
        sqlite_with_rowid=False,
    )


def _pending_inputs_table() -> None:
    op.create_table(
        "pending_inputs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_hash", sa.String(length=64), nullable=False),
        sa.Column("owner_enc", sa.LargeBinary(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("target_enc", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner_hash"),
    )
    op.create_index("ix_pending_inputs_expires_at", "pending_inputs", ["expires_at"])


def _invites_table(encrypted: bool) -> None:
    if encrypted:
        people = [
            sa.Column("created_by_enc", sa.LargeBinary(), nullable=False),
            sa.Column("used_by_enc", sa.LargeBinary(), nullable=True),
        ]
    else:
        people = [
            sa.Column("created_by", sa.BigInteger(), nullable=False),
            sa.Column("used_by", sa.BigInteger(), nullable=True),
        ]
    op.create_table(
        "volunteer_invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        people[0],
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        people[1],
        sa.Column("used_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_volunteer_invites_expires_at", "volunteer_invites", ["expires_at"])


def _rows(table: str, *columns: sa.Column[Any]) -> list[Any]:
    return list(op.get_bind().execute(sa.select(*columns).select_from(sa.table(table))).all())


def _fill(table: str, key: str, values: list[dict[str, Any]]) -> None:
    """UPDATE table SET ... WHERE key = :key, once per row (converted in Python)."""
    if not values:
        return
    target = sa.table(table, sa.column(key), *(sa.column(c) for c in values[0] if c != key))
    bind = op.get_bind()
    for row in values:
        changes = {c: v for c, v in row.items() if c != key}
        bind.execute(sa.update(target).where(target.c[key] == row[key]).values(**changes))


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Pages freed by the dropped columns and tables are overwritten, not left holding ids.
        op.execute("PRAGMA secure_delete = ON")
    # users: rebuilt, keyed by hash, the day only.
    users = _rows(
        "users",
        sa.column("telegram_id", sa.BigInteger()),
        sa.column("language", sa.String()),
        sa.column("telegram_language", sa.String()),
        sa.column("role", sa.String()),
        sa.column("created_at", UTCDateTime()),
    )
    op.drop_table("users")
    _users_table()
    if users:
        cipher = _cipher()
        op.bulk_insert(
            sa.table(
                "users",
                sa.column("id_hash", sa.String()),
                sa.column("telegram_enc", sa.LargeBinary()),
                sa.column("language", sa.String()),
                sa.column("telegram_language", sa.String()),
                sa.column("role", sa.String()),
                sa.column("created_on", sa.Date()),
            ),
            [
                {
                    "id_hash": cipher.lookup_hash(row.telegram_id),
                    "telegram_enc": cipher.encrypt_undated(str(row.telegram_id)),
                    "language": row.language,
                    "telegram_language": row.telegram_language,
                    "role": row.role,
                    "created_on": row.created_at.date(),
                }
                for row in users
            ],
        )

    # reports: the holder by hash (to compare) and encrypted (to write to). Plain ADD and DROP
    # COLUMN: rebuilding `reports` on SQLite would cascade to report_events.
    op.add_column("reports", sa.Column("claimed_by_hash", sa.String(length=64), nullable=True))
    op.add_column("reports", sa.Column("claimed_by_enc", sa.LargeBinary(), nullable=True))
    claims = _rows(
        "reports", sa.column("id", sa.Integer()), sa.column("claimed_by", sa.BigInteger())
    )
    _fill(
        "reports",
        "id",
        [
            {
                "id": row.id,
                "claimed_by_hash": _cipher().lookup_hash(row.claimed_by),
                "claimed_by_enc": _encrypt(row.claimed_by),
            }
            for row in claims
            if row.claimed_by is not None
        ],
    )
    op.drop_index("ix_reports_claimed_by", table_name="reports")
    op.drop_column("reports", "claimed_by")
    op.create_index("ix_reports_claimed_by_hash", "reports", ["claimed_by_hash"])

    # report_events and audit_log: who acted, encrypted.
    for table in ("report_events", "audit_log"):
        op.add_column(table, sa.Column("actor_enc", sa.LargeBinary(), nullable=True))
        actors = _rows(table, sa.column("id", sa.Integer()), sa.column("actor_id", sa.BigInteger()))
        _fill(
            table,
            "id",
            [
                {"id": row.id, "actor_enc": _encrypt(row.actor_id)}
                for row in actors
                if row.actor_id is not None
            ],
        )
    op.drop_index("ix_audit_log_actor_id", table_name="audit_log")
    op.drop_column("audit_log", "actor_id")
    op.drop_column("report_events", "actor_id")

    # pending_inputs: short-lived; rebuilt empty (see the module's docstring).
    op.drop_index("ix_pending_inputs_expires_at", table_name="pending_inputs")
    op.drop_table("pending_inputs")
    _pending_inputs_table()

    # volunteer_invites: rebuilt with the people encrypted.
    invite_columns = (
        sa.column("id", sa.Integer()),
        sa.column("token_hash", sa.String()),
        sa.column("created_at", TZ),
        sa.column("expires_at", TZ),
        sa.column("used_at", TZ),
    )
    invites = _rows(
        "volunteer_invites",
        *invite_columns,
        sa.column("created_by", sa.BigInteger()),
        sa.column("used_by", sa.BigInteger()),
    )
    op.drop_index("ix_volunteer_invites_expires_at", table_name="volunteer_invites")
    op.drop_table("volunteer_invites")
    _invites_table(encrypted=True)
    if invites:
        op.bulk_insert(
            sa.table(
                "volunteer_invites",
                *invite_columns,
                sa.column("created_by_enc", sa.LargeBinary()),
                sa.column("used_by_enc", sa.LargeBinary()),
            ),
            [
                {
                    "id": row.id,
                    "token_hash": row.token_hash,
                    "created_at": row.created_at,
                    "expires_at": row.expires_at,
                    "used_at": row.used_at,
                    "created_by_enc": _encrypt(row.created_by),
                    "used_by_enc": _encrypt(row.used_by),
                }
                for row in invites
            ],
        )


def downgrade() -> None:
    """Back to ids in clear (decrypted with the configured key); waiting questions dropped."""
    invite_columns = (
        sa.column("id", sa.Integer()),
        sa.column("token_hash", sa.String()),
        sa.column("created_at", TZ),
        sa.column("expires_at", TZ),
        sa.column("used_at", TZ),
    )
    invites = _rows(
        "volunteer_invites",
        *invite_columns,
        sa.column("created_by_enc", sa.LargeBinary()),
        sa.column("used_by_enc", sa.LargeBinary()),
    )
    op.drop_index("ix_volunteer_invites_expires_at", table_name="volunteer_invites")
    op.drop_table("volunteer_invites")
    _invites_table(encrypted=False)
    if invites:
        op.bulk_insert(
            sa.table(
                "volunteer_invites",
                *invite_columns,
                sa.column("created_by", sa.BigInteger()),
                sa.column("used_by", sa.BigInteger()),
            ),
            [
                {
                    "id": row.id,
                    "token_hash": row.token_hash,
                    "created_at": row.created_at,
                    "expires_at": row.expires_at,
                    "used_at": row.used_at,
                    "created_by": _decrypt(row.created_by_enc),
                    "used_by": _decrypt(row.used_by_enc),
                }
                for row in invites
            ],
        )

    op.drop_index("ix_pending_inputs_expires_at", table_name="pending_inputs")
    op.drop_table("pending_inputs")
    op.create_table(
        "pending_inputs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner_hash"),
    )
    op.create_index("ix_pending_inputs_expires_at", "pending_inputs", ["expires_at"])

    for table in ("report_events", "audit_log"):
        op.add_column(table, sa.Column("actor_id", sa.BigInteger(), nullable=True))
        actors = _rows(table, sa.column("id", sa.Integer()), sa.column("actor_enc", sa.LargeBinary()))
        _fill(
            table,
            "id",
            [
                {"id": row.id, "actor_id": _decrypt(row.actor_enc)}
                for row in actors
                if row.actor_enc is not None
            ],
        )
        op.drop_column(table, "actor_enc")
    op.create_index("ix_audit_log_actor_id", "audit_log", ["actor_id"])

    op.add_column("reports", sa.Column("claimed_by", sa.BigInteger(), nullable=True))
    claims = _rows(
        "reports", sa.column("id", sa.Integer()), sa.column("claimed_by_enc", sa.LargeBinary())
    )
    _fill(
        "reports",
        "id",
        [
            {"id": row.id, "claimed_by": _decrypt(row.claimed_by_enc)}
            for row in claims
            if row.claimed_by_enc is not None
        ],
    )
    op.drop_index("ix_reports_claimed_by_hash", table_name="reports")
    op.drop_column("reports", "claimed_by_enc")
    op.drop_column("reports", "claimed_by_hash")
    op.create_index("ix_reports_claimed_by", "reports", ["claimed_by"])

    users = _rows(
        "users",
        sa.column("telegram_enc", sa.LargeBinary()),
        sa.column("language", sa.String()),
        sa.column("telegram_language", sa.String()),
        sa.column("role", sa.String()),
        sa.column("created_on", sa.Date()),
    )
    op.drop_table("users")
    op.create_table(
        "users",
        sa.Column("telegram_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("telegram_language", sa.String(length=16), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False, server_default="user"),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("telegram_id"),
    )
    if users:
        from datetime import UTC, datetime, time

        op.bulk_insert(
            sa.table(
                "users",
                sa.column("telegram_id", sa.BigInteger()),
                sa.column("language", sa.String()),
                sa.column("telegram_language", sa.String()),
                sa.column("role", sa.String()),
                sa.column("created_at", UTCDateTime()),
                sa.column("updated_at", UTCDateTime()),
            ),
            [
                {
                    "telegram_id": _decrypt(row.telegram_enc),
                    "language": row.language,
                    "telegram_language": row.telegram_language,
                    "role": row.role,
                    "created_at": datetime.combine(row.created_on, time(), UTC),
                    "updated_at": datetime.combine(row.created_on, time(), UTC),
                }
                for row in users
            ],
        )
