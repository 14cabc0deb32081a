"""What `parley ice-test` does: gather candidates against the configured STUN and TURN servers
and say in plain words what is wrong. TURN is tried with an explicit Allocate, so that refused
credentials (401) and an unreachable server (no answer) are told apart."""

import asyncio
import contextlib
import ssl
import time
from dataclasses import dataclass, field

import aioice
from aioice import stun, turn

from parley.turn.urls import IceUrl, parse_ice_url

CREDENTIALS_REJECTED = (
    "TURN credentials rejected (401): Parley and coturn do not share the same secret, "
    "or their clocks disagree."
)
TURN_UNREACHABLE = (
    "No relay candidate: TURN unreachable over {transport}. Try a turns: URL on port 443."
)
STUN_BLOCKED = "Only host candidates: STUN is blocked or unreachable."


@dataclass(frozen=True, slots=True)
class FoundCandidate:
    type: str  # host, srflx, relay
    protocol: str
    address: str
    port: int
    priority: int
    after_ms: int
    via: str = ""


@dataclass(slots=True)
class ProbeReport:
    candidates: list[FoundCandidate] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def has(self, kind: str) -> bool:
        return any(c.type == kind for c in self.candidates)


async def probe(
    stun_urls: list[str],
    turn_urls: list[str],
    username: str | None,
    password: str | None,
    step_seconds: float = 5.0,
) -> ProbeReport:
    """Each step (gathering, each TURN Allocate) gets at most `step_seconds`."""
    report = ProbeReport()
    started = time.monotonic()
    stun_servers = [u for u in map(parse_ice_url, stun_urls) if not u.is_tls]
    await _gather_host_and_srflx(
        report, stun_servers[0] if stun_servers else None, started, step_seconds
    )
    if stun_servers and not report.has("srflx"):
        report.problems.append(STUN_BLOCKED)
    for url in map(parse_ice_url, turn_urls):
        await _allocate(report, url, username, password, started, step_seconds)
    return report


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


async def _gather_host_and_srflx(
    report: ProbeReport, stun_url: IceUrl | None, started: float, step_seconds: float
) -> None:
    connection = aioice.Connection(
        ice_controlling=True,
        stun_server=(stun_url.host, stun_url.port) if stun_url else None,
    )
    # Whatever was found before the deadline still counts.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(step_seconds):
            await connection.gather_candidates()
    for candidate in connection.local_candidates:
        report.candidates.append(
            FoundCandidate(
                candidate.type,
                candidate.transport.lower(),
                candidate.host,
                candidate.port,
                candidate.priority,
                _ms(started),
            )
        )
    await connection.close()


async def _allocate(
    report: ProbeReport,
    url: IceUrl,
    username: str | None,
    password: str | None,
    started: float,
    step_seconds: float,
) -> None:
    context = ssl.create_default_context() if url.is_tls else None
    try:
        async with asyncio.timeout(step_seconds):
            transport, _ = await turn.create_turn_endpoint(
                asyncio.DatagramProtocol,
                server_addr=(url.host, url.port),
                username=username,
                password=password,
                ssl=context,
                transport=url.transport,
            )
    except stun.TransactionFailed as failure:
        code = failure.response.error_code
        if code == 401:
            report.problems.append(CREDENTIALS_REJECTED)
        else:
            report.problems.append(f"TURN refused the allocation ({code}) at {_url_text(url)}.")
        return
    except (TimeoutError, stun.TransactionTimeout, OSError):
        report.problems.append(TURN_UNREACHABLE.format(transport=url.transport.upper()))
        return
    try:
        host, port = transport.get_extra_info("sockname")
        report.candidates.append(
            FoundCandidate("relay", "udp", host, port, 0, _ms(started), via=_url_text(url))
        )
    finally:
        transport.close()


def _url_text(url: IceUrl) -> str:
    return f"{url.scheme}:{url.host}:{url.port}?transport={url.transport}"
