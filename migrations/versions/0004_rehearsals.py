"""Rehearsals: each role-play the user practised (scenario, doctor's temperament, lines, finished or not).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rehearsals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_key", sa.String(64), nullable=False),
        sa.Column("scenario", sa.String(32), nullable=False),
        sa.Column("temperament", sa.String(32), nullable=False),
        sa.Column("lines", sa.Integer, nullable=False),
        sa.Column("finished", sa.Boolean, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_rehearsals_user_key", "rehearsals", ["user_key"])


def downgrade() -> None:
    op.drop_index("ix_rehearsals_user_key", table_name="rehearsals")
    op.drop_table("rehearsals")
