"""Identifiers a client could try to guess carry 128 random bits."""

import secrets

ID_BYTES = 16


def random_id() -> str:
    """22 URL-safe characters holding 128 bits from the OS's CSPRNG."""
    return secrets.token_urlsafe(ID_BYTES)
