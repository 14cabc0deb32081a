"""The webhook outbox (deliveries waiting to be made), and calls indexed by age (the app API
lists calls across users, newest first).

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
        "webhook_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("endpoint", sa.String(2048), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("claimed_until", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.String(200)),
        sa.Column("failed_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("event_id", "endpoint", name="uq_webhook_outbox_event_endpoint"),
    )
    op.create_index("ix_webhook_outbox_due", "webhook_outbox", ["failed_at", "next_attempt_at"])
    op.create_index("ix_calls_created", "calls", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_calls_created", table_name="calls")
    op.drop_index("ix_webhook_outbox_due", table_name="webhook_outbox")
    op.drop_table("webhook_outbox")
