"""Sessions: who each one is, which socket serves it, and what it was sent.

A session outlives its socket: when the socket drops, the session waits (`away`) for its client
to resume it on a new socket, for the resume window. Every message it is sent is numbered
(`seq`) as it enters its replay log, so that a resumed client is sent exactly what it missed.
"""

from collections import Counter
from dataclasses import dataclass

import msgspec

from parley.core.effects import CancelTimer, CloseConnection, Effect, Outcome, Rebind, Send
from parley.core.identity import Identity
from parley.core.replay import LogState, ReplayLog
from parley.core.settings import CoreSettings
from parley.protocol.close_codes import CloseCode
from parley.protocol.messages import Welcome

HELLO_TIMER = "hello"
RESUME_TIMER = "resume"


@dataclass(slots=True)
class Session:
    id: str
    log: ReplayLog
    # The socket serving the session; None while it is away (dropped, waiting for a resume).
    connection: str | None = None
    identity: Identity | None = None
    presence: bool = False
    room: str | None = None
    resume_token: str | None = None
    # What this session already reported the quality of: a call id, or "room" until it joins
    # again. A repeat is acknowledged but not stored twice.
    # (Made on the first report: every idle session would otherwise carry an empty set.)
    reported: set[str] | None = None
    room_visits: int = 0
    # While away: how many messages it missed, counting from which seq.
    missed: int = 0
    missed_from: int = 0
    # The network its socket came from (per-address limits): the latest socket's, after a resume.
    client: str = ""

    @property
    def welcomed(self) -> bool:
        return self.identity is not None


class SessionState(msgspec.Struct, frozen=True, kw_only=True):
    """A Session as plain data (see CoreSnapshot)."""

    id: str
    log: LogState
    connection: str | None
    identity: Identity | None
    presence: bool
    room: str | None
    resume_token: str | None
    reported: list[str] | None
    room_visits: int
    missed: int
    missed_from: int
    client: str = ""


class SessionsState(msgspec.Struct, frozen=True, kw_only=True):
    """A SessionTable as plain data (see CoreSnapshot)."""

    sessions: list[SessionState]
    connections: dict[str, str]
    resume_tokens: dict[str, str]
    away_by_user: dict[str, list[str]]
    per_user: dict[str, int]


class SessionTable:
    def __init__(self, settings: CoreSettings) -> None:
        self._settings = settings
        self.by_id: dict[str, Session] = {}
        # Socket → session: equal ids for a fresh session; a resumed socket serves an older one.
        self.by_connection: dict[str, str] = {}
        self._resume_tokens: dict[str, str] = {}
        # Per user, the sessions waiting for a resume, oldest first.
        self._away_by_user: dict[str, list[str]] = {}
        # Welcomed sessions per user: a user's rate limits are forgotten with the last one.
        self._per_user: Counter[str] = Counter()

    # --- queries ---------------------------------------------------------------------------

    def get(self, session_id: str) -> Session | None:
        return self.by_id.get(session_id)

    def of_connection(self, connection: str) -> Session | None:
        session_id = self.by_connection.get(connection)
        return self.by_id.get(session_id) if session_id is not None else None

    def is_taken(self, name: str) -> bool:
        return name in self.by_id or name in self.by_connection

    def __len__(self) -> int:
        return len(self.by_id)

    @property
    def away_count(self) -> int:
        return sum(1 for session in self.by_id.values() if session.connection is None)

    def resumable(self, token: str, user: str) -> Session | None:
        """The session `token` resumes, when it is `user`'s."""
        target_id = self._resume_tokens.get(token)
        target = self.by_id.get(target_id) if target_id is not None else None
        if target is None or target.identity is None or target.identity.user != user:
            return None
        return target

    # --- life and death --------------------------------------------------------------------

    def open(self, session_id: str, client: str = "") -> Session:
        """A provisional session for a new socket, named like the socket."""
        session = Session(
            session_id,
            ReplayLog(self._settings.log_capacity, self._settings.replay_bytes),
            connection=session_id,
            client=client,
        )
        self.by_id[session_id] = session
        self.by_connection[session_id] = session_id
        return session

    def admit(self, session: Session, identity: Identity, resume_token: str | None) -> None:
        """The session's hello was accepted, for `identity`."""
        session.identity = identity
        if resume_token is not None:
            session.resume_token = resume_token
            self._resume_tokens[resume_token] = session.id
        self._per_user[identity.user] += 1

    def detach(self, connection: str) -> Session | None:
        """Forgets the socket; the session it served, unless another socket took it over."""
        session_id = self.by_connection.pop(connection, None)
        session = self.by_id.get(session_id) if session_id is not None else None
        if session is None or session.connection != connection:
            return None
        session.connection = None
        return session

    def go_away(self, session: Session) -> None:
        """The session's socket dropped: it waits for a resume, counted against its user."""
        assert session.identity is not None
        session.missed = 0
        session.missed_from = session.log.last_seq + 1
        self._away_by_user.setdefault(session.identity.user, []).append(session.id)

    def over_away_cap(self, user: str) -> Session | None:
        """The oldest of `user`'s sessions waiting for a resume, while there are more than
        allowed. A socket slot is freed when it drops, so without a cap one user could keep
        any number of sessions (and their replay logs) alive by dropping sockets."""
        away = self._away_by_user.get(user, [])
        while len(away) > self._settings.away_sessions_per_user:
            oldest = self.by_id.get(away[0])
            if oldest is not None and oldest.connection is None:
                return oldest
            away.pop(0)
        return None

    def take_over(self, provisional: Session, target: Session, out: Outcome) -> None:
        """A resume: the provisional session's socket serves `target` from now on."""
        connection = provisional.connection
        assert connection is not None
        del self.by_id[provisional.id]
        out.effects.append(CancelTimer((HELLO_TIMER, provisional.id)))
        if target.connection is not None:
            out.effects.append(
                CloseConnection(
                    target.connection, CloseCode.TAKEN_OVER, "session resumed elsewhere"
                )
            )
            self.by_connection.pop(target.connection, None)
        self._back(target)
        target.connection = connection
        target.client = provisional.client
        target.missed = 0
        self.by_connection[connection] = target.id
        out.effects.append(CancelTimer((RESUME_TIMER, target.id)))
        out.effects.append(Rebind(connection, target.id))

    def remove(self, session: Session, out: Outcome) -> bool:
        """Forgets an ending session, closing its socket and timers; True when it was its
        user's last one."""
        session_id = session.id
        del self.by_id[session_id]
        self._back(session)
        if session.connection is not None:
            self.by_connection.pop(session.connection, None)
            out.effects.append(
                CloseConnection(session.connection, CloseCode.TAKEN_OVER, "session ended")
            )
        out.effects.append(CancelTimer((HELLO_TIMER, session_id)))
        if session.resume_token is not None:
            self._resume_tokens.pop(session.resume_token, None)
            out.effects.append(CancelTimer((RESUME_TIMER, session_id)))
        if session.identity is None:
            return False
        user = session.identity.user
        self._per_user[user] -= 1
        if self._per_user[user] > 0:
            return False
        del self._per_user[user]
        return True

    def _back(self, session: Session) -> None:
        """The session is no longer waiting for a resume (resumed, or ended)."""
        if session.identity is None:
            return
        away = self._away_by_user.get(session.identity.user)
        if away is not None and session.id in away:
            away.remove(session.id)
            if not away:
                del self._away_by_user[session.identity.user]

    # --- numbering -------------------------------------------------------------------------

    def number(self, effects: list[Effect], start: int) -> list[Session]:
        """Numbers the messages of `effects[start:]` into their sessions' logs; returns the
        sessions away that missed more than a resume could replay."""
        overflowed: list[Session] = []
        for effect in effects[start:]:
            # `welcome` is not numbered: it starts (or restarts) the count.
            if type(effect) is not Send or effect.seq or type(effect.message) is Welcome:
                continue
            session = self.by_id.get(effect.session)
            if session is None:
                continue
            effect.seq = session.log.append(effect.message)
            if session.connection is None:
                session.missed += 1
                lost = (
                    session.missed > self._settings.resume_queue
                    or session.log.oldest_seq > session.missed_from
                )
                if lost and session not in overflowed:
                    overflowed.append(session)
        return overflowed

    # --- snapshots -------------------------------------------------------------------------

    def export(self) -> SessionsState:
        return SessionsState(
            sessions=[_session_state(s) for s in self.by_id.values()],
            connections=dict(self.by_connection),
            resume_tokens=dict(self._resume_tokens),
            away_by_user={user: list(ids) for user, ids in self._away_by_user.items()},
            per_user=dict(self._per_user),
        )

    def restore(self, state: SessionsState) -> None:
        self.by_id = {s.id: _session(s) for s in state.sessions}
        self.by_connection = dict(state.connections)
        self._resume_tokens = dict(state.resume_tokens)
        self._away_by_user = {user: list(ids) for user, ids in state.away_by_user.items()}
        self._per_user = Counter(state.per_user)


def _session_state(session: Session) -> SessionState:
    return SessionState(
        id=session.id,
        log=session.log.export(),
        connection=session.connection,
        identity=session.identity,
        presence=session.presence,
        room=session.room,
        resume_token=session.resume_token,
        reported=sorted(session.reported) if session.reported is not None else None,
        room_visits=session.room_visits,
        missed=session.missed,
        missed_from=session.missed_from,
        client=session.client,
    )


def _session(state: SessionState) -> Session:
    return Session(
        state.id,
        ReplayLog.restore(state.log),
        connection=state.connection,
        identity=state.identity,
        presence=state.presence,
        room=state.room,
        resume_token=state.resume_token,
        reported=set(state.reported) if state.reported is not None else None,
        room_visits=state.room_visits,
        missed=state.missed,
        missed_from=state.missed_from,
        client=state.client,
    )
