"""ICE servers handed to sessions: static ones, and TURN with fresh time-limited credentials."""

from parley.core.signaling import CoreSettings
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    Cancel,
    Hello,
    IceServer,
    IceServers,
    IceServersRequest,
    Invite,
    Welcome,
)
from parley.turn.credentials import TurnCredentialIssuer, turn_password
from tests.core.helpers import Harness, only_error_to, only_message_to

SECRET = b"turn-shared-secret"
TURN = TurnCredentialIssuer(urls=("turn:turn.example.org:3478",), secret=SECRET, lifetime=600)


def welcome_of(h: Harness) -> Welcome:
    session = h.connect()
    welcome = only_message_to(h.send(session, Hello(v=1, name="Ana")), session)
    assert isinstance(welcome, Welcome)
    return welcome


def test_without_turn_only_the_configured_servers_are_given_and_nothing_public() -> None:
    assert welcome_of(Harness()).iceServers == []
    stun = IceServer(urls=["stun:stun.example.org"])
    assert welcome_of(Harness(CoreSettings(ice_servers=(stun,)))).iceServers == [stun]


def turn_of(h: Harness, session: str, to: str | None = None) -> IceServer | None:
    """The TURN server (with credentials) an ice-servers request gets, if any."""
    reply = only_message_to(h.send(session, IceServersRequest(id="ice", to=to)), session)
    assert isinstance(reply, IceServers)
    return next((s for s in reply.iceServers if s.username), None)


def test_turn_credentials_are_for_this_user_expire_after_the_lifetime_and_verify() -> None:
    h = Harness(CoreSettings(turn=TURN), now=1_700_000_000.0)
    welcome = welcome_of(h)
    assert welcome.iceServers == [], "no TURN credentials for merely being online"
    session = h.in_room()
    user = h.core.session(session).identity.user  # type: ignore[union-attr]
    turn = turn_of(h, session)
    assert turn is not None and turn.urls == ["turn:turn.example.org:3478"]
    assert turn.username is not None and turn.credential is not None
    expiry, _, named = turn.username.partition(":")
    assert int(expiry) == 1_700_000_000 + 600
    assert named == user
    assert turn.credential == turn_password(SECRET, turn.username)
    assert SECRET.decode() not in repr(turn), "the shared secret never leaves the server"


def test_turn_credentials_only_for_a_room_or_a_call_or_an_invite_about_to_ring() -> None:
    h = Harness(CoreSettings(turn=TURN))
    ana, bo = h.user("Ana"), h.user("Bo")
    lurker = h.welcomed()
    assert turn_of(h, lurker) is None, "online and idle: no relay"
    assert turn_of(h, ana.session, to=ana.user) is None, "about to call itself: no"
    assert turn_of(h, ana.session, to="nobody-online") is None, "nobody to ring: no"
    assert turn_of(h, ana.session, to=bo.user) is not None, "about to ring Bo: yes"
    call = h.invite(ana.session, bo.user)
    assert turn_of(h, ana.session) is not None, "ringing, as the caller"
    assert turn_of(h, bo.session) is not None, "ringing, as the callee's device"
    h.send(ana.session, Cancel(call=call))
    assert turn_of(h, bo.session) is None, "the call is over"
    issued = h.core.turn_credentials_issued
    assert turn_of(h, lurker) is None
    assert h.core.turn_credentials_issued == issued, "none were minted for the lurker"


def test_relay_only_is_told_to_clients() -> None:
    assert welcome_of(Harness()).iceTransportPolicy == "all"
    assert welcome_of(Harness(CoreSettings(relay_only=True))).iceTransportPolicy == "relay"


def test_refresh_gives_new_credentials_until_the_per_minute_limit() -> None:
    h = Harness(CoreSettings(turn=TURN, ice_requests_per_minute=3, relay_only=True))
    session = h.in_room()
    usernames = set()
    for n in range(3):
        h.now += 1
        reply = only_message_to(h.send(session, IceServersRequest(id=n)), session)
        assert isinstance(reply, IceServers) and reply.id == n
        assert reply.iceTransportPolicy == "relay"
        usernames.add(reply.iceServers[0].username)
    assert len(usernames) == 3, "each refresh carries a later expiry"
    refused = only_error_to(h.send(session, IceServersRequest(id="x")), session)
    assert refused.code == ErrorCode.RATE_LIMITED and refused.id == "x"
    h.now += 61
    assert isinstance(only_message_to(h.send(session, IceServersRequest()), session), IceServers)


def test_the_limit_is_per_user_across_devices() -> None:
    h = Harness(CoreSettings(turn=TURN, ice_requests_per_minute=2))
    first = h.user("Ana")
    second = h.user("Ana", token=first.token)
    h.send(first.session, IceServersRequest())
    h.send(second.session, IceServersRequest())
    refused = only_error_to(h.send(first.session, IceServersRequest(id=1)), first.session)
    assert refused.code == ErrorCode.RATE_LIMITED


def test_refresh_needs_a_welcomed_session() -> None:
    h = Harness(CoreSettings(turn=TURN))
    session = h.connect()
    refused = only_error_to(h.send(session, IceServersRequest(id=1)), session)
    assert refused.code == ErrorCode.HELLO_REQUIRED


def test_invites_are_rate_limited_per_user() -> None:
    h = Harness(CoreSettings(invites_per_minute=2))
    ana, bo = h.user("Ana"), h.user("Bo")
    for _ in range(2):
        call = h.invite(ana.session, bo.user)
        h.send(ana.session, Cancel(call=call))
    refused = only_error_to(
        h.send(ana.session, Invite(to=bo.user, media="audio", id=3)), ana.session
    )
    assert refused.code == ErrorCode.RATE_LIMITED and refused.id == 3
    assert len(h.core.calls) == 0, "a refused invite rings nobody"
    h.now += 61
    h.invite(ana.session, bo.user)
