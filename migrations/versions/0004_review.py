"""volunteer review: claims, escalation and outcome columns on reports; pending inputs,
volunteer invites, audit log and job state tables; admins come from configuration only

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
REPORT_COLUMNS = (
    ("claimed_by", sa.BigInteger()),
    ("claimed_at", TZ),
    ("escalated_at", TZ),
    ("stale_reminded_at", TZ),
    ("duplicate_of_id", sa.Integer()),
    ("outcome", sa.String(length=16)),
    ("outcome_number", sa.Integer()),
    ("outcome_date", sa.Date()),
)


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild): on SQLite a rebuild would drop `reports` with foreign
    # keys on, which cascades to report_events.
    for name, column_type in REPORT_COLUMNS:
        op.add_column("reports", sa.Column(name, column_type, nullable=True))
    op.create_index("ix_reports_claimed_by", "reports", ["claimed_by"])
    # Admin rights are read from JIYN_ADMIN_IDS at every check; a stored "admin" would outlive
    # its removal from the configuration.
    op.execute("UPDATE users SET role = 'user' WHERE role = 'admin'")

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
    op.create_table(
        "volunteer_invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("used_by", sa.BigInteger(), nullable=True),
        sa.Column("used_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_volunteer_invites_expires_at", "volunteer_invites", ["expires_at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("detail_enc", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_actor_id", "audit_log", ["actor_id"])
    op.create_index("ix_audit_log_created_at", "audit_log", ["created_at"])
    op.create_table(
        "job_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_key", sa.String(length=32), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("job_state")
    op.drop_index("ix_audit_log_created_at", table_name="audit_log")
    op.drop_index("ix_audit_log_actor_id", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_volunteer_invites_expires_at", table_name="volunteer_invites")
    op.drop_table("volunteer_invites")
    op.drop_index("ix_pending_inputs_expires_at", table_name="pending_inputs")
    op.drop_table("pending_inputs")
    op.drop_index("ix_reports_claimed_by", table_name="reports")
    for name, _column_type in reversed(REPORT_COLUMNS):
        op.drop_column("reports", name)
