"""Call history.

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
        "calls",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("caller", sa.String(64), nullable=False),
        sa.Column("caller_name", sa.String(64), nullable=False),
        sa.Column("callee", sa.String(64), nullable=False),
        sa.Column("callee_name", sa.String(64), nullable=False),
        sa.Column("media", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("duration_seconds", sa.Float),
        sa.Column("end_reason", sa.String(32)),
        sa.Column("ended_by", sa.String(64)),
    )
    op.create_index("ix_calls_caller_created", "calls", ["caller", "created_at"])
    op.create_index("ix_calls_callee_created", "calls", ["callee", "created_at"])


def downgrade() -> None:
    op.drop_table("calls")
