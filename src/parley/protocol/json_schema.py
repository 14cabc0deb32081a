"""JSON Schema from msgspec in one form, whatever msgspec release made it. Used by both
generated documents (docs/protocol.md and docs/openapi.json), which are checked in and compared
byte for byte in `make test`."""

import inspect
from typing import Any

import msgspec


def normalized(node: Any) -> Any:
    """`node` with each `description` (taken from a docstring) dedented by us, since msgspec
    0.23 began to clean docstrings and older releases did not, and each `anyOf` in a fixed
    order, since releases list `T | None` either way round. Without this the documents changed
    with the installed msgspec, not the models."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                out[key] = inspect.cleandoc(value)
            elif key == "anyOf" and isinstance(value, list):
                options = [normalized(option) for option in value]
                out[key] = sorted(options, key=lambda o: msgspec.json.encode(o))
            else:
                out[key] = normalized(value)
        return out
    if isinstance(node, list):
        return [normalized(item) for item in node]
    return node
