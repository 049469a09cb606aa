"""the inbox keeps what the engine reads, and nothing once processed: processed rows emptied

Rows from before keep their raw update (a caption, a file id, an edited text) and the channel's user id; from now
on the engine empties a row as it processes it. This empties those already processed. Nothing to undo: what is
gone is gone, and the emptied rows are read as before.

Revision ID: 0060
Revises: 0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0060"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("privacy",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    inbox = sa.table(
        "inbox_event", sa.column("status", sa.String), sa.column("channel_user_id", sa.String), sa.column("payload")
    )
    op.execute(inbox.update().where(inbox.c.status != "pending").values(channel_user_id="", payload=sa.text("'{}'")))


def downgrade() -> None:
    pass
