"""A small TURN client for tests, over UDP, built on aioice's TURN protocol and STUN messages.

aioice's `TurnClientUdpProtocol` does the transactions and the long-term-credential dance
(401 with REALM and NONCE, then the request again with MESSAGE-INTEGRITY); this adds what a
test of the server needs and aioice's endpoint hides: an Allocate for either address family
(RFC 6156 REQUESTED-ADDRESS-FAMILY), CreatePermission, ChannelBind and Send indications on
their own, and failures as error codes rather than exceptions deep in a transport.

Every request is bounded by REQUEST_SECONDS, whatever aioice's retransmission schedule.
"""

import asyncio
import ipaddress
import struct
from dataclasses import dataclass
from typing import Any

from aioice import stun
from aioice.turn import UDP_TRANSPORT, TurnClientUdpProtocol

REQUEST_SECONDS = 5.0

# RFC 6156 (RFC 8656 section 18.10); aioice 0.13 does not know it, so teach it.
REQUESTED_ADDRESS_FAMILY = (0x0017, "REQUESTED-ADDRESS-FAMILY")
FAMILY_CODES = {4: 0x01, 6: 0x02}


def _pack_family(value: int) -> bytes:
    return struct.pack("!B3x", value)


def _unpack_family(data: bytes) -> int:
    return data[0]


def _register_attribute(code: int, name: str, pack: Any, unpack: Any) -> None:
    if code in stun.ATTRIBUTES_BY_TYPE:
        if stun.ATTRIBUTES_BY_TYPE[code][1] != name:
            raise RuntimeError(f"aioice already knows STUN attribute {code:#06x} by another name")
        return
    entry = (code, name, pack, unpack)
    stun.ATTRIBUTES_BY_TYPE[code] = entry
    stun.ATTRIBUTES_BY_NAME[name] = entry


_register_attribute(*REQUESTED_ADDRESS_FAMILY, _pack_family, _unpack_family)


class TurnError(Exception):
    """The server answered with an error response."""

    def __init__(self, method: str, code: int, reason: str, attributes: dict[str, Any]) -> None:
        super().__init__(f"{method} refused: {code} {reason}")
        self.method = method
        self.code = code
        self.reason = reason
        self.attributes = attributes  # of the error response (REALM, NONCE, …)


@dataclass(frozen=True)
class Allocation:
    relayed: tuple[str, int]  # XOR-RELAYED-ADDRESS: where peers see the client
    mapped: tuple[str, int]  # XOR-MAPPED-ADDRESS: the client as the server sees it
    lifetime: int


def family_of(address: str) -> int:
    return ipaddress.ip_address(address).version


class _Transaction(stun.Transaction):
    """A transaction whose success response must carry MESSAGE-INTEGRITY under the request's
    key, but whose error responses count whether signed or not. aioice discards an unsigned
    error other than 401/438 and retransmits until it times out; coturn sends some unsigned
    (437 "Allocation mismatch", for one), and a test wants to see the code, at once."""

    def __init__(
        self, request: stun.Message, addr: tuple[str, int], protocol: Any, key: bytes | None
    ) -> None:
        super().__init__(request, addr, protocol)
        self._key = key

    def response_received(self, message: stun.Message, addr: tuple[str, int]) -> None:
        if (
            self._key is not None
            and message.message_class == stun.Class.RESPONSE
            and not message.check_message_integrity(self._key)
        ):
            return
        super().response_received(message, addr)


class _Protocol(TurnClientUdpProtocol):
    """aioice's protocol, keeping every Data indication (aioice drops those it has no channel
    for, and a test asks for permissions without channels), with _Transaction's rules."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.data_indications: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()

    async def request(self, request: stun.Message) -> tuple[stun.Message, tuple[str, int]]:
        if self.integrity_key:
            request.attributes["USERNAME"] = self.username
            request.attributes["NONCE"] = self.nonce
            request.attributes["REALM"] = self.realm
            request.add_message_integrity(self.integrity_key)
        transaction = _Transaction(request, self.server, self, self.integrity_key)
        self.transactions[request.transaction_id] = transaction
        try:
            return await transaction.run()
        finally:
            del self.transactions[request.transaction_id]

    def datagram_received(self, data: bytes | str, addr: tuple[str, int]) -> None:
        if isinstance(data, bytes) and len(data) >= 20 and data[0] & 0xC0 == 0:
            try:
                message = stun.parse_message(data)
            except ValueError:
                return
            if (
                message.message_method == stun.Method.DATA
                and message.message_class == stun.Class.INDICATION
            ):
                peer = message.attributes.get("XOR-PEER-ADDRESS")
                payload = message.attributes.get("DATA")
                if peer is not None and payload is not None:
                    self.data_indications.put_nowait((payload, peer))
                return
        super().datagram_received(data, addr)


class TurnTestClient:
    """One UDP 5-tuple to a TURN server, i.e. at most one allocation."""

    def __init__(self, protocol: _Protocol, transport: asyncio.DatagramTransport) -> None:
        self._protocol = protocol
        self._transport = transport
        self.allocation: Allocation | None = None

    @classmethod
    async def open(
        cls, server: tuple[str, int], username: str | None = None, password: str | None = None
    ) -> "TurnTestClient":
        """A client for `server`; without username and password it never authenticates."""
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _Protocol(
                server, username=username, password=password, lifetime=600, channel_refresh_time=0
            ),
            remote_addr=server,
        )
        return cls(protocol, transport)

    @property
    def local_address(self) -> tuple[str, int]:
        host, port = self._transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def use_credentials(self, username: str | None, password: str | None) -> None:
        """Authenticates later requests with these instead, starting afresh (new nonce), on
        the same 5-tuple."""
        self._protocol.username = username
        self._protocol.password = password
        self._protocol.integrity_key = None
        self._protocol.nonce = None
        self._protocol.realm = None

    async def _request(
        self, request: stun.Message, within: float = REQUEST_SECONDS
    ) -> stun.Message:
        method = request.message_method.name
        try:
            async with asyncio.timeout(within):
                response, _ = await self._protocol.request_with_retry(request)
        except stun.TransactionFailed as exc:
            code, reason = exc.response.attributes.get("ERROR-CODE", (0, "no ERROR-CODE"))
            raise TurnError(method, code, reason, exc.response.attributes) from exc
        except (TimeoutError, stun.TransactionTimeout) as exc:
            raise TimeoutError(f"no answer to {method} within {within} s") from exc
        return response

    async def allocate(
        self, family: int = 4, lifetime: int = 600, within: float = REQUEST_SECONDS
    ) -> Allocation:
        """Allocate a UDP relay of the given address family (4 or 6); raises TurnError."""
        request = stun.Message(
            message_method=stun.Method.ALLOCATE, message_class=stun.Class.REQUEST
        )
        request.attributes["LIFETIME"] = lifetime
        request.attributes["REQUESTED-TRANSPORT"] = UDP_TRANSPORT
        if family != 4:
            request.attributes["REQUESTED-ADDRESS-FAMILY"] = FAMILY_CODES[family]
        response = await self._request(request, within)
        for name in ("XOR-RELAYED-ADDRESS", "XOR-MAPPED-ADDRESS", "LIFETIME"):
            if name not in response.attributes:
                raise AssertionError(f"Allocate success response without {name}: {response}")
        self.allocation = Allocation(
            relayed=tuple(response.attributes["XOR-RELAYED-ADDRESS"]),  # type: ignore[arg-type]
            mapped=tuple(response.attributes["XOR-MAPPED-ADDRESS"]),  # type: ignore[arg-type]
            lifetime=response.attributes["LIFETIME"],
        )
        return self.allocation

    async def create_permission(self, peer_ip: str) -> None:
        """CreatePermission for one peer address; raises TurnError (403 for a denied peer)."""
        request = stun.Message(
            message_method=stun.Method.CREATE_PERMISSION, message_class=stun.Class.REQUEST
        )
        request.attributes["XOR-PEER-ADDRESS"] = (peer_ip, 0)
        await self._request(request)

    async def channel_bind(self, peer: tuple[str, int], channel: int = 0x4000) -> None:
        request = stun.Message(
            message_method=stun.Method.CHANNEL_BIND, message_class=stun.Class.REQUEST
        )
        request.attributes["CHANNEL-NUMBER"] = channel
        request.attributes["XOR-PEER-ADDRESS"] = peer
        await self._request(request)

    def send_indication(self, peer: tuple[str, int], data: bytes) -> None:
        """A Send indication: no answer comes back, whether coturn relays it or not."""
        indication = stun.Message(
            message_method=stun.Method.SEND, message_class=stun.Class.INDICATION
        )
        indication.attributes["XOR-PEER-ADDRESS"] = peer
        indication.attributes["DATA"] = data
        indication.add_fingerprint()
        self._transport.sendto(bytes(indication))

    async def receive_data(self, within: float) -> tuple[bytes, tuple[str, int]] | None:
        """The next Data indication's payload and peer, or None after `within` seconds."""
        try:
            async with asyncio.timeout(within):
                return await self._protocol.data_indications.get()
        except TimeoutError:
            return None

    async def close(self) -> None:
        """Releases the allocation (Refresh with LIFETIME 0), best effort, then the socket."""
        try:
            if self.allocation is not None and not self._transport.is_closing():
                request = stun.Message(
                    message_method=stun.Method.REFRESH, message_class=stun.Class.REQUEST
                )
                request.attributes["LIFETIME"] = 0
                try:
                    async with asyncio.timeout(1.0):
                        await self._protocol.request_with_retry(request)
                except (TimeoutError, stun.TransactionError):
                    pass
        finally:
            self._transport.close()


async def error_code(awaitable: Any) -> int | None:
    """The error code an operation is refused with, or None when it succeeds."""
    try:
        await awaitable
    except TurnError as exc:
        return exc.code
    return None
