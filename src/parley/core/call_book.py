"""Every call going on, which call each user is in, and how the latest calls ended."""

from dataclasses import replace

import msgspec

from parley.core.direct_call import Call, CallState
from parley.protocol.messages import CallEnded

ENDED_CALLS_KEPT = 10_000


class EndedCall(msgspec.Struct, frozen=True, array_like=True):
    users: tuple[str, str]
    told: CallEnded
    at: float


class CallsState(msgspec.Struct, frozen=True, kw_only=True):
    """A CallBook as plain data (see CoreSnapshot)."""

    calls: list[Call]
    call_of_user: dict[str, str]
    # Oldest first.
    ended: dict[str, EndedCall]


class CallBook:
    def __init__(self) -> None:
        self.calls: dict[str, Call] = {}
        self._call_of_user: dict[str, str] = {}
        # Calls that ended lately, so that a late `resume-call` hears how instead of waiting.
        self._ended: dict[str, EndedCall] = {}

    def get(self, call_id: str) -> Call | None:
        return self.calls.get(call_id)

    def of_user(self, user: str) -> Call | None:
        call_id = self._call_of_user.get(user)
        return self.calls.get(call_id) if call_id is not None else None

    def ended(self, call_id: str) -> EndedCall | None:
        return self._ended.get(call_id)

    def add(self, call: Call, *users: str) -> None:
        """Keeps `call`, as the call of each of `users`."""
        self.calls[call.id] = call
        self.belongs_to(call, *users)

    def belongs_to(self, call: Call, *users: str) -> None:
        for user in users:
            self._call_of_user[user] = call.id

    def close(self, call: Call, told: CallEnded, now: float) -> None:
        """Forgets a call that ended, keeping how (`told`) for a while."""
        self.calls.pop(call.id, None)
        for user in (call.caller.user, call.callee.user):
            if self._call_of_user.get(user) == call.id:
                del self._call_of_user[user]
        self._ended[call.id] = EndedCall((call.caller.user, call.callee.user), told, now)
        if len(self._ended) > ENDED_CALLS_KEPT:
            del self._ended[next(iter(self._ended))]

    def export(self) -> CallsState:
        return CallsState(
            calls=[
                replace(c, ringing_sessions=set(c.ringing_sessions)) for c in self.calls.values()
            ],
            call_of_user=dict(self._call_of_user),
            ended=dict(self._ended),
        )

    def restore(self, state: CallsState) -> None:
        self.calls = {
            c.id: replace(c, ringing_sessions=set(c.ringing_sessions)) for c in state.calls
        }
        self._call_of_user = dict(state.call_of_user)
        self._ended = dict(state.ended)

    # --- queries ---------------------------------------------------------------------------

    def peer_session(self, session: str, user: str) -> str | None:
        """The other side's session, when `session` is one end of an answered call."""
        call = self.of_user(user)
        if call is None or call.state is not CallState.ACTIVE:
            return None
        if session == call.caller_session:
            return call.callee_session
        if session == call.callee_session:
            return call.caller_session
        return None

    def is_party(self, call_id: str, user: str, now: float, grace: float) -> bool:
        """`user` is one of the call's two users, and the call is going on or ended at most
        `grace` seconds ago."""
        call = self.calls.get(call_id)
        if call is not None:
            return user in (call.caller.user, call.callee.user)
        ended = self._ended.get(call_id)
        return ended is not None and user in ended.users and now - ended.at <= grace

    def count_by_state(self) -> dict[str, int]:
        counts = dict.fromkeys((state.value for state in CallState), 0)
        for call in self.calls.values():
            counts[call.state.value] += 1
        return counts
