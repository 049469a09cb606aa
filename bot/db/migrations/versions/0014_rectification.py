"""self-check follow-up: 整改 items (rectification) and the unit's October self-assessment (unit_self_check)

Revision ID: 0014
Revises: 0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("rectification",)
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rectification",
        sa.Column("id", ID, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("item", sa.String(length=16), nullable=False),
        sa.Column("staff_id", ID, nullable=True),
        sa.Column("department_id", ID, nullable=True),
        sa.Column("owner_id", ID, nullable=True),
        sa.Column("note", sa.String(length=100), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", ID, nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_rectification_staff_id_staff")),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_rectification_department_id_department")
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["staff.id"], name=op.f("fk_rectification_owner_id_staff")),
        sa.ForeignKeyConstraint(["closed_by"], ["staff.id"], name=op.f("fk_rectification_closed_by_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rectification")),
        sa.UniqueConstraint("source", "item", name=op.f("uq_rectification_source_item")),
    )
    with op.batch_alter_table("rectification", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rectification_staff_id"), ["staff_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_rectification_department_id"), ["department_id"], unique=False)
    op.create_table(
        "unit_self_check",
        sa.Column("id", ID, nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("no_count", sa.Integer(), nullable=False),
        sa.Column("completed_by", ID, nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["completed_by"], ["staff.id"], name=op.f("fk_unit_self_check_completed_by_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_self_check")),
        sa.UniqueConstraint("year", name=op.f("uq_unit_self_check_year")),
    )


def downgrade() -> None:
    op.drop_table("unit_self_check")
    with op.batch_alter_table("rectification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rectification_department_id"))
        batch_op.drop_index(batch_op.f("ix_rectification_staff_id"))
    op.drop_table("rectification")
