"""Carries the core's effects out: frames through the backplane, timers on the event loop."""

import asyncio
import time
from typing import Protocol

from parley.backplane.base import Backplane, SessionSink
from parley.core.calls import AppEnding
from parley.core.effects import (
    CancelTimer,
    CloseConnection,
    CloseSession,
    Effect,
    Rebind,
    RecordCall,
    RecordQuality,
    RecordRoom,
    Send,
    StartTimer,
    TimerKey,
)
from parley.core.frames import effects_of_binary, effects_of_frame
from parley.core.signaling import SignalingCore
from parley.protocol.codec import encode
from parley.protocol.messages import ServerMessage
from parley.server.metrics import Metrics


class HistorySink(Protocol):
    def submit(self, step: RecordCall | RecordQuality | RecordRoom) -> None: ...


class HubUnavailable(Exception):
    """A request the hub cannot carry out now (a cluster node cut off from its Redis)."""


class Hub:
    # Messages to a session with no socket here still count as sent: they wait in its replay
    # log. (A cluster node counts only what it writes: the others count the rest.)
    _count_undelivered = True

    def __init__(
        self,
        core: SignalingCore,
        backplane: Backplane,
        history: HistorySink,
        metrics: Metrics | None = None,
    ) -> None:
        self.core = core
        self.backplane = backplane
        self.history = history
        self.metrics = metrics or Metrics()
        self._loop = asyncio.get_running_loop()
        self._timers: dict[TimerKey, asyncio.TimerHandle] = {}
        self._sinks: dict[str, SessionSink] = {}
        # The session each local socket serves (a resume moves it): what to detach at close.
        self._serves: dict[str, str] = {}

    def open(self, sink: SessionSink, client: str = "") -> str:
        """A socket opened from `client` (its network: per-address limits count by it): returns
        its connection id (the id of its session, until a resume)."""
        connection, effects = self.core.connect(time.time(), client=client)
        self._register(connection, sink)
        self._apply(effects)
        return connection

    def _register(self, connection: str, sink: SessionSink) -> None:
        self._sinks[connection] = sink
        self._serves[connection] = connection
        self.backplane.attach(connection, sink)

    def on_text(self, connection: str, frame: str) -> None:
        self.metrics.received += 1
        self._apply(effects_of_frame(self.core, connection, frame, time.time()))

    def on_binary(self, connection: str) -> None:
        self._apply(effects_of_binary(self.core, connection))

    def close(self, connection: str, *, resumable: bool) -> None:
        """The socket is gone. A resumable session waits for its client to come back; the
        others end now."""
        sink = self._sinks.pop(connection, None)
        serves = self._serves.pop(connection, connection)
        now = time.time()
        if resumable:
            effects = self.core.connection_lost(connection, now)
        else:
            effects = self.core.disconnect(connection, now)
        if sink is not None:
            self.backplane.detach(serves, sink)
        self._apply(effects)

    @property
    def ready(self) -> bool:
        return True

    async def end_call_by_app(self, call_id: str) -> AppEnding:
        """The host app ends a call (the app API); raises HubUnavailable when it cannot be
        carried out now."""
        ending, effects = self.core.end_call_by_app(call_id, time.time())
        self._apply(effects)
        return ending

    async def leave(self) -> None:
        """The server stops: ringing calls end (answered ones go on, for their clients to take
        back after the restart)."""
        self._apply(self.core.shutting_down(time.time()))

    def _apply(self, effects: list[Effect], origin_here: bool = True) -> None:
        """Carries out effects. History is written by one node only: the one whose socket (or
        timer) caused them (`origin_here`)."""
        last_message: ServerMessage | None = None
        last_frame = b""
        metrics = self.metrics
        for effect in effects:
            if type(effect) is Send:  # nearly every effect: before the pattern matching
                message = effect.message
                # Fan-out hands the same message object to each member: encode it once, then
                # splice each member's own `seq` in front.
                if message is not last_message:
                    last_message, last_frame = message, encode(message)
                seq = effect.seq
                frame = b'{"seq":%d,' % seq + last_frame[1:] if seq else last_frame
                if self.backplane.deliver(effect.session, frame) or self._count_undelivered:
                    metrics.message_sent(message)
                continue
            match effect:
                case Rebind(connection, session):
                    sink = self._sinks.get(connection)
                    if sink is not None:
                        self.backplane.detach(self._serves.get(connection, connection), sink)
                        self.backplane.attach(session, sink)
                        self._serves[connection] = session
                case CloseConnection(connection, code, reason):
                    sink = self._sinks.get(connection)
                    if sink is not None:
                        sink.close(code, reason)
                case CloseSession(session, code, reason):
                    self.backplane.close(session, code, reason)
                case StartTimer(key, deadline):
                    # The core's clock is wall time (history needs it); the loop's is monotonic.
                    self._cancel_timer(key)
                    delay = max(0.0, deadline - time.time())
                    self._timers[key] = self._loop.call_later(delay, self._fire, key)
                case CancelTimer(key):
                    self._cancel_timer(key)
                case RecordCall() if origin_here:
                    self.history.submit(effect)
                    metrics.call_step(effect)
                case RecordQuality() | RecordRoom() if origin_here:
                    self.history.submit(effect)

    def _cancel_timer(self, key: TimerKey) -> None:
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()

    def _fire(self, key: TimerKey) -> None:
        self._timers.pop(key, None)
        self._apply(self.core.timer_expired(key, time.time()))
