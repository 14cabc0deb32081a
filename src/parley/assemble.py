"""Puts a Parley app together from the layers below: one process alone, or a node of a Redis
cluster when the settings name one. The CLI (and anything else that starts servers) comes
here; parley.server itself knows nothing of clusters."""

from aiohttp import web

from parley.cluster.app import create_cluster_app
from parley.config import ServerSettings
from parley.server.app import create_app as create_single_app


def create_app(settings: ServerSettings | None = None) -> web.Application:
    settings = settings or ServerSettings()
    if settings.redis_url:
        return create_cluster_app(settings)
    return create_single_app(settings)
