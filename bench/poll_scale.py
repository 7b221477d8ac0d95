"""Polling at scale, two measurements.

1. Status of 10,000 orders against the sandbox panel with 50 ms latency per request (issue #2):
   exactly 100 requests (100 ids each), wall time at most 20 × the latency, and never more
   requests in flight at the panel than the client's configured concurrency. The sandbox runs in
   its own process, as a real panel would, so its work does not share the client's CPU; it
   reports what it saw on its /_sandbox/stats endpoint.
2. Orders placed over 5 minutes, as customers place them (hardening issue): the real poll job
   over a real SQLite file, ticking every 30 s of simulated time for an hour, with and without
   filling each request up to 100 ids with the orders due soonest. Prints status requests per
   cycle (target: ceil(N / 100)) and ids per request, counted once every order has been placed
   and polled a few times (from minute 10 on).

    python bench/poll_scale.py [--orders 10000] [--latency 0.05] [--concurrency 10] [--spread-orders 500]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import re
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from bot.domain.money import quantum_micros
from bot.panel import BATCH_LIMIT, OrderStatusInfo, PanelClient
from bot.panel.sandbox import SandboxClock, SandboxPanel, SandboxServer
from bot.shop.alerts import AdminAlerts
from bot.shop.panels import Panels
from bot.shop.tracking import poll_orders
from storage.database import Database, open_database

KEY = "bench-key"

CENT_STEP = quantum_micros(2)  # partial refunds in whole cents (PRICE_DECIMALS=2)


async def start_sandbox(orders: int, latency: float) -> tuple[asyncio.subprocess.Process, str, list[str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.panel.sandbox", "--port", "0", "--key", KEY, "--speed", "0",
        "--latency", str(latency), "--orders", str(orders), stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    first = last = 0
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode()
        if not line:
            raise RuntimeError("the sandbox exited before it was ready")
        if match := re.search(r"ids (\d+)\.\.(\d+)", line):
            first, last = int(match.group(1)), int(match.group(2))
        if match := re.search(r"at (http://\S+)", line):
            return process, match.group(1), [str(i) for i in range(first, last + 1)]


async def run(orders: int, latency: float, concurrency: int) -> bool:
    process, api_url, ids = await start_sandbox(orders, latency)
    stats_url = api_url.replace("/api/v2", "/_sandbox/stats")
    try:
        async with PanelClient(api_url, KEY, max_concurrency=concurrency) as client, httpx.AsyncClient() as http:
            await client.balance()  # warm the connection pool outside the measurement
            await http.post(api_url.replace("/api/v2", "/_sandbox/reset"))
            started = time.perf_counter()
            results = await client.statuses(ids)
            wall = time.perf_counter() - started
            stats = (await http.get(stats_url)).json()
    finally:
        process.terminate()
        await process.wait()
    answered = sum(isinstance(r, OrderStatusInfo) for r in results.values())
    requests = stats["requests"].get("status", 0)
    expected_requests = math.ceil(orders / BATCH_LIMIT)
    wall_budget = 20 * latency
    checks = {
        f"requests == {expected_requests}": requests == expected_requests,
        f"wall time <= {wall_budget * 1000:.0f} ms (20 x latency)": wall <= wall_budget,
        f"max in flight <= {concurrency}": stats["max_in_flight"] <= concurrency,
        "every id answered": answered == orders,
    }
    print(f"orders: {orders}  latency: {latency * 1000:.0f} ms  client concurrency: {concurrency}")
    print(f"requests made: {requests}")
    print(f"wall time: {wall * 1000:.0f} ms ({wall / latency:.1f} x latency)")
    print(f"max concurrent requests seen by the panel: {stats['max_in_flight']}")
    print(f"ids answered with a status: {answered}/{orders}")
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    return all(checks.values())


SPREAD_SECONDS = 300.0  # orders are placed over 5 minutes
TICK = 30.0  # the poll job's tick (min(POLL_INTERVAL_SECONDS, 30))
INTERVAL = 60.0  # POLL_INTERVAL_SECONDS
SIMULATED = 3600.0
STEADY_FROM = 600.0  # every order placed and polled a few times by then


async def _place(db: Database, rows: list[tuple[str, str, float]]) -> None:
    """Orders placed at their time, first polled one interval later (as place_order does)."""
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO orders (user_id, draft_key, service_id, service_name, service_type, link, quantity,"
            " request_json, price_micros, cost_micros, currency, state, panel_order_id, placed_at, next_poll_at, panel)"
            " VALUES (1, ?, '102', 'Followers', 'Default', 'https://example.com', 1000, '{}', 120000, 120000,"
            " 'USD', 'placed', ?, ?, ?, 'main')", [(key, panel_id, at, at + INTERVAL) for key, panel_id, at in rows])


async def spread(orders: int, early: float | None) -> tuple[int, int, int]:
    """(requests, ids asked, smallest request) from minute 10 to the end of the simulated hour."""
    panel = SandboxPanel(api_key=KEY, clock=SandboxClock(speed=0), funds=orders * 1000)  # orders stay open
    panel_ids = panel.create_orders(orders, service_id="102", quantity=1000)
    rng = random.Random(7)  # the same placement times for both runs
    placed_at = sorted(rng.uniform(0, SPREAD_SECONDS) for _ in panel_ids)
    requests = asked = 0
    smallest = BATCH_LIMIT
    with tempfile.TemporaryDirectory(prefix="poll-spread-") as folder:
        db = await open_database(Path(folder) / "bot.db")
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO users (user_id, first_name) VALUES (1, 'Customer')")
        async with SandboxServer(panel) as server, PanelClient(server.api_url, KEY) as client:
            async def nobody(chat_id: int, text: str) -> None:
                return None

            alerts, placed, now = AdminAlerts([], nobody), 0, 0.0
            while now < SIMULATED:
                now += TICK
                new = []
                while placed < orders and placed_at[placed] <= now:
                    new.append((f"spread-{placed}", panel_ids[placed], placed_at[placed]))
                    placed += 1
                if new:
                    await _place(db, new)
                seen = len(server.requests)
                await poll_orders(db, Panels.one(client), alerts, now=now, interval=INTERVAL, early=early,
                                  quantum=CENT_STEP)
                if now > STEADY_FROM:
                    sizes = [len(r.fields["orders"].split(",")) for r in server.requests[seen:]
                             if r.action == "status"]
                    requests += len(sizes)
                    asked += sum(sizes)
                    smallest = min([smallest, *sizes])
        await db.close()
    return requests, asked, smallest


async def run_spread(orders: int) -> bool:
    floor = math.ceil(orders / BATCH_LIMIT)
    print(f"\norders placed over {SPREAD_SECONDS / 60:.0f} minutes: {orders}  poll interval {INTERVAL:.0f} s, tick "
          f"{TICK:.0f} s, counted from minute {STEADY_FROM / 60:.0f} to {SIMULATED / 60:.0f}")
    per_cycle = {}
    for label, early in (("due orders only", 0.0), ("filled with the soonest due", None)):
        requests, asked, smallest = await spread(orders, early)
        per_cycle[label] = orders * requests / asked  # a cycle: every open order asked once
        print(f"  {label}: {requests} status requests for {asked} ids: {asked / requests:.1f} ids per request "
              f"(smallest {smallest}), {per_cycle[label]:.2f} requests per cycle (floor {floor})")
    ok = per_cycle["filled with the soonest due"] <= floor + 0.05
    print(f"  {'PASS' if ok else 'FAIL'}  requests per cycle <= ceil({orders} / {BATCH_LIMIT}) = {floor}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Poll order statuses against the sandbox panel at scale.")
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--spread-orders", type=int, default=500, help="orders placed over 5 minutes")
    args = parser.parse_args(argv)
    first = asyncio.run(run(args.orders, args.latency, args.concurrency))
    second = asyncio.run(run_spread(args.spread_orders))
    return 0 if first and second else 1


if __name__ == "__main__":
    sys.exit(main())
