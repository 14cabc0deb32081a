"""The aiohttp application: pages, `/ws`, and an orderly shutdown."""

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from parley.config import ServerSettings
from parley.core.signaling import SignalingCore
from parley.protocol.close_codes import CloseCode
from parley.server import app_api
from parley.server.admission import Admission, answer_upgrade
from parley.server.api import HISTORY_KEY, IDENTITIES_KEY, add_api_routes
from parley.server.forwarding import TrustedProxies, forwarded_headers
from parley.server.headers import check_origin
from parley.server.hub import Hub
from parley.server.hubs import HubSource, SingleProcess
from parley.server.limits import ConnectionCounter, FailedAuthThrottle
from parley.server.metrics import CONTENT_TYPE, Metrics
from parley.server.pages import EMBEDDERS_KEY, add_routes, add_security_headers
from parley.server.webhooks import WebhookPolicy, WebhookSender
from parley.server.websocket import HandshakeTurns, OpenSockets, take_over
from parley.storage.database import migrate, open_engine
from parley.storage.history import CallHistory
from parley.storage.outbox import Outbox

log = logging.getLogger(__name__)

# Clients reconnect with backoff after a restart: give the last of them a little longer.
RECLAIM_SLACK_SECONDS = 15.0
# Old history is deleted this often (and once at start).
HISTORY_PRUNE_SECONDS = 3600.0

SETTINGS_KEY = web.AppKey("settings", ServerSettings)
HUB_KEY = web.AppKey("hub", Hub)
SOCKETS_KEY = web.AppKey("sockets", OpenSockets)
ADMISSION_KEY = web.AppKey("admission", Admission)
PROXIES_KEY = web.AppKey("trusted_proxies", TrustedProxies)
# Handshakes per turn of the event loop (each costs a few hundred microseconds).
HANDSHAKES_PER_TURN = 8
CLIENTS_KEY = web.AppKey("clients", ConnectionCounter)
THROTTLE_KEY = web.AppKey("failed_auth", FailedAuthThrottle)
METRICS_KEY = web.AppKey("metrics", Metrics)
READY_KEY = web.AppKey("ready", asyncio.Event)
HUB_SOURCE_KEY = web.AppKey("hub_source", HubSource)


async def websocket(request: web.Request) -> web.StreamResponse:
    """An upgrade on a connection aiohttp has served before (a proxy reusing its upstream
    connection, a keep-alive client): the socket is handed to picows from here, and answered
    as any other (parley.server.site hands a connection that starts with the upgrade to picows
    directly)."""
    admission = request.app.get(ADMISSION_KEY)
    if admission is not None:
        await admission.turns.turn()
    transport = request.transport
    if transport is None or transport.is_closing():
        return web.Response(status=400)  # the client went away while waiting: never written
    proxies = request.app[PROXIES_KEY]
    peer = transport.get_extra_info("peername")
    remote = peer[0] if peer else None
    scheme = "https" if transport.get_extra_info("sslcontext") is not None else "http"
    take_over(
        request,
        lambda upgrade: answer_upgrade(admission, proxies, upgrade, remote, scheme),
        request.app[SETTINGS_KEY].core.max_message_bytes,
    )
    # Never written: the connection is picows's now.
    return web.Response(status=101)


async def metrics_page(request: web.Request) -> web.Response:
    token = request.app[SETTINGS_KEY].metrics_token
    if token is not None:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise web.HTTPUnauthorized(text="metrics need the bearer token")
    body = request.app[METRICS_KEY].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def readyz(request: web.Request) -> web.Response:
    """Ready once the database is migrated and the hub runs; not ready while shutting down."""
    hub = request.app.get(HUB_KEY)
    if not request.app[READY_KEY].is_set() or hub is None or not hub.ready:
        return web.json_response({"status": "not ready"}, status=503)
    return web.json_response({"status": "ready"})


async def _services(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS_KEY]
    source = app[HUB_SOURCE_KEY]
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = open_engine(settings.resolved_database_url())
    async with source.migrating():
        await migrate(engine)
    metrics = app[METRICS_KEY]
    history, sender = _start_history(settings, engine, metrics)
    sweeps: set[asyncio.Task[None]] = set()

    def sweep_after(started: float) -> None:
        task = asyncio.get_running_loop().create_task(
            _finish_forgotten_calls(history, lambda: hub.core, started, settings.core.resume_window)
        )
        sweeps.add(task)
        task.add_done_callback(sweeps.discard)

    # `sweep_after` may be called before `start` returns: the sweep reads `hub` only later.
    started = await source.start(settings, history, metrics, sweep_after)
    hub, identities = started.hub, started.identities
    core = hub.core
    app[HISTORY_KEY] = history
    app[IDENTITIES_KEY] = identities
    app_api.start(app, settings, hub, history, engine)
    sockets = app[SOCKETS_KEY] = OpenSockets(settings.heartbeat_seconds)
    app[ADMISSION_KEY] = Admission(
        settings,
        hub,
        sockets,
        app[CLIENTS_KEY],
        app[THROTTLE_KEY],
        HandshakeTurns(HANDSHAKES_PER_TURN),
    )
    heartbeat = asyncio.get_running_loop().create_task(sockets.keep_heartbeat())
    keeper = _start_keeper(history, settings.history_days, sender)
    metrics.watch(core, lambda: len(sockets))
    app[HUB_KEY] = hub
    app[READY_KEY].set()
    yield
    heartbeat.cancel()
    for task in sweeps:
        task.cancel()
    if keeper is not None:
        # Awaited: a deletion cut short must let go of its connection before the engine goes.
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)
    # Ringing calls were ended on shutdown and their ends queued: write them out. Answered
    # calls stay open for their clients to take back after the restart.
    await history.stop()
    if sender is not None:
        await sender.stop()
    await engine.dispose()
    await source.close()


def _start_history(
    settings: ServerSettings, engine: AsyncEngine, metrics: Metrics
) -> tuple[CallHistory, WebhookSender | None]:
    """The history writer and, when webhooks are configured, their sender: the writer queues
    each step's event in the outbox and wakes the sender."""
    sender = None
    if settings.webhook_urls and settings.webhook_secret:
        policy = WebhookPolicy(
            secret=settings.webhook_secret.encode(),
            timeout_seconds=settings.webhook_timeout_seconds,
            first_retry_seconds=settings.webhook_first_retry_seconds,
            give_up_seconds=settings.webhook_give_up_seconds,
        )
        sender = WebhookSender(Outbox(engine, settings.webhook_urls), policy, metrics)
        sender.start()
    history = CallHistory(
        engine,
        outbox=sender.outbox if sender else None,
        queued=sender.wake if sender else None,
    )
    history.start()
    return history, sender


def _start_keeper(
    history: CallHistory, days: int, sender: WebhookSender | None
) -> asyncio.Task[None] | None:
    if days <= 0:
        return None  # kept for good
    outbox = sender.outbox if sender else None
    return asyncio.get_running_loop().create_task(_keep_history_bounded(history, days, outbox))


async def _keep_history_bounded(history: CallHistory, days: int, outbox: Outbox | None) -> None:
    """Deletes history older than `days`, at start and then hourly: the table stays bounded
    however long the server runs. (Every node of a cluster does it too: the same DELETE.)
    Webhook events that failed for good go with it."""
    while True:
        try:
            cutoff = time.time() - days * 86_400
            pruned = await history.prune(cutoff)
            if outbox is not None:
                await outbox.prune_failed(cutoff)
        except Exception:
            log.exception("could not delete old call history")
        else:
            if pruned:
                log.info("deleted %d calls older than %d days", pruned, days)
        await asyncio.sleep(HISTORY_PRUNE_SECONDS)


async def _finish_forgotten_calls(
    history: CallHistory, core: Callable[[], SignalingCore], started: float, window: float
) -> None:
    """Calls answered before a restart stay open in the history until their clients take them
    back; those that did not within the resume window are finished here. (In a cluster, by the
    node that started the log afresh: it alone knows the calls were taken back.)"""
    await asyncio.sleep(max(window, 1.0) + RECLAIM_SLACK_SECONDS)
    finished = await history.finish_forgotten(started, core().calls.known_ids(), time.time())
    if finished:
        log.info("finished %d calls left open by an earlier run", finished)


async def _close_sockets(app: web.Application) -> None:
    app[READY_KEY].clear()  # a load balancer stops sending new clients here
    if ADMISSION_KEY in app:
        app[ADMISSION_KEY].open = False
    if HUB_KEY in app:
        await app[HUB_KEY].leave()
    # All at once, each bounded: one client that stopped reading must not hold up the rest.
    if SOCKETS_KEY in app:
        await app[SOCKETS_KEY].close_all(CloseCode.SERVICE_RESTART, "server restarting")


def create_app(
    settings: ServerSettings | None = None, hubs: HubSource | None = None
) -> web.Application:
    """The app, its hub made by `hubs` (default: this process alone). A cluster node is
    assembled above the server (parley.assemble.create_app picks by `settings.redis_url`)."""
    settings = settings or ServerSettings()
    if hubs is None:
        if settings.redis_url:
            # A node that silently ran alone would split the cluster's users in two.
            raise ValueError("a cluster node is made by parley.assemble.create_app")
        hubs = SingleProcess()
    proxies = TrustedProxies(settings.trusted_proxies)
    app = web.Application(middlewares=[forwarded_headers(proxies)] if proxies else [])
    app.on_response_prepare.append(add_security_headers)
    # A malformed --allowed-origin stops the start, before it is written into any header.
    app[EMBEDDERS_KEY] = tuple(check_origin(origin) for origin in settings.allowed_origins)
    app[SETTINGS_KEY] = settings
    app[HUB_SOURCE_KEY] = hubs
    app[PROXIES_KEY] = proxies
    app[CLIENTS_KEY] = ConnectionCounter(app[SETTINGS_KEY].connections_per_client)
    app[THROTTLE_KEY] = FailedAuthThrottle()
    app.cleanup_ctx.append(_services)
    app.on_shutdown.append(_close_sockets)
    app[METRICS_KEY] = Metrics()
    app[READY_KEY] = asyncio.Event()
    app.router.add_get("/ws", websocket)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_get("/readyz", readyz)
    add_routes(app)
    add_api_routes(app)
    return app
