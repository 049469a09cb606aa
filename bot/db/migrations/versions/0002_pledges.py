"""confidentiality pledges: tasks, departures, requests, hash-chained records

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("pledges",)
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "pledge_task",
        sa.Column("id", ID, nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("created_by", ID, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["staff.id"], name=op.f("fk_pledge_task_created_by_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pledge_task")),
    )
    op.create_table(
        "departure",
        sa.Column("id", ID, nullable=False),
        sa.Column("staff_id", ID, nullable=False),
        sa.Column("approved_on", sa.Date(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("recorded_by", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_departure_staff_id_staff")),
        sa.ForeignKeyConstraint(["recorded_by"], ["staff.id"], name=op.f("fk_departure_recorded_by_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departure")),
    )
    with op.batch_alter_table("departure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_departure_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "pledge_request",
        sa.Column("id", ID, nullable=False),
        sa.Column("staff_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=48), nullable=False),
        sa.Column("task_id", ID, nullable=True),
        sa.Column("departure_id", ID, nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_pledge_request_staff_id_staff")),
        sa.ForeignKeyConstraint(["task_id"], ["pledge_task.id"], name=op.f("fk_pledge_request_task_id_pledge_task")),
        sa.ForeignKeyConstraint(
            ["departure_id"], ["departure.id"], name=op.f("fk_pledge_request_departure_id_departure")
        ),
        sa.ForeignKeyConstraint(["created_by"], ["staff.id"], name=op.f("fk_pledge_request_created_by_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pledge_request")),
        sa.UniqueConstraint("staff_id", "key", name=op.f("uq_pledge_request_staff_id_key")),
    )
    with op.batch_alter_table("pledge_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pledge_request_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "pledge_record",
        sa.Column("id", ID, nullable=False),
        sa.Column("staff_id", ID, nullable=False),
        sa.Column("request_id", ID, nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("signed_name", sa.String(length=50), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_pledge_record_staff_id_staff")),
        sa.ForeignKeyConstraint(
            ["request_id"], ["pledge_request.id"], name=op.f("fk_pledge_record_request_id_pledge_request")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pledge_record")),
        sa.UniqueConstraint("hash", name=op.f("uq_pledge_record_hash")),
    )
    with op.batch_alter_table("pledge_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pledge_record_staff_id"), ["staff_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pledge_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pledge_record_staff_id"))

    op.drop_table("pledge_record")
    with op.batch_alter_table("pledge_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pledge_request_staff_id"))

    op.drop_table("pledge_request")
    with op.batch_alter_table("departure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_departure_staff_id"))

    op.drop_table("departure")
    op.drop_table("pledge_task")
