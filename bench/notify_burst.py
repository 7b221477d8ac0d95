"""10,000 open orders of 2,000 customers all complete in one poll cycle (issue #4).

The fake Bot API enforces Telegram's 30 messages a second (and answers 429 past it). Prints the
panel requests of the cycle (target 100), the notifications delivered (target all 10,000), the
delivery rate (target >= 95 % of 30/s, i.e. >= 28.5/s) and the peak memory.

The real bot runs in this process (its poll job and notifier), with a real SQLite file; the
sandbox panel and the fake Bot API run here too. Setup writes the orders straight into the
database (as 10,000 earlier confirmations would have) and is not measured.

    python bench/notify_burst.py [--orders 10000] [--customers 2000]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

import argparse
import asyncio
import json
import logging
import math
import resource
import tempfile
import time

from bot.logging_setup import configure_logging
from bot.panel.sandbox import SandboxClock, SandboxPanel, SandboxServer
from bot.panel.sandbox.engine import PENDING_SECONDS, RUN_SECONDS
from bot.settings import load_settings
from bot.state import app_state
from storage.database import open_database
from tests.support.bot_runner import running_bot
from tests.support.fake_telegram import FakeTelegram

KEY = "bench-key"
TELEGRAM_RATE = 30
TARGET_RATE = 0.95 * TELEGRAM_RATE


async def seed(path: Path, panel: SandboxPanel, orders: int, customers: int) -> None:
    """Customers and placed orders, as if they had been confirmed earlier; all due now."""
    panel_ids = panel.create_orders(orders, service_id="102", quantity=1000)
    db = await open_database(path)
    now = time.time()
    async with db.transaction() as conn:
        await conn.executemany("INSERT INTO users (user_id, first_name) VALUES (?, ?)",
                               [(100_000 + c, f"C{c}") for c in range(customers)])
        await conn.executemany(
            "INSERT INTO orders (user_id, draft_key, service_id, service_name, service_type, link, quantity,"
            " request_json, price_micros, cost_micros, currency, state, panel_order_id, panel_status, placed_at,"
            " next_poll_at) VALUES (?, ?, '102', 'Followers', 'Default', ?, 1000, ?, 120000, 120000, 'USD',"
            " 'placed', ?, 'in progress', ?, ?)",
            [(100_000 + i % customers, f"bench-{i}", f"https://example.com/{i}", json.dumps({"service": "102"}),
              panel_id, now - 60, now - 1) for i, panel_id in enumerate(panel_ids)])
        await conn.execute("INSERT INTO kv (key, value) VALUES ('currency', 'USD')")
    await db.close()


async def run(orders: int, customers: int) -> bool:
    configure_logging(logging.WARNING, [])
    panel = SandboxPanel(api_key=KEY, clock=SandboxClock(speed=0), funds=orders * 1000)
    with tempfile.TemporaryDirectory(prefix="notify-burst-") as tmp:
        db_path = Path(tmp) / "bot.db"
        await seed(db_path, panel, orders, customers)
        panel.clock.advance(PENDING_SECONDS + RUN_SECONDS + 1)  # every order is complete now
        async with FakeTelegram(global_limit_per_second=TELEGRAM_RATE, per_chat_limit_per_second=1) as telegram, \
                SandboxServer(panel) as server:
            for c in range(customers):
                telegram.user(100_000 + c, f"C{c}")
            settings = load_settings(_env_file=None, telegram_bot_token=telegram.token,
                                     telegram_base_url=telegram.base_url, panel_api_url=server.api_url,
                                     panel_api_key=KEY, database_url=f"sqlite:///{db_path}", poll_interval_seconds=1,
                                     log_level="WARNING")
            async with running_bot(settings) as app:
                notifier = app_state(app).notifier
                assert notifier is not None

                def delivered() -> int:
                    return notifier.delivered

                await telegram.wait_for(lambda: True if delivered() >= orders else None,
                                        timeout=orders / TARGET_RATE * 2 + 60, what=f"{orders} notifications")
            sends = [c for c in telegram.calls if c.method == "sendMessage"]
            ok = [c for c in sends if c.ok and str(c.params.get("text", "")).startswith("✅ Order #")]
            flooded = sum(1 for c in sends if c.status == 429)
        status_requests = sum(1 for r in server.requests if r.action == "status")
    first, last = (min(c.at for c in ok), max(c.at for c in ok)) if ok else (0.0, 0.0)
    rate = (len(ok) - 1) / (last - first) if len(ok) > 1 and last > first else 0.0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    distinct = len({(c.params["chat_id"], c.params["text"]) for c in ok})
    checks = {
        f"panel requests for the cycle == {math.ceil(orders / 100)}": status_requests == math.ceil(orders / 100),
        f"notifications delivered == {orders}": len(ok) == orders and distinct == orders,
        f"delivery rate >= {TARGET_RATE:.1f}/s": rate >= TARGET_RATE,
    }
    print(f"orders: {orders}  customers: {customers}  Telegram limit: {TELEGRAM_RATE}/s overall, 1/s per chat")
    print(f"panel status requests: {status_requests}")
    print(f"notifications delivered: {len(ok)} (distinct {distinct}); 429 answers on the way: {flooded}")
    print(f"delivery: {last - first:.1f} s from first to last, {rate:.2f} messages/s")
    print(f"peak memory (bench process: bot, fake Telegram and sandbox together): {peak_mb:.0f} MB")
    for name, passed in checks.items():
        print(f"  {'PASS' if passed else 'FAIL'}  {name}")
    return all(checks.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Notification burst: every open order completes at once.")
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=2_000)
    args = parser.parse_args(argv)
    return 0 if asyncio.run(run(args.orders, args.customers)) else 1


if __name__ == "__main__":
    sys.exit(main())
