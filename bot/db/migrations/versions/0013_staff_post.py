"""the roster's hire date (上岗日期) and the 保密事项 a person handles (第十二条: 保密承诺书 … 注明保密事项)

Revision ID: 0013
Revises: 0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("staff_post",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hired_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("secret_matters", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("secret_matters")
        batch_op.drop_column("hired_on")
