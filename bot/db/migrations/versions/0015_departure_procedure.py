"""the departure procedure (离岗): its kind, the handover counts, education, approval and the steps done on paper

Revision ID: 0015
Revises: 0001
Create Date: 2026-12-04

A departure is now a procedure whose steps are the preconditions of approval (教育局保密工作制度篇3 第十三条), so
it exists before it is approved: `approved_on` may be empty until then. Departures recorded before keep their
approval date and are marked as done outside the system (`outside`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("departure_procedure",)
depends_on: str | Sequence[str] | None = ("0002",)

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STAFF_COLUMNS = ("received_by", "educated_by", "approved_by")


def upgrade() -> None:
    with op.batch_alter_table("departure", schema=None) as batch_op:
        batch_op.alter_column("approved_on", existing_type=sa.Date(), nullable=True)
        batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("handover_paper", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("handover_media", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("handover_devices", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("handed_over_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("received_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("received_by", ID, nullable=True))
        batch_op.add_column(sa.Column("educated_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("educated_by", ID, nullable=True))
        batch_op.add_column(sa.Column("approved_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("approved_by", ID, nullable=True))
        batch_op.add_column(sa.Column("outside", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("cancelled_at", sa.DateTime(), nullable=True))
        for column in STAFF_COLUMNS:
            batch_op.create_foreign_key(op.f(f"fk_departure_{column}_staff"), "staff", [column], ["id"])
    departure = sa.table("departure", sa.column("outside", sa.Boolean()))
    op.execute(sa.update(departure).values(outside=True))


def downgrade() -> None:
    # The older schema knows only approved departures: one still under way is given the day it was started (its
    # pledge records, append-only, stay linked to it).
    departure = sa.table(
        "departure", sa.column("id", ID), sa.column("approved_on", sa.Date()), sa.column("created_at", sa.DateTime())
    )
    bind = op.get_bind()
    for row in bind.execute(sa.select(departure.c.id, departure.c.created_at).where(departure.c.approved_on.is_(None))):
        bind.execute(sa.update(departure).where(departure.c.id == row.id).values(approved_on=row.created_at.date()))
    with op.batch_alter_table("departure", schema=None) as batch_op:
        for column in reversed(STAFF_COLUMNS):
            batch_op.drop_constraint(op.f(f"fk_departure_{column}_staff"), type_="foreignkey")
        for column in (
            "cancelled_at",
            "outside",
            "approved_by",
            "approved_at",
            "educated_by",
            "educated_at",
            "received_by",
            "received_at",
            "handed_over_at",
            "handover_devices",
            "handover_media",
            "handover_paper",
            "kind",
        ):
            batch_op.drop_column(column)
        batch_op.alter_column("approved_on", existing_type=sa.Date(), nullable=False)
