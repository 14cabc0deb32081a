"""A coturn run with Parley's generated config relays to public peers and to nothing internal.

Every refusal is checked against an allocation of the peer's own address family, so a 403 is
the deny list's (or coturn's built-in loopback/multicast/unspecified checks'), never a 443
family mismatch. The positive controls matter as much as the refusals: a config that denied
every peer would refuse all the internal ones too, and must fail here.
"""

import asyncio
import ipaddress
import re

import pytest

from parley.turn.coturn import denied_ranges
from tests.turn.conftest import ALLOWED_PEERS, Allocate
from tests.turn.topology import PeerNamespace, TurnServer
from tests.turn.turn_client import error_code, family_of

FORBIDDEN_PEERS = [
    "127.0.0.1",
    "0.0.0.0",
    "10.0.0.1",
    "100.64.0.1",
    "169.254.169.254",
    "172.16.0.1",
    "192.168.0.1",
    "224.0.0.1",
    "::1",
    "::",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
]
# Of those, the ones coturn 4.6 has no built-in check for: only the deny list refuses them.
ONLY_THE_DENY_LIST_REFUSES = [
    "10.0.0.1",
    "100.64.0.1",
    "169.254.169.254",
    "172.16.0.1",
    "192.168.0.1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
]
DENIED_LOG_LINE = re.compile(r"A peer IP (\S+) denied in the range: (\S+)")
RECEIVE_SECONDS = 3.0
QUIET_SECONDS = 0.5  # how long "nothing arrived" is watched for, after a delivery that did


def test_coturn_loaded_every_deny_and_allow_line(turn_server: TurnServer) -> None:
    log = turn_server.log()
    assert "Bad configuration format" not in log, turn_server.log_tail()
    ranges = denied_ranges(turn_server.version)
    assert "::ffff:0.0.0.0-::ffff:255.255.255.255" in ranges  # coturn 4.6 needs it
    missing = [r for r in ranges if f"Black listing: {r}" not in log]
    assert not missing, f"coturn did not load denied-peer-ip {missing}:\n{log}"
    for address in ALLOWED_PEERS:
        assert f"allowed-peer-ip={address}" in turn_server.config
        assert f"White listing: {address}" in log


@pytest.mark.parametrize("peer", FORBIDDEN_PEERS)
async def test_permission_to_an_internal_peer_is_refused_with_403(
    turn_server: TurnServer, allocate: Allocate, peer: str
) -> None:
    family = family_of(peer)
    client = await allocate(family)
    assert client.allocation is not None
    assert family_of(client.allocation.relayed[0]) == family

    code = await error_code(client.create_permission(peer))

    assert code == 403, f"CreatePermission {peer} on an IPv{family} relay answered {code}"


async def test_each_deny_list_refusal_names_the_range_holding_the_peer(
    turn_server: TurnServer, allocate: Allocate
) -> None:
    """coturn logs which denied-peer-ip range refused a peer. It must be the range meant for
    that peer: a range that matches far more than it says would refuse public peers too."""
    clients = {family: await allocate(family) for family in (4, 6)}
    for peer in ONLY_THE_DENY_LIST_REFUSES:
        assert await error_code(clients[family_of(peer)].create_permission(peer)) == 403

    logged: dict[str, str] = {}
    for _ in range(40):  # coturn writes its log from another thread: wait for it, bounded
        logged = {m[1]: m[2] for m in DENIED_LOG_LINE.finditer(turn_server.log())}
        if all(peer in logged for peer in ONLY_THE_DENY_LIST_REFUSES):
            break
        await asyncio.sleep(0.05)

    wrong = {}
    for peer in ONLY_THE_DENY_LIST_REFUSES:
        meant = [r for r in denied_ranges(turn_server.version) if _in_range(peer, r)]
        if logged.get(peer) not in meant:
            wrong[peer] = f"refused by {logged.get(peer)!r}, the range for it is {meant}"
    assert not wrong, wrong


def _in_range(address: str, text: str) -> bool:
    first, _, last = text.partition("-")
    low, high, ip = (ipaddress.ip_address(a) for a in (first, last or first, address))
    return low.version == ip.version and int(low) <= int(ip) <= int(high)


@pytest.mark.parametrize("family", [4, 6])
async def test_a_public_peer_no_config_line_mentions_gets_relayed_data(
    turn_server: TurnServer, allocate: Allocate, peer: PeerNamespace, family: int
) -> None:
    """The relay is usable at all: an ordinary public peer, in neither list, gets through."""
    target = peer.other_address_for(family)
    assert target not in ALLOWED_PEERS
    with peer.udp_listener(target) as listener:
        client = await allocate(family)
        assert client.allocation is not None

        code = await error_code(client.create_permission(target))
        assert code is None, f"CreatePermission {target}: {code}; {_denial(turn_server, target)}"
        client.send_indication(listener.address, b"hello, public peer")

        received = await listener.areceive(RECEIVE_SECONDS)
        assert received == (b"hello, public peer", client.allocation.relayed)


@pytest.mark.parametrize("family", [4, 6])
async def test_an_explicitly_allowed_peer_gets_relayed_data_both_ways(
    allocate: Allocate, peer: PeerNamespace, family: int
) -> None:
    target = peer.address_for(family)
    assert target in ALLOWED_PEERS
    with peer.udp_listener(target) as listener:
        client = await allocate(family)
        assert client.allocation is not None

        await client.create_permission(target)
        client.send_indication(listener.address, b"hello, allowed peer")
        received = await listener.areceive(RECEIVE_SECONDS)
        assert received == (b"hello, allowed peer", client.allocation.relayed)

        listener.send_to(b"hello back", client.allocation.relayed)
        assert await client.receive_data(RECEIVE_SECONDS) == (b"hello back", listener.address)


@pytest.mark.parametrize(
    ("peer_ip", "listen_ip"),
    [("127.0.0.1", "127.0.0.1"), ("::1", "::1"), ("::ffff:127.0.0.1", "127.0.0.1")],
)
async def test_nothing_reaches_a_listener_on_coturns_loopback(
    turn_server: TurnServer, allocate: Allocate, peer: PeerNamespace, peer_ip: str, listen_ip: str
) -> None:
    family = family_of(peer_ip)
    with (
        turn_server.udp_listener(listen_ip) as victim,
        turn_server.udp_listener(listen_ip) as sender,
        peer.udp_listener(peer.address_for(family)) as control,
    ):
        # The listener works: a datagram sent to it inside coturn's namespace arrives.
        sender.send_to(b"direct", victim.address)
        assert victim.receive(RECEIVE_SECONDS) == (b"direct", sender.address)

        client = await allocate(family)
        target = (peer_ip, victim.port)
        assert await error_code(client.create_permission(peer_ip)) == 403
        assert await error_code(client.channel_bind(target)) == 403
        for number in range(3):
            client.send_indication(target, b"to loopback %d" % number)

        # The same client's relay does deliver to a peer it may reach, sent after the above.
        await client.create_permission(control.host)
        client.send_indication(control.address, b"to the peer")
        assert await control.areceive(RECEIVE_SECONDS) == (
            b"to the peer",
            client.allocation.relayed if client.allocation else None,
        )

        assert victim.receive_all(QUIET_SECONDS) == []


def _denial(server: TurnServer, peer: str) -> str:
    lines = [m[0] for m in DENIED_LOG_LINE.finditer(server.log()) if m[1] == peer]
    return f"coturn logged: {lines[-1]}" if lines else f"coturn's log ends:\n{server.log_tail()}"
