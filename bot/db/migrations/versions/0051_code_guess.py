"""wrong invitation codes per stranger's account, for the lockout

Revision ID: 0051
Revises: 0050
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0051"
down_revision: str | None = "0050"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "code_guess",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("channel_user_id", sa.String(length=64), nullable=False),
        sa.Column("wrong", sa.SmallInteger(), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("channel", "channel_user_id", name=op.f("pk_code_guess")),
    )


def downgrade() -> None:
    op.drop_table("code_guess")
