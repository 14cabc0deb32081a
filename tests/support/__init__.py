"""Helpers shared by several test folders: one raw WebSocket client, free ports, and the
fixtures tests/conftest.py registers as a plugin (`tests.support.fixtures`)."""
