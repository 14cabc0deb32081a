"""The webhook signature: what `verify` accepts and what it refuses."""

import time

import msgspec
import pytest

from parley.protocol.webhooks import (
    RoomData,
    RoomStarted,
    SignatureError,
    UnknownEvent,
    event_id,
    sign,
    verify,
)

SECRET = b"whsec-unit-0123456789"


def body() -> bytes:
    event = RoomStarted(
        id=event_id("room.started", "r\n1.0"), created=2.0, data=RoomData(room="r", started=1.0)
    )
    return msgspec.json.encode(event)


def test_a_genuine_signature_gives_the_typed_event() -> None:
    now = int(time.time())
    event = verify(SECRET, sign(SECRET, body(), now), body(), now)
    assert isinstance(event, RoomStarted) and event.data.room == "r"


@pytest.mark.parametrize(
    ("header", "why"),
    [
        ("", "no timestamp"),
        ("v1=00", "no timestamp"),
        ("t=abc,v1=00", "no timestamp"),
        ("t=1,t=2,v1=00", "no timestamp"),
        ("t={now},v1=" + "0" * 64, "does not match"),
        ("t={now}", "does not match"),
        ("t={old},v1={mac_old}", "more than 300 s off"),
        ("t={future},v1={mac_future}", "more than 300 s off"),
    ],
)
def test_refusals_say_why(header: str, why: str) -> None:
    now = int(time.time())
    macs = {
        "mac_old": sign(SECRET, body(), now - 301).split("v1=")[1],
        "mac_future": sign(SECRET, body(), now + 301).split("v1=")[1],
    }
    filled = header.format(now=now, old=now - 301, future=now + 301, **macs)
    with pytest.raises(SignatureError, match=why):
        verify(SECRET, filled, body(), now)


def test_a_secret_being_rolled_over_may_sign_twice() -> None:
    now = int(time.time())
    old = sign(b"old-secret", body(), now).split(",")[1]
    assert verify(SECRET, f"{sign(SECRET, body(), now)},{old}", body(), now)
    assert verify(SECRET, f"t={now},{old},v1={sign(SECRET, body(), now).split('v1=')[1]}",
                  body(), now)  # fmt: skip


def test_a_signed_body_that_is_not_an_event_is_refused() -> None:
    now = int(time.time())
    junk = b'{"type":"call.exploded","id":"x","created":1}'
    with pytest.raises(UnknownEvent, match="not an event this version knows"):
        verify(SECRET, sign(SECRET, junk, now), junk, now)


def test_event_ids_are_stable_and_distinct() -> None:
    assert event_id("call.ended", "c1") == event_id("call.ended", "c1")
    assert event_id("call.ended", "c1") != event_id("call.ringing", "c1")
    assert event_id("call.ended", "c1") != event_id("call.ended", "c2")
