"""A chat app that puts Parley calls in its own pages: the thing a chat-app developer copies.

It runs on its own origin, signs its users in (two hard-coded ones here), and mints a short-lived
JWT for the signed-in user with its own secret, the one Parley checks (`--auth jwt`):

    parley serve --auth jwt --jwt-secret "$SECRET" --allowed-origin http://127.0.0.1:8000
    python examples/chat-app/app.py --parley http://127.0.0.1:8080 --jwt-secret "$SECRET"

Then open http://127.0.0.1:8000 in two browsers, sign in as ana and as bo (passwords below),
and call each other. `/` calls through the SDK with the app's own buttons (static/chat.js);
`/embed` frames Parley's own phone page and drives it with postMessage (static/embed.js).
Needs aiohttp and PyJWT (both come with Parley).
"""

import argparse
import asyncio
import contextlib
import html
import json
import os
import secrets
import time
from pathlib import Path

import jwt
from aiohttp import web

HERE = Path(__file__).resolve().parent
# A real app has its own user store; the passwords here are examples, not secrets.
USERS = {
    "ana": {"name": "Ana", "password": "ana-password"},
    "bo": {"name": "Bo", "password": "bo-password"},
}
TOKEN_LIFETIME = 600  # seconds: the page asks for a fresh token before this runs out
COOKIE = "chat_session"
AUDIENCE = "parley"  # Parley's --jwt-audience

SETTINGS = web.AppKey("settings", dict)
SESSIONS = web.AppKey("sessions", dict)


def mint_token(secret: str, user: str, now: float) -> str:
    """The JWT Parley takes: `sub` is the user id, `name` the display name, `exp` required."""
    claims = {
        "sub": user,
        "name": USERS[user]["name"],
        "aud": AUDIENCE,
        "iat": int(now),
        "exp": int(now) + TOKEN_LIFETIME,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def signed_in(request: web.Request) -> str | None:
    return request.app[SESSIONS].get(request.cookies.get(COOKIE, ""))


def page(title: str, body: str, head: str = "") -> web.Response:
    text = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{html.escape(title)}</title><link rel="stylesheet" href="/static/chat.css">'
        f"{head}</head><body>{body}</body></html>"
    )
    return web.Response(text=text, content_type="text/html")


def import_map(parley: str) -> str:
    """`import { Phone } from 'parley'` in the page's modules loads the SDK from Parley."""
    imports = {"imports": {"parley": f"{parley}/sdk/v1/parley.js"}}
    return f'<script type="importmap">{json.dumps(imports)}</script>'


async def home(request: web.Request) -> web.Response:
    user = signed_in(request)
    if user is None:
        return login_page()
    settings = request.app[SETTINGS]
    contacts = "".join(
        f'<li data-user="{html.escape(uid)}"><span class="presence" data-online="false"></span>'
        f'<span class="name">{html.escape(info["name"])}</span>'
        '<button type="button" class="video" disabled>Video call</button>'
        '<button type="button" class="voice" disabled>Voice call</button></li>'
        for uid, info in USERS.items()
        if uid != user
    )
    body = (
        f"<header><strong>{html.escape(USERS[user]['name'])}</strong>"
        '<a href="/embed" data-text="embedLink">Parley\'s own phone page</a>'
        '<form method="post" action="/logout"><button data-text="logout">Log out</button></form>'
        f'</header><main><h1 data-text="contacts">Contacts</h1><ul id="contacts">{contacts}</ul>'
        '<p id="status" role="status"></p>'
        '<section id="incoming" hidden><p id="incoming-text"></p>'
        '<button type="button" id="accept" data-text="accept">Accept</button>'
        '<button type="button" id="decline" data-text="decline">Decline</button></section>'
        '<section id="call" hidden><video id="remote" autoplay playsinline></video>'
        '<video id="local" autoplay playsinline muted></video>'
        '<button type="button" id="mute" data-text="mute">Mute</button>'
        '<button type="button" id="hangup" data-text="hangup">Hang up</button></section></main>'
    )
    head = import_map(settings["parley"]) + '<script type="module" src="/static/chat.js"></script>'
    return page("Chat", body, head)


def login_page(failed: bool = False) -> web.Response:
    error = '<p class="error" data-text="loginFailed">Wrong name or password.</p>' if failed else ""
    body = (
        '<main><h1 data-text="signIn">Sign in</h1>'
        f'{error}<form method="post" action="/login">'
        '<label><span data-text="user">User</span> '
        '<input name="user" autocomplete="username"></label>'
        '<label><span data-text="password">Password</span> '
        '<input name="password" type="password" autocomplete="current-password"></label>'
        '<button data-text="signIn">Sign in</button></form></main>'
    )
    return page("Chat: sign in", body, '<script type="module" src="/static/words.js"></script>')


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    user = str(form.get("user", ""))
    password = str(form.get("password", ""))
    known = USERS.get(user)
    if known is None or not secrets.compare_digest(known["password"], password):
        return login_page(failed=True)
    session = secrets.token_urlsafe(24)
    request.app[SESSIONS][session] = user
    response = web.HTTPSeeOther("/")
    response.set_cookie(COOKIE, session, httponly=True, samesite="Lax")
    raise response


async def logout(request: web.Request) -> web.Response:
    request.app[SESSIONS].pop(request.cookies.get(COOKIE, ""), None)
    response = web.HTTPSeeOther("/")
    response.del_cookie(COOKIE)
    raise response


async def token(request: web.Request) -> web.Response:
    """A fresh Parley token for the signed-in user (the page asks before the last one expires)."""
    user = signed_in(request)
    if user is None:
        raise web.HTTPUnauthorized()
    secret = request.app[SETTINGS]["jwt_secret"]
    return web.json_response({"token": mint_token(secret, user, time.time()), "user": user})


async def embed(request: web.Request) -> web.Response:
    """Parley's phone page in a frame, signed in as this user through the #token= fragment."""
    user = signed_in(request)
    if user is None:
        raise web.HTTPSeeOther("/")
    settings = request.app[SETTINGS]
    framed = f"{settings['parley']}/#token={mint_token(settings['jwt_secret'], user, time.time())}"
    others = [uid for uid in USERS if uid != user]
    body = (
        f"<header><strong>{html.escape(USERS[user]['name'])}</strong>"
        '<a href="/" data-text="sdkLink">Back to the chat</a></header><main class="embedded">'
        f'<iframe id="parley" src="{html.escape(framed)}" data-parley="{settings["parley"]}" '
        'allow="camera; microphone; display-capture; autoplay"></iframe>'
        '<aside><button type="button" id="call-first" '
        f'data-user="{html.escape(others[0])}" data-text="callContact">Call</button>'
        '<button type="button" id="mute" data-text="mute">Mute</button>'
        '<button type="button" id="hangup" data-text="hangup">Hang up</button>'
        '<ol id="events"></ol></aside></main>'
    )
    script = '<script type="module" src="/static/embed.js"></script>'
    return page("Chat: embedded phone", body, script)


def make_app(parley: str, jwt_secret: str) -> web.Application:
    app = web.Application()
    app[SETTINGS] = {"parley": parley.rstrip("/"), "jwt_secret": jwt_secret}
    app[SESSIONS] = {}
    app.router.add_get("/", home)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/token", token)
    app.router.add_get("/embed", embed)
    app.router.add_static("/static/", HERE / "static")
    return app


async def serve(app: web.Application, host: str, port: int) -> None:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]  # the port the OS picked, for --port 0
    print(f"Chat app on http://{host}:{bound}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parley", required=True, help="Parley's URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--jwt-secret", default=os.environ.get("CHAT_JWT_SECRET"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    if not args.jwt_secret:
        parser.error("--jwt-secret (or CHAT_JWT_SECRET) is needed: the secret Parley checks")
    app = make_app(args.parley, args.jwt_secret)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(app, args.host, args.port))


if __name__ == "__main__":
    main()
