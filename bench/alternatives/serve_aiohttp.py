"""Parley's own server (parley.cli._serve: aiohttp, uvloop, the real app, hub and core) with two
knobs for measurement: --raw puts common.RawRelayHub in place of the Hub (relays decoded for their
routing fields only), --gc chooses the collector policy. Without either it is `parley serve`.

    python bench/alternatives/serve_aiohttp.py [--raw] [--gc tuned|off|default]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

import parley.cli as cli
import parley.server.app as app
from parley.logs import configure_logging


def main() -> None:
    args = common.arguments(__doc__ or "")
    if args.raw:
        app.Hub = common.RawRelayHub  # type: ignore[misc] - _services builds the hub from it

    def tune() -> None:  # called by cli._serve once the server listens
        common.tune_gc(args.gc)
        common.memory_probe(args.tracemalloc)

    cli._tune_garbage_collector = tune  # type: ignore[assignment]
    pauses = common.GcPauses() if args.gc_stats else None
    configure_logging("warning", json_lines=False)
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve())
    finally:
        if pauses is not None:
            pauses.write(args.gc_stats)


async def serve() -> None:
    # cli._serve prints the "Parley listening on" line and stops on SIGTERM.
    await cli._serve(common.bench_settings(), None)


if __name__ == "__main__":
    main()
