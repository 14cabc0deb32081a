"""The HTTP API's routes as data: each one's method, path, the msgspec models its query, path
parameters and body are decoded into, the model its answer is encoded from, and its errors.
One table registers the handlers (`register`) and generates /api/openapi.json
(parley.server.openapi), so the document cannot say what a handler does not do.

A handler takes the request and the decoded inputs it declares (`query`, `path`, `body`, typed
with the route's own models: `register` refuses a handler whose annotations differ) and returns
an instance of the route's response model, which is encoded here. Every error under /api/ is
JSON, `{"error": "..."}` (`api_error`, and `json_errors` for what aiohttp itself raises).
"""

import logging
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from parley.protocol.app_api import ApiError

log = logging.getLogger(__name__)

Auth = Literal["app", "user", "metrics"]
Guard = Callable[[web.Request], None]
MAX_BODY_BYTES = 4096
JSON = "application/json"
_REASONS = {
    400: "The query, path or body is not valid; `error` says which field and why.",
    401: "No valid bearer token.",
    404: "No such thing (or the app API is off: no --api-token).",
    409: "The call has already ended.",
    413: "The body is too large.",
    429: "Too many requests; retry after `Retry-After` seconds.",
    503: "Not ready, or the cluster cannot be reached; retry later.",
}


@dataclass(frozen=True, slots=True)
class Route:
    method: Literal["GET", "POST"]
    path: str
    operation_id: str
    summary: str
    # The JSON answer's model; None: `text` is the answer's media type.
    response: type[Any] | None
    handler: Callable[..., Awaitable[Any]] | None = None  # None: served by another module
    status: int = 200
    query: type[msgspec.Struct] | None = None
    path_params: type[msgspec.Struct] | None = None
    body: type[msgspec.Struct] | None = None
    auth: Auth | None = None
    guard: Guard | None = None  # runs before anything is decoded (auth, rate limit)
    errors: tuple[int, ...] = ()  # answered with ApiError
    # Other answers, each with its own model (None: `text`), e.g. a 503 that is not an error.
    answers: tuple[tuple[int, type[Any] | None], ...] = ()
    description: str = ""
    text: str | None = None
    tag: str = "app"

    def reason(self, status: int) -> str:
        return _REASONS.get(status, "An error.")


class _JsonError(web.HTTPError):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None) -> None:
        self.status_code = status  # read by aiohttp's __init__
        body = msgspec.json.encode(ApiError(message)).decode()
        super().__init__(text=body, content_type=JSON, headers=headers)


def api_error(
    status: int, message: str, headers: dict[str, str] | None = None
) -> web.HTTPException:
    """An error to raise from a handler, with a JSON body."""
    return _JsonError(status, message, headers)


def _json(value: object, status: int) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(value),
        status=status,
        content_type=JSON,
        headers={"Cache-Control": "no-store"},
    )


def _decode_query(request: web.Request, model: type[msgspec.Struct]) -> msgspec.Struct:
    query = request.query
    repeated = sorted({key for key in query if len(query.getall(key)) > 1})
    if repeated:
        raise api_error(400, f"query parameter {repeated[0]!r} is given more than once")
    try:
        return msgspec.convert(dict(query), model, strict=False)
    except msgspec.ValidationError as error:
        raise api_error(400, f"bad query: {error}") from None


def _decode_path(request: web.Request, model: type[msgspec.Struct]) -> msgspec.Struct:
    try:
        return msgspec.convert(dict(request.match_info), model, strict=False)
    except msgspec.ValidationError as error:
        raise api_error(400, f"bad path: {error}") from None


async def _decode_body(request: web.Request, model: type[msgspec.Struct]) -> msgspec.Struct:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise api_error(413, f"the body may be {MAX_BODY_BYTES} bytes at most")
    raw = bytearray()
    async for chunk in request.content.iter_any():  # a chunked body names no length
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise api_error(413, f"the body may be {MAX_BODY_BYTES} bytes at most")
    try:
        return msgspec.json.decode(bytes(raw).strip() or b"{}", type=model)
    except msgspec.DecodeError as error:
        raise api_error(400, f"bad body: {error}") from None


def _check_annotations(route: Route) -> None:
    """A handler's inputs and answer are the route's models, or the app does not start."""
    assert route.handler is not None
    hints = typing.get_type_hints(route.handler)
    declared = {
        "query": route.query,
        "path": route.path_params,
        "body": route.body,
        "return": route.response,
    }
    for name, model in declared.items():
        if hints.get(name) is not model:
            raise TypeError(
                f"{route.method} {route.path}: the handler's {name!r} is {hints.get(name)!r}, "
                f"the route documents {model!r}"
            )


def _endpoint(route: Route) -> Handler:
    handler = route.handler
    assert handler is not None and route.response is not None
    response = route.response

    async def endpoint(request: web.Request) -> web.StreamResponse:
        if route.guard is not None:
            route.guard(request)
        inputs: dict[str, msgspec.Struct] = {}
        if route.query is not None:
            inputs["query"] = _decode_query(request, route.query)
        if route.path_params is not None:
            inputs["path"] = _decode_path(request, route.path_params)
        if route.body is not None:
            inputs["body"] = await _decode_body(request, route.body)
        answer = await handler(request, **inputs)
        if not isinstance(answer, response):
            raise TypeError(f"{route.path} answered {type(answer)!r}, not {response!r}")
        return _json(answer, route.status)

    return endpoint


def register(app: web.Application, routes: tuple[Route, ...]) -> None:
    """Adds every route that has a handler here (the others are served by other modules)."""
    for route in routes:
        if route.handler is None:
            continue
        _check_annotations(route)
        app.router.add_route(route.method, route.path, _endpoint(route))


def json_errors(off: Callable[[web.Request], str | None]) -> Middleware:
    """A middleware: under /api/, what aiohttp raises by itself (no such path, a method not
    allowed) and any failure is answered in JSON too. `off(request)` says why a path is off
    (the app API without a token), for its 404."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        try:
            return await handler(request)
        except web.HTTPException as error:
            if error.content_type == JSON or error.status_code < 400:
                raise
            message = (error.status_code == 404 and off(request)) or error.reason
            headers = {k: v for k, v in error.headers.items() if k in ("Allow", "Retry-After")}
            raise api_error(error.status_code, message, headers) from None
        except Exception:
            log.exception("the API failed on %s %s", request.method, request.path)
            raise api_error(500, "the server failed on this request") from None

    return middleware
