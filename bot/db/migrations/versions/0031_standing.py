"""each person's standing on the duties, kept from the records by triggers

Revision ID: 0031
Revises: 0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("standing",)
# Every migration that alters a table the triggers watch comes first: on SQLite a batch alteration copies the table
# anew, and its triggers with the old one are gone (0015 rebuilds `departure`; 0002 comes through it: naming it
# again makes Alembic's upgrade fail).
depends_on: str | Sequence[str] | None = ("0003", "0006", "0011", "0013", "0015", "0041")

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

FIGURES = (
    "department_id",
    "active",
    "level",
    "bound",
    "pledge_cycle",
    "pledge_outcome",
    "pledge_kind",
    "pledge_version",
    "quiz_year",
    "quiz_score",
    "educated_on",
    "self_check_year",
)

# Each table whose rows make up a standing, with the column naming the person.
WATCHED = {
    "staff": "id",
    "binding": "staff_id",
    "pledge_record": "staff_id",
    "quiz_attempt": "staff_id",
    "education_record": "staff_id",
    "self_check": "staff_id",
    "departure": "staff_id",
}


def upgrade() -> None:
    op.create_table(
        "staff_standing",
        sa.Column("staff_id", BIG_ID, nullable=False),
        sa.Column("department_id", BIG_ID, nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("bound", sa.Boolean(), nullable=False),
        sa.Column("pledge_cycle", sa.Integer(), nullable=True),
        sa.Column("pledge_kind", sa.String(length=16), nullable=True),
        sa.Column("pledge_version", sa.Integer(), nullable=True),
        sa.Column("pledge_outcome", sa.String(length=8), nullable=True),
        sa.Column("quiz_year", sa.Integer(), nullable=True),
        sa.Column("quiz_score", sa.Integer(), nullable=True),
        sa.Column("educated_on", sa.Date(), nullable=True),
        sa.Column("self_check_year", sa.Integer(), nullable=True),
        sa.Column("departure_approved_on", sa.Date(), nullable=True),
        sa.Column("declassification_ends_on", sa.Date(), nullable=True),
        sa.Column("departing", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_staff_standing")),
    )
    # Covering the units' figures: one pass over the index in unit order, no table rows, no sort.
    op.create_index("ix_staff_standing_unit", "staff_standing", list(FIGURES))
    # Narrow: counting the people a filter finds.
    op.create_index("ix_staff_standing_filters", "staff_standing", ["department_id", "level", "bound", "active"])
    op.create_table(
        "standing_dirty",
        sa.Column("staff_id", BIG_ID, nullable=False),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_standing_dirty")),
    )
    op.create_table(
        "standing_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_standing_version")),
    )
    op.execute("INSERT INTO standing_version (id, generation) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION standing_touch() RETURNS trigger AS $$
            DECLARE r record;
            BEGIN
                IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
                IF TG_TABLE_NAME = 'staff' THEN
                    INSERT INTO standing_dirty (staff_id) VALUES (r.id) ON CONFLICT DO NOTHING;
                ELSE
                    INSERT INTO standing_dirty (staff_id) VALUES (r.staff_id) ON CONFLICT DO NOTHING;
                END IF;
                RETURN NULL;
            END $$ LANGUAGE plpgsql
            """
        )
        for table in WATCHED:
            op.execute(
                f"CREATE TRIGGER standing_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION standing_touch()"
            )
    else:
        for table, column in WATCHED.items():
            for event, row in (("insert", "NEW"), ("update", "NEW"), ("delete", "OLD")):
                op.execute(
                    f"CREATE TRIGGER standing_{table}_{event} AFTER {event.upper()} ON {table} BEGIN "
                    f"INSERT OR IGNORE INTO standing_dirty (staff_id) VALUES ({row}.{column}); END"
                )
    # Everyone's standing is copied at the first read.
    op.execute("INSERT INTO standing_dirty (staff_id) SELECT id FROM staff")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER standing_{table} ON {table}")
        op.execute("DROP FUNCTION standing_touch()")
    else:
        for table in WATCHED:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER standing_{table}_{event}")
    op.drop_table("standing_version")
    op.drop_table("standing_dirty")
    op.drop_index("ix_staff_standing_filters", table_name="staff_standing")
    op.drop_index("ix_staff_standing_unit", table_name="staff_standing")
    op.drop_table("staff_standing")
