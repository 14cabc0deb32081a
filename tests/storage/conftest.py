"""Storage fixtures on top of tests/postgres.py: each storage test runs on SQLite and PostgreSQL."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from parley.storage.database import migrate, open_engine
from parley.storage.history import CallHistory


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the empty database; not migrated."""
    opened = open_engine(database_url)
    yield opened
    await opened.dispose()


@pytest.fixture
async def history(engine: AsyncEngine) -> CallHistory:
    """Call history on a migrated database; its background writer is not started."""
    await migrate(engine)
    return CallHistory(engine)
