"""Run the sandbox panel stand-alone: `python -m bot.panel.sandbox --port 8700`.

`--panels 3` runs the three demo panels of sandbox mode (alpha, beta, gamma: three dialects,
overlapping catalogues) on consecutive ports from --port, each with a key made up for the run,
and prints a PANELS=[…] line to paste into the bot's environment.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from decimal import Decimal

from bot.panel.sandbox.catalogue import SANDBOX_PANELS
from bot.panel.sandbox.engine import Dialect, SandboxClock, SandboxPanel
from bot.panel.sandbox.panels import start_sandbox_panels, stop_sandbox_panels
from bot.panel.sandbox.server import SandboxServer


async def serve(args: argparse.Namespace) -> None:
    if args.panels > 1:
        await serve_demo_panels(args)
        return
    panel = SandboxPanel(api_key=args.key, dialect=Dialect(args.dialect), clock=SandboxClock(args.speed),
                         funds=Decimal(args.funds), currency=args.currency)
    if args.orders:
        ids = panel.create_orders(args.orders)
        print(f"Created {len(ids)} pending orders: ids {ids[0]}..{ids[-1]}", flush=True)
    async with SandboxServer(panel, host=args.host, port=args.port, latency=args.latency) as server:
        print(f"Sandbox panel ({args.dialect}) at {server.api_url}  key={args.key}  "
              f"(orders are simulated, nothing is bought)", flush=True)
        await asyncio.Event().wait()


async def serve_demo_panels(args: argparse.Namespace) -> None:
    """The demo panels; --dialect, --key, --funds and --currency are theirs, not the options'."""
    started = await start_sandbox_panels(args.panels, clock=SandboxClock(args.speed), host=args.host,
                                         port=args.port, latency=args.latency)
    try:
        for spec, server, key in started:
            if args.orders:
                ids = server.panel.create_orders(args.orders, service_id=str(spec.catalogue[0].service_id))
                print(f"{spec.name}: created {len(ids)} pending orders: ids {ids[0]}..{ids[-1]}", flush=True)
            print(f"Sandbox panel {spec.name!r} ({spec.dialect.value}, {spec.currency}) at {server.api_url}  "
                  f"key={key}  (orders are simulated, nothing is bought)", flush=True)
        entries = [{"name": spec.name, "url": server.api_url, "key": key} for spec, server, key in started]
        print("PANELS=" + json.dumps(entries, separators=(",", ":")), flush=True)
        await asyncio.Event().wait()
    finally:
        await stop_sandbox_panels(started)


def main() -> None:
    parser = argparse.ArgumentParser(description="Stand-alone SMM sandbox panel (API v2 over HTTP).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700, help="0 picks a free port (for each panel)")
    parser.add_argument("--panels", type=int, choices=range(1, len(SANDBOX_PANELS) + 1), default=1,
                        help="2 or 3 run the demo panels of sandbox mode on consecutive ports, random keys")
    parser.add_argument("--key", default="sandbox-key", help="the API key clients must send")
    parser.add_argument("--dialect", choices=[d.value for d in Dialect], default=Dialect.V2.value)
    parser.add_argument("--speed", type=float, default=1.0, help="clock speed (10 = ten times faster)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--funds", default="1000", help="starting balance")
    parser.add_argument("--currency", default="USD")
    parser.add_argument("--orders", type=int, default=0, help="pre-create this many pending orders")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
