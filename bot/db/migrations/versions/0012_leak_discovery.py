"""leak clocks from discovery: leak_case.discovered_at and reported_late; the 24-hour report only for state secrets

Revision ID: 0012
Revises: 0001
Create Date: 2026-12-03

Cases reported before this revision ran their clocks from the report, so their discovery moment is taken to be
the report's and none is marked late; their clocks are left as they were.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("leak_discovery",)
depends_on: str | Sequence[str] | None = ("0004",)


def upgrade() -> None:
    with op.batch_alter_table("leak_case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("discovered_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("reported_late", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.alter_column("written_report_due", existing_type=sa.DateTime(), nullable=True)
    op.execute("UPDATE leak_case SET discovered_at = reported_at")
    with op.batch_alter_table("leak_case", schema=None) as batch_op:
        batch_op.alter_column("discovered_at", existing_type=sa.DateTime(), nullable=False)


def downgrade() -> None:
    op.execute("UPDATE leak_case SET written_report_due = reported_at WHERE written_report_due IS NULL")
    with op.batch_alter_table("leak_case", schema=None) as batch_op:
        batch_op.alter_column("written_report_due", existing_type=sa.DateTime(), nullable=False)
        batch_op.drop_column("reported_late")
        batch_op.drop_column("discovered_at")
