"""Rules docs/protocol.md states about every message, held against the models: a field equal to
its default is left out, and the replies that echo a request's `id` are the ones it lists."""

import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from msgspec import inspect as mi

from parley.protocol.codec import encode
from parley.protocol.messages import (
    SERVER_MESSAGE_TYPES,
    CallAccepted,
    RelayedMediaState,
    ServerMessage,
    UserInfo,
    Welcome,
    message_type,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
ECHO_SENTENCE = "The replies that echo it, to the session that sent the request, are:"


def sample(t: mi.Type, avoid: object = msgspec.UNSET) -> Any:
    """A valid value of type `t`, other than `avoid`."""
    match t:
        case mi.Metadata():
            return sample(t.type, avoid)
        case mi.StrType():
            return "x" if avoid != "x" else "y"
        case mi.IntType() | mi.FloatType():
            return 1 if avoid != 1 else 2
        case mi.BoolType():
            return avoid is not True
        case mi.NoneType():
            return None
        case mi.ListType():
            return [] if avoid != [] else [sample(t.item_type)]
        case mi.LiteralType():
            return next(v for v in t.values if v != avoid)
        case mi.EnumType():
            return next(v for v in t.cls if v != avoid)
        case mi.UnionType():
            options = [o for o in t.types if not isinstance(o, mi.NoneType)] or list(t.types)
            return sample(options[0], avoid)
        case mi.StructType():
            return t.cls(**{f.name: sample(f.type) for f in t.fields if f.required})
    raise AssertionError(f"no sample for {t}")


def fields_of(cls: type[ServerMessage]) -> tuple[mi.Field, ...]:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    return info.fields


def required_only(cls: type[ServerMessage]) -> ServerMessage:
    return cls(**{f.name: sample(f.type) for f in fields_of(cls) if f.required})


@pytest.mark.parametrize("cls", SERVER_MESSAGE_TYPES, ids=message_type)
def test_a_field_equal_to_its_default_is_left_out(cls: type[ServerMessage]) -> None:
    sent = msgspec.json.decode(encode(required_only(cls)))
    required = {f.encode_name for f in fields_of(cls) if f.required}
    assert set(sent) == {"type", *required}, f"{message_type(cls)} sent a default: {sent}"
    # ... and a client reading the message back without them gets the defaults.
    read = msgspec.json.decode(encode(required_only(cls)), type=cls)
    for f in fields_of(cls):
        if not f.required:
            assert getattr(read, f.name) == f.default, f.name


@pytest.mark.parametrize("cls", SERVER_MESSAGE_TYPES, ids=message_type)
def test_a_field_that_differs_from_its_default_is_sent(cls: type[ServerMessage]) -> None:
    """The positive control: leaving out is for the default only."""
    for f in fields_of(cls):
        if f.required or f.name == "seq":
            continue
        message = msgspec.structs.replace(required_only(cls), **{f.name: sample(f.type, f.default)})
        assert f.encode_name in msgspec.json.decode(encode(message)), f.name


def test_the_fields_the_doc_names_as_examples_are_left_out_when_default() -> None:
    welcome = Welcome(
        v=1, session="s", user=UserInfo(id="u", name="Ana"), maxMessageBytes=1, iceServers=[]
    )
    sent = msgspec.json.decode(encode(welcome))
    for name in ("seq", "resumed", "iceTransportPolicy", "token", "online", "resumeWindow"):
        assert name not in sent, name
    accepted = CallAccepted(call="c", media="video", peer="p", polite=True)
    assert set(msgspec.json.decode(encode(accepted))) == {
        "type",
        "call",
        "media",
        "peer",
        "polite",
    }
    marks = msgspec.json.decode(encode(RelayedMediaState(from_="p", muted=True)))
    assert marks == {"type": "media-state", "from": "p", "muted": True}


def documented_echoes() -> set[str]:
    doc = DOC.read_text(encoding="utf-8")
    _, found, after = doc.partition(ECHO_SENTENCE)
    assert found, "docs/protocol.md no longer lists the replies that echo `id`"
    listed = after.split("\n\n", 1)[0]
    return set(re.findall(r"`([a-z-]+)`", listed))


def test_the_replies_that_echo_id_are_the_ones_the_doc_lists() -> None:
    """Every server message that can carry `id` is listed, and nothing else: `welcome` not."""
    with_id = {
        message_type(cls)
        for cls in SERVER_MESSAGE_TYPES
        if any(f.encode_name == "id" for f in fields_of(cls))
    }
    assert documented_echoes() == with_id
    assert "welcome" not in with_id
