"""reports, report drafts and report events

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("reporter_role", sa.String(length=16), nullable=False),
        sa.Column("reporter_hash", sa.String(length=64), nullable=True),
        sa.Column("reporter_chat_enc", sa.LargeBinary(), nullable=True),
        sa.Column("reporter_language", sa.String(length=8), nullable=False),
        sa.Column("occurred_at", TZ, nullable=True),
        sa.Column("city", sa.String(length=32), nullable=True),
        sa.Column("location_enc", sa.LargeBinary(), nullable=True),
        sa.Column("people_count", sa.Integer(), nullable=True),
        sa.Column("detained_name_enc", sa.LargeBinary(), nullable=True),
        sa.Column("police_unit_enc", sa.LargeBinary(), nullable=True),
        sa.Column("details_enc", sa.LargeBinary(), nullable=True),
        sa.Column("media_enc", sa.LargeBinary(), nullable=True),
        sa.Column("contact_phone_enc", sa.LargeBinary(), nullable=True),
        sa.Column("contact_via_telegram", sa.Boolean(), nullable=False),
        sa.Column("consent_to_contact", sa.Boolean(), nullable=False),
        sa.Column("notified_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("closed_at", TZ, nullable=True),
        sa.Column("purged_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index("ix_reports_status", "reports", ["status"])
    op.create_index("ix_reports_reporter_hash", "reports", ["reporter_hash"])
    op.create_index("ix_reports_city", "reports", ["city"])
    op.create_index("ix_reports_notified_at", "reports", ["notified_at"])
    op.create_table(
        "report_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_hash", sa.String(length=64), nullable=False),
        sa.Column("owner_enc", sa.LargeBinary(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("data_enc", sa.LargeBinary(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("reminded_at", TZ, nullable=True),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner_hash"),
    )
    op.create_table(
        "report_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("detail_enc", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_report_events_report_id", "report_events", ["report_id"])


def downgrade() -> None:
    op.drop_index("ix_report_events_report_id", table_name="report_events")
    op.drop_table("report_events")
    op.drop_table("report_drafts")
    for name in ("notified_at", "city", "reporter_hash", "status"):
        op.drop_index(f"ix_reports_{name}", table_name="reports")
    op.drop_table("reports")
