"""A cluster node's own side: the sockets it holds and the timers it watches. What its sockets
send is not handled here but appended to the log (parley.cluster.pump); what it cannot append
(Redis is away) is answered here, never silently dropped."""

import asyncio
import itertools
from collections.abc import Callable, Sequence

import redis.asyncio as redis

from parley.backplane.base import SessionSink
from parley.backplane.memory import MemoryBackplane
from parley.cluster.events import (
    Binary,
    Closed,
    Connected,
    EndCallByApp,
    Event,
    Text,
    TimerFired,
)
from parley.cluster.ids import EventIds
from parley.cluster.redis_log import RedisLog, connect
from parley.cluster.replica import Replica
from parley.cluster.seal import Seal
from parley.core.calls import AppEnding
from parley.core.effects import StartTimer, TimerKey
from parley.core.ids import random_id
from parley.core.signaling import SignalingCore
from parley.protocol.close_codes import CloseCode
from parley.protocol.codec import DecodeFailure, decode_client_frame, encode
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import Error
from parley.server.hub import HistorySink, Hub, HubUnavailable
from parley.server.metrics import Metrics

# A timer's deadline passed and the oldest node did not report it: the node it was meant for
# may be dead (and not yet declared so). Any node reports it this much later.
TIMER_TAKEOVER_SECONDS = 2.0
# The app API waits this long for its request to come back through the log.
APP_REQUEST_SECONDS = 10.0
NOT_APPENDED = "the server cannot reach its cluster; the call was not ended"


class NodeLocal(Hub):
    """The state of a cluster node (see parley.cluster.node.ClusterHub) and its socket side."""

    _count_undelivered = False

    def __init__(
        self,
        core: SignalingCore,
        ids: EventIds,
        redis_url: str,
        history: HistorySink,
        metrics: Metrics | None = None,
        *,
        secret: bytes,
    ) -> None:
        super().__init__(core, MemoryBackplane(), history, metrics)
        self.ids = ids
        self.replica = Replica(core, ids)
        self._redis_url = redis_url
        self._redis = connect(redis_url)
        self._seal = Seal(secret)
        # Numbers every entry this node appends, in every log and under every name it has.
        self._seqs = itertools.count(1)
        self._log: RedisLog | None = None
        self.node = ""
        # When this node started its generation (it then finishes calls an earlier one left).
        self.founded_at: float | None = None
        # Told when this node starts a generation (the app then finishes the calls an earlier
        # one left open).
        self.on_founded: Callable[[float], None] | None = None
        self._outbox: list[Event] = []
        self._outbox_ready = asyncio.Event()
        # Batches this node appended (numbered, so that a late one can be shut out), and the
        # one whose append had no answer yet.
        self._batches = 0
        self._unsettled: tuple[int, list[Event]] | None = None
        # Closes seen while Redis was away: the cluster must still hear of them.
        self._held_closes: list[Closed] = []
        self._available = False
        self._joined = asyncio.Event()
        self._left = asyncio.Event()
        self._leaving = False
        self._runner: asyncio.Task[None] | None = None
        self._snapshots: set[asyncio.Task[None]] = set()
        # The app API's requests appended here, waiting for the log to apply them.
        self._app_requests: dict[str, asyncio.Future[AppEnding]] = {}

    def _log_of(self, generation: str, client: redis.Redis | None = None) -> RedisLog:
        return RedisLog(client or self._redis, generation, self._seal, self._seqs)

    @property
    def ready(self) -> bool:
        return self._available and self._joined.is_set() and not self._leaving

    # --- the socket side --------------------------------------------------------------------

    def open(self, sink: SessionSink, client: str = "") -> str:
        connection = random_id()
        self._register(connection, sink)
        if self.ready:
            self._enqueue(Connected(self.node, connection, client))
        else:
            sink.close(CloseCode.SERVICE_RESTART, "server not ready")
        return connection

    def on_text(self, connection: str, frame: str) -> None:
        self.metrics.received += 1
        if self._available:
            self._enqueue(Text(connection, frame))
        else:
            self._unavailable(connection, frame)

    def on_binary(self, connection: str) -> None:
        if self._available:
            self._enqueue(Binary(connection))
        else:
            self._unavailable(connection, None)

    def close(self, connection: str, *, resumable: bool) -> None:
        sink = self._sinks.pop(connection, None)
        if sink is None:
            return
        # The session this socket was bound to here: the core may have moved it to a socket
        # on another node already (a takeover), and must not be asked.
        self.backplane.detach(self._serves.pop(connection, connection), sink)
        event = Closed(connection, resumable)
        if self._available:
            self._enqueue(event)
        else:
            self._held_closes.append(event)

    async def end_call_by_app(self, call_id: str) -> AppEnding:
        """Goes through the log, as a socket's message would: every replica ends the call at
        the same point, and this node answers once its own replica has."""
        if not self.ready:
            raise HubUnavailable(NOT_APPENDED)
        request = random_id()
        waiting: asyncio.Future[AppEnding] = self._loop.create_future()
        self._app_requests[request] = waiting
        self._enqueue(EndCallByApp(request, call_id))
        try:
            async with asyncio.timeout(APP_REQUEST_SECONDS):
                return await waiting
        except TimeoutError:
            raise HubUnavailable("the cluster did not confirm in time; ask again") from None
        finally:
            self._app_requests.pop(request, None)

    def _answer_app(self, request: str, ending: AppEnding) -> None:
        waiting = self._app_requests.pop(request, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(ending)

    def _unavailable(self, connection: str, frame: str | None) -> None:
        """Answers a frame that cannot enter the log (Redis is away): never silence."""
        sink = self._sinks.get(connection)
        if sink is None:
            return
        decoded = None if frame is None else decode_client_frame(frame)
        request_id = None if decoded is None or isinstance(decoded, DecodeFailure) else decoded.id
        error = Error(
            id=request_id,
            code=ErrorCode.UNAVAILABLE,
            message="the server cannot reach its cluster; this message was not delivered",
        )
        sink.push(encode(error))
        self.metrics.message_sent(error)

    def _enqueue(self, event: Event) -> None:
        self._outbox.append(event)
        self._outbox_ready.set()

    def _refuse_outbox(self) -> None:
        """Events still waiting to be appended when Redis went away will not be: answer now."""
        waiting, self._outbox = self._outbox, []
        self._not_appended(waiting)

    def _not_appended(self, batch: Sequence[Event]) -> None:
        """Events Redis may not have taken. A frame is answered with an error; a close is kept
        for later; a socket that never entered the cluster is closed for its client to retry."""
        for event in batch:
            match event:
                case Text(connection, frame):
                    self._unavailable(connection, frame)
                case Closed():
                    self._held_closes.append(event)
                case Connected(_, connection, _):
                    sink = self._sinks.get(connection)
                    if sink is not None:
                        sink.close(CloseCode.SERVICE_RESTART, "server not ready")
                case EndCallByApp(request):
                    waiting = self._app_requests.pop(request, None)
                    if waiting is not None and not waiting.done():
                        waiting.set_exception(HubUnavailable(NOT_APPENDED))
                case _:
                    pass  # timers and node events are raised again by whoever sees them due

    def _drop_sockets(self) -> None:
        for sink in list(self._sinks.values()):
            sink.close(CloseCode.SERVICE_RESTART, "server restarting")
        self._sinks.clear()
        self.backplane = MemoryBackplane()
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    # --- timers: one node reports each, and every replica fires it once ------------------------

    def _fire(self, key: TimerKey) -> None:
        self._timers.pop(key, None)
        deadline = self.replica.deadlines.get(key)
        if deadline is None:
            return
        if self.replica.timer_node == self.node:
            self._enqueue(TimerFired(key[0], key[1], deadline))
        else:
            self._timers[key] = self._loop.call_later(
                TIMER_TAKEOVER_SECONDS, self._fire_late, key, deadline
            )

    def _fire_late(self, key: TimerKey, deadline: float) -> None:
        self._timers.pop(key, None)
        if self.replica.deadlines.get(key) == deadline:
            self._enqueue(TimerFired(key[0], key[1], deadline))

    def _schedule_all_timers(self) -> None:
        for key, deadline in self.replica.deadlines.items():
            self._apply([StartTimer(key, deadline)], origin_here=False)
