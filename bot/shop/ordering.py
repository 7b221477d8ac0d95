"""Placing an order: charge the wallet and record the order first, then call the panel once.

    charge_and_record (one transaction)  →  panel.add (once, never retried)  →  outcome
        placed ............ order id stored
        refused ........... full refund, the panel's reason in plain words
        out of funds ...... refund, "temporarily unavailable", admins alerted (≤ 1 an hour)
        outcome unknown ... money stays held, order kept as unverified, admins alerted
"""

from __future__ import annotations

import html
import logging
import time
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from bot import texts
from bot.domain.money import Money, from_micros, to_micros
from bot.domain.order_form import OrderDraft
from bot.domain.pricing import Breakdown, breakdown, order_cost
from bot.panel import (
    OrderOutcomeUnknown,
    PanelAuthError,
    PanelClient,
    PanelError,
    PanelFundsError,
    PanelRateLimited,
    PanelRejected,
    PanelUnreachable,
)
from bot.shop.alerts import AdminAlerts
from storage.database import Database
from storage.ledger import balance_micros
from storage.orders import (
    AlreadyConfirmed,
    NewOrder,
    NotEnoughMoney,
    OrderRecord,
    abandoned_placings,
    charge_and_record,
    get_order,
    mark_placed,
    mark_unverified,
    orders_in_state,
    reject_and_refund,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Quote:
    cost: Decimal  # at the panel's rate
    price: Decimal  # what the customer pays
    basis: Breakdown  # how the price is made (bot/domain/pricing.py)


def quote(draft: OrderDraft, markup_percent: Decimal, decimals: int) -> Quote:
    """The price, rounded up to the shop's price decimals: the summary shows it, Confirm charges
    exactly it (or shows the summary again if it changed)."""
    values = draft.values
    counts = {"quantity": draft.quantity, "runs": values.get("runs"), "posts": values.get("posts")}
    basis = breakdown(draft.service, markup_percent, decimals, **counts)
    return Quote(order_cost(draft.service, **counts), basis.price, basis)


@dataclass(frozen=True)
class Placed:
    order: OrderRecord
    panel_order_id: str
    balance: Decimal


class WhyRefused(StrEnum):
    REJECTED = "rejected"  # the panel said why (Refused.reason)
    UNAVAILABLE = "unavailable"  # the panel's key or funds: the operator's problem, not the customer's
    BUSY = "busy"  # rate-limited or unreachable before sending: try again soon


@dataclass(frozen=True)
class Refused:
    """Refunded at once."""

    order: OrderRecord
    why: WhyRefused
    reason: str = ""


@dataclass(frozen=True)
class OutcomeUnknown:
    order: OrderRecord


@dataclass(frozen=True)
class ShortOfMoney:
    price: Decimal
    balance: Decimal


@dataclass(frozen=True)
class Duplicate:
    """The draft was confirmed before (its update handled again after an instance stopped, say):
    the order as it stands, and the wallet now."""

    order: OrderRecord
    balance: Decimal = Decimal(0)


Outcome = Placed | Refused | OutcomeUnknown | ShortOfMoney | Duplicate


async def place_order(db: Database, panel: PanelClient, alerts: AdminAlerts, *, user_id: int, draft: OrderDraft,
                      price: Quote, currency: str, poll_interval: float = 60.0,
                      unrecorded: dict[int, str] | None = None) -> Outcome:
    """Charge exactly `price` (the quote the customer confirmed) and place the order.
    `unrecorded`: where an order the panel took is kept when its id cannot be stored (the poll
    job stores it later, see `record_unrecorded`)."""
    request = draft.to_request()
    form = request.to_form()
    charged = await charge_and_record(db, NewOrder(
        user_id=user_id, draft_key=draft.key, service_id=draft.service.service_id, service_name=draft.service.name,
        service_type=draft.service.type.value, link=form.get("link") or form.get("username"),
        quantity=draft.quantity, request=form, price_micros=to_micros(price.price),
        cost_micros=to_micros(price.cost), currency=currency,
    ))
    if isinstance(charged, AlreadyConfirmed):
        return Duplicate(charged.order, from_micros(await balance_micros(db, user_id)))
    if isinstance(charged, NotEnoughMoney):
        return ShortOfMoney(price.price, from_micros(charged.balance_micros))
    order = charged.order
    shown_price = Money(price.price, currency)  # written out for each admin, in their way
    try:
        added = await panel.add(request)
    except OrderOutcomeUnknown as exc:
        return await _unknown(db, alerts, order, exc.message, shown_price)
    except PanelFundsError as exc:
        await alerts.alert(texts.ALERT_PANEL_FUNDS.lazy(reason=html.escape(exc.panel_message or exc.message)),
                           throttle_key="panel-funds")
        return await _refuse(db, order, exc, WhyRefused.UNAVAILABLE)
    except PanelAuthError as exc:
        await alerts.alert(texts.ALERT_PANEL_AUTH.lazy(reason=html.escape(exc.panel_message or exc.message)),
                           throttle_key="panel-auth")
        return await _refuse(db, order, exc, WhyRefused.UNAVAILABLE)
    except (PanelRateLimited, PanelUnreachable) as exc:  # certainly not placed
        return await _refuse(db, order, exc, WhyRefused.BUSY)
    except PanelRejected as exc:
        return await _refuse(db, order, exc, WhyRefused.REJECTED)
    except Exception as exc:  # anything else after the charge: the order may exist, a person decides
        log.exception("unexpected error while placing order %s", order.order_id)
        return await _unknown(db, alerts, order, f"unexpected error: {type(exc).__name__}", shown_price)
    now = time.time()
    try:  # (a locked database has already been waited for: busy_timeout)
        await mark_placed(db, order.order_id, added.order_id, now=now, first_poll_at=now + poll_interval)
    except Exception:
        # The panel has the order, the database would not take its id: never lose that id. It is
        # logged, the admins get it with the command that settles it, and the poll job retries.
        log.exception("order %s was placed at the panel as %r but could not be recorded", order.order_id,
                      added.order_id)
        if unrecorded is not None:
            unrecorded[order.order_id] = added.order_id
        await alerts.alert(texts.ALERT_PLACED_NOT_RECORDED.lazy(
            order_id=order.order_id, user_id=order.user_id, panel_order_id=html.escape(added.order_id)))
    return Placed(order, added.order_id, from_micros(charged.balance_after_micros))


async def record_unrecorded(db: Database, unrecorded: dict[int, str], *, poll_interval: float) -> list[int]:
    """Orders the panel took whose id could not be stored at the time: store them now (the poll
    job calls this every tick). Returns the orders recorded."""
    recorded = []
    for order_id, panel_order_id in list(unrecorded.items()):
        now = time.time()
        try:
            await mark_placed(db, order_id, panel_order_id, now=now, first_poll_at=now + poll_interval)
        except Exception:
            log.warning("order %s (panel id %r) still cannot be recorded", order_id, panel_order_id)
            continue
        del unrecorded[order_id]
        recorded.append(order_id)
        log.info("order %s recorded as placed (panel id %r) after an earlier failure", order_id, panel_order_id)
    return recorded


async def _refuse(db: Database, order: OrderRecord, exc: PanelError, why: WhyRefused) -> Refused:
    reason = exc.panel_message or exc.message
    await reject_and_refund(db, order.order_id, reason)
    log.info("order %s refused by the panel (%s), refunded", order.order_id, type(exc).__name__)
    return Refused(order, why, reason)


async def _unknown(db: Database, alerts: AdminAlerts, order: OrderRecord, reason: str, price: Money) -> OutcomeUnknown:
    log.warning("order %s outcome unknown: %s", order.order_id, reason)
    try:
        await mark_unverified(db, order.order_id, reason)
    except Exception:  # it stays 'placing', which a restart turns into unverified: the alert matters more
        log.exception("could not mark order %s as unverified", order.order_id)
    await alerts.alert(texts.ALERT_UNVERIFIED.lazy(
        order_id=order.order_id, user_id=order.user_id, service_id=html.escape(order.service_id),
        service=html.escape(order.service_name), link=html.escape(order.link or "-"),
        quantity=order.quantity if order.quantity is not None else "-", reason=html.escape(reason), price=price,
    ))
    return OutcomeUnknown(order)


async def resolve_placed(db: Database, order_id: int, panel_order_id: str, *, admin_id: int) -> OrderRecord | None:
    """An admin found the unverified order on the panel: it is placed, the charge stands, and
    it is followed like any other order. None when it is not (or no longer) unverified."""
    order = await get_order(db, order_id)
    now = time.time()
    if order is None or order.state != "unverified" or not await mark_placed(
            db, order_id, panel_order_id, now=now, first_poll_at=now, admin_id=admin_id):
        return None
    return await get_order(db, order_id)


async def resolve_failed(db: Database, order_id: int, *, admin_id: int) -> OrderRecord | None:
    """An admin found that the unverified order does not exist: refund it (once). None when it
    is not (or no longer) unverified, e.g. a second admin pressed at the same time."""
    order = await get_order(db, order_id)
    if order is None or order.state != "unverified":
        return None
    if not await reject_and_refund(db, order_id, "not found on the panel by an admin", admin_id=admin_id):
        return None
    return await get_order(db, order_id)


async def recover_interrupted(db: Database, alerts: AdminAlerts, *, now: float | None = None) -> list[int]:
    """Orders left 'placing' by a stop between the charge and the panel's answer: the `add`
    may have gone out, so they become unverified (money held) and admins are told. With `now`,
    only those of instances that are gone (several instances: the rest are in hand), else every
    one (the only instance, starting)."""
    recovered = []
    stuck = await (orders_in_state(db, "placing") if now is None else abandoned_placings(db, now=now))
    for order in stuck:
        if await mark_unverified(db, order.order_id, "the bot stopped while placing it"):
            await alerts.alert(texts.ALERT_RESTART_PLACING.lazy(order_id=order.order_id))
            recovered.append(order.order_id)
    return recovered
