"""the number of people detained as the reporter gave it: "3", a range ("2-5", "6-20", "20+")
or "unknown", instead of an integer that stored the button "2-5" as 5

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The buttons stored their upper bound. A typed 5, 20 or 21 cannot be told from a button, so
# these become the range, which stays true of either: 5 is within 2-5, 21 is more than 20.
BUTTON_VALUES = {5: "2-5", 20: "6-20", 21: "20+"}


def upgrade() -> None:
    op.add_column("reports", sa.Column("people", sa.String(length=16), nullable=True))
    reports = sa.table("reports", sa.column("people_count", sa.Integer), sa.column("people"))
    op.execute(
        reports.update()
        .where(reports.c.people_count.is_not(None))
        .values(
            people=sa.case(
                *((reports.c.people_count == n, value) for n, value in BUTTON_VALUES.items()),
                else_=sa.cast(reports.c.people_count, sa.String(16)),
            )
        )
    )
    # Plain DROP COLUMN (SQLite 3.35+, PostgreSQL): no table rebuild, which on SQLite would
    # drop `reports` with foreign keys on and cascade to report_events.
    op.execute("ALTER TABLE reports DROP COLUMN people_count")


def downgrade() -> None:
    op.add_column("reports", sa.Column("people_count", sa.Integer(), nullable=True))
    reports = sa.table("reports", sa.column("people_count", sa.Integer), sa.column("people"))
    ranges = {"2-5": 5, "6-20": 20, "20+": 21}
    op.execute(
        reports.update()
        .where(reports.c.people.is_not(None), reports.c.people != "unknown")
        .values(
            people_count=sa.case(
                *((reports.c.people == value, n) for value, n in ranges.items()),
                else_=sa.cast(reports.c.people, sa.Integer),
            )
        )
    )
    op.execute("ALTER TABLE reports DROP COLUMN people")
