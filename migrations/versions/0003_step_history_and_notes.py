"""Step history (each step marked done or undone, with its time) and notes the user asked to keep.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "step_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_key", sa.String(64), nullable=False),
        sa.Column("step_id", sa.String(32), nullable=False),
        sa.Column("change", sa.String(8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_step_history_user_key", "step_history", ["user_key"])
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_key", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_notes_user_key", "notes", ["user_key"])


def downgrade() -> None:
    op.drop_index("ix_notes_user_key", table_name="notes")
    op.drop_table("notes")
    op.drop_index("ix_step_history_user_key", table_name="step_history")
    op.drop_table("step_history")
