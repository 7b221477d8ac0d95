"""Run the sandbox panel stand-alone: `python -m bot.panel.sandbox --port 8700`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from decimal import Decimal

from bot.panel.sandbox.engine import Dialect, SandboxClock, SandboxPanel
from bot.panel.sandbox.server import SandboxServer


async def serve(args: argparse.Namespace) -> None:
    panel = SandboxPanel(api_key=args.key, dialect=Dialect(args.dialect), clock=SandboxClock(args.speed),
                         funds=Decimal(args.funds), currency=args.currency)
    if args.orders:
        ids = panel.create_orders(args.orders)
        print(f"Created {len(ids)} pending orders: ids {ids[0]}..{ids[-1]}", flush=True)
    async with SandboxServer(panel, host=args.host, port=args.port, latency=args.latency) as server:
        print(f"Sandbox panel ({args.dialect}) at {server.api_url}  key={args.key}  "
              f"(orders are simulated, nothing is bought)", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Stand-alone SMM sandbox panel (API v2 over HTTP).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700, help="0 picks a free port")
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
