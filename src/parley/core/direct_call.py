"""One direct call: who is in it, where it stands, and its answer, the one step that changes
only the call itself (the service that keeps every call is parley.core.calls)."""

from dataclasses import dataclass, field
from enum import StrEnum

from parley.core.effects import CallRecord, CancelTimer, Outcome, RecordCall, TimerKey
from parley.core.identity import Identity
from parley.protocol.messages import CallAccepted, CallEnded, Media, RequestId

RING_TIMER = "ring"
RECLAIM_TIMER = "reclaim"


class CallState(StrEnum):
    RINGING = "ringing"
    ACTIVE = "active"
    # Answered before this server started (it restarted): one side has claimed it back and
    # waits for the other.
    RECLAIMING = "reclaiming"


@dataclass(slots=True)
class Call:
    id: str
    caller: Identity
    caller_session: str
    callee: Identity
    media: Media
    created: float
    state: CallState = CallState.RINGING
    ringing_sessions: set[str] = field(default_factory=set)
    callee_session: str | None = None
    answered: float | None = None
    # Taken up again after a restart: its history row was written by an earlier process.
    reclaimed: bool = False
    # The caller's client takes its negotiation role from call-accepted.polite.
    caller_offers: bool = False
    # The caller's first offer, rung with the call; dropped once answered.
    offer: str | None = None
    # The caller's client sets an answer that comes with call-accepted.
    caller_takes_answer: bool = False

    def involved_sessions(self) -> list[str]:
        if self.state is CallState.RECLAIMING:
            return [s for s in (self.caller_session, self.callee_session) if s]
        others = (
            sorted(self.ringing_sessions)
            if self.state is CallState.RINGING
            else [s for s in (self.callee_session,) if s is not None]
        )
        return [self.caller_session, *others]

    def record(self) -> CallRecord:
        return CallRecord(
            id=self.id,
            caller=self.caller.user,
            caller_name=self.caller.name,
            callee=self.callee.user,
            callee_name=self.callee.name,
            media=self.media,
            created=self.created,
            answered=self.answered,
        )


def narrower(a: Media, b: Media) -> Media:
    return "video" if a == "video" and b == "video" else "audio"


def ring_key(call_id: str) -> TimerKey:
    return (RING_TIMER, call_id)


def reclaim_key(call_id: str) -> TimerKey:
    return (RECLAIM_TIMER, call_id)


@dataclass(frozen=True, slots=True)
class Answering:
    """How a device answered a ringing call (or, after a glare, the other side's invite)."""

    session: str
    media: Media
    follows_polite: bool
    took_offer: bool
    made_answer: str | None
    request_id: RequestId
    ticket: str  # both sides' proof of this answered call (parley.core.tickets)


def answer(call: Call, how: Answering, now: float, out: Outcome) -> None:
    """The call is answered by `how.session`: the caller and the answering device are told
    their roles, the callee's other devices stop ringing."""
    session = how.session
    elsewhere = sorted(call.ringing_sessions - {session})
    media_kept = how.media == call.media
    rung_offer, call.offer = call.offer, None
    call.state = CallState.ACTIVE
    call.callee_session = session
    call.answered = now
    call.media = how.media
    call.ringing_sessions = set()
    out.effects.append(CancelTimer(ring_key(call.id)))
    out.effects.append(RecordCall("answered", call.record()))
    # The caller offers when both clients know this rule: it knows it will from the start,
    # so it can prepare the offer while the call rings. Otherwise the rule an older client
    # applies by itself (the room rule), so that both sides agree.
    if call.caller_offers and how.follows_polite:
        caller_polite = False
    else:
        caller_polite = call.caller_session < session
    # The answer answers the offer the devices rang with only if that offer still fits: the
    # caller offers (a rung offer means it said caller_offers; the answerer must too), and
    # nothing was narrowed (a voice answer drops the video offer).
    offer_taken = how.took_offer and how.follows_polite and rung_offer is not None and media_kept
    # An answer made while ringing answers the rung offer: useless (and misleading) to a
    # caller that will send a fresh offer, and lost on a caller that would not look for it
    # (a page from before it). Dropped, the device relays its answer as usual.
    made = how.made_answer
    forwarded = made if offer_taken and call.caller_takes_answer and made else None
    out.send(
        call.caller_session,
        CallAccepted(
            call=call.id,
            media=how.media,
            peer=session,
            polite=caller_polite,
            offer_taken=offer_taken,
            answer=forwarded,
            ticket=how.ticket,
        ),
    )
    out.send(
        session,
        CallAccepted(
            id=how.request_id,
            call=call.id,
            media=how.media,
            peer=call.caller_session,
            polite=not caller_polite,
            offer_taken=offer_taken,
            answer_forwarded=forwarded is not None,
            ticket=how.ticket,
        ),
    )
    stop = CallEnded(call=call.id, reason="answered-elsewhere", by=call.callee.user)
    for device in elsewhere:
        out.send(device, stop)
