"""The aiohttp application: pages, `/ws`, and an orderly shutdown."""

import logging

from aiohttp import WSMsgType, web

from parley.backplane.memory import MemoryBackplane
from parley.config import ServerSettings
from parley.core.signaling import SignalingCore
from parley.protocol.close_codes import CloseCode
from parley.server.connection import Connection
from parley.server.hub import Hub
from parley.server.pages import add_routes, security_headers

log = logging.getLogger(__name__)

SETTINGS_KEY = web.AppKey("settings", ServerSettings)
HUB_KEY = web.AppKey("hub", Hub)
SOCKETS_KEY = web.AppKey("sockets", set[web.WebSocketResponse])


async def websocket(request: web.Request) -> web.WebSocketResponse:
    settings = request.app[SETTINGS_KEY]
    hub = request.app[HUB_KEY]
    # No permessage-deflate: signaling frames are small, and inflate is a memory-bomb vector.
    ws = web.WebSocketResponse(
        max_msg_size=settings.core.max_message_bytes,
        compress=False,
        heartbeat=settings.heartbeat_seconds,
    )
    await ws.prepare(request)
    sockets = request.app[SOCKETS_KEY]
    sockets.add(ws)
    connection = Connection(ws, settings.outbox_max_bytes)
    session = hub.open(connection)
    try:
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                hub.on_text(session, message.data)
            elif message.type is WSMsgType.BINARY:
                hub.on_binary(session)
    finally:
        hub.close(session)
        sockets.discard(ws)
        await connection.finish()
    return ws


async def _start_hub(app: web.Application) -> None:
    app[HUB_KEY] = Hub(SignalingCore(app[SETTINGS_KEY].core), MemoryBackplane())


async def _close_sockets(app: web.Application) -> None:
    sockets: set[web.WebSocketResponse] = app[SOCKETS_KEY]
    for ws in tuple(sockets):
        await ws.close(code=CloseCode.GOING_AWAY, message=b"server shutting down")


def create_app(settings: ServerSettings | None = None) -> web.Application:
    app = web.Application(middlewares=[security_headers])
    app[SETTINGS_KEY] = settings or ServerSettings()
    app[SOCKETS_KEY] = set()
    app.on_startup.append(_start_hub)
    app.on_shutdown.append(_close_sockets)
    app.router.add_get("/ws", websocket)
    add_routes(app)
    return app
