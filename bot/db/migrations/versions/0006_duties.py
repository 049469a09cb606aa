"""scheduled duties: education records, inventory reports, self-checks

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("duties",)
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "education_record",
        sa.Column("id", BigId, nullable=False),
        sa.Column("staff_id", BigId, nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("form", sa.String(length=16), nullable=False),
        sa.Column("recorded_by", BigId, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["recorded_by"], ["staff.id"], name=op.f("fk_education_record_recorded_by_staff")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_education_record_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_education_record")),
    )
    op.create_index(op.f("ix_education_record_staff_id"), "education_record", ["staff_id"], unique=False)
    op.create_table(
        "inventory_report",
        sa.Column("id", BigId, nullable=False),
        sa.Column("department_id", BigId, nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("matches", sa.Boolean(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("reported_by", BigId, nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=False),
        sa.Column("case_number", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_inventory_report_department_id_department")
        ),
        sa.ForeignKeyConstraint(["reported_by"], ["staff.id"], name=op.f("fk_inventory_report_reported_by_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_report")),
        sa.UniqueConstraint("department_id", "period", name=op.f("uq_inventory_report_department_id_period")),
    )
    op.create_table(
        "self_check",
        sa.Column("id", BigId, nullable=False),
        sa.Column("staff_id", BigId, nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("no_count", sa.Integer(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_self_check_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_self_check")),
        sa.UniqueConstraint("staff_id", "year", name=op.f("uq_self_check_staff_id_year")),
    )


def downgrade() -> None:
    op.drop_table("self_check")
    op.drop_table("inventory_report")
    op.drop_index(op.f("ix_education_record_staff_id"), table_name="education_record")
    op.drop_table("education_record")
