"""Checks that a prototype speaks Parley's protocol as the bench uses it, byte for byte: the
relayed candidate and offer frames (seq, type, from, payload) are what `parley serve` sends,
with only the session ids differing; an unknown `to` is refused by the core as usual.

    python bench/alternatives/check.py   (starts each server in turn; about 10 s)
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import uvloop

BENCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH))
import loadgen  # noqa: E402
from servers import Alternative, Parley, Server  # noqa: E402

VARIANTS = [
    ("parley", lambda: Parley()),
    ("aiohttp-raw", lambda: Alternative("aiohttp-raw", "serve_aiohttp.py", ["--raw"])),
    ("picows", lambda: Alternative("picows", "serve_picows.py", [])),
    ("picows-raw", lambda: Alternative("picows-raw", "serve_picows.py", ["--raw"])),
    (
        "picows-raw-uvloop",
        lambda: Alternative(
            "picows-raw-uvloop", "serve_picows.py", ["--raw", "--transport", "uvloop"]
        ),
    ),
]


async def exchange(url: str) -> list[str]:
    job = {"server": "parley", "url": url, "pairs": 1, "kind": "candidate"}
    [(a, b)] = await loadgen.make_pairs(job)
    frames = []
    for kind in ("candidate", "offer"):
        before, after = loadgen.frame_template("parley", kind, b.session)
        a.transport.send(loadgen.WSMsgType.TEXT, before + b"%019d" % 1 + after)  # type: ignore[union-attr]
        frames.append(await asyncio.wait_for(b.queue.get(), 5))
    a.send_json({"type": "candidate", "to": "nobody", "candidate": None, "id": 7})
    frames.append(await asyncio.wait_for(a.queue.get(), 5))
    a.close()
    b.close()
    return [f.decode().replace(a.session, "<A>").replace(b.session, "<B>") for f in frames]


def main() -> None:
    reference: list[str] | None = None
    failed = False
    for name, make in VARIANTS:
        server: Server = make()
        with server:
            got = uvloop.run(exchange(server.url))
        if reference is None:
            reference = got
            for frame in got:
                print(f"  parley: {frame[:110]}{'...' if len(frame) > 110 else ''}")
            continue
        same = got == reference
        failed |= not same
        print(f"{name:<12} {'identical frames' if same else 'DIFFERENT'}")
        if not same:
            for mine, theirs in zip(got, reference, strict=True):
                if mine != theirs:
                    print("   got     ", json.loads(mine))
                    print("   expected", json.loads(theirs))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
