"""Joining and leaving rooms: the messages that change a room's members, and what the other
members are told."""

from collections import Counter

from parley.core.effects import Outcome, RecordRoom
from parley.core.quality import ROOM_REPORT
from parley.core.room_links import RoomLinks
from parley.core.rooms import Room, RoomRegistry
from parley.core.sessions import Session
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    ClientMessage,
    Join,
    Joined,
    Leave,
    Left,
    PeerJoined,
    PeerLeft,
    PeerLeftReason,
    PeerReady,
    Ready,
    RoomPeer,
)


class RoomMembership:
    def __init__(self, rooms: RoomRegistry, rooms_per_user: int, links: RoomLinks) -> None:
        self._rooms = rooms
        self._links = links
        self._rooms_per_user = rooms_per_user
        # Rooms each user's sessions are in, against `rooms_per_user`.
        self._per_user: Counter[str] = Counter()

    def join(self, session: Session, message: Join, now: float, out: Outcome) -> None:
        if session.room is not None:
            out.error(
                session.id, ErrorCode.ALREADY_JOINED, "leave the current room first", message.id
            )
            return
        user = session.identity.user if session.identity is not None else ""
        if self._per_user[user] >= self._rooms_per_user:
            out.error(session.id, ErrorCode.TOO_MANY_ROOMS, "leave another room first", message.id)
            return
        refusal = self._links.refusal(message.room, now)
        if refusal is not None:
            out.error(session.id, *refusal, message.id)
            return
        entered = self._rooms.enter(message.room, session.id, now)
        if entered is None:
            out.error(session.id, ErrorCode.ROOM_FULL, "the room is full", message.id)
            return
        room, created = entered
        if created:
            out.effects.append(RecordRoom("started", room.name, room.started))
        session.room = room.name
        # A new room call: its quality may be reported again.
        if session.reported is not None:
            session.reported.discard(ROOM_REPORT)
        session.room_visits += 1
        self._per_user[user] += 1
        others = room.others(session.id)
        out.send(
            session.id,
            Joined(
                id=message.id,
                room=room.name,
                created=created,
                capacity=room.capacity,
                peers=[RoomPeer(id=m.session, ready=m.ready) for m in others],
            ),
        )
        announcement = PeerJoined(peer=session.id)
        for member in others:
            out.send(member.session, announcement)

    def ready(self, session: Session, message: Ready, out: Outcome) -> None:
        room = self._room_of(session, message, out)
        if room is None:
            return
        room.members[session.id].ready = True
        announcement = PeerReady(peer=session.id)
        for member in room.others(session.id):
            out.send(member.session, announcement)

    def leave(self, session: Session, message: Leave, now: float, out: Outcome) -> None:
        name = session.room
        if name is None:
            out.error(session.id, ErrorCode.NOT_IN_ROOM, "you are not in a room", message.id)
            return
        self.exit(session, "left", now, out)
        out.send(session.id, Left(id=message.id, room=name))

    def exit(self, session: Session, reason: PeerLeftReason, now: float, out: Outcome) -> None:
        if session.room is None:
            return
        user = session.identity.user if session.identity is not None else ""
        self._per_user[user] -= 1
        if self._per_user[user] <= 0:
            del self._per_user[user]
        room = self._rooms.exit(session.room, session.id)
        session.room = None
        if room is None:
            return
        if not room.members:
            out.effects.append(RecordRoom("ended", room.name, room.started, now))
        announcement = PeerLeft(peer=session.id, reason=reason)
        for member in room.members.values():
            out.send(member.session, announcement)

    def server_stopping(self, now: float, out: Outcome) -> None:
        """Rooms live in memory: after a restart their members join new ones. These end."""
        for room in self._rooms.all():
            out.effects.append(RecordRoom("ended", room.name, room.started, now))

    def _room_of(self, session: Session, message: ClientMessage, out: Outcome) -> Room | None:
        room = self._rooms.get(session.room) if session.room is not None else None
        if room is None:
            out.error(session.id, ErrorCode.NOT_IN_ROOM, "join a room first", message.id)
        return room

    def export(self) -> dict[str, int]:
        """Rooms per user (see CoreSnapshot)."""
        return dict(self._per_user)

    def restore(self, per_user: dict[str, int]) -> None:
        self._per_user = Counter(per_user)
