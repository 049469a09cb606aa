"""the outbox's due rows by (status, not_before): an idle dispatcher step finds the next row due without scanning
every pending one

Revision ID: 0050
Revises: 0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0050"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("perf",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_outbox_message_due", "outbox_message", ["status", "not_before"])


def downgrade() -> None:
    op.drop_index("ix_outbox_message_due", table_name="outbox_message")
