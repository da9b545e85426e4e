"""The preparation kit: the user's situation for the question list, and the check-ins they accepted.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "preparations",
        sa.Column("user_key", sa.String(64), primary_key=True),
        sa.Column("specialty", sa.String(32), nullable=True),
        sa.Column("treatment", sa.String(32), nullable=True),
        sa.Column("opinion", sa.String(32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "reminders",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("user_key", sa.String(64), nullable=False),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("appointment_on", sa.Date, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_reminders_user_key", "reminders", ["user_key"])


def downgrade() -> None:
    op.drop_index("ix_reminders_user_key", table_name="reminders")
    op.drop_table("reminders")
    op.drop_table("preparations")
