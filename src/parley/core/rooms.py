"""Room membership: who is in which room, in join order, and who has local media up."""

from dataclasses import dataclass, field


@dataclass(slots=True)
class Member:
    session: str
    ready: bool = False


@dataclass(slots=True)
class Room:
    name: str
    capacity: int
    members: dict[str, Member] = field(default_factory=dict)
    # When the first member joined (wall clock): room.started/room.ended webhooks carry it.
    started: float = 0.0

    @property
    def is_full(self) -> bool:
        return len(self.members) >= self.capacity

    def others(self, session: str) -> list[Member]:
        return [m for m in self.members.values() if m.session != session]


class RoomRegistry:
    """Rooms exist while they have members; the first join creates one."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._rooms: dict[str, Room] = {}

    def get(self, name: str) -> Room | None:
        return self._rooms.get(name)

    def enter(self, name: str, session: str, now: float) -> tuple[Room, bool] | None:
        """Adds the session; returns (room, created), or None when the room is full."""
        room = self._rooms.get(name)
        created = room is None
        if room is None:
            room = Room(name, self.capacity, started=now)
        elif room.is_full:
            return None
        room.members[session] = Member(session)
        self._rooms[name] = room
        return room, created

    def exit(self, name: str, session: str) -> Room | None:
        """Removes the session; returns the room, which is forgotten once empty."""
        room = self._rooms.get(name)
        if room is None:
            return None
        room.members.pop(session, None)
        if not room.members:
            del self._rooms[name]
        return room

    def __len__(self) -> int:
        return len(self._rooms)

    def all(self) -> list[Room]:
        return list(self._rooms.values())

    def export(self) -> dict[str, Room]:
        """Copies of the rooms (see CoreSnapshot)."""
        return {name: _copy(room) for name, room in self._rooms.items()}

    def restore(self, rooms: dict[str, Room]) -> None:
        self._rooms = {name: _copy(room) for name, room in rooms.items()}


def _copy(room: Room) -> Room:
    members = {s: Member(m.session, m.ready) for s, m in room.members.items()}
    return Room(room.name, room.capacity, members, room.started)
