"""leak reports: cases, reporters, case events

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("leak",)
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "leak_case",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("whose", sa.String(length=8), nullable=False),
        sa.Column("discovered", sa.String(length=8), nullable=False),
        sa.Column("discovered_on", sa.Date(), nullable=False),
        sa.Column("place", sa.String(length=50), nullable=False),
        sa.Column("carrier", sa.String(length=16), nullable=False),
        sa.Column("carrier_count", sa.Integer(), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("measures", JSON, nullable=False),
        sa.Column("measures_note", sa.String(length=100), nullable=True),
        sa.Column("name_withheld", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by", BIG_ID, nullable=True),
        sa.Column("written_report_due", sa.DateTime(), nullable=False),
        sa.Column("written_report_sent_at", sa.DateTime(), nullable=True),
        sa.Column("conclusion_due", sa.DateTime(), nullable=False),
        sa.Column("concluded_at", sa.DateTime(), nullable=True),
        sa.Column("carrier_deadline", sa.DateTime(), nullable=True),
        sa.Column("carrier_found_at", sa.DateTime(), nullable=True),
        sa.Column("carrier_deemed_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["acknowledged_by"], ["staff.id"], name=op.f("fk_leak_case_acknowledged_by_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leak_case")),
        sa.UniqueConstraint("number", name=op.f("uq_leak_case_number")),
        sa.UniqueConstraint("year", "seq", name=op.f("uq_leak_case_year_seq")),
    )
    with op.batch_alter_table("leak_case", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leak_case_status"), ["status"], unique=False)

    op.create_table(
        "leak_reporter",
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("staff_id", BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["leak_case.id"], name=op.f("fk_leak_reporter_case_id_leak_case")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_leak_reporter_staff_id_staff")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_leak_reporter")),
    )
    with op.batch_alter_table("leak_reporter", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leak_reporter_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "leak_case_event",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_staff_id", BIG_ID, nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["leak_case.id"], name=op.f("fk_leak_case_event_case_id_leak_case")),
        sa.ForeignKeyConstraint(["actor_staff_id"], ["staff.id"], name=op.f("fk_leak_case_event_actor_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leak_case_event")),
        sa.UniqueConstraint("hash", name=op.f("uq_leak_case_event_hash")),
    )
    with op.batch_alter_table("leak_case_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leak_case_event_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("leak_case_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leak_case_event_case_id"))

    op.drop_table("leak_case_event")
    with op.batch_alter_table("leak_reporter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leak_reporter_staff_id"))

    op.drop_table("leak_reporter")
    with op.batch_alter_table("leak_case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leak_case_status"))

    op.drop_table("leak_case")
