"""Soak: the real poll job against a sandbox panel that answers garbage for 1 % of ids (hardening issue).

10,000 poll cycles (a tick of 30 s of simulated time each, as the bot's job) over a real SQLite
file. Customers keep placing orders of three kinds (plain, drip-feed: quantity × runs, and
flat-priced packages) throughout; each ends Completed, Partial or Canceled on the sandbox's own
clock. For 1 % of the ids in every answer the panel sends garbage instead: numbers out of any
range (10^20; 1e1000000 as text and as a JSON number; a JSON number of 5,000 digits), wrong
types, nested junk, control characters, lone surrogates, unknown status words, per-id errors.
After the last cycle the job runs on until every order has ended (at most two more simulated
hours).

Prints the cycles completed (target: every one), the orders stuck (not final and not held for an
admin; target 0), the orders held for an admin (target: exactly the Partial packages, whose flat
price makes the share unknowable), and the refunds paid against each order's undelivered share of
its price rounded down to the cent, checked per order exactly (target: equal, never more; nothing yet for a
held one).

    python bench/hostile_panel.py [--cycles 10000] [--garbage 0.01] [--seed 7]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

import argparse
import asyncio
import json
import logging
import random
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from bot.domain.money import quantum_micros
from bot.logging_setup import configure_logging
from bot.panel import OrderStatus, PanelClient
from bot.panel.sandbox import Raw, SandboxClock, SandboxPanel, SandboxServer
from bot.shop.alerts import AdminAlerts
from bot.shop.panels import Panels
from bot.shop.tracking import poll_orders
from storage.database import Database, open_database

KEY = "bench-key"
TICK = 30.0
INTERVAL = 60.0
OUTCOMES = (OrderStatus.COMPLETED, OrderStatus.PARTIAL, OrderStatus.CANCELED)
# Malformed answers for one order: never a plausible status (a lying panel cannot be told apart).
GARBAGE: tuple[Any, ...] = (
    {"status": "Partial", "remains": "99999999999999999999"},
    {"status": "In progress", "start_count": "1e30"},
    {"status": "Completed", "remains": 2**64},
    {"status": "Partial", "remains": [1, 2]},
    {"status": {"state": "Completed"}},
    {"status": "Compl\u0000eted", "remains": "0"},
    {"status": "Canceled", "charge": "NaN", "remains": {"n": 1}},
    {"status": None, "remains": None},
    {"status": "Partial", "remains": "1e1000000"},
    {"status": "Partial", "remains": "-1e30"},
    [1, 2, 3],
    None,
    17,
    {"remains": "12"},
    {"error": "Temporary failure"},
    "Service temporarily unavailable",
    {"status": "In progress", "remains": "HUGE"},  # sent as a JSON number of 5,000 digits
    {"status": "Partial", "remains": "EXPONENT"},  # sent as the JSON number 1e1000000
    {"status": "Partial \ud800", "remains": "SURROGATE"},  # sent as a lone surrogate escape
)
RAW = {'"HUGE"': "9" * 5000, '"SURROGATE"': '"\\ud800"', '"EXPONENT"': "1e1000000"}

CENT_STEP = quantum_micros(2)  # partial refunds in whole cents (PRICE_DECIMALS=2)


@dataclass(frozen=True)
class Planned:
    """An order as the bench set it up: what the customer paid and what should come back."""

    order_id: int
    panel_order_id: str
    price_micros: int
    due_back_micros: int  # the undelivered share of the price at the order's end (0 while held)
    held: bool  # a Partial package: its share cannot be known, the refund waits for an admin


def share(price_micros: int, undelivered: int, units: int) -> int:
    """The undelivered share of the price, rounded down to the shop's price step (a cent)."""
    exact = int((Decimal(price_micros) * undelivered / units).to_integral_value(rounding=ROUND_DOWN))
    return exact - exact % CENT_STEP


def plan(panel: SandboxPanel, orders: int, span: float, rng: random.Random) -> tuple[list[Planned], list[tuple]]:
    """Orders placed at random times over `span` seconds; the panel gets each with its outcome.
    Returns the plan and the database rows, in the order they are placed."""
    rows, planned = [], []
    for number, placed_at in enumerate(sorted(rng.uniform(0, span) for _ in range(orders))):
        kind = rng.choice(("plain", "drip", "package"))
        quantity, runs = rng.randrange(100, 5000), rng.randrange(2, 10) if kind == "drip" else 1
        units = quantity * runs
        price = rng.randrange(10_000, 50_000_000)
        outcome = rng.choice(OUTCOMES)
        [panel_id] = panel.create_orders(1, service_id="102", quantity=units)
        panel.orders[panel_id].outcome = outcome
        panel.orders[panel_id].created_at = placed_at
        undelivered = max(1, units // 4)  # what the sandbox reports for a Partial
        due = {OrderStatus.COMPLETED: 0, OrderStatus.CANCELED: price,
               OrderStatus.PARTIAL: share(price, undelivered, units)}[outcome]
        held = kind == "package" and outcome is OrderStatus.PARTIAL  # a flat price: an admin decides
        request = {"service": "102", "link": f"https://example.com/{number}", "quantity": str(quantity)}
        if kind == "drip":
            request |= {"runs": str(runs), "interval": "15"}
        rows.append((number + 1, 1 + number % 500, f"hostile-{number}", "Package" if kind == "package" else "Default",
                     1 if kind == "package" else quantity, json.dumps(request), price, panel_id, placed_at,
                     placed_at + INTERVAL))
        planned.append(Planned(number + 1, panel_id, price, 0 if held else due, held))
    return planned, rows


async def place(db: Database, rows: list[tuple]) -> None:
    """Charged and placed, as place_order leaves them (first polled one interval later)."""
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO orders (order_id, user_id, draft_key, service_id, service_name, service_type, link, quantity,"
            " request_json, price_micros, cost_micros, currency, state, panel_order_id, placed_at, next_poll_at, panel)"
            " VALUES (?, ?, ?, '102', 'Followers', ?, 'https://example.com', ?, ?, ?, 0, 'USD', 'placed', ?, ?, ?,"
            " 'main')",
            rows)
        await conn.executemany("INSERT INTO ledger (user_id, amount_micros, currency, reason, admin_id) VALUES"
                               " (?, ?, 'USD', 'credit', 1)", [(r[1], r[6]) for r in rows])
        await conn.executemany("INSERT INTO ledger (user_id, amount_micros, currency, reason, order_id) VALUES"
                               " (?, ?, 'USD', 'order', ?)", [(r[1], -r[6], r[0]) for r in rows])


def garbage_tamper(rng: random.Random, rate: float, counter: list[int]) -> Any:
    def tamper(action: str, form: Mapping[str, str], payload: Any) -> Any:
        if action != "status" or not isinstance(payload, dict):
            return payload
        for one in list(payload):
            if rng.random() < rate:
                counter[0] += 1
                payload[one] = rng.choice(GARBAGE)
        text = json.dumps(payload)
        if any(marker in text for marker in RAW):  # what no JSON encoder writes: as a panel might
            for marker, raw in RAW.items():
                text = text.replace(marker, raw)
            return Raw(text)
        return payload
    return tamper


async def run(cycles: int, rate: float, seed_value: int) -> bool:
    configure_logging(logging.CRITICAL, [])  # the garbage is logged as warnings by design
    rng = random.Random(seed_value)
    panel = SandboxPanel(api_key=KEY, clock=SandboxClock(speed=0), funds=Decimal(10) ** 12)
    planned, rows = plan(panel, cycles, cycles * TICK, rng)  # about one new order a cycle
    garbage = [0]
    done = failed = asked = placed = 0
    now = 0.0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hostile-panel-") as folder:
        db = await open_database(Path(folder) / "bot.db")
        async with db.transaction() as conn:
            await conn.executemany("INSERT INTO users (user_id, first_name) VALUES (?, ?)",
                                   [(user, f"C{user}") for user in range(1, 501)])
        alerted: list[str] = []

        async def to_admins(chat_id: int, text: str) -> None:
            alerted.append(text)

        async with SandboxServer(panel) as server, PanelClient(server.api_url, KEY, read_attempts=1) as client:
            server.tamper = garbage_tamper(rng, rate, garbage)
            alerts = AdminAlerts([1], to_admins)
            while True:
                now += TICK
                panel.clock.advance(TICK)
                arrived = placed
                while arrived < len(rows) and rows[arrived][8] <= now:  # sorted by placement time
                    arrived += 1
                if arrived > placed:
                    await place(db, rows[placed:arrived])
                    placed = arrived
                seen = len(server.requests)
                try:
                    await poll_orders(db, Panels.one(client), alerts, now=now, interval=INTERVAL, quantum=CENT_STEP)
                    done += 1
                except Exception:
                    failed += 1
                asked += sum(len(r.fields.get("orders", "").split(",")) for r in server.requests[seen:]
                             if r.action == "status")
                if done + failed >= cycles and placed == len(rows):
                    open_orders = await db.fetchone("SELECT COUNT(*) FROM orders WHERE next_poll_at IS NOT NULL"
                                                    " AND refund_hold IS NULL")  # held ones wait for an admin
                    if (open_orders is not None and open_orders[0] == 0) or now > (cycles * TICK) + 7200:
                        break
        results = await db.fetchall(
            "SELECT o.order_id, o.panel_status, o.refund_hold, COALESCE(SUM(l.amount_micros), 0) FROM orders o"
            " LEFT JOIN ledger l ON l.order_id = o.order_id AND l.reason = 'refund' GROUP BY o.order_id")
        await db.close()
    elapsed = time.perf_counter() - started
    due_back = {p.order_id: p.due_back_micros for p in planned}
    stuck = [r[0] for r in results if r[2] is None and not (r[1] and OrderStatus(r[1]).is_final)]
    held = {r[0] for r in results if r[2] is not None}
    paid, due = sum(r[3] for r in results), sum(due_back.values())
    over = [r[0] for r in results if r[3] > due_back[r[0]]]
    under = [r[0] for r in results if r[3] < due_back[r[0]]]
    checks = {
        f"cycles completed >= {cycles}, none failed": done >= cycles and failed == 0,
        "orders stuck == 0": not stuck,
        "held for an admin == the Partial packages, and only they": held == {p.order_id for p in planned if p.held},
        "no order refunded more than its undelivered share": not over,
        "refunds == undelivered share, to the cent, for every order": not over and not under and paid == due,
    }
    print(f"orders: {len(planned)} placed over {cycles * TICK / 3600:.1f} h  garbage for {rate:.0%} of ids  "
          f"tick {TICK:.0f} s  poll interval {INTERVAL:.0f} s")
    print(f"cycles completed: {done} (failed: {failed}), {now / 3600:.1f} h simulated, {elapsed:.1f} s real "
          f"({elapsed / max(1, done + failed) * 1000:.2f} ms a cycle)")
    print(f"order statuses asked: {asked}; garbage answers sent: {garbage[0]}")
    print(f"orders stuck: {len(stuck)}; held for an admin: {len(held)}; admin alerts: {len(alerted)}")
    print(f"refunds paid: {paid / 1e6:.6f}  undelivered share: {due / 1e6:.6f}  "
          f"(orders over: {len(over)}, under: {len(under)})")
    for name, passed in checks.items():
        print(f"  {'PASS' if passed else 'FAIL'}  {name}")
    return all(checks.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The poll job against a panel that answers garbage.")
    parser.add_argument("--cycles", type=int, default=10_000)
    parser.add_argument("--garbage", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    return 0 if asyncio.run(run(args.cycles, args.garbage, args.seed)) else 1


if __name__ == "__main__":
    sys.exit(main())
