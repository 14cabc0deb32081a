"""Suite-wide ordering, and the fixtures shared across test folders: they live in plugin
modules listed here, so that no conftest imports another folder's conftest or fixtures."""

import pytest

# Plain helper modules used from several folders: their asserts are rewritten as in tests.
pytest.register_assert_rewrite("tests.support")

pytest_plugins = [
    "tests.postgres",  # postgres_server, database_url
    "tests.redis_server",  # redis_server
    "tests.support.fixtures",  # start_server, http, connect_ws, client
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Browser tests go last: their session-wide Playwright keeps an event loop running (which
    # async tests cannot share), and they move the test process into a private network.
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
