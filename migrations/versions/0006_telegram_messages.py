"""The ids of a Telegram chat's recent messages, so that erasure can delete them in the chat (48 hours).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telegram_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_key", sa.String(64), nullable=False),
        sa.Column("message_id", sa.BigInteger, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_telegram_messages_user_key", "telegram_messages", ["user_key"])
    op.create_index("ix_telegram_messages_sent_at", "telegram_messages", ["sent_at"])


def downgrade() -> None:
    op.drop_index("ix_telegram_messages_sent_at", table_name="telegram_messages")
    op.drop_index("ix_telegram_messages_user_key", table_name="telegram_messages")
    op.drop_table("telegram_messages")
