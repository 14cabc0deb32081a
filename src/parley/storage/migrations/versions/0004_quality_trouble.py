"""Why media stopped during a call, kept with its quality report (`offline`, `turn-refused`,
`turn-unreachable` or `no-path`; empty when it never stopped).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("call_quality", sa.Column("trouble", sa.String(16)))


def downgrade() -> None:
    # In batch: SQLite before 3.35 cannot drop a column, so Alembic copies the table.
    with op.batch_alter_table("call_quality") as table:
        table.drop_column("trouble")
