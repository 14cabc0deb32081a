"""Rules of docs/protocol.md that an integrator relies on, held against the core: errors before
`hello` are numbered, which replies echo `id` (the call replies: test_call_states_table.py), and
`welcome` never does."""

from parley.core.effects import Effect, Send
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    PROTOCOL_VERSION,
    Error,
    Hello,
    IceServers,
    IceServersRequest,
    Join,
    Joined,
    Leave,
    Left,
    Online,
    OnlineRequest,
    Quality,
    QualitySaved,
    Ready,
    Welcome,
)
from tests.core.helpers import Harness, only_message_to, sends


def numbered(effects: list[Effect], session: str) -> list[tuple[int, type]]:
    return [(e.seq, type(e.message)) for e in sends(effects) if e.session == session]


def test_errors_before_hello_take_the_first_seqs_and_the_session_counts_on_from_them() -> None:
    h = Harness()
    session = h.connect()
    assert numbered(h.send_frame(session, "not json"), session) == [(1, Error)]
    assert numbered(h.send(session, Ready()), session) == [(2, Error)]
    effects = h.send(session, Hello(v=PROTOCOL_VERSION))
    assert numbered(effects, session) == [(0, Welcome)], "welcome itself is not numbered"
    assert numbered(h.send(session, Join(room="r")), session) == [(3, Joined)]


def test_errors_before_a_resuming_hello_are_numbered_apart_from_the_resumed_session() -> None:
    h = Harness()
    first = h.connect()
    welcome = only_message_to(h.send(first, Hello(v=PROTOCOL_VERSION)), first)
    assert isinstance(welcome, Welcome) and welcome.resume is not None
    h.send(first, Join(room="r"))
    h.send(first, Leave())  # the session has had seq 1 and 2
    h.core.connection_lost(first, h.now)

    again = h.connect()
    assert numbered(h.send_frame(again, "{"), again) == [(1, Error)], "the new socket's own count"
    hello = Hello(v=PROTOCOL_VERSION, token=welcome.token, resume=welcome.resume, lastSeq=2)
    resumed = only_message_to(h.send(again, hello), first)
    assert isinstance(resumed, Welcome) and resumed.resumed
    assert numbered(h.send(again, Join(room="r")), first) == [(3, Joined)]


def reply_to(h: Harness, session: str, effects: list[Effect]) -> object:
    replies = [e.message for e in sends(effects) if e.session == session]
    assert len(replies) == 1, replies
    return replies[0]


def test_the_room_ice_online_and_quality_replies_echo_the_id() -> None:
    h = Harness()
    me = h.user("Ana").session
    cases = [
        (Join(id="j", room="r"), Joined),
        (IceServersRequest(id=3), IceServers),
        (OnlineRequest(id="o", offset=0), Online),
        (Quality(id=4, durationSeconds=1.0), QualitySaved),
        (Leave(id=""), Left),
        (Leave(id=5), Error),  # not in a room any more
    ]
    for request, kind in cases:
        reply = reply_to(h, me, h.send(me, request))
        assert isinstance(reply, kind), (request, reply)
        assert reply.id == request.id, (request, reply)  # type: ignore[attr-defined]


def test_welcome_never_echoes_the_id_of_hello_but_an_error_refusing_hello_does() -> None:
    h = Harness()
    session = h.connect()
    welcome = reply_to(h, session, h.send(session, Hello(id=9, v=PROTOCOL_VERSION)))
    assert isinstance(welcome, Welcome)
    assert "id" not in Welcome.__struct_fields__
    refused = reply_to(h, session, h.send(session, Hello(id=10, v=PROTOCOL_VERSION)))
    assert isinstance(refused, Error)
    assert (refused.code, refused.id) == (ErrorCode.ALREADY_WELCOMED, 10)


def test_an_error_to_a_frame_before_hello_echoes_its_id() -> None:
    h = Harness()
    session = h.connect()
    [sent] = [e for e in h.send_frame(session, '{"type":"join","room":"r","id":"x"}')]
    assert isinstance(sent, Send) and isinstance(sent.message, Error)
    assert (sent.message.code, sent.message.id, sent.seq) == (ErrorCode.HELLO_REQUIRED, "x", 1)
