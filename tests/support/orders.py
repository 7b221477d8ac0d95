"""Placed orders written straight into a real database, for tests of polling and refunds that
need many orders (or odd ones) without a customer typing each."""

from __future__ import annotations

from bot.settings import MAIN_PANEL
from storage.database import Database
from storage.ledger import add_entry
from storage.orders import NewOrder, OrderRecord, charge_and_record, get_order, mark_placed
from storage.users import touch_user


async def placed_order(db: Database, *, user_id: int, panel_order_id: str, price_micros: int,
                       service_type: str = "Default", quantity: int | None = 1000,
                       request: dict[str, str] | None = None, now: float = 0.0, key: str | None = None,
                       panel: str = MAIN_PANEL) -> OrderRecord:
    """A customer with just enough money, charged for one order the panel took (due at `now`)."""
    await touch_user(db, user_id, "Customer", None, None)
    if price_micros:
        async with db.transaction() as conn:
            await add_entry(conn, user_id, price_micros, "USD", "credit", admin_id=1)
    form = request if request is not None else {"service": "1", "link": "https://x.test", "quantity": str(quantity)}
    charged = await charge_and_record(db, NewOrder(
        user_id=user_id, draft_key=key or f"draft-{panel_order_id}", service_id="1", service_name="Service",
        service_type=service_type, link="https://x.test", quantity=quantity, request=form, price_micros=price_micros,
        cost_micros=price_micros, currency="USD", panel=panel))
    order = charged.order  # type: ignore[union-attr]
    assert await mark_placed(db, order.order_id, panel_order_id, now=now, first_poll_at=now)
    placed = await get_order(db, order.order_id)
    assert placed is not None
    return placed
