"""The operator's view of the panel: its balance, and one alert each time it drops below
PANEL_LOW_BALANCE (the "low" mark is kept in the database, so a restart does not alert again)."""

from __future__ import annotations

import logging
from decimal import Decimal

from bot import texts
from bot.domain.money import Money
from bot.panel import Balance, PanelClient
from bot.shop.alerts import AdminAlerts
from storage.database import Database
from storage.kv import get_value, set_value

log = logging.getLogger(__name__)

LOW_MARK = "panel_balance_low"


async def check_balance(db: Database, panel: PanelClient, alerts: AdminAlerts, threshold: Decimal | None,
                        currency: str) -> Balance:
    """Read the panel's balance; alert once per crossing below `threshold`. Raises PanelError."""
    balance = await panel.balance()
    if threshold is None:
        return balance
    low = balance.amount < threshold
    was_low = await get_value(db, LOW_MARK) == "1"
    if low and not was_low:
        await set_value(db, LOW_MARK, "1")
        shown = balance.currency or currency
        await alerts.alert(texts.ALERT_LOW_BALANCE.lazy(balance=Money(balance.amount, shown),
                                                          threshold=Money(threshold, shown)),
                           throttle_key=None)  # the stored mark makes it one alert per crossing
        log.warning("panel balance %s is below PANEL_LOW_BALANCE %s", balance.amount, threshold)
    elif not low and was_low:
        await set_value(db, LOW_MARK, "0")
        log.info("panel balance %s is back above PANEL_LOW_BALANCE %s", balance.amount, threshold)
    return balance
