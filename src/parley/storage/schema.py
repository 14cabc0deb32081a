"""The tables. Migrations in migrations/versions must produce exactly this schema."""

import sqlalchemy as sa

metadata = sa.MetaData()

calls = sa.Table(
    "calls",
    metadata,
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
    sa.Index("ix_calls_caller_created", "caller", "created_at"),
    sa.Index("ix_calls_callee_created", "callee", "created_at"),
)
