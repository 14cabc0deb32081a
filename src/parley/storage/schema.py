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

call_quality = sa.Table(
    "call_quality",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user", sa.String(64), nullable=False),
    # A direct call's id, or (for a room call) the reporting session: exactly one is set.
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
    # One report per user and call (a retried report is not stored twice).
    sa.UniqueConstraint("call_id", "user", name="uq_call_quality_call_user"),
    # A room report has no call id (and NULLs never collide): one per room session and user.
    sa.Index(
        "uq_call_quality_room_user",
        "room_session",
        "user",
        unique=True,
        sqlite_where=sa.text("call_id IS NULL"),
        postgresql_where=sa.text("call_id IS NULL"),
    ),
)
