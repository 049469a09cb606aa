"""installation values: what must outlive a restart of this installation (WeCom's card task-id prefix)

Revision ID: 0020
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("installation",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "installation_value",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_installation_value")),
    )


def downgrade() -> None:
    op.drop_table("installation_value")
