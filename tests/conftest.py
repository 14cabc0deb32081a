"""Suite-wide ordering, and fixtures shared across test folders."""

import pytest

from tests.postgres import database_url, postgres_server

__all__ = ["database_url", "postgres_server"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Browser tests go last: their session-wide Playwright keeps an event loop running (which
    # async tests cannot share), and they move the test process into a private network.
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
