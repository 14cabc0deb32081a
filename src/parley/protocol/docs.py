"""Renders the generated half of docs/protocol.md from the message models.

`python -m parley.protocol.docs --write` refreshes the file; the test suite runs `--check`
semantics, so a model change without a doc change fails CI.
"""

import argparse
import inspect as pyinspect
import sys
from pathlib import Path

import msgspec
from msgspec import inspect as mi

from parley.protocol.close_codes import CLOSE_CODE_DESCRIPTIONS
from parley.protocol.errors import ERROR_DESCRIPTIONS
from parley.protocol.json_schema import normalized
from parley.protocol.messages import (
    CLIENT_MESSAGE_TYPES,
    PROTOCOL_VERSION,
    SERVER_MESSAGE_TYPES,
    ClientMessageUnion,
    ServerMessageUnion,
    message_type,
)

BEGIN = "<!-- BEGIN GENERATED from parley.protocol.messages: do not edit by hand -->"
END = "<!-- END GENERATED -->"


def _type_name(t: mi.Type) -> str:
    match t:
        case mi.Metadata():
            return _type_name(t.type)
        case mi.StrType():
            return "string"
        case mi.IntType():
            return "integer"
        case mi.BoolType():
            return "boolean"
        case mi.NoneType():
            return "null"
        case mi.ListType():
            return f"{_type_name(t.item_type)}[]"
        case mi.UnionType():
            return " \\| ".join(_type_name(x) for x in t.types)
        case mi.LiteralType():
            return " \\| ".join(f'"{v}"' for v in t.values)
        case mi.EnumType():
            return "error code"
        case mi.StructType():
            return t.cls.__name__
    return type(t).__name__


def _constraints(t: mi.Type) -> str:
    if isinstance(t, mi.Metadata):
        return _constraints(t.type)
    parts = []
    for attr in ("pattern", "min_length", "max_length", "ge", "le"):
        value = getattr(t, attr, None)
        if value is not None:
            parts.append(f"{attr}={value}")
    if isinstance(t, mi.UnionType):
        parts.extend(_constraints(x) for x in t.types if _constraints(x))
    return ", ".join(parts)


def _message_table(classes: tuple[type[msgspec.Struct], ...]) -> str:
    rows = ["| type | fields | meaning |", "| --- | --- | --- |"]
    for cls in classes:
        info = mi.type_info(cls)
        assert isinstance(info, mi.StructType)
        fields = []
        for f in info.fields:
            optional = "" if f.required else "?"
            limits = _constraints(f.type)
            limit_text = f" ({limits})" if limits else ""
            fields.append(f"`{f.encode_name}{optional}`: {_type_name(f.type)}{limit_text}")
        # Only the class's own docstring: an undocumented one would show msgspec.Struct's.
        doc = " ".join(pyinspect.cleandoc(cls.__dict__.get("__doc__") or "").split())
        rows.append(f"| `{message_type(cls)}` | {'<br>'.join(fields)} | {doc} |")
    return "\n".join(rows)


def _schema() -> str:
    (client, server), components = msgspec.json.schema_components(
        [ClientMessageUnion, ServerMessageUnion], ref_template="#/$defs/{name}"
    )
    document: dict[str, object] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Parley signaling protocol v{PROTOCOL_VERSION}",
        "$defs": components,
        "properties": {"clientMessage": client, "serverMessage": server},
    }
    return msgspec.json.format(msgspec.json.encode(normalized(document)), indent=2).decode()


def render_generated() -> str:
    errors = "\n".join(f"| `{code}` | {text} |" for code, text in ERROR_DESCRIPTIONS.items())
    closes = "\n".join(
        f"| {int(code)} | {code.name.lower()} | {text} |"
        for code, text in CLOSE_CODE_DESCRIPTIONS.items()
    )
    return "\n".join(
        [
            BEGIN,
            "",
            f"### Client → server messages (protocol v{PROTOCOL_VERSION})",
            "",
            _message_table(CLIENT_MESSAGE_TYPES),
            "",
            "### Server → client messages",
            "",
            _message_table(SERVER_MESSAGE_TYPES),
            "",
            "### Error codes",
            "",
            "| code | meaning |",
            "| --- | --- |",
            errors,
            "",
            "### Close codes",
            "",
            "| code | name | meaning |",
            "| --- | --- | --- |",
            closes,
            "",
            "### JSON Schema",
            "",
            "```json",
            _schema(),
            "```",
            "",
            END,
        ]
    )


def splice(document: str) -> str:
    """Replaces the generated block of `document` with a freshly rendered one."""
    head, sep, rest = document.partition(BEGIN)
    if not sep:
        raise ValueError("docs/protocol.md has no generated block")
    _, sep, tail = rest.partition(END)
    if not sep:
        raise ValueError("docs/protocol.md has an unterminated generated block")
    return head + render_generated() + tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path, nargs="?", default=Path("docs/protocol.md"))
    parser.add_argument("--write", action="store_true", help="rewrite the file in place")
    args = parser.parse_args()
    current = args.path.read_text(encoding="utf-8")
    fresh = splice(current)
    if args.write:
        args.path.write_text(fresh, encoding="utf-8")
        return 0
    if fresh != current:
        print(f"{args.path} is out of date: run python -m parley.protocol.docs --write")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
