"""Prometheus metrics for `/metrics`.

Counters that move with traffic are prometheus-client children resolved once, so the relay path
pays one increment per message. Levels (connections, sessions, rooms, calls by state) are read
from the core when Prometheus scrapes, so they cost nothing in between.
"""

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from parley.core.effects import RecordCall
from parley.core.signaling import SignalingCore
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import SERVER_MESSAGE_TYPES, Error, ServerMessage, message_type
from parley.protocol.routing import WIRE_TYPE

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # Per-message counts are plain integers (no lock per increment), exposed at scrape time.
        self.received = 0
        # Relays forwarded unparsed count as the message type the client receives.
        self.sent: dict[type[ServerMessage], int] = dict.fromkeys(
            (*SERVER_MESSAGE_TYPES, *WIRE_TYPE), 0
        )
        self.errors: dict[ErrorCode, int] = dict.fromkeys(ErrorCode, 0)
        self.registry.register(_TrafficCollector(self))
        self.calls_ended = Counter(
            "parley_calls_ended",
            "Direct calls that ended, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.calls_started = Counter(
            "parley_calls_started", "Direct calls placed (invites)", registry=self.registry
        )
        self.call_answer_seconds = Histogram(
            "parley_call_setup_seconds",
            "Invite to answer: how long direct calls rang before they were accepted",
            buckets=(0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60),
            registry=self.registry,
        )

        self.webhooks = Counter(
            "parley_webhook_attempts",
            "Webhook deliveries attempted, by outcome (delivered, retried, failed for good)",
            ["outcome"],
            registry=self.registry,
        )
        self.webhook_queue_depth = Gauge(
            "parley_webhook_queue_depth",
            "Webhook deliveries waiting (all nodes)",
            registry=self.registry,
        )
        self.webhook_queue_age = Gauge(
            "parley_webhook_queue_age_seconds",
            "Age of the oldest webhook delivery still waiting (0 when none)",
            registry=self.registry,
        )
        self.webhook_failed_rows = Gauge(
            "parley_webhook_failed",
            "Webhook deliveries that failed for good and are kept for inspection",
            registry=self.registry,
        )

    def message_sent(self, message: ServerMessage) -> None:
        self.sent[type(message)] += 1
        if type(message) is Error:
            self.errors[message.code] += 1

    def call_step(self, step: RecordCall) -> None:
        record = step.record
        if step.step == "created":
            self.calls_started.inc()
        elif step.step == "answered" and record.answered is not None:
            self.call_answer_seconds.observe(max(0.0, record.answered - record.created))
        elif step.step == "ended" and record.end_reason is not None:
            self.calls_ended.labels(record.end_reason).inc()

    def watch(self, core: SignalingCore, connections: Callable[[], int]) -> None:
        self.registry.register(_LevelsCollector(core, connections))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _TrafficCollector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[CounterMetricFamily]:
        metrics = self._metrics
        yield CounterMetricFamily(
            "parley_messages_received", "Frames received from clients", value=metrics.received
        )
        sent = CounterMetricFamily(
            "parley_messages_sent",
            "Messages sent to sessions, by type (relayed offers, answers, candidates, …)",
            labels=["type"],
        )
        by_type: dict[str, int] = {}
        for cls, count in metrics.sent.items():
            tag = message_type(cls)
            by_type[tag] = by_type.get(tag, 0) + count
        for tag, count in by_type.items():
            sent.add_metric([tag], count)
        yield sent
        errors = CounterMetricFamily(
            "parley_errors", "Error replies sent, by code", labels=["code"]
        )
        for code, count in metrics.errors.items():
            errors.add_metric([code.value], count)
        yield errors


class _LevelsCollector(Collector):
    def __init__(self, core: SignalingCore, connections: Callable[[], int]) -> None:
        self._core = core
        self._connections = connections

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        core = self._core
        yield GaugeMetricFamily(
            "parley_connections", "Open WebSocket connections", value=self._connections()
        )
        sessions = GaugeMetricFamily(
            "parley_sessions",
            "Sessions, connected or away (waiting for a resume)",
            labels=["state"],
        )
        away = core.away_count
        sessions.add_metric(["connected"], core.session_count - away)
        sessions.add_metric(["away"], away)
        yield sessions
        yield GaugeMetricFamily("parley_rooms", "Rooms with members", value=len(core.rooms))
        calls = GaugeMetricFamily("parley_calls", "Direct calls by state", labels=["state"])
        for state, count in sorted(core.calls.count_by_state().items()):
            calls.add_metric([state], count)
        yield calls
        yield GaugeMetricFamily(
            "parley_users_online", "Users online for calls", value=len(core.presence)
        )
        yield CounterMetricFamily(
            "parley_turn_credentials_issued",
            "TURN credentials issued",
            value=core.turn_credentials_issued,
        )
