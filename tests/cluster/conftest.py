"""Fixtures for cluster tests: a real Redis (`redis_server`, tests/redis_server.py), and Parley
nodes (apps in this process: `start_server`, `connect_ws`, `client`, `http` from
tests/support/fixtures.py; or real `parley serve` processes, process_helpers.py) that share it.
All are registered as plugins by tests/conftest.py, but `cluster` (nodes of one cluster as apps
in this process: nodes.py), which only this folder uses."""

from tests.cluster.nodes import cluster

__all__ = ["cluster"]
