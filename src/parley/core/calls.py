"""Direct calls between users, like a phone: invite → ringing → accepted → ended.

Every call ends exactly once, with a reason and the user who ended it, and each end is told to
every session still involved. A user is in at most one call at a time (otherwise: busy).

A call itself is parley.core.direct_call; the calls kept, parley.core.call_book; taking a call
back after a restart, parley.core.reclaim.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from parley.core.call_book import ENDED_CALLS_KEPT, CallBook, CallsState
from parley.core.direct_call import (
    RECLAIM_TIMER,
    RING_TIMER,
    Answering,
    Call,
    CallState,
    answer,
    narrower,
    reclaim_key,
    ring_key,
)
from parley.core.effects import CancelTimer, Outcome, RecordCall, StartTimer, TimerKey
from parley.core.identity import Identity
from parley.core.presence import PresenceRegistry
from parley.core.reclaim import reclaim
from parley.core.sdp import has_addresses
from parley.core.tickets import CallTickets
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    Accept,
    CallEnded,
    Cancel,
    EndReason,
    Hangup,
    IncomingCall,
    Invite,
    Reject,
    RequestId,
    ResumeCall,
    Ringing,
    UserInfo,
)

__all__ = [
    "ENDED_CALLS_KEPT",
    "RECLAIM_TIMER",
    "RING_TIMER",
    "AppEnding",
    "Call",
    "CallService",
    "CallState",
]


@dataclass(frozen=True, slots=True)
class AppEnding:
    """What came of the host app's asking to end a call: `ended` (it was `was`), `over` (it
    ended lately, before), or `unknown` (no such call going on)."""

    result: Literal["ended", "over", "unknown"]
    was: CallState | None = None


class CallService:
    def __init__(
        self,
        presence: PresenceRegistry,
        ring_timeout: float,
        new_id: Callable[[], str],
        tickets: CallTickets,
    ) -> None:
        self._tickets = tickets
        self._presence = presence
        self._ring_timeout = ring_timeout
        self._new_id = new_id
        self._book = CallBook()

    def use_ids(self, new_id: Callable[[], str]) -> None:
        """Call ids come from `new_id` from now on (a cluster node that took over a state)."""
        self._new_id = new_id

    # --- queries ---------------------------------------------------------------------------

    def peer_session(self, session: str, user: str) -> str | None:
        """The other side's session, when `session` is one end of an answered call."""
        return self._book.peer_session(session, user)

    def __len__(self) -> int:
        return len(self._book.calls)

    def involves(self, session: str, user: str) -> bool:
        """Whether `session` takes part in its user's call: as the caller, the answering
        device, a device it rings on, or a side that claims it back after a restart."""
        call = self._book.of_user(user)
        if call is None:
            return False
        return session in (call.caller_session, call.callee_session) or (
            session in call.ringing_sessions
        )

    def is_party(self, call_id: str, user: str, now: float, grace: float) -> bool:
        """`user` is one of the call's two users, and the call is going on or ended at most
        `grace` seconds ago."""
        return self._book.is_party(call_id, user, now, grace)

    def count_by_state(self) -> dict[str, int]:
        return self._book.count_by_state()

    def get(self, call_id: str) -> Call | None:
        return self._book.get(call_id)

    def known_ids(self) -> set[str]:
        return set(self._book.calls)

    def export(self) -> CallsState:
        return self._book.export()

    def restore(self, state: CallsState) -> None:
        self._book.restore(state)

    # --- client actions --------------------------------------------------------------------

    def invite(
        self, session: str, caller: Identity, message: Invite, now: float, out: Outcome
    ) -> None:
        if message.to == caller.user:
            out.error(session, ErrorCode.CANNOT_CALL_SELF, "you cannot call yourself", message.id)
            return
        if message.offer is not None and has_addresses(message.offer):
            out.error(
                session,
                ErrorCode.OFFER_HAS_ADDRESSES,
                "the invite's offer may not carry addresses: they go once the call is answered",
                message.id,
            )
            return
        own = self._book.of_user(caller.user)
        if own is not None:
            if (
                own.state is CallState.RINGING
                and own.callee.user == caller.user
                and own.caller.user == message.to
            ):
                # Glare: both called each other. The later invite answers the earlier call, so
                # both sides end up in the same single call whatever order they pressed in.
                how = Answering(
                    session,
                    narrower(own.media, message.media),
                    message.caller_offers,
                    False,  # its devices rang with the other invite's offer, if any
                    None,
                    message.id,
                    self._tickets.issue(own.id, own.caller.user, own.callee.user),
                )
                answer(own, how, now, out)
                return
            out.error(session, ErrorCode.ALREADY_IN_CALL, "you are already in a call", message.id)
            return
        self._place(session, caller, message, now, out)

    def _place(
        self, session: str, caller: Identity, message: Invite, now: float, out: Outcome
    ) -> None:
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
        # Only a call that rings is history: one to someone offline or busy never reached
        # them, and storing those let a flood of throw-away guests bury real calls.
        if callee_info is None:
            self._end_unconnected(call, "offline", message.id, out)
            return
        if self._book.of_user(callee.user) is not None:
            self._end_unconnected(call, "busy", message.id, out)
            return
        out.effects.append(RecordCall("created", call.record()))
        self._book.add(call, caller.user, callee.user)
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
        out.effects.append(StartTimer(ring_key(call.id), now + self._ring_timeout))

    def accept(self, session: str, user: str, message: Accept, now: float, out: Outcome) -> None:
        call = self._ringing_for_callee(session, user, message.call, message.id, out)
        if call is not None:
            how = Answering(
                session,
                narrower(call.media, message.media),
                message.caller_offers,
                message.offer_taken,
                message.answer,
                message.id,
                self._tickets.issue(call.id, call.caller.user, call.callee.user),
            )
            answer(call, how, now, out)

    def reject(self, session: str, user: str, message: Reject, now: float, out: Outcome) -> None:
        call = self._ringing_for_callee(session, user, message.call, message.id, out)
        if call is not None:
            self._end(call, message.reason, user, session, message.id, now, out)

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
            reason = message.reason
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
        """A call answered before this server forgot it (a restart): see parley.core.reclaim."""
        if not self._reclaim_proven(me, message):
            out.error(session, ErrorCode.CALL_NOT_FOUND, "no such call", message.id)
            return
        reclaim(self._book, self._presence, session, me, message, now, window, out)

    def _reclaim_proven(self, me: Identity, message: ResumeCall) -> bool:
        """Whether `message` shows the ticket of an answered call between exactly these two
        users, in these roles; otherwise the call is treated as never known."""
        caller, callee = (
            (me.user, message.peer) if message.role == "caller" else (message.peer, me.user)
        )
        return caller != callee and self._tickets.valid(
            message.ticket, message.call, caller, callee
        )

    # --- other events ----------------------------------------------------------------------

    def end_by_app(self, call_id: str, now: float, out: Outcome) -> AppEnding:
        """The host app ends a call (moderation): ringing, answered or being taken back, both
        sides hear `call-ended` with reason `ended-by-app`, and it is recorded so."""
        call = self._book.get(call_id)
        if call is None:
            return AppEnding("over" if self._book.ended(call_id) is not None else "unknown")
        was = call.state
        self._end(call, "ended-by-app", None, None, None, now, out)
        return AppEnding("ended", was)

    def end_ringing(self, now: float, out: Outcome) -> None:
        """The server is stopping: a call that still rings cannot be taken back after the
        restart, so it ends now, told to both sides and recorded."""
        for call in [c for c in self._book.calls.values() if c.state is CallState.RINGING]:
            self._end(call, "connection-lost", None, None, None, now, out)

    def reclaim_timeout(self, key: TimerKey, now: float, out: Outcome) -> None:
        call = self._book.get(key[1])
        if call is not None and call.state is CallState.RECLAIMING:
            self._end(call, "connection-lost", None, None, None, now, out)

    def session_closed(self, session: str, user: str, now: float, out: Outcome) -> None:
        call = self._book.of_user(user)
        if call is None:
            return
        if session in (call.caller_session, call.callee_session):
            self._end(call, "connection-lost", user, None, None, now, out, gone=session)
        elif session in call.ringing_sessions:
            call.ringing_sessions.discard(session)
            if not call.ringing_sessions:
                self._end(call, "connection-lost", user, None, None, now, out)

    def ring_timeout(self, key: TimerKey, now: float, out: Outcome) -> None:
        call = self._book.get(key[1])
        if call is not None and call.state is CallState.RINGING:
            self._end(call, "no-answer", None, None, None, now, out)

    # --- endings ---------------------------------------------------------------------------

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
        ended = CallEnded(call=call.id, reason=reason, by=by)
        self._book.close(call, ended, now)
        out.effects.append(CancelTimer(ring_key(call.id)))
        if call.reclaimed:
            out.effects.append(CancelTimer(reclaim_key(call.id)))
        out.effects.append(
            RecordCall("ended", replace(call.record(), ended=now, end_reason=reason, ended_by=by))
        )
        for session in involved:
            if session == requester:
                out.send(session, CallEnded(id=request_id, call=call.id, reason=reason, by=by))
            else:
                out.send(session, ended)

    def _end_unconnected(
        self, call: Call, reason: EndReason, request_id: RequestId, out: Outcome
    ) -> None:
        """A call that never rang: only the caller hears of it, at once, and nothing is kept."""
        out.send(
            call.caller_session,
            CallEnded(id=request_id, call=call.id, reason=reason, by=None),
        )

    # --- helpers ---------------------------------------------------------------------------

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
        call = self._book.get(call_id)
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
