"""Fixtures for cluster tests: a real Redis, and Parley nodes (apps in this process, or real
`parley serve` processes) that share it."""

from tests.redis_server import redis_server
from tests.server.conftest import client, connect_ws, http, start_server

__all__ = ["client", "connect_ws", "http", "redis_server", "start_server"]
