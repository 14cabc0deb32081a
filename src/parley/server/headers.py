"""The security headers of every HTTP response: pages, the API, errors and `/ws` refusals;
and who may load the browser SDK from another origin.

Pages may be framed by this server itself and by each `--allowed-origin` (a host app that
embeds the call pages), and by no one else; a framed page may use the camera, microphone and
screen only where its host allowed them (`allow="camera; microphone; display-capture"`). The
SDK's modules (`/sdk/v1/`) may be imported by the pages of each `--allowed-origin` (CORS).
"""

import re
from functools import cache

# scheme://host[:port], nothing more: an origin is what a browser sends in `Origin`, and a
# path, a space or a quote here would change the meaning of the policies it is written into.
_ORIGIN = re.compile(r"https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?")


def check_origin(origin: str) -> str:
    """`origin`, or ValueError saying why it cannot be an allowed origin."""
    if not _ORIGIN.fullmatch(origin):
        raise ValueError(
            f"allowed origin {origin!r} must be scheme://host[:port] (e.g. https://chat.example)"
        )
    return origin


@cache
def security_headers(allowed_origins: tuple[str, ...] = ()) -> dict[str, str]:
    """The headers for a server whose pages the given origins may embed (cached: one dict per
    configuration, shared by every response)."""
    embedders = [check_origin(origin) for origin in allowed_origins]
    ancestors = " ".join(["'self'", *embedders])
    # Permissions-Policy allow-lists are structured-field strings: (self "https://a.example")
    allow = " ".join(["self", *(f'"{origin}"' for origin in embedders)])
    return {
        "Content-Security-Policy": (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "media-src 'self' blob: mediastream:; connect-src 'self'; "
            f"frame-ancestors {ancestors}; base-uri 'none'; form-action 'self'"
        ),
        # The room name in the URL is the room's only secret: never leak it in a Referer.
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Permissions-Policy": (
            f"camera=({allow}), microphone=({allow}), display-capture=({allow})"
        ),
    }


def sdk_cors_headers(origin: str | None, allowed_origins: tuple[str, ...]) -> dict[str, str]:
    """CORS for an SDK module: a module script from another origin is fetched in CORS mode, and
    runs only if the answer names that origin. Only an `--allowed-origin` is named (the SDK is
    of no use to any other: `/ws` refuses it); every answer varies by `Origin`."""
    headers = {"Vary": "Origin"}
    if origin is not None and origin in allowed_origins:
        headers["Access-Control-Allow-Origin"] = origin
    return headers
