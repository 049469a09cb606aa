"""信息发布保密审查: review requests and decisions

Revision ID: 0040
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0040"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("review",)
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "review_request",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("submitter_staff_id", BIG_ID, nullable=False),
        sa.Column("department_id", BIG_ID, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("channel_name", sa.String(length=30), nullable=True),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("draft_ref", sa.String(length=200), nullable=False),
        sa.Column("chain", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("round", sa.SmallInteger(), nullable=False),
        sa.Column("stage_index", sa.SmallInteger(), nullable=False),
        sa.Column("stage_since", sa.DateTime(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("number", sa.String(length=16), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("record_hash", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submitter_staff_id"], ["staff.id"], name=op.f("fk_review_request_submitter_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_review_request_department_id_department")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_request")),
        sa.UniqueConstraint("number", name=op.f("uq_review_request_number")),
        sa.UniqueConstraint("year", "seq", name=op.f("uq_review_request_year_seq")),
    )
    with op.batch_alter_table("review_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_request_submitter_staff_id"), ["submitter_staff_id"], unique=False)
        batch_op.create_index("ix_review_request_status_department", ["status", "department_id"], unique=False)

    op.create_table(
        "review_decision",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("request_id", BIG_ID, nullable=False),
        sa.Column("round", sa.SmallInteger(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("reviewer_staff_id", BIG_ID, nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["review_request.id"], name=op.f("fk_review_decision_request_id_review_request")
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_staff_id"], ["staff.id"], name=op.f("fk_review_decision_reviewer_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_decision")),
        sa.UniqueConstraint("request_id", "round", "stage", name=op.f("uq_review_decision_request_id_round_stage")),
    )
    with op.batch_alter_table("review_decision", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_decision_request_id"), ["request_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("review_decision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_decision_request_id"))
    op.drop_table("review_decision")
    with op.batch_alter_table("review_request", schema=None) as batch_op:
        batch_op.drop_index("ix_review_request_status_department")
        batch_op.drop_index(batch_op.f("ix_review_request_submitter_staff_id"))
    op.drop_table("review_request")
