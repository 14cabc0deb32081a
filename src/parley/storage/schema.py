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
    # The app API lists calls across users, newest first (and retention deletes by age).
    sa.Index("ix_calls_created", "created_at"),
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
    sa.Column("trouble", sa.String(16)),  # parley.protocol.fields.MediaTrouble
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

# Webhook deliveries waiting to be made, one row per event and endpoint. Written in the same
# transaction as the history step that caused it (so a crash loses neither or both), deleted
# once delivered; a row that failed for good keeps `failed_at` until history retention.
webhook_outbox = sa.Table(
    "webhook_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(40), nullable=False),
    sa.Column("endpoint", sa.String(2048), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    # A node sending this row holds it until then; another node takes it only after.
    sa.Column("claimed_until", sa.DateTime(timezone=True)),
    sa.Column("last_error", sa.String(200)),
    sa.Column("failed_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("event_id", "endpoint", name="uq_webhook_outbox_event_endpoint"),
    sa.Index("ix_webhook_outbox_due", "failed_at", "next_attempt_at"),
)
