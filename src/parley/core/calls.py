"""Direct calls between users, like a phone: invite → ringing → accepted → ended.

Every call ends exactly once, with a reason and the user who ended it, and each end is told to
every session still involved. A user is in at most one call at a time (otherwise: busy).
"""

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from parley.core.effects import CallRecord, CancelTimer, Outcome, RecordCall, StartTimer, TimerKey
from parley.core.presence import PresenceRegistry
from parley.identity import Identity
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    Accept,
    CallAccepted,
    CallEnded,
    CallResumed,
    Cancel,
    EndReason,
    Hangup,
    IncomingCall,
    Invite,
    Media,
    Reject,
    RequestId,
    ResumeCall,
    Ringing,
    UserInfo,
)

RING_TIMER = "ring"
RECLAIM_TIMER = "reclaim"
ENDED_CALLS_KEPT = 10_000


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


def _narrower(a: Media, b: Media) -> Media:
    return "video" if a == "video" and b == "video" else "audio"


class CallService:
    def __init__(
        self,
        presence: PresenceRegistry,
        ring_timeout: float,
        new_id: Callable[[], str],
    ) -> None:
        self._presence = presence
        self._ring_timeout = ring_timeout
        self._new_id = new_id
        self._calls: dict[str, Call] = {}
        self._call_of_user: dict[str, str] = {}
        # Calls that ended lately, so that a late `resume-call` hears how instead of waiting.
        self._ended: OrderedDict[str, tuple[tuple[str, str], CallEnded, float]] = OrderedDict()

    def use_ids(self, new_id: Callable[[], str]) -> None:
        """Call ids come from `new_id` from now on (a cluster node that took over a state)."""
        self._new_id = new_id

    # --- queries ---------------------------------------------------------------------------

    def peer_session(self, session: str, user: str) -> str | None:
        """The other side's session, when `session` is one end of an answered call."""
        call = self._user_call(user)
        if call is None or call.state is not CallState.ACTIVE:
            return None
        if session == call.caller_session:
            return call.callee_session
        if session == call.callee_session:
            return call.caller_session
        return None

    def __len__(self) -> int:
        return len(self._calls)

    def is_party(self, call_id: str, user: str, now: float, grace: float) -> bool:
        """`user` is one of the call's two users, and the call is going on or ended at most
        `grace` seconds ago."""
        call = self._calls.get(call_id)
        if call is not None:
            return user in (call.caller.user, call.callee.user)
        ended = self._ended.get(call_id)
        return ended is not None and user in ended[0] and now - ended[2] <= grace

    def count_by_state(self) -> dict[str, int]:
        counts = dict.fromkeys((state.value for state in CallState), 0)
        for call in self._calls.values():
            counts[call.state.value] += 1
        return counts

    def get(self, call_id: str) -> Call | None:
        return self._calls.get(call_id)

    # --- client actions --------------------------------------------------------------------

    def invite(
        self, session: str, caller: Identity, message: Invite, now: float, out: Outcome
    ) -> None:
        if message.to == caller.user:
            out.error(session, ErrorCode.CANNOT_CALL_SELF, "you cannot call yourself", message.id)
            return
        own = self._user_call(caller.user)
        if own is not None:
            if (
                own.state is CallState.RINGING
                and own.callee.user == caller.user
                and own.caller.user == message.to
            ):
                # Glare: both called each other. The later invite answers the earlier call, so
                # both sides end up in the same single call whatever order they pressed in.
                self._answer(
                    own,
                    session,
                    _narrower(own.media, message.media),
                    message.caller_offers,
                    False,  # its devices rang with the other invite's offer, if any
                    None,
                    message.id,
                    now,
                    out,
                )
                return
            out.error(session, ErrorCode.ALREADY_IN_CALL, "you are already in a call", message.id)
            return
        callee_info = self._presence.info(message.to)
        callee = Identity(message.to, callee_info.name if callee_info else "")
        call = Call(
            self._new_id(),
            caller,
            session,
            callee,
            message.media,
            now,
            caller_offers=message.caller_offers,
            offer=message.offer if message.caller_offers else None,
            caller_takes_answer=message.takes_answer,
        )
        out.effects.append(RecordCall("created", call.record()))
        if callee_info is None:
            self._end_unconnected(call, "offline", message.id, now, out)
            return
        if self._user_call(callee.user) is not None:
            self._end_unconnected(call, "busy", message.id, now, out)
            return
        self._calls[call.id] = call
        self._call_of_user[caller.user] = call.id
        self._call_of_user[callee.user] = call.id
        call.ringing_sessions = set(self._presence.sessions_of(callee.user))
        out.send(
            session,
            Ringing(
                id=message.id,
                call=call.id,
                callee=UserInfo(id=callee.user, name=callee.name),
                media=call.media,
            ),
        )
        ring = IncomingCall(
            call=call.id,
            caller=UserInfo(id=caller.user, name=caller.name),
            media=call.media,
            offer=call.offer,
        )
        for device in sorted(call.ringing_sessions):
            out.send(device, ring)
        out.effects.append(StartTimer(_ring_key(call.id), now + self._ring_timeout))

    def accept(self, session: str, user: str, message: Accept, now: float, out: Outcome) -> None:
        call = self._ringing_for_callee(session, user, message.call, message.id, out)
        if call is not None:
            media = _narrower(call.media, message.media)
            self._answer(
                call,
                session,
                media,
                message.caller_offers,
                message.offer_taken,
                message.answer,
                message.id,
                now,
                out,
            )

    def reject(self, session: str, user: str, message: Reject, now: float, out: Outcome) -> None:
        call = self._ringing_for_callee(session, user, message.call, message.id, out)
        if call is not None:
            self._end(call, "declined", user, session, message.id, now, out)

    def cancel(self, session: str, user: str, message: Cancel, now: float, out: Outcome) -> None:
        call = self._party_call(session, user, message.call, message.id, out)
        if call is None:
            return
        if call.caller.user != user:
            out.error(session, ErrorCode.WRONG_CALL_STATE, "only the caller cancels", message.id)
            return
        # Cancel racing an answer: the caller wanted the call over, so it is hung up instead.
        reason: EndReason = "cancelled" if call.state is CallState.RINGING else "hangup"
        self._end(call, reason, user, session, message.id, now, out)

    def hangup(self, session: str, user: str, message: Hangup, now: float, out: Outcome) -> None:
        call = self._party_call(session, user, message.call, message.id, out)
        if call is None:
            return
        reason: EndReason
        if call.state is not CallState.RINGING:
            reason = "hangup"
        else:
            reason = "cancelled" if call.caller.user == user else "declined"
        self._end(call, reason, user, session, message.id, now, out)

    def reclaim(
        self,
        session: str,
        me: Identity,
        message: ResumeCall,
        now: float,
        window: float,
        out: Outcome,
    ) -> None:
        """A call answered before this server forgot it (a restart). It goes on only when both
        of its users claim the same 128-bit call id, each naming the other: nobody can join or
        squat a call whose id they were not given."""
        call = self._calls.get(message.call)
        if call is not None:
            self._reclaim_known(call, session, me, message, out)
            return
        ended = self._ended.get(message.call)
        if ended is not None:
            if me.user not in ended[0]:
                out.error(session, ErrorCode.CALL_NOT_FOUND, "no such call", message.id)
                return
            told = ended[1]
            out.send(
                session, CallEnded(id=message.id, call=told.call, reason=told.reason, by=told.by)
            )
            return
        if message.peer == me.user or self._user_call(message.peer) is not None:
            out.error(session, ErrorCode.CALL_NOT_FOUND, "no such call", message.id)
            return
        if self._user_call(me.user) is not None:
            out.error(session, ErrorCode.ALREADY_IN_CALL, "you are already in a call", message.id)
            return
        peer_info = self._presence.info(message.peer)
        peer = Identity(message.peer, peer_info.name if peer_info else "")
        me_caller = message.role == "caller"
        call = Call(
            id=message.call,
            caller=me if me_caller else peer,
            caller_session=session if me_caller else "",
            callee=peer if me_caller else me,
            callee_session=None if me_caller else session,
            media=message.media,
            created=now,
            state=CallState.RECLAIMING,
            reclaimed=True,
        )
        self._calls[call.id] = call
        self._call_of_user[me.user] = call.id
        out.effects.append(StartTimer(_reclaim_key(call.id), now + window))

    def _reclaim_known(
        self, call: Call, session: str, me: Identity, message: ResumeCall, out: Outcome
    ) -> None:
        me_caller = message.role == "caller"
        mine = (
            (call.caller.user, call.callee.user) == (me.user, message.peer)
            if me_caller
            else (call.callee.user, call.caller.user) == (me.user, message.peer)
        )
        # Only a call this server is taking back after a restart can be claimed: a call going
        # on keeps its devices (another device of the same user knows the id, too).
        if not mine or call.state is not CallState.RECLAIMING:
            out.error(session, ErrorCode.CALL_NOT_FOUND, "no such call", message.id)
            return
        own = self._user_call(me.user)
        if own is not None and own is not call:
            out.error(session, ErrorCode.ALREADY_IN_CALL, "you are already in a call", message.id)
            return
        if me_caller:
            call.caller_session = session
        else:
            call.callee_session = session
        if not call.caller_session or not call.callee_session:
            return  # the same side claimed again: still waiting for the other
        self._call_of_user[call.caller.user] = call.id
        self._call_of_user[call.callee.user] = call.id
        waiting = call.callee_session if me_caller else call.caller_session
        if call.state is CallState.RECLAIMING:
            call.state = CallState.ACTIVE
            call.media = _narrower(call.media, message.media)
            out.effects.append(CancelTimer(_reclaim_key(call.id)))
        out.send(waiting, CallResumed(call=call.id, media=call.media, peer=session))
        out.send(session, CallResumed(id=message.id, call=call.id, media=call.media, peer=waiting))

    def end_ringing(self, now: float, out: Outcome) -> None:
        """The server is stopping: a call that still rings cannot be taken back after the
        restart, so it ends now, told to both sides and recorded."""
        for call in [c for c in self._calls.values() if c.state is CallState.RINGING]:
            self._end(call, "connection-lost", None, None, None, now, out)

    def known_ids(self) -> set[str]:
        return set(self._calls)

    def reclaim_timeout(self, key: TimerKey, now: float, out: Outcome) -> None:
        call = self._calls.get(key[1])
        if call is not None and call.state is CallState.RECLAIMING:
            self._end(call, "connection-lost", None, None, None, now, out)

    # --- other events ----------------------------------------------------------------------

    def session_closed(self, session: str, user: str, now: float, out: Outcome) -> None:
        call = self._user_call(user)
        if call is None:
            return
        if session in (call.caller_session, call.callee_session):
            self._end(call, "connection-lost", user, None, None, now, out, gone=session)
        elif session in call.ringing_sessions:
            call.ringing_sessions.discard(session)
            if not call.ringing_sessions:
                self._end(call, "connection-lost", user, None, None, now, out)

    def ring_timeout(self, key: TimerKey, now: float, out: Outcome) -> None:
        call = self._calls.get(key[1])
        if call is not None and call.state is CallState.RINGING:
            self._end(call, "no-answer", None, None, None, now, out)

    # --- transitions -----------------------------------------------------------------------

    def _answer(
        self,
        call: Call,
        session: str,
        media: Media,
        answerer_follows_polite: bool,
        answerer_took_offer: bool,
        made_answer: str | None,
        request_id: RequestId,
        now: float,
        out: Outcome,
    ) -> None:
        elsewhere = sorted(call.ringing_sessions - {session})
        media_kept = media == call.media
        rung_offer, call.offer = call.offer, None
        call.state = CallState.ACTIVE
        call.callee_session = session
        call.answered = now
        call.media = media
        call.ringing_sessions = set()
        out.effects.append(CancelTimer(_ring_key(call.id)))
        out.effects.append(RecordCall("answered", call.record()))
        # The caller offers when both clients know this rule: it knows it will from the start,
        # so it can prepare the offer while the call rings. Otherwise the rule an older client
        # applies by itself (the room rule), so that both sides agree.
        if call.caller_offers and answerer_follows_polite:
            caller_polite = False
        else:
            caller_polite = call.caller_session < session
        # The answer answers the offer the devices rang with only if that offer still fits: the
        # caller offers (a rung offer means it said caller_offers; the answerer must too), and
        # nothing was narrowed (a voice answer drops the video offer).
        offer_taken = (
            answerer_took_offer
            and answerer_follows_polite
            and rung_offer is not None
            and media_kept
        )
        # An answer made while ringing answers the rung offer: useless (and misleading) to a
        # caller that will send a fresh offer, and lost on a caller that would not look for it
        # (a page from before it). Dropped, the device relays its answer as usual.
        answer = made_answer if offer_taken and call.caller_takes_answer and made_answer else None
        out.send(
            call.caller_session,
            CallAccepted(
                call=call.id,
                media=media,
                peer=session,
                polite=caller_polite,
                offer_taken=offer_taken,
                answer=answer,
            ),
        )
        out.send(
            session,
            CallAccepted(
                id=request_id,
                call=call.id,
                media=media,
                peer=call.caller_session,
                polite=not caller_polite,
                offer_taken=offer_taken,
                answer_forwarded=answer is not None,
            ),
        )
        stop = CallEnded(call=call.id, reason="answered-elsewhere", by=call.callee.user)
        for device in elsewhere:
            out.send(device, stop)

    def _end(
        self,
        call: Call,
        reason: EndReason,
        by: str | None,
        requester: str | None,
        request_id: RequestId,
        now: float,
        out: Outcome,
        gone: str | None = None,
    ) -> None:
        """`requester` is answered (echoing `request_id`) even when it is not among the ringing
        devices; `gone` is a session whose socket closed, so it is told nothing."""
        involved = [s for s in call.involved_sessions() if s != gone]
        if requester is not None and requester not in involved:
            involved.append(requester)
        self._calls.pop(call.id, None)
        for user in (call.caller.user, call.callee.user):
            if self._call_of_user.get(user) == call.id:
                del self._call_of_user[user]
        out.effects.append(CancelTimer(_ring_key(call.id)))
        if call.reclaimed:
            out.effects.append(CancelTimer(_reclaim_key(call.id)))
        out.effects.append(
            RecordCall("ended", replace(call.record(), ended=now, end_reason=reason, ended_by=by))
        )
        ended = CallEnded(call=call.id, reason=reason, by=by)
        self._ended[call.id] = ((call.caller.user, call.callee.user), ended, now)
        if len(self._ended) > ENDED_CALLS_KEPT:
            self._ended.popitem(last=False)
        for session in involved:
            if session == requester:
                out.send(session, CallEnded(id=request_id, call=call.id, reason=reason, by=by))
            else:
                out.send(session, ended)

    def _end_unconnected(
        self, call: Call, reason: EndReason, request_id: RequestId, now: float, out: Outcome
    ) -> None:
        """A call that never rang: only the caller hears of it, at once."""
        out.effects.append(
            RecordCall("ended", replace(call.record(), ended=now, end_reason=reason))
        )
        out.send(
            call.caller_session,
            CallEnded(id=request_id, call=call.id, reason=reason, by=None),
        )

    # --- helpers ---------------------------------------------------------------------------

    def _user_call(self, user: str) -> Call | None:
        call_id = self._call_of_user.get(user)
        return self._calls.get(call_id) if call_id is not None else None

    def _ringing_for_callee(
        self, session: str, user: str, call_id: str, request_id: RequestId, out: Outcome
    ) -> Call | None:
        """The call, when `user` is its callee and it still rings; otherwise answers the error."""
        call = self._party_call(session, user, call_id, request_id, out)
        if call is None:
            return None
        if call.callee.user != user or call.state is not CallState.RINGING:
            out.error(session, ErrorCode.WRONG_CALL_STATE, "the call is not ringing", request_id)
            return None
        return call

    def _party_call(
        self, session: str, user: str, call_id: str, request_id: RequestId, out: Outcome
    ) -> Call | None:
        call = self._calls.get(call_id)
        if call is None or user not in (call.caller.user, call.callee.user):
            out.error(session, ErrorCode.CALL_NOT_FOUND, "no such call", request_id)
            return None
        # The caller's other devices never take part; the callee's stop once one has answered.
        outsider = (call.caller.user == user and session != call.caller_session) or (
            call.callee.user == user
            and call.state is CallState.ACTIVE
            and session != call.callee_session
        )
        if outsider:
            out.error(session, ErrorCode.CALL_NOT_FOUND, "no such call", request_id)
            return None
        return call


def _ring_key(call_id: str) -> TimerKey:
    return (RING_TIMER, call_id)


def _reclaim_key(call_id: str) -> TimerKey:
    return (RECLAIM_TIMER, call_id)
