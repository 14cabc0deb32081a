"""Sends the webhook outbox: signed POSTs, retried with backoff, off the signaling path.

One task per process. It claims due rows from the database (so in a cluster each row is sent
by one node), posts each endpoint's rows in order, and sleeps until the history writer queues
more or a retry falls due. A receiver that hangs costs this task a timeout, never a frame.
"""

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass

import aiohttp

from parley.protocol.webhooks import SIGNATURE_HEADER, sign
from parley.server.metrics import Metrics
from parley.storage.outbox import Delivery, Outbox

log = logging.getLogger(__name__)

# Rows claimed at once: a burst of call endings goes out in a few round trips.
BATCH = 64
# Even when nothing wakes it, the sender looks again this often: retries fall due, and in a
# cluster other nodes queue rows this one is not told about.
POLL_SECONDS = 1.0
# No wait between attempts grows past an hour: a receiver back up is served within the hour.
MAX_RETRY_SECONDS = 3600.0
# A claim outlives the attempt by this much, so that a slow database write after the POST
# never lets another node send the row a second time.
LEASE_SLACK_SECONDS = 30.0
USER_AGENT = "Parley-Webhooks/1"


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    secret: bytes
    timeout_seconds: float = 10.0
    first_retry_seconds: float = 5.0
    give_up_seconds: float = 24 * 3600.0

    def retry_delay(self, attempts: int) -> float:
        """Before attempt `attempts + 1`: doubling from the first retry, capped at an hour,
        with jitter (half to all of it) so that many endpoints do not retry in step."""
        ceiling = min(self.first_retry_seconds * 2.0 ** max(attempts - 1, 0), MAX_RETRY_SECONDS)
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret


class WebhookSender:
    def __init__(self, outbox: Outbox, policy: WebhookPolicy, metrics: Metrics) -> None:
        self.outbox = self._outbox = outbox
        self._policy = policy
        self._metrics = metrics
        self._work = asyncio.Event()
        self._holding: set[int] = set()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """New rows are in the outbox."""
        self._work.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stops sending and gives back the rows it held: the next start (here or on another
        node) sends them at once instead of after the lease."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self._outbox.release(sorted(self._holding))
        self._holding.clear()

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self._policy.timeout_seconds)
        headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
        async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
            while True:
                try:
                    sent = await self._send_due(session)
                    await self._measure()
                except Exception:
                    log.exception("webhook delivery failed; trying again shortly")
                    sent = 0
                if sent < BATCH:  # a full batch: more are likely due at once
                    self._work.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(POLL_SECONDS):
                            await self._work.wait()

    async def _send_due(self, session: aiohttp.ClientSession) -> int:
        lease = self._policy.timeout_seconds * BATCH + LEASE_SLACK_SECONDS
        deliveries = await self._outbox.claim(time.time(), lease, BATCH)
        self._holding.update(d.row for d in deliveries)
        by_endpoint: dict[str, list[Delivery]] = {}
        for delivery in deliveries:
            by_endpoint.setdefault(delivery.endpoint, []).append(delivery)
        # Endpoints in parallel (one down does not hold up another), each one's rows in order.
        await asyncio.gather(*(self._send_all(session, rows) for rows in by_endpoint.values()))
        return len(deliveries)

    async def _send_all(self, session: aiohttp.ClientSession, rows: list[Delivery]) -> None:
        for index, delivery in enumerate(rows):
            error = await self._post(session, delivery)
            retry_at = await self._settle(delivery, error)
            self._holding.discard(delivery.row)
            if retry_at is not None:
                # The endpoint is down: its later rows wait with this one instead of each
                # costing a timeout now (and they keep their order).
                later = [d.row for d in rows[index + 1 :]]
                await self._outbox.defer(later, retry_at)
                self._holding.difference_update(later)
                return

    async def _post(self, session: aiohttp.ClientSession, delivery: Delivery) -> str | None:
        """One attempt; None when the receiver took it (any 2xx), else what went wrong."""
        signature = sign(self._policy.secret, delivery.body, int(time.time()))
        try:
            async with session.post(
                delivery.endpoint,
                data=delivery.body,
                headers={SIGNATURE_HEADER: signature},
                allow_redirects=False,  # a redirect is an answer to fix, not to follow
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except TimeoutError:
            return f"no answer within {self._policy.timeout_seconds:g} s"
        except aiohttp.ClientError as exc:
            return f"{type(exc).__name__}: {exc}"

    async def _settle(self, delivery: Delivery, error: str | None) -> float | None:
        """Records the attempt; returns when it is retried, if it is."""
        metrics = self._metrics
        now = time.time()
        if error is None:
            await self._outbox.delivered(delivery.row)
            metrics.webhooks.labels("delivered").inc()
            return None
        retry_at = now + self._policy.retry_delay(delivery.attempts + 1)
        if retry_at - delivery.created > self._policy.give_up_seconds:
            await self._outbox.fail(delivery.row, now, error)
            metrics.webhooks.labels("failed").inc()
            log.error(
                "webhook %s to %s failed for good after %d attempts: %s",
                delivery.event_id, delivery.endpoint, delivery.attempts + 1, error,
            )  # fmt: skip
            return now
        await self._outbox.retry(delivery.row, retry_at, error)
        metrics.webhooks.labels("retried").inc()
        log.warning(
            "webhook %s to %s: %s; retrying in %.0f s",
            delivery.event_id, delivery.endpoint, error, retry_at - now,
        )  # fmt: skip
        return retry_at

    async def _measure(self) -> None:
        level = await self._outbox.level()
        self._metrics.webhook_queue_depth.set(level.pending)
        self._metrics.webhook_failed_rows.set(level.failed)
        age = 0.0 if level.oldest_pending is None else max(0.0, time.time() - level.oldest_pending)
        self._metrics.webhook_queue_age.set(age)
