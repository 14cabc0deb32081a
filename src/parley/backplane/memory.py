"""Single-process backplane: sessions are the sockets of this process."""

from parley.backplane.base import SessionSink


class MemoryBackplane:
    def __init__(self) -> None:
        self._sinks: dict[str, SessionSink] = {}

    def attach(self, session: str, sink: SessionSink) -> None:
        self._sinks[session] = sink

    def detach(self, session: str, sink: SessionSink) -> None:
        if self._sinks.get(session) is sink:
            del self._sinks[session]

    def deliver(self, session: str, frame: bytes) -> bool:
        sink = self._sinks.get(session)
        if sink is None:
            return False
        sink.push(frame)
        return True

    def close(self, session: str, code: int, reason: str) -> bool:
        sink = self._sinks.get(session)
        if sink is None:
            return False
        sink.close(code, reason)
        return True
