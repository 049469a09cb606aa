"""quiz attempts and answers

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("quiz",)
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "quiz_attempt",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("staff_id", BIG_ID, nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("paper", JSON, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("deadline_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("correct", sa.SmallInteger(), nullable=True),
        sa.Column("score", sa.SmallInteger(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("review", sa.String(length=12), nullable=True),
        sa.Column("reviewed_by", BIG_ID, nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("certificate_code", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_quiz_attempt_staff_id_staff")),
        sa.ForeignKeyConstraint(["reviewed_by"], ["staff.id"], name=op.f("fk_quiz_attempt_reviewed_by_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quiz_attempt")),
        sa.UniqueConstraint("certificate_code", name=op.f("uq_quiz_attempt_certificate_code")),
    )
    with op.batch_alter_table("quiz_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_quiz_attempt_staff_cycle", ["staff_id", "cycle"], unique=False)
        batch_op.create_index(batch_op.f("ix_quiz_attempt_review"), ["review"], unique=False)

    op.create_table(
        "quiz_answer",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("attempt_id", BIG_ID, nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("question_id", sa.String(length=16), nullable=False),
        sa.Column("chosen", JSON, nullable=False),
        sa.Column("is_correct", sa.Boolean(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["quiz_attempt.id"], name=op.f("fk_quiz_answer_attempt_id_quiz_attempt")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quiz_answer")),
        sa.UniqueConstraint("attempt_id", "position", name=op.f("uq_quiz_answer_attempt_id_position")),
    )
    with op.batch_alter_table("quiz_answer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quiz_answer_question_id"), ["question_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("quiz_answer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quiz_answer_question_id"))

    op.drop_table("quiz_answer")
    with op.batch_alter_table("quiz_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quiz_attempt_review"))
        batch_op.drop_index("ix_quiz_attempt_staff_cycle")

    op.drop_table("quiz_attempt")
