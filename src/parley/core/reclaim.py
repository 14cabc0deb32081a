"""`resume-call`: taking an answered call back after the server restarted and forgot it.

It goes on only when both of its users claim the same 128-bit call id, each naming the other:
nobody can join or squat a call whose id they were not given.
"""

from parley.core.call_book import CallBook
from parley.core.direct_call import Call, CallState, narrower, reclaim_key
from parley.core.effects import CancelTimer, Outcome, StartTimer
from parley.core.identity import Identity
from parley.core.presence import PresenceRegistry
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import CallEnded, CallResumed, ResumeCall


def reclaim(
    book: CallBook,
    presence: PresenceRegistry,
    session: str,
    me: Identity,
    message: ResumeCall,
    now: float,
    window: float,
    out: Outcome,
) -> None:
    call = book.get(message.call)
    if call is not None:
        _reclaim_known(book, call, session, me, message, out)
        return
    ended = book.ended(message.call)
    if ended is not None:
        if me.user not in ended.users:
            out.error(session, ErrorCode.CALL_NOT_FOUND, "no such call", message.id)
            return
        told = ended.told
        out.send(session, CallEnded(id=message.id, call=told.call, reason=told.reason, by=told.by))
        return
    if message.peer == me.user or book.of_user(message.peer) is not None:
        out.error(session, ErrorCode.CALL_NOT_FOUND, "no such call", message.id)
        return
    if book.of_user(me.user) is not None:
        out.error(session, ErrorCode.ALREADY_IN_CALL, "you are already in a call", message.id)
        return
    peer_info = presence.info(message.peer)
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
    book.add(call, me.user)
    out.effects.append(StartTimer(reclaim_key(call.id), now + window))


def _reclaim_known(
    book: CallBook, call: Call, session: str, me: Identity, message: ResumeCall, out: Outcome
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
    own = book.of_user(me.user)
    if own is not None and own is not call:
        out.error(session, ErrorCode.ALREADY_IN_CALL, "you are already in a call", message.id)
        return
    if me_caller:
        call.caller_session = session
    else:
        call.callee_session = session
    if not call.caller_session or not call.callee_session:
        return  # the same side claimed again: still waiting for the other
    book.belongs_to(call, call.caller.user, call.callee.user)
    waiting = call.callee_session if me_caller else call.caller_session
    if call.state is CallState.RECLAIMING:
        call.state = CallState.ACTIVE
        call.media = narrower(call.media, message.media)
        out.effects.append(CancelTimer(reclaim_key(call.id)))
    out.send(waiting, CallResumed(call=call.id, media=call.media, peer=session))
    out.send(session, CallResumed(id=message.id, call=call.id, media=call.media, peer=waiting))
