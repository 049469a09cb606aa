"""inventory discrepancies resolved: inventory_report.resolved_at, resolved_by and resolution

Revision ID: 0018
Revises: 0001
Create Date: 2026-12-04

A count that differed from the register with nothing missing is a discrepancy the secrecy office resolves (已核实,
with a short reason). Reports made before this revision are left open: the office resolves them like new ones.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("inventory_resolution",)
depends_on: str | Sequence[str] | None = ("0006",)

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("inventory_report", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("resolved_by", ID, nullable=True))
        batch_op.add_column(sa.Column("resolution", sa.String(length=100), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_inventory_report_resolved_by_staff"), "staff", ["resolved_by"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("inventory_report", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_inventory_report_resolved_by_staff"), type_="foreignkey")
        batch_op.drop_column("resolution")
        batch_op.drop_column("resolved_by")
        batch_op.drop_column("resolved_at")
