"""/api/openapi.json: generated from the route table the handlers are registered from, so the
two cannot drift; served as generated; checked in as docs/openapi.json; a valid OpenAPI 3.1
document; and naming exactly the endpoints the app serves (besides the pages and /ws)."""

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import schemathesis
from aiohttp import web

from parley.config import ServerSettings
from parley.protocol.app_api import CallPage, CallsQuery, NewRoom, OnlinePage, OnlineQuery
from parley.server.api import ROUTES
from parley.server.api_routes import Route, register
from parley.server.app import create_app
from parley.server.openapi import document, render
from tests.server.helpers import StartServer

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
REFRESH = "run `python -m parley.server.api --write`"
# Pages, files (the browser code, the SDK's modules) and the socket: not an HTTP API, and not
# in the document. Any other route the app serves must be documented.
PAGES = {
    "/",
    "/new",
    "/ice-test",
    "/r/{room}",
    "/ws",
    "/static/{path}",
    "/static/v/{version}/{path}",
    "/sdk/v1/{name}",
}


def served_routes(app: web.Application) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix", "")
        if route.method != "HEAD" and path.rstrip("/") not in PAGES and path not in PAGES:
            found.add((route.method, path))
    return found


def documented_routes(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item}


def test_the_checked_in_copy_is_the_generated_document() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == render(ROUTES), REFRESH


async def test_the_server_serves_the_generated_document(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server()
    async with http.get(server + "api/openapi.json") as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        served = await response.json()
    assert served == json.loads(DOC_PATH.read_text(encoding="utf-8")) == document(ROUTES)


def test_the_document_is_valid_openapi_3_1() -> None:
    doc = document(ROUTES)
    assert doc["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(doc).validate()
    # The validator does look: a document with a broken response is refused.
    broken = json.loads(json.dumps(doc))
    broken["paths"]["/api/v1/calls"]["get"]["responses"]["200"] = {"content": 7}
    with pytest.raises(Exception, match=r"content|description"):
        schemathesis.openapi.from_dict(broken).validate()


def test_the_app_serves_exactly_the_documented_endpoints() -> None:
    app = create_app(ServerSettings(api_token="t" * 16))

    assert served_routes(app) == documented_routes(document(ROUTES))


def test_every_app_api_operation_needs_the_app_token_and_answers_json_errors() -> None:
    doc = document(ROUTES)
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if not path.startswith("/api/v1/"):
                continue
            assert operation["security"] == [{"appToken": []}], (method, path)
            for status in ("401", "404", "429"):
                schema = operation["responses"][status]["content"]["application/json"]
                assert schema["schema"] == {"$ref": "#/components/schemas/ApiError"}
            assert "Retry-After" in operation["responses"]["429"]["headers"]


def test_a_handler_whose_models_differ_from_its_route_is_refused() -> None:
    async def online(request: web.Request, query: OnlineQuery) -> OnlinePage:
        raise AssertionError("never called")

    with pytest.raises(TypeError, match="'return'"):
        register(
            web.Application(), (Route("GET", "/x", "x", "x", CallPage, online, query=OnlineQuery),)
        )
    with pytest.raises(TypeError, match="'query'"):
        register(
            web.Application(), (Route("GET", "/x", "x", "x", OnlinePage, online, query=CallsQuery),)
        )
    with pytest.raises(TypeError, match="'body'"):
        register(
            web.Application(),
            (Route("GET", "/x", "x", "x", OnlinePage, online, query=OnlineQuery, body=NewRoom),),
        )
    register(
        web.Application(), (Route("GET", "/x", "x", "x", OnlinePage, online, query=OnlineQuery),)
    )
