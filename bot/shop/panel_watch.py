"""The operator's view of each panel: its balance (which also tells its currency), and one
alert each time it drops below its low-balance mark (kept in the database per panel, so a
restart or another instance does not alert again)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from bot import texts
from bot.domain.money import Money
from bot.panel import Balance, PanelError, PanelTransportError
from bot.shop.alerts import AdminAlerts
from bot.shop.panels import Panel, Panels, currency_code
from storage.database import Database
from storage.panels import record_balance

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BalanceRead:
    panel: Panel
    balance: Balance | None = None
    error: PanelError | None = None
    learned: bool = False  # the panel named its currency for the first time (or a new one)

    @property
    def low(self) -> bool:
        threshold = self.panel.low_balance
        return self.balance is not None and threshold is not None and self.balance.amount < threshold


async def check_balance(db: Database, panels: Panels, panel: Panel, alerts: AdminAlerts, *,
                        within: float | None = None) -> BalanceRead:
    """Read one panel's balance (waiting at most `within` seconds); alert once per crossing below
    its mark. Never raises for the panel's sake: a panel that does not answer is a BalanceRead
    with its error."""
    try:
        async with asyncio.timeout(within):
            balance = await panel.client.balance()
    except TimeoutError:
        return BalanceRead(panel, error=PanelTransportError(f"no answer within {within:g}s"))
    except PanelError as exc:
        log.warning("panel %s: could not read its balance: %s", panel.name, exc.message)
        return BalanceRead(panel, error=exc)
    read = BalanceRead(panel, balance, learned=await panels.learn(db, panel.name, balance.currency))
    was_low = await record_balance(db, panel.name, balance.amount, currency_code(balance.currency), now=time.time(),
                                   low=read.low)
    threshold = panel.low_balance
    if read.low and not was_low and threshold is not None:
        shown = panel.currency or balance.currency or ""
        await alerts.alert(texts.ALERT_PANEL_LOW_BALANCE.lazy(panel=panel.name, balance=Money(balance.amount, shown),
                                                              threshold=Money(threshold, shown)),
                           throttle_key=None)  # the stored mark makes it one alert per crossing
        log.warning("panel %s: balance %s is below its low-balance mark %s", panel.name, balance.amount, threshold)
    elif was_low and not read.low:
        log.info("panel %s: balance %s is back above its low-balance mark", panel.name, balance.amount)
    return read


async def check_balances(db: Database, panels: Panels, alerts: AdminAlerts, *,
                         within: float | None = None) -> list[BalanceRead]:
    """Every panel's balance, side by side."""
    return list(await asyncio.gather(*(check_balance(db, panels, panel, alerts, within=within) for panel in panels)))
