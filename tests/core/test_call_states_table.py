"""The direct-call states table of docs/protocol.md, row by row, against the core.

Each row names a state, who acts and with what (a message or an event), and what each party
then gets; every row is set up on a fresh core, carried out, and compared, so the table cannot
drift from what the server does.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from parley.core.calls import RECLAIM_TIMER, CallState
from parley.core.effects import Effect
from parley.protocol.messages import (
    Accept,
    Answer,
    CallAccepted,
    Cancel,
    Candidate,
    ClientMessageUnion,
    Hangup,
    IceCandidate,
    Invite,
    MediaState,
    Offer,
    Quality,
    Reject,
    ResumeCall,
    ServerMessage,
    VideoReply,
    VideoRequest,
    message_type,
)
from tests.core.helpers import Harness, messages_to, of_type, ring_key, ticket

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
MARKER = "<!-- call states:"
COLUMNS = ["state", "from", "message", "reply", "caller", "callee", "other devices", "then"]
PARTIES = ("caller", "callee", "other devices", "stranger")
RELAYS = ("offer", "answer", "candidate", "media-state", "video-request", "video-reply")
EVENTS = ("ring timeout", "reclaim timeout", "server stops", "the app ends it", "goodbye")
REQUEST_ID = 7
# The call a reclaiming core is told of: answered before the restart, which the core never saw.
RESTARTED_CALL = "c-answered-before-the-restart"


@dataclass(frozen=True)
class Case:
    """One row of the table, for one of the messages it lists."""

    state: str
    sender: str  # a party, or "—" for an event nobody sends
    action: str  # a client message type, or an event
    qualifier: str  # words after the message ("to the caller (glare)")
    reply: str
    cells: dict[str, str]
    then: str

    @property
    def name(self) -> str:
        words = re.sub(r"\W+", "-", self.qualifier).strip("-")
        return "-".join(part for part in (self.state, self.sender, self.action, words) if part)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def table_lines() -> list[list[str]]:
    """The rows of the table that follows the marker, header first."""
    _, found, after = DOC.read_text(encoding="utf-8").partition(MARKER)
    assert found, f"docs/protocol.md lost its {MARKER!r} marker"
    lines: list[list[str]] = []
    for line in after.splitlines()[1:]:
        if line.startswith("|"):
            lines.append(_cells(line))
        elif lines:
            break
    return lines


def cases() -> list[Case]:
    header, _rule, *rows = table_lines()
    assert header == COLUMNS
    found = []
    for row in rows:
        assert len(row) == len(COLUMNS), row
        state, sender, message, reply, caller, callee, others, then = row
        cells = {"caller": caller, "callee": callee, "other devices": others, "stranger": "—"}
        if message.startswith("*"):
            actions, qualifier = [message.strip("*")], ""
        elif message == "a relay":
            actions, qualifier = list(RELAYS), ""
        else:
            actions = re.findall(r"`([^`]+)`", message)
            qualifier = message.rpartition("`")[2].strip()
        for action in actions:
            found.append(Case(state, sender, action, qualifier, reply, cells, then))
    return found


# --- a world in each state --------------------------------------------------------------------


@dataclass
class World:
    h: Harness
    sessions: dict[str, str]
    users: dict[str, str]
    call: str = ""
    ticket: str = ""
    log: list[Effect] = field(default_factory=list)


def _people(h: Harness) -> World:
    ana, bo = h.user("Ana"), h.user("Bo")
    bo_laptop, cy = h.device(bo, "Bo"), h.user("Cy")
    devices = {"caller": ana, "callee": bo, "other devices": bo_laptop, "stranger": cy}
    return World(
        h,
        {party: device.session for party, device in devices.items()},
        {party: device.user for party, device in devices.items()},
    )


def world(state: str) -> World:
    h = Harness()
    w = _people(h)
    if state == "none":
        return w
    if state == "reclaiming":
        # A restarted server: everyone said hello anew; the caller claims its call first.
        w.call = RESTARTED_CALL
        w.ticket = ticket(w.call, w.users["caller"], w.users["callee"])
        claim = ResumeCall(
            call=w.call, peer=w.users["callee"], role="caller", media="video", ticket=w.ticket
        )
        assert messages_to(h.send(w.sessions["caller"], claim), w.sessions["caller"]) == []
        return w
    w.call = h.invite(w.sessions["caller"], w.users["callee"])
    if state == "ringing":
        return w
    accepted = of_type(h.accept(w.sessions["callee"], w.call), CallAccepted)
    w.ticket = accepted[0][1].ticket or ""
    if state == "active":
        return w
    assert state == "ended", state
    h.send(w.sessions["caller"], Hangup(call=w.call))
    return w


def message(w: World, case: Case) -> ClientMessageUnion:
    call, rid, sender = w.call, REQUEST_ID, case.sender
    other_side = w.sessions["callee" if sender == "caller" else "caller"]
    match case.action:
        case "invite":
            to = w.users["caller" if "to the caller" in case.qualifier else "callee"]
            return Invite(id=rid, to=to, media="video", caller_offers=True)
        case "accept":
            return Accept(id=rid, call=call, media="video", caller_offers=True)
        case "reject":
            reason = "cannot-answer" if "cannot-answer" in case.qualifier else "declined"
            return Reject(id=rid, call=call, reason=reason)
        case "cancel":
            return Cancel(id=rid, call=call)
        case "hangup":
            reason = "media-failed" if "media-failed" in case.qualifier else "hangup"
            return Hangup(id=rid, call=call, reason=reason)
        case "resume-call":
            role = "callee" if sender in ("callee", "other devices") else "caller"
            peer = w.users["caller" if role == "callee" else "callee"]
            return ResumeCall(
                id=rid, call=call, peer=peer, role=role, media="video", ticket=w.ticket
            )  # type: ignore[arg-type]
        case "quality":
            return Quality(id=rid, call=call, durationSeconds=60.0)
        case "offer":
            return Offer(id=rid, to=other_side, sdp="v=0 offer")
        case "answer":
            return Answer(id=rid, to=other_side, sdp="v=0 answer")
        case "candidate":
            found = IceCandidate(candidate="candidate:1 1 udp 1 192.0.2.1 4000 typ host")
            return Candidate(id=rid, to=other_side, candidate=found)
        case "media-state":
            return MediaState(id=rid, to=other_side, muted=True)
        case "video-request":
            return VideoRequest(id=rid, to=other_side)
        case "video-reply":
            return VideoReply(id=rid, to=other_side, accepted=True)
    raise AssertionError(f"the table names a message this test does not know: {case.action}")


def carry_out(w: World, case: Case) -> list[Effect]:
    h = w.h
    match case.action:
        case "ring timeout":
            return h.fire(ring_key(w.call))
        case "reclaim timeout":
            return h.fire((RECLAIM_TIMER, w.call))
        case "server stops":
            return h.core.shutting_down(h.now)
        case "the app ends it":
            return h.core.end_call_by_app(w.call, h.now)[1]
        case "goodbye":
            return h.disconnect(w.sessions[case.sender])
    return h.send(w.sessions[case.sender], message(w, case))


# --- what the table says, checked -------------------------------------------------------------


def check_cell(cell: str, got: list[ServerMessage], case: Case, w: World, reply: bool) -> None:
    if cell == "—":
        assert got == [], f"expected nothing, got {got}"
        return
    assert len(got) == 1, f"expected one message ({cell}), got {got}"
    [received] = got
    kind = message_type(type(received))
    if cell == "relayed":
        assert kind == case.action, received
        assert getattr(received, "from_", None) == w.sessions[case.sender], received
        return
    expected = re.findall(r"`([^`]+)`", cell)
    assert kind == expected[0], f"expected {cell}, got {received}"
    if len(expected) > 1:
        detail = getattr(received, "reason", None) or getattr(received, "code", None)
        assert detail == expected[1], f"expected {cell}, got {received}"
    if reply:
        assert getattr(received, "id", None) == REQUEST_ID, f"a reply echoes the id: {received}"


def check_state(w: World, then: str) -> None:
    counts = w.h.core.calls.count_by_state()
    if then in ("none", "ended"):
        assert set(counts.values()) == {0}, counts
        if then == "ended":
            assert w.h.core.calls.get(w.call) is None
    else:
        assert counts == {s.value: int(s.value == then) for s in CallState}, counts


CASES = cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_table_row_is_what_the_server_does(case: Case) -> None:
    assert case.sender in (*PARTIES, "—"), case.sender
    assert (case.sender == "—") == (case.action in EVENTS and case.action != "goodbye")
    if case.sender in case.cells and case.sender != "stranger":
        assert case.cells[case.sender] == "(sender)", "the sender's own column says so"
    w = world(case.state)
    effects = carry_out(w, case)
    for party in PARTIES:
        got = messages_to(effects, w.sessions[party])
        if party == case.sender:
            check_cell(case.reply, got, case, w, reply=True)
        else:
            check_cell(case.cells[party], got, case, w, reply=False)
    check_state(w, case.then)


def test_the_table_covers_every_state_of_the_core() -> None:
    states = {case.state for case in CASES}
    assert states == {"none", "ended", *(s.value for s in CallState)}
    assert {case.then for case in CASES} <= states


def test_the_table_is_found_and_has_its_rows() -> None:
    """A table cut short, or a marker that moved away from it, would test nothing."""
    assert len(CASES) > 60
    actions = {case.action for case in CASES}
    calls = {"invite", "accept", "reject", "cancel", "hangup", "resume-call", "quality"}
    assert actions >= calls | set(RELAYS) | set(EVENTS)
