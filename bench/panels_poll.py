"""Polling several panels at once (issue #16), two measurements.

1. Three sandbox panels (alpha V2, beta V3, gamma the reseller script), N_i open orders at each,
   one poll cycle: each panel is asked in ceil(N_i / 100) status requests, and every order gets
   its status stored.
2. One panel down for a whole cycle: it holds every status request open until the client gives
   up (its timeout T, one attempt). The cycle takes about T, but the healthy panels' answers must
   be in the database long before that (< 20% of T): each panel's answers are stored as they
   come. The next cycle asks the hung panel's orders again (rescheduled, not lost).

Real parts throughout: each sandbox panel over loopback HTTP, the real PanelClient, a real
SQLite file, bot/shop/tracking.py `poll_orders` driven with explicit `now` values.

    python bench/panels_poll.py [--orders 250,120,30] [--hang-panel beta] [--timeout 5] [--hang-seconds 30]
                                [--latency 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from bot.domain.money import quantum_micros
from bot.domain.tracking import retry_delay
from bot.panel import BATCH_LIMIT, PanelClient
from bot.panel.models import ServiceType
from bot.panel.sandbox import SANDBOX_PANELS, FaultKind, SandboxClock, SandboxPanel, SandboxPanelSpec, SandboxServer
from bot.shop.alerts import AdminAlerts
from bot.shop.panels import Panel, Panels
from bot.shop.tracking import PollReport, poll_orders
from storage.database import Database, open_database

INTERVAL = 60.0  # POLL_INTERVAL_SECONDS: a new order is first polled one interval after it is placed
CENT_STEP = quantum_micros(2)  # partial refunds in whole cents (PRICE_DECIMALS=2)
WATCH_EVERY = 0.01  # how often the database is looked at while a cycle runs
HEALTHY_SHARE = 0.2  # the healthy panels' answers are stored within this share of the hung one's timeout


@dataclass
class Shop:
    """One run's shop: the panels (sandbox server and client each), the database, the orders."""

    db: Database
    panels: Panels
    servers: dict[str, SandboxServer]
    orders: dict[str, int]  # panel name → open orders there

    def status_requests(self) -> dict[str, list[int]]:
        """Per panel, the number of ids in each status request since the counters were reset."""
        return {name: [len(r.fields.get("orders", "").split(",")) for r in server.requests if r.action == "status"]
                for name, server in self.servers.items()}

    def reset_counters(self) -> None:
        for server in self.servers.values():
            server.reset_counters()

    async def stored(self, names: Sequence[str]) -> int:
        """How many of these panels' orders have a status stored."""
        stored = 0
        for name in names:
            row = await self.db.read_point(
                "SELECT COUNT(*) FROM orders WHERE panel = ? AND panel_status IS NOT NULL", (name,))
            stored += int(row[0]) if row else 0
        return stored

    async def cycle(self, now: float) -> PollReport:
        async def nobody(chat_id: int, text: str) -> None:
            return None

        return await poll_orders(self.db, self.panels, AdminAlerts([], nobody), now=now, interval=INTERVAL,
                                 quantum=CENT_STEP)


def default_service(spec: SandboxPanelSpec) -> str:
    """The panel's first plain (Default type) service."""
    return str(next(s for s in spec.catalogue if s.type is ServiceType.DEFAULT).service_id)


async def _insert_orders(db: Database, spec: SandboxPanelSpec, service_id: str, panel_ids: list[str]) -> None:
    """Orders placed at time 0 at this panel, first polled one interval later (as place_order does)."""
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO orders (user_id, draft_key, service_id, service_name, service_type, link, quantity,"
            " request_json, price_micros, cost_micros, currency, state, panel_order_id, placed_at, next_poll_at,"
            " panel, panel_service_id, panel_currency, fx_rate, panel_cost_micros)"
            " VALUES (1, ?, ?, 'Followers', 'Default', 'https://example.com', 1000, '{}', 120000, 120000,"
            " 'USD', 'placed', ?, 0, ?, ?, ?, ?, '1', 120000)",
            [(f"{spec.name}-{panel_id}", f"{spec.name}-{service_id}", panel_id, INTERVAL, spec.name, service_id,
              spec.currency) for panel_id in panel_ids])


@asynccontextmanager
async def open_shop(counts: Sequence[int], *, latency: float, client_timeout: float,
                    hang_seconds: float) -> AsyncIterator[Shop]:
    with tempfile.TemporaryDirectory(prefix="panels-poll-") as folder:
        db = await open_database(Path(folder) / "bot.db")
        async with AsyncExitStack() as stack:
            stack.push_async_callback(db.close)
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO users (user_id, first_name) VALUES (1, 'Customer')")
            servers: dict[str, SandboxServer] = {}
            shop_panels: list[Panel] = []
            orders: dict[str, int] = {}
            for index, (spec, count) in enumerate(zip(SANDBOX_PANELS, counts, strict=False)):
                key = f"bench-key-{index}"
                panel = SandboxPanel(api_key=key, dialect=spec.dialect, clock=SandboxClock(speed=0),  # stay open
                                     funds=spec.funds, currency=spec.currency, catalogue=spec.catalogue,
                                     first_order_id=spec.first_order_id, first_refill_id=spec.first_refill_id)
                service_id = default_service(spec)
                await _insert_orders(db, spec, service_id, panel.create_orders(count, service_id=service_id,
                                                                               quantity=1000))
                server = await stack.enter_async_context(SandboxServer(panel, latency=latency,
                                                                       hang_seconds=hang_seconds))
                client = await stack.enter_async_context(PanelClient(server.api_url, key, timeout=client_timeout,
                                                                     read_attempts=1))
                await client.balance()  # warm the connection outside the measurement
                servers[spec.name] = server
                shop_panels.append(Panel(spec.name, client))
                orders[spec.name] = count
            shop = Shop(db, Panels(shop_panels), servers, orders)
            shop.reset_counters()
            yield shop


def check(checks: dict[str, bool], name: str, ok: bool) -> None:
    checks[name] = ok
    print(f"  {'PASS' if ok else 'FAIL'}  {name}")


async def side_by_side(counts: Sequence[int], latency: float) -> tuple[bool, dict[str, int], float]:
    """(passed, status requests per panel, wall seconds) of one cycle over every panel."""
    checks: dict[str, bool] = {}
    async with open_shop(counts, latency=latency, client_timeout=10.0, hang_seconds=60.0) as shop:
        started = time.perf_counter()
        report = await shop.cycle(now=INTERVAL)
        wall = time.perf_counter() - started
        sizes = shop.status_requests()
        stored = await shop.stored(list(shop.orders))
        total = sum(shop.orders.values())
        print(f"one cycle, {len(shop.orders)} panels side by side, {latency * 1000:.0f} ms latency: "
              f"{wall * 1000:.0f} ms, {report.due} orders due")
        for name, count in shop.orders.items():
            print(f"  {name} ({shop.servers[name].panel.dialect.value}): {count} orders, {len(sizes[name])} status "
                  f"requests of {sizes[name]} ids")
        for name, count in shop.orders.items():
            expected = math.ceil(count / BATCH_LIMIT)
            check(checks, f"requests at {name} = ceil({count} / {BATCH_LIMIT}) = {expected}",
                  len(sizes[name]) == expected and sum(sizes[name]) == count)
        check(checks, f"every order got a status ({stored}/{total})", stored == total and report.failed == 0)
    return all(checks.values()), {name: len(s) for name, s in sizes.items()}, wall


@dataclass(frozen=True)
class Outage:
    passed: bool
    healthy_seconds: float | None  # None: never all stored while the cycle ran
    cycle_seconds: float
    hung_orders: int
    retried_requests: int
    retried_stored: int


async def one_panel_down(counts: Sequence[int], hung: str, *, latency: float, client_timeout: float,
                         hang_seconds: float) -> Outage:
    checks: dict[str, bool] = {}
    async with open_shop(counts, latency=latency, client_timeout=client_timeout, hang_seconds=hang_seconds) as shop:
        if hung not in shop.orders:
            raise SystemExit(f"--hang-panel {hung!r}: not one of {', '.join(shop.orders)}")
        healthy = [name for name in shop.orders if name != hung]
        healthy_total = sum(shop.orders[name] for name in healthy)
        hung_orders = shop.orders[hung]
        hung_requests = math.ceil(hung_orders / BATCH_LIMIT)
        shop.servers[hung].inject(FaultKind.TIMEOUT, action="status", times=hung_requests)
        print(f"\n{hung} hangs on every status request ({hang_seconds:g} s; client timeout {client_timeout:g} s, one "
              f"attempt); healthy: {', '.join(healthy)} ({healthy_total} orders)")

        started = time.perf_counter()
        cycle = asyncio.create_task(shop.cycle(now=INTERVAL))
        healthy_seconds: float | None = None
        while not cycle.done():
            if healthy_seconds is None and await shop.stored(healthy) == healthy_total:
                healthy_seconds = time.perf_counter() - started
            await asyncio.wait({cycle}, timeout=WATCH_EVERY)
        report = cycle.result()
        cycle_seconds = time.perf_counter() - started
        shop.servers[hung].clear_faults()
        hung_stored = await shop.stored([hung])
        rescheduled = await shop.db.fetchone(
            "SELECT COUNT(*) FROM orders WHERE panel = ? AND poll_failures = 1 AND next_poll_at > ?",
            (hung, INTERVAL))
        shown = f"{healthy_seconds * 1000:.0f} ms" if healthy_seconds is not None else "never"
        print(f"  healthy panels' {healthy_total} orders stored after {shown}; the whole cycle took "
              f"{cycle_seconds * 1000:.0f} ms; {report.failed} orders without a status")
        budget = HEALTHY_SHARE * client_timeout
        check(checks, f"healthy panels stored in < {HEALTHY_SHARE:.0%} of the timeout ({budget * 1000:.0f} ms)",
              healthy_seconds is not None and healthy_seconds < budget)
        held = 0.95 * client_timeout  # (the event loop's timers may fire a hair early)
        check(checks, f"the hung panel held the cycle until its timeout (>= {held:g} s)", cycle_seconds >= held)
        check(checks, f"{hung}'s {hung_orders} orders not stored but rescheduled",
              hung_stored == 0 and report.failed == hung_orders and rescheduled is not None
              and rescheduled[0] == hung_orders)

        shop.reset_counters()
        retry_at = INTERVAL + retry_delay(1, INTERVAL)
        await shop.cycle(now=retry_at)
        retried = shop.status_requests()[hung]
        retried_stored = await shop.stored([hung])
        print(f"  next cycle (now = {retry_at:g} s): {hung} asked in {len(retried)} status requests of {retried} "
              f"ids; {retried_stored}/{hung_orders} stored")
        check(checks, f"next cycle asks {hung}'s {hung_orders} orders again in ceil({hung_orders} / {BATCH_LIMIT}) "
              f"= {hung_requests} requests, all stored",
              len(retried) == hung_requests and sum(retried) == hung_orders and retried_stored == hung_orders)
    return Outage(all(checks.values()), healthy_seconds, cycle_seconds, hung_orders, len(retried), retried_stored)


async def run(counts: Sequence[int], hung: str, *, latency: float, client_timeout: float,
              hang_seconds: float) -> bool:
    first, requests, wall = await side_by_side(counts, latency)
    outage = await one_panel_down(counts, hung, latency=latency, client_timeout=client_timeout,
                                  hang_seconds=hang_seconds)
    healthy = f"{outage.healthy_seconds * 1000:.0f} ms" if outage.healthy_seconds is not None else "never"
    share = f" ({outage.healthy_seconds / client_timeout:.1%} of T)" if outage.healthy_seconds is not None else ""
    ok = first and outage.passed
    print(f"\nsummary: orders {'/'.join(map(str, counts))} at {'/'.join(requests.keys())}: status requests "
          f"{'/'.join(map(str, requests.values()))} (ceil(N/100)), one cycle {wall * 1000:.0f} ms; {hung} hung: "
          f"healthy stored after {healthy}{share}, cycle {outage.cycle_seconds * 1000:.0f} ms "
          f"(T = {client_timeout:g} s); "
          f"next cycle re-asked {hung}'s {outage.hung_orders} orders in {outage.retried_requests} requests, "
          f"{outage.retried_stored} stored; {'PASS' if ok else 'FAIL'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Poll order statuses at several sandbox panels, one of them down.")
    parser.add_argument("--orders", default="250,120,30",
                        help=f"open orders per panel, comma-separated (1 to {len(SANDBOX_PANELS)} panels)")
    parser.add_argument("--hang-panel", default="beta", help="the panel that hangs in the second measurement")
    parser.add_argument("--timeout", type=float, default=5.0, help="the panel client's timeout (s)")
    parser.add_argument("--hang-seconds", type=float, default=30.0,
                        help="how long the hung panel holds a request (s); longer than --timeout")
    parser.add_argument("--latency", type=float, default=0.05, help="each sandbox panel's latency (s)")
    args = parser.parse_args(argv)
    try:
        counts = [int(part) for part in args.orders.split(",")]
    except ValueError:
        parser.error("--orders: whole numbers separated by commas")
    if not 1 <= len(counts) <= len(SANDBOX_PANELS) or min(counts) < 1:
        parser.error(f"--orders: 1 to {len(SANDBOX_PANELS)} positive counts")
    if args.hang_seconds <= args.timeout:
        parser.error("--hang-seconds must be longer than --timeout (the client gives up first)")
    ok = asyncio.run(run(counts, args.hang_panel, latency=args.latency, client_timeout=args.timeout,
                         hang_seconds=args.hang_seconds))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
