"""`parley call`, `parley answer` and `parley bot …`: the Python peer from a terminal, and
`parley bot webhooks`, a receiver of the server's webhooks (parley.peer.webhook_bot).

Progress shows with rich; Ctrl-C (or SIGTERM) hangs up cleanly before exiting. Declaring these
commands loads nothing of aiortc or PyAV (every `parley serve` declares them): a command loads
the peer when it runs, and says to install parley[peer] when they are missing.
"""

import asyncio
import contextlib
import hashlib
import re
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from aiohttp import web
from rich.console import Console

from parley.peer import MissingPeerExtra, load
from parley.peer.webhook_bot import WebhookBot

if TYPE_CHECKING:
    from parley.peer.call import Call, CallEnded
    from parley.peer.phone import Phone

ServerUrl = Annotated[
    str, typer.Option(envvar="PARLEY_URL", help="The Parley server, e.g. http://127.0.0.1:8080")
]
Name = Annotated[str, typer.Option(help="The display name others see.")]

console = Console()
bot = typer.Typer(
    help="Bots that answer every call, and one that receives webhooks.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.command("call")(call)
    app.command("answer")(answer)
    app.add_typer(bot, name="bot")


def _phone_class() -> "type[Phone]":
    """The peer's Phone, with aiortc and PyAV loaded now; without them, what to install."""
    try:
        phone: type[Phone] = load("parley.peer.phone").Phone
    except MissingPeerExtra as missing:
        typer.echo(f"Error: {missing} (pip install 'parley[peer]')", err=True)
        raise typer.Exit(1) from None
    return phone


def call(
    target: Annotated[str, typer.Argument(help="A user id, or room:<name> to join a room.")],
    server: ServerUrl = "http://127.0.0.1:8080",
    name: Name = "Python",
    audio_only: Annotated[bool, typer.Option(help="A voice call.")] = False,
    play: Annotated[str | None, typer.Option(help="Send this media file.")] = None,
    test_pattern: Annotated[bool, typer.Option(help="Send a test pattern and tone.")] = True,
    record: Annotated[Path | None, typer.Option(help="Record the other side here.")] = None,
    seconds: Annotated[float | None, typer.Option(help="Hang up after this long.")] = None,
) -> None:
    """Call a user (or join a room) and stay until either side hangs up."""
    media = "audio" if audio_only else "video"
    phone_class = _phone_class()

    async def run() -> None:
        phone = await phone_class.connect(server, name=name)
        try:
            recording = str(record) if record else None
            source = play if play or not test_pattern else None
            if target.startswith("room:"):
                placed = await phone.join(
                    target.removeprefix("room:"), media, play=source, record_to=recording
                )
                console.print(f"joined room [bold]{placed.id}[/bold]; waiting for the other side")
            else:
                placed = await phone.call_user(target, media, play=source, record_to=recording)
                if not placed.ended.done():
                    console.print(f"ringing [bold]{target}[/bold]…")
            await _stay(placed, seconds)
        finally:
            await phone.close()

    _run(run())


def answer(
    server: ServerUrl = "http://127.0.0.1:8080",
    name: Name = "Python",
    auto: Annotated[bool, typer.Option(help="Answer without asking.")] = False,
    audio_only: Annotated[bool, typer.Option(help="Answer with voice only.")] = False,
    record: Annotated[Path | None, typer.Option(help="Record the other side here.")] = None,
) -> None:
    """Wait for one call, answer it, and stay until it ends."""
    phone_class = _phone_class()

    async def run() -> None:
        phone = await phone_class.connect(server, name=name)
        try:
            print(f"online user={phone.user['id']} name={name}", flush=True)
            incoming = await phone.next_incoming()
            console.print(f"[bold]{incoming.caller_name}[/bold] is calling ({incoming.media})")
            if not auto and not typer.confirm("Answer?", default=True):
                await phone.reject(incoming)
                return
            media = "audio" if audio_only else None
            recording = str(record) if record else None
            answered = await phone.answer(incoming, media, record_to=recording)
            await _stay(answered, None)
        finally:
            await phone.close()

    _run(run())


@bot.command("echo")
def echo_bot(
    server: ServerUrl = "http://127.0.0.1:8080",
    name: Name = "Echo",
    calls: Annotated[int | None, typer.Option(help="Stop after this many calls.")] = None,
) -> None:
    """Answer every call and send the caller's own audio and video back."""
    _run(_serve_calls(_phone_class(), server, name, calls, echo=True, record_dir=None))


@bot.command("record")
def record_bot(
    directory: Annotated[Path, typer.Argument(help="Where recordings go, one per call.")],
    server: ServerUrl = "http://127.0.0.1:8080",
    name: Name = "Recorder",
    calls: Annotated[int | None, typer.Option(help="Stop after this many calls.")] = None,
) -> None:
    """Answer every call and record it to <directory>/<call id>.mkv."""
    phone_class = _phone_class()
    directory.mkdir(parents=True, exist_ok=True)
    _run(_serve_calls(phone_class, server, name, calls, echo=False, record_dir=directory))


@bot.command("webhooks")
def webhooks_bot(
    secret: Annotated[
        str,
        typer.Option(
            envvar="PARLEY_WEBHOOK_SECRET",
            help="The secret the server signs with (its --webhook-secret).",
        ),
    ],
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="0: any free port.")] = 8090,
    path: Annotated[str, typer.Option(help="The path Parley POSTs to.")] = "/",
) -> None:
    """Receive Parley's webhooks: check each signature (400 unsigned, 401 wrong or stale) and
    print a line for each call.ended, e.g. "missed call from Ana to Bo" or "call from Ana to
    Bo, 4 min". Point --webhook-url at it: parley serve --webhook-url http://HOST:PORT/PATH."""
    if not secret:
        typer.echo("Error: --secret must not be empty", err=True)
        raise typer.Exit(2)
    receiver = WebhookBot(secret.encode(), say=lambda line: print(line, flush=True))
    _run(_listen(receiver.app(path), host, port, path))


async def _listen(app: web.Application, host: str, port: int, path: str) -> None:
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound = runner.addresses[0][1]
        # Printed plainly (and flushed) so scripts and tests can read where it listens.
        print(f"listening on http://{host}:{bound}{path}", flush=True)
        await asyncio.Event().wait()  # until Ctrl-C or SIGTERM cancels it
    finally:
        await runner.cleanup()


async def _serve_calls(
    phone_class: "type[Phone]",
    server: str,
    name: str,
    calls: int | None,
    *,
    echo: bool,
    record_dir: Path | None,
) -> None:
    phone = await phone_class.connect(server, name=name)
    # Printed plainly (and flushed) so scripts and tests can read which user to call.
    print(f"online user={phone.user['id']} name={name}", flush=True)
    try:
        served = 0
        while calls is None or served < calls:
            incoming = await phone.next_incoming()
            recording = str(recording_path(record_dir, incoming.call)) if record_dir else None
            answered = await phone.answer(incoming, echo=echo, record_to=recording)
            caller = printable(incoming.caller_name)
            print(f"answered call={printable(incoming.call)} from={caller}", flush=True)
            ended = await answered.ended
            await answered.close()
            frames = answered.counter.frames
            print(
                f"ended call={printable(incoming.call)} reason={printable(ended.reason)} "
                f"received audio={frames['audio']} video={frames['video']}",
                flush=True,
            )
            served += 1
    finally:
        await phone.close()


async def _stay(placed: "Call", seconds: float | None) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await placed.wait_connected(timeout=60)
            console.print("[green]connected[/green]")
            ended = await asyncio.shield(placed.ended)
            await placed.close()
            _report(placed, ended)
            return
    _report(placed, await placed.hangup())


def _report(placed: "Call", ended: "CallEnded") -> None:
    frames = placed.counter.frames
    console.print(f"call ended: {_words(ended)}")
    print(f"received audio={frames['audio']} video={frames['video']}", flush=True)


def _words(ended: "CallEnded") -> str:
    return ended.reason + (f" (by {ended.by})" if ended.by else "")


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Runs `main`; Ctrl-C or SIGTERM cancel it, so its `finally` hangs up and disconnects."""

    async def guarded() -> None:
        task = asyncio.ensure_future(main)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(guarded())


# A call id as Parley servers make them (128 random bits, base64url): anything else from the
# server is not used as a file name as it stands.
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def recording_path(folder: Path, call: str) -> Path:
    """Where the recording of `call` goes: always a new file directly inside `folder`.

    The call id comes from the server, which the bot does not trust with its disk: a hostile
    one could send `../../home/me/.bashrc`. An id that is not a plain name becomes the hash
    of itself, and a name already taken gets a number, so no recording is overwritten."""
    stem = (
        call
        if _SAFE_NAME.fullmatch(call)
        else "call-" + hashlib.sha256(call.encode()).hexdigest()[:32]
    )
    folder = folder.resolve()
    path = folder / f"{stem}.mkv"
    number = 1
    while path.exists() or path.is_symlink():
        number += 1
        path = folder / f"{stem}-{number}.mkv"
    if path.parent != folder:  # cannot happen with the names above; a last line of defence
        raise ValueError(f"refusing to record outside {folder}")
    return path


def printable(text: str) -> str:
    """`text` without control characters: a server's words must not drive the terminal."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:200]
