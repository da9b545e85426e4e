"""Journeys and completed steps.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "journeys",
        sa.Column("user_key", sa.String(64), primary_key=True),
        sa.Column("current_step", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "completed_steps",
        sa.Column("user_key", sa.String(64), primary_key=True),
        sa.Column("step_id", sa.String(32), primary_key=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("completed_steps")
    op.drop_table("journeys")
