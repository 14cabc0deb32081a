"""The Alembic migrations build exactly the schema parley.storage.schema declares, once."""

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from parley.storage import schema
from parley.storage.database import MIGRATIONS, migrate


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


# Statements that would change an up-to-date database (its schema, or its alembic_version row).
WRITE_VERBS = {"CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE"}


async def inspect(engine: AsyncEngine, look: Callable[[sa.Inspector], Any]) -> Any:
    async with engine.connect() as db:
        return await db.run_sync(lambda sync_db: look(sa.inspect(sync_db)))


async def stored_versions(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as db:
        result = await db.execute(sa.text("SELECT version_num FROM alembic_version"))
        return [row[0] for row in result]


async def writes_during_migrate(engine: AsyncEngine) -> list[str]:
    """Runs migrate() and returns the schema- or data-changing SQL it sent."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await migrate(engine)
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", record)
    return [s.strip() for s in statements if s.split(None, 1)[0].upper() in WRITE_VERBS]


async def schema_diff(engine: AsyncEngine, metadata: sa.MetaData) -> list[Any]:
    def diff(sync_db: sa.Connection) -> list[Any]:
        context = MigrationContext.configure(sync_db, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as db:
        return await db.run_sync(diff)


async def test_migrate_creates_the_calls_table_on_an_empty_database(engine: AsyncEngine) -> None:
    assert await inspect(engine, lambda i: i.get_table_names()) == []

    await migrate(engine)

    assert sorted(await inspect(engine, lambda i: i.get_table_names())) == [
        "alembic_version",
        "call_quality",
        "calls",
        "webhook_outbox",
    ]
    columns = await inspect(engine, lambda i: i.get_columns("calls"))
    assert [(c["name"], c["nullable"]) for c in columns] == [
        (column.name, column.nullable) for column in schema.calls.columns
    ]
    primary_key = await inspect(engine, lambda i: i.get_pk_constraint("calls"))
    assert primary_key["constrained_columns"] == ["id"]
    indexes = await inspect(engine, lambda i: i.get_indexes("calls"))
    assert sorted((ix["name"], ix["column_names"]) for ix in indexes) == [
        ("ix_calls_callee_created", ["callee", "created_at"]),
        ("ix_calls_caller_created", ["caller", "created_at"]),
        ("ix_calls_created", ["created_at"]),
    ]
    assert await stored_versions(engine) == [head_revision()]


async def test_migrate_again_changes_nothing_and_keeps_the_rows(engine: AsyncEngine) -> None:
    first_run = await writes_during_migrate(engine)
    async with engine.begin() as db:
        await db.execute(
            schema.calls.insert().values(
                id="kept",
                caller="u1",
                caller_name="Ana",
                callee="u2",
                callee_name="Bo",
                media="audio",
                created_at=sa.func.now(),
            )
        )

    second_run = await writes_during_migrate(engine)

    # The first run shows the recorder sees migrate()'s SQL, so an empty second run means
    # "nothing to do" rather than "nothing recorded".
    assert any(s.upper().startswith("CREATE TABLE") for s in first_run), first_run
    assert second_run == []
    assert await stored_versions(engine) == [head_revision()]
    async with engine.connect() as db:
        ids = (await db.execute(sa.select(schema.calls.c.id))).scalars().all()
    assert ids == ["kept"]


async def test_migrated_schema_matches_schema_py(engine: AsyncEngine) -> None:
    await migrate(engine)

    assert await schema_diff(engine, schema.metadata) == []


async def test_schema_comparison_notices_drift(engine: AsyncEngine) -> None:
    # Guards the test above: an empty diff must mean "no drift", not "compared nothing".
    await migrate(engine)
    drifted = sa.MetaData()
    schema.call_quality.to_metadata(drifted)
    schema.webhook_outbox.to_metadata(drifted)
    schema.calls.to_metadata(drifted).append_column(sa.Column("sdp", sa.Text))

    diff = await schema_diff(engine, drifted)

    assert [(d[0], d[3].name) for d in diff] == [("add_column", "sdp")]
