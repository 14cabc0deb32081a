"""The OpenAPI 3.1 document of a route table (parley.server.api.ROUTES), generated from the
msgspec models the handlers decode and encode with (parley.server.api_routes)."""

import typing
from typing import Any

import msgspec

from parley.protocol.app_api import ApiError
from parley.protocol.json_schema import normalized
from parley.server.api_routes import JSON, Route

Schema = dict[str, Any]
REF = "#/components/schemas/{name}"
DESCRIPTION = """\
Parley's HTTP endpoints. The app API (`/api/v1/`) is for a host app's backend: it needs the
server's `--api-token` as a bearer token, is off (404) without one, and is rate-limited
(429 with `Retry-After`). Every error under `/api/` is `{"error": "..."}`. See docs/api.md."""
SECURITY_SCHEMES: Schema = {
    "appToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The server's --api-token (not a user's token).",
    },
    "userToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A user's own token: a guest token from `welcome`, or the host app's JWT.",
    },
    "metricsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The server's --metrics-token, when one is set.",
    },
}
SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "app": [{"appToken": []}],
    "user": [{"userToken": []}],
    "metrics": [{}, {"metricsToken": []}],
}
HEADERS: dict[int, Schema] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}}},
    429: {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
}


class _Schemas:
    """Every type the document names, turned into schemas in one go (shared components)."""

    def __init__(self) -> None:
        self._types: list[Any] = []

    def add(self, annotation: Any) -> int:
        self._types.append(annotation)
        return len(self._types) - 1

    def build(self) -> tuple[list[Schema], Schema]:
        schemas, components = msgspec.json.schema_components(self._types, ref_template=REF)
        return list(schemas), components


def _fields(model: type[msgspec.Struct], schemas: _Schemas) -> list[tuple[str, bool, Any, int]]:
    hints = typing.get_type_hints(model, include_extras=True)
    return [
        (field.encode_name, field.required, field.default, schemas.add(hints[field.name]))
        for field in msgspec.structs.fields(model)
    ]


def _parameter(where: str, name: str, required: bool, default: Any, schema: Schema) -> Schema:
    """A query or path parameter: optional means absent, so `null` is no value of it."""
    description = schema.pop("description", None)
    options = [o for o in schema.pop("anyOf", []) if o != {"type": "null"}]
    if len(options) == 1:
        description = description or options[0].pop("description", None)
        schema.update(options[0])
    elif options:
        schema["anyOf"] = options
    if default not in (None, msgspec.NODEFAULT, msgspec.UNSET):
        schema["default"] = default
    parameter: Schema = {"name": name, "in": where, "required": required, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


def _content(route: Route, index: int | None, schemas: list[Schema]) -> Schema:
    if index is None:
        media = route.text or "text/plain"
        return {media: {"schema": {"type": "object" if media == JSON else "string"}}}
    return {JSON: {"schema": schemas[index]}}


def _operation(route: Route, schemas: _Schemas) -> tuple[Any, ...]:
    """Everything of one route that needs schemas, as indexes into `schemas` (see _fill)."""
    params = [
        (where, fields)
        for where, model in (("path", route.path_params), ("query", route.query))
        if model is not None
        for fields in [_fields(model, schemas)]
    ]
    body = None if route.body is None else schemas.add(route.body)
    response = None if route.response is None else schemas.add(route.response)
    answers = [
        (status, None if model is None else schemas.add(model)) for status, model in route.answers
    ]
    error = schemas.add(ApiError)
    return params, body, response, answers, error


def _fill(route: Route, parts: tuple[Any, ...], built: list[Schema]) -> Schema:
    params, body, response, answers, error = parts
    operation: Schema = {"summary": route.summary, "operationId": route.operation_id}
    if route.description:
        operation["description"] = route.description
    operation["tags"] = [route.tag]
    parameters = [
        _parameter(where, name, required, default, dict(built[index]))
        for where, fields in params
        for name, required, default, index in fields
    ]
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {"required": False, "content": {JSON: {"schema": built[body]}}}
    responses: Schema = {
        str(route.status): {
            "description": route.summary,
            "content": _content(route, response, built),
        }
    }
    for status, index in answers:
        responses[str(status)] = {
            "description": route.reason(status),
            "content": _content(route, index, built),
        }
    for status in route.errors:
        answer: Schema = {
            "description": route.reason(status),
            "content": {JSON: {"schema": built[error]}},
        }
        if status in HEADERS:
            answer["headers"] = HEADERS[status]
        responses[str(status)] = answer
    operation["responses"] = responses
    if route.auth is not None:
        operation["security"] = SECURITY[route.auth]
    return operation


def document(routes: tuple[Route, ...]) -> Schema:
    """The OpenAPI 3.1 document of `routes`."""
    schemas = _Schemas()
    parts = [_operation(route, schemas) for route in routes]
    built, components = schemas.build()
    paths: Schema = {}
    for route, part in zip(routes, parts, strict=True):
        paths.setdefault(route.path, {})[route.method.lower()] = _fill(route, part, built)
    whole: Schema = normalized(
        {
            "openapi": "3.1.0",
            "info": {"title": "Parley HTTP API", "version": "1", "description": DESCRIPTION},
            "paths": paths,
            "components": {"schemas": components, "securitySchemes": SECURITY_SCHEMES},
        }
    )
    return whole


def render(routes: tuple[Route, ...]) -> str:
    encoded = msgspec.json.encode(document(routes))
    return msgspec.json.format(encoded, indent=2).decode() + "\n"
