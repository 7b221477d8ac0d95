"""Placing an order: charge the wallet and record the order first, then call a panel once.

    charge_and_record (one transaction)  →  add at the first source (once, never retried)  →  outcome
        placed ............ order id stored
        refused, and the refusal proves nothing was placed (out of funds, service off, quantity
          range, key, rate limit, unreachable) ... the order moves to the next source (recorded
          before its `add` is sent), and so on
        refused ........... full refund, the panel's reason in plain words
        out of funds ...... (at the last source) refund, "temporarily unavailable", admins alerted
                            (≤ 1 an hour per panel)
        outcome unknown ... money stays held, order kept as unverified, admins alerted: no other
                            source is ever tried after it
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from bot import texts
from bot.domain.money import Money, from_micros, to_micros
from bot.domain.order_form import OrderDraft
from bot.domain.pricing import Breakdown, breakdown, order_cost
from bot.domain.sourcing import Source, cost_in_shop, fits, for_source, proves_not_placed
from bot.panel import (
    OrderOutcomeUnknown,
    OrderRequest,
    PanelAuthError,
    PanelError,
    PanelFundsError,
    PanelRateLimited,
    PanelUnreachable,
)
from bot.shop.alerts import AdminAlerts
from bot.shop.panels import Panels
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
    move_to_source,
    orders_in_state,
    reject_and_refund,
)
from storage.orders import Source as OrderSource

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


async def place_order(db: Database, panels: Panels, alerts: AdminAlerts, *, user_id: int, draft: OrderDraft,
                      price: Quote, sources: Sequence[Source], currency: str, poll_interval: float = 60.0,
                      unrecorded: dict[int, str] | None = None) -> Outcome:
    """Charge exactly `price` (the quote the customer confirmed) and place the order at the first
    of `sources` (the shop service's, best first) that takes it. The next source is tried only
    after a refusal that proves nothing was placed (bot/domain/sourcing.py `proves_not_placed`),
    never after a timeout or an unknown outcome, and never at a loss (its cost above the price).
    `unrecorded`: where an order the panel took is kept when its id cannot be stored (the poll
    job stores it later, see `record_unrecorded`)."""
    request = draft.to_request()
    counts = {"quantity": draft.quantity, "runs": draft.values.get("runs"), "posts": draft.values.get("posts")}
    price_micros = to_micros(price.price)
    candidates = [s for s in sources if fits(s, draft.quantity, runs=counts["runs"])] or list(sources[:1])
    planned = [(source, _plan(request, source, counts)) for source in candidates]
    # The quote was the first source's; any other is tried only if it costs no more than that price.
    planned = [(s, plan) for s, plan in planned if s is sources[0] or plan.cost_micros <= price_micros]
    if not planned:  # (the catalogue lost every source since the summary: Confirm shows it again)
        raise LookupError(f"service {draft.service.service_id} has no source")
    first = planned[0][1]
    form = first.request
    charged = await charge_and_record(db, NewOrder(
        user_id=user_id, draft_key=draft.key, service_id=draft.service.service_id, service_name=draft.service.name,
        service_type=draft.service.type.value, link=form.get("link") or form.get("username"),
        quantity=draft.quantity, request=form, price_micros=price_micros,
        cost_micros=first.cost_micros, currency=currency, panel=first.panel, panel_service_id=first.panel_service_id,
        panel_currency=first.panel_currency, fx_rate=first.fx_rate, panel_cost_micros=first.panel_cost_micros,
    ))
    if isinstance(charged, AlreadyConfirmed):
        return Duplicate(charged.order, from_micros(await balance_micros(db, user_id)))
    if isinstance(charged, NotEnoughMoney):
        return ShortOfMoney(price.price, from_micros(charged.balance_micros))
    order = charged.order
    shown_price = Money(price.price, currency)  # written out for each admin, in their way
    why, refusal = "", None
    for attempt, (source, plan) in enumerate(planned):
        if attempt:
            try:
                moved = await move_to_source(db, order.order_id, plan, why)
            except Exception:  # the last refusal proved nothing was placed: refunded, not left 'placing'
                log.exception("order %s: could not move it to its next source", order.order_id)
                assert refusal is not None
                return await _refuse(db, order, refusal, _why(refusal))
            if not moved:
                return OutcomeUnknown(order)  # no longer being placed: another instance took it for stopped
        panel = panels.get(plan.panel)
        assert panel is not None  # (a source is usable only at a configured panel)
        try:
            added = await panel.client.add(for_source(request, source))
        except OrderOutcomeUnknown as exc:
            return await _unknown(db, alerts, order, exc.message, shown_price, plan)
        except PanelError as exc:
            await _alert_operator(alerts, plan.panel, exc)
            if proves_not_placed(exc) and attempt + 1 < len(planned):
                why, refusal = f"{plan.panel}: {exc.panel_message or exc.message}", exc
                log.info("order %s: panel %s refused it (%s); trying the next source", order.order_id, plan.panel,
                         type(exc).__name__)
                continue
            return await _refuse(db, order, exc, _why(exc))
        except Exception as exc:  # anything else after the charge: the order may exist, a person decides
            log.exception("unexpected error while placing order %s", order.order_id)
            return await _unknown(db, alerts, order, f"unexpected error: {type(exc).__name__}", shown_price, plan)
        return await _placed(db, alerts, order, added.order_id, charged.balance_after_micros, poll_interval,
                             unrecorded)
    raise AssertionError("unreachable: the last source's answer always returns")


def _plan(request: OrderRequest, source: Source, counts: dict[str, int | None]) -> OrderSource:
    """The order as this source would take it: its service id, its cost there and in the shop's
    currency at the rate of now (recorded with the order)."""
    panel_cost = order_cost(source.service, **counts)
    return OrderSource(panel=source.panel, panel_service_id=source.service.service_id,
                       request=for_source(request, source).to_form(), panel_cost_micros=to_micros(panel_cost),
                       panel_currency=source.currency, fx_rate=str(source.fx_rate),
                       cost_micros=to_micros(cost_in_shop(panel_cost, source)))


def _why(exc: PanelError) -> WhyRefused:
    if isinstance(exc, PanelFundsError | PanelAuthError):
        return WhyRefused.UNAVAILABLE
    if isinstance(exc, PanelRateLimited | PanelUnreachable):  # certainly not placed
        return WhyRefused.BUSY
    return WhyRefused.REJECTED


async def _alert_operator(alerts: AdminAlerts, panel: str, exc: PanelError) -> None:
    """The operator's problems at a panel (its funds, its key), at most one alert an hour each."""
    reason = html.escape(f"{panel}: {exc.panel_message or exc.message}")
    if isinstance(exc, PanelFundsError):
        await alerts.alert(texts.ALERT_PANEL_FUNDS.lazy(reason=reason), throttle_key=f"panel-funds:{panel}")
    elif isinstance(exc, PanelAuthError):
        await alerts.alert(texts.ALERT_PANEL_AUTH.lazy(reason=reason), throttle_key=f"panel-auth:{panel}")


async def _placed(db: Database, alerts: AdminAlerts, order: OrderRecord, panel_order_id: str, balance_after: int,
                  poll_interval: float, unrecorded: dict[int, str] | None) -> Placed:
    now = time.time()
    try:  # (a locked database has already been waited for: busy_timeout)
        await mark_placed(db, order.order_id, panel_order_id, now=now, first_poll_at=now + poll_interval)
    except Exception:
        # The panel has the order, the database would not take its id: never lose that id. It is
        # logged, the admins get it with the command that settles it, and the poll job retries.
        log.exception("order %s was placed at the panel as %r but could not be recorded", order.order_id,
                      panel_order_id)
        if unrecorded is not None:
            unrecorded[order.order_id] = panel_order_id
        await alerts.alert(texts.ALERT_PLACED_NOT_RECORDED.lazy(
            order_id=order.order_id, user_id=order.user_id, panel_order_id=html.escape(panel_order_id)))
    return Placed(order, panel_order_id, from_micros(balance_after))


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


async def _unknown(db: Database, alerts: AdminAlerts, order: OrderRecord, reason: str, price: Money,
                   at: OrderSource) -> OutcomeUnknown:
    log.warning("order %s outcome unknown: %s", order.order_id, reason)
    try:
        await mark_unverified(db, order.order_id, reason)
    except Exception:  # it stays 'placing', which a restart turns into unverified: the alert matters more
        log.exception("could not mark order %s as unverified", order.order_id)
    await alerts.alert(texts.ALERT_UNVERIFIED.lazy(
        order_id=order.order_id, user_id=order.user_id,
        service_id=html.escape(f"{at.panel} · {at.panel_service_id}"),  # where to look for it
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
