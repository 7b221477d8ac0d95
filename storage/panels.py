"""What the bot learned of each panel (its currency, its last balance), the admins' exchange
rates, and the one-time attachment of a single-panel shop's rows to its (now named) panel."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from decimal import Decimal

from storage.changes import CATALOGUE, note_change
from storage.database import Connection, Database

log = logging.getLogger(__name__)

UNNAMED = ""  # the panel of rows from before panels had names (storage/alembic/versions/0003_panels.py)


@dataclass(frozen=True)
class ExchangeRate:
    currency: str
    rate: Decimal  # shop-currency units per unit of `currency`
    set_at: float
    set_by: int | None


async def adopt_unnamed(db: Database, panel: str, wallet_currency: str | None) -> int:
    """Rows of a shop from before panels had names belong to its one panel, which is now the
    first configured: attach them to it (once; later starts find nothing to attach). The panel's
    currency is the wallets' (they were kept in it). Returns the orders attached."""
    async with db.transaction() as conn:
        orders = (await conn.execute("UPDATE orders SET panel = ? WHERE panel = ? OR panel IS NULL",
                                     (panel, UNNAMED))).rowcount
        await conn.execute("UPDATE panel_services SET panel = ? WHERE panel = ?", (panel, UNNAMED))
        if orders and wallet_currency:
            await _learn_currency(conn, panel, wallet_currency)
    if orders:  # (the operator should know: PANELS' first panel must be the shop's old one)
        log.warning("%d orders from before several panels (and the cached catalogue) are now panel %s's, the"
                    " first configured: they are polled, refilled and cancelled there", orders, panel)
    return orders


async def learned_currencies(db: Database) -> dict[str, str]:
    """The currency each panel's `balance` named (panel → code), as remembered."""
    rows = await db.fetchall("SELECT name, currency FROM panels WHERE currency IS NOT NULL")
    return {str(r[0]): str(r[1]) for r in rows}


async def _learn_currency(conn: Connection, panel: str, currency: str) -> None:
    await conn.execute("INSERT INTO panels (name, currency) VALUES (?, ?)"
                       " ON CONFLICT (name) DO UPDATE SET currency = excluded.currency", (panel, currency))


async def learn_currency(db: Database, panel: str, currency: str) -> None:
    """A panel named its currency: its services can be priced (other instances reload them)."""
    async with db.transaction() as conn:
        await _learn_currency(conn, panel, currency)
        await note_change(conn, CATALOGUE, now=time.time())


async def record_balance(db: Database, panel: str, balance: Decimal, currency: str | None, *, now: float,
                         low: bool) -> bool:
    """The balance just read; returns whether the panel was below its mark before."""
    async with db.transaction() as conn:
        row = await conn.fetchone(f"SELECT low FROM panels WHERE name = ?{conn.for_update}", (panel,))
        await conn.execute(
            "INSERT INTO panels (name, currency, balance, balance_at, low) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET balance = excluded.balance, balance_at = excluded.balance_at,"
            " low = excluded.low, currency = COALESCE(excluded.currency, panels.currency)",
            (panel, currency, str(balance), now, int(low)))
    return bool(row and row[0])


async def load_rates(db: Database) -> dict[str, ExchangeRate]:
    rows = await db.fetchall("SELECT currency, rate, set_at, set_by FROM exchange_rates")
    return {r[0]: ExchangeRate(r[0], Decimal(r[1]), float(r[2]), r[3]) for r in rows}


async def put_rate(conn: Connection, currency: str, rate: Decimal, *, now: float, admin_id: int) -> None:
    await conn.execute("INSERT INTO exchange_rates (currency, rate, set_at, set_by) VALUES (?, ?, ?, ?)"
                       " ON CONFLICT (currency) DO UPDATE SET rate = excluded.rate, set_at = excluded.set_at,"
                       " set_by = excluded.set_by", (currency, str(rate), now, admin_id))


async def open_orders_by_panel(db: Database) -> dict[str, int]:
    """Orders each panel has not finished: being placed, unverified, or still followed."""
    rows = await db.fetchall("SELECT panel, COUNT(*) FROM orders WHERE state IN ('placing', 'unverified')"
                             " OR (state = 'placed' AND next_poll_at IS NOT NULL) GROUP BY panel")
    return {str(r[0]): int(r[1]) for r in rows}
