"""Connection quality summaries, one per user and call.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_quality",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("call_id", sa.String(64)),
        sa.Column("room_session", sa.String(64)),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_seconds", sa.Float, nullable=False),
        sa.Column("rtt_mean_ms", sa.Float),
        sa.Column("rtt_max_ms", sa.Float),
        sa.Column("loss_percent", sa.Float),
        sa.Column("send_kbps", sa.Float),
        sa.Column("receive_kbps", sa.Float),
        sa.Column("candidate_type", sa.String(8)),
        sa.Column("protocol", sa.String(4)),
        sa.UniqueConstraint("call_id", "user", name="uq_call_quality_call_user"),
    )
    op.create_index(
        "uq_call_quality_room_user",
        "call_quality",
        ["room_session", "user"],
        unique=True,
        sqlite_where=sa.text("call_id IS NULL"),
        postgresql_where=sa.text("call_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("call_quality")
