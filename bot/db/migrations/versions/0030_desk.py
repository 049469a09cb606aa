"""the web console: sign-in links and sessions

Revision ID: 0030
Revises: 0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("desk",)
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "console_link",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", BIG_ID, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_console_link_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_console_link_token_hash")),
    )
    op.create_index(op.f("ix_console_link_staff_id"), "console_link", ["staff_id"], unique=False)
    op.create_table(
        "console_session",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", BIG_ID, nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_console_session_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_console_session_token_hash")),
    )
    op.create_index(op.f("ix_console_session_staff_id"), "console_session", ["staff_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_console_session_staff_id"), table_name="console_session")
    op.drop_table("console_session")
    op.drop_index(op.f("ix_console_link_staff_id"), table_name="console_link")
    op.drop_table("console_link")
