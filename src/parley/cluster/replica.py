"""One node's copy of the cluster's state: the log's events, applied in order to a signaling
core. Sans-I/O like the core: every replica fed the same events returns the same effects, and
each node then carries out only those that touch its own sockets."""

from parley.cluster.events import (
    Binary,
    Closed,
    Connected,
    EndCallByApp,
    Event,
    NodeJoined,
    NodeLeft,
    NodeLost,
    SyncRequest,
    Text,
    TimerFired,
)
from parley.cluster.ids import EventIds
from parley.cluster.snapshot import SNAPSHOT_VERSION, Deadline, Position, ReplicaSnapshot
from parley.core.calls import AppEnding
from parley.core.effects import CancelTimer, Effect, StartTimer, TimerKey
from parley.core.frames import effects_of_binary, effects_of_frame
from parley.core.signaling import SignalingCore

__all__ = ["Position", "Replica"]


class Replica:
    def __init__(self, core: SignalingCore, ids: EventIds) -> None:
        self.core = core
        self.ids = ids
        self.position = Position()
        # Nodes in the order they joined: the oldest one fires the cluster's timers.
        self.nodes: dict[str, float] = {}
        # Every open socket in the cluster, and the node that holds it.
        self.connections: dict[str, str] = {}
        # Timers set by the core and not yet fired or cancelled: a timer fires once, however
        # many nodes report it.
        self.deadlines: dict[TimerKey, float] = {}
        # The last entry number taken from each node that wrote to the log (see `admit`). Kept
        # after a node leaves (its entries could be replayed then too): one per node name a
        # generation has seen, which only a join or rejoin adds.
        self.last_seq: dict[str, int] = {}
        # What came of the last EndCallByApp applied (its node answers the app with it).
        self.app_ending: AppEnding | None = None

    def clear(self, generation: str) -> None:
        """Back to an empty log: a new generation."""
        self.ids.start_generation(generation)
        self.core.reset(instance=generation)
        self.position = Position()
        self.nodes = {}
        self.connections = {}
        self.deadlines = {}
        self.last_seq = {}

    def admit(self, origin: str, seq: int) -> bool:
        """Whether an entry (its seal checked) numbered `seq` by `origin` is new: a node's
        numbers only grow, so one that does not was replayed (by someone with access to Redis,
        copying an entry the node wrote earlier). Every replica decides alike."""
        if seq <= self.last_seq.get(origin, 0):
            return False
        self.last_seq[origin] = seq
        return True

    def apply(self, number: int, entry: bytes, event: Event | None, now: float) -> list[Effect]:
        """Applies entry number `number`; `event` None: an entry refused (it still takes its
        place in the log, and changes nothing)."""
        self.ids.begin(number)
        effects = [] if event is None else self._effects(event, now)
        for effect in effects:
            if type(effect) is StartTimer:
                self.deadlines[effect.key] = effect.deadline
            elif type(effect) is CancelTimer:
                self.deadlines.pop(effect.key, None)
        self.position = Position(number, entry)
        return effects

    @property
    def timer_node(self) -> str | None:
        return next(iter(self.nodes), None)

    def sync_source(self, requester: str) -> str | None:
        """The node that answers a sync request: the oldest other one."""
        return next((node for node in self.nodes if node != requester), None)

    def connections_of(self, node: str) -> list[str]:
        return [c for c, holder in self.connections.items() if holder == node]

    def _effects(self, event: Event, now: float) -> list[Effect]:
        core = self.core
        match event:
            case Text(connection, frame):
                return effects_of_frame(core, connection, frame, now)
            case Connected(node, connection, client):
                if node not in self.nodes:
                    return []  # a node already declared lost: its sockets are not served
                self.connections[connection] = node
                return core.connect(now, connection, client=client)[1]
            case Closed(connection, resumable):
                if self.connections.pop(connection, None) is None:
                    return []
                if resumable:
                    return core.connection_lost(connection, now)
                return core.disconnect(connection, now)
            case Binary(connection):
                return effects_of_binary(core, connection)
            case TimerFired(purpose, subject, deadline):
                key = (purpose, subject)
                if self.deadlines.get(key) != deadline:
                    return []  # fired already (another node said so first), or moved
                del self.deadlines[key]
                return core.timer_expired(key, now)
            case NodeJoined(node):
                self.nodes.setdefault(node, now)
                return []
            case NodeLeft(node) | NodeLost(node):
                if self.nodes.pop(node, None) is None:
                    return []
                effects: list[Effect] = []
                for connection in self.connections_of(node):
                    del self.connections[connection]
                    effects += core.connection_lost(connection, now)
                if not self.nodes and type(event) is NodeLeft:
                    # The last node stops: no one is left to ring.
                    effects += core.shutting_down(now)
                return effects
            case SyncRequest():
                return []
            case EndCallByApp(_, call):
                self.app_ending, effects = core.end_call_by_app(call, now)
                return effects

    # --- snapshots ---------------------------------------------------------------------------

    def snapshot(self) -> ReplicaSnapshot:
        return ReplicaSnapshot(
            version=SNAPSHOT_VERSION,
            core=self.core.export_state(),
            nodes=dict(self.nodes),
            connections=dict(self.connections),
            deadlines=[Deadline(p, s, at) for (p, s), at in self.deadlines.items()],
            position=Position(self.position.number, self.position.entry),
            last_seq=dict(self.last_seq),
        )

    def restore(self, snapshot: ReplicaSnapshot) -> None:
        self.core.import_state(snapshot.core)
        self.nodes = dict(snapshot.nodes)
        self.connections = dict(snapshot.connections)
        self.deadlines = {(d.purpose, d.subject): d.at for d in snapshot.deadlines}
        self.position = Position(snapshot.position.number, snapshot.position.entry)
        self.last_seq = dict(snapshot.last_seq)
