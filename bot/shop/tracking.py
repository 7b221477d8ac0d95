"""Following orders after they are placed: batched status polls, refunds, refills, cancels.

Every change is stored together with the customer's notification (the outbox, sent by
bot/notifier.py), so a restart neither loses nor repeats an announcement. A status is decided on
the order as stored inside the transaction that writes it: its refund is the difference between
what the status makes due (bot/domain/refunds.py) and what was refunded before, so polls,
Refresh presses and restarts never repeat a refund, and no order is refunded past its charge.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
from dataclasses import astuple, dataclass

from bot import texts
from bot.domain.catalogue import shorten
from bot.domain.money import Count, Money, from_micros
from bot.domain.refunds import Held, Settlement, billed_units, refund_target, settle
from bot.domain.tracking import next_poll_delay, retry_delay
from bot.panel import (
    BATCH_LIMIT,
    OrderStatus,
    OrderStatusInfo,
    PanelClient,
    PanelError,
    PanelNotFound,
    PanelRateLimited,
    PanelRejected,
    PanelTransportError,
    PanelUnreachable,
    RefillStatus,
    RefillStatusInfo,
    is_id,
)
from bot.shop import outbox
from bot.shop.alerts import AdminAlerts
from bot.shop.panels import Panel, Panels
from bot.texts import Formatted, Text
from storage.database import Database
from storage.ledger import Refunded
from storage.orders import OrderRecord, get_order
from storage.tracking import (
    POLL_LEASE,
    Decide,
    Notice,
    RefillRecord,
    StatusChange,
    add_refill,
    apply_decisions,
    apply_refill_changes,
    due_orders,
    due_refills,
    mark_cancel_requested,
    poll_failed,
    poll_now,
    stop_polling,
)

log = logging.getLogger(__name__)
RUNNING = frozenset({OrderStatus.IN_PROGRESS, OrderStatus.PROCESSING})
UNREADABLE_ALERT_AFTER = 5  # polls in a row without a readable status before the admins are told
APPLY_CHUNK = 100  # orders stored per transaction: the database is never held long for one cycle


@dataclass(frozen=True)
class PollReport:
    due: int = 0
    changed: int = 0
    refunds: int = 0
    failed: int = 0
    missing: int = 0
    held: int = 0

    def __add__(self, other: PollReport) -> PollReport:
        return PollReport(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


# One mark per state an order can be in as the customer sees it, on the list and the card alike:
# the order's own state until the panel took it, then the panel's status (two statuses that read
# the same to a customer share a mark, as they share a name).
STATUS_MARKS: dict[str, str] = {
    "placing": "⏳", "unverified": "🔍", "rejected": "⛔",
    "pending": "🕓", "in progress": "🚀", "processing": "🚀", "completed": "✅", "partial": "⚠️",
    "canceled": "🚫", "refunded": "↩️", "failed": "❌", "active": "🔁", "paused": "⏸️", "expired": "⌛",
    "unknown": "❔", "cancel requested": "✋",
}


def open_button(order_id: int) -> tuple[Formatted, str]:
    """A notice's button: handlers.buttons.OrderCard(order_id, CardAction.NOTICE), which opens the
    card as a new message. Notices sent before it carry "ord:{order_id}" (opened in place)."""
    return texts.BUTTON_OPEN_ORDER.lazy(order_id=order_id), f"ord:{order_id}:n"


def status_name(status: str | None) -> str | Text:
    return texts.STATUS_NAMES.get(status or "pending", status or "")


def is_finished(order: OrderRecord) -> bool:
    """Nothing more will happen to it: refused, or final at the panel with no refund left to decide."""
    if order.state == "rejected":
        return True
    final = order.panel_status is not None and OrderStatus(order.panel_status).is_final
    return order.state == "placed" and final and not order.refund_hold


def shown_status(order: OrderRecord) -> tuple[str, str]:
    """The order's state as the customer sees it: its mark and its name (not escaped)."""
    if order.state != "placed":
        return STATUS_MARKS.get(order.state, "•"), texts.ORDER_STATES.get(order.state, order.state)
    status = order.panel_status or OrderStatus.PENDING.value
    final = OrderStatus(status).is_final
    if order.cancel_requested_at is not None and not final:
        return STATUS_MARKS["cancel requested"], texts.CANCELLATION_REQUESTED.format(status=status_name(status))
    return STATUS_MARKS.get(status, "•"), status_name(status)


def status_change(order: OrderRecord, info: OrderStatusInfo, refunded: Refunded, *, now: float,
                  interval: float, quantum: int = 1) -> StatusChange:
    """What one status answer means for one order as stored now: the new state, the next poll
    (none once final), the refund still due (bot/domain/refunds.py), the customer's message and
    the admins' alert."""
    status = info.status
    old = OrderStatus(order.panel_status) if order.panel_status else None
    next_poll = now + next_poll_delay(now - (order.placed_at or now), interval)
    if status is OrderStatus.UNKNOWN:  # never guessed: keep what we knew, ask again later
        log.warning("order %s: the panel says %r, which we do not know", order.order_id, info.raw_status)
        return StatusChange(order.order_id, None, info.raw_status, info.start_count, info.remains, next_poll)
    changed = status is not old and not (status in RUNNING and old in RUNNING)
    units = billed_units(order.service_type, order.quantity, order.request)
    target = refund_target(status, order.price_micros, units, info.remains, quantum)
    # A final order is asked about no more, unless its refund is held: then it is asked (backing
    # off to every 30 minutes) until an answer makes the share computable or an admin decides.
    if status.is_final and not isinstance(target, Held):
        next_poll = None
    if not changed and not (order.refund_hold and isinstance(target, int)):
        if not order.refund_hold and isinstance(target, Held):
            next_poll = None  # held no more: an admin decided
        return StatusChange(order.order_id, status.value, info.raw_status, info.start_count, info.remains, next_poll)
    settlement = settle(target, refunded.micros)
    hold = None
    if settlement.held is not None:
        hold = json.dumps(settlement.held.reason.to_json(), ensure_ascii=False)  # by name: see `held_reason`
    elif isinstance(target, int) and order.refund_hold:
        hold = ""  # this status decides the refund: the admins have nothing left to decide
    notice = None
    if status is not OrderStatus.PENDING:
        notice = outbox.notice(order.user_id, _notice_text(order, status, info, units, refunded, settlement),
                               open_button(order.order_id), order_id=order.order_id)
    return StatusChange(order.order_id, status.value, info.raw_status, info.start_count, info.remains, next_poll,
                        settlement.pay, f"panel status {info.raw_status}"[:100], hold, notice,
                        _alert_text(order, status, info, refunded, settlement))


def _notice_text(order: OrderRecord, status: OrderStatus, info: OrderStatusInfo, units: int | None,
                 before: Refunded, settlement: Settlement) -> Formatted:
    """What the customer is told, stored by name and rendered in their language when it is sent."""
    service = html.escape(shorten(order.service_name, 120))
    refunded = Money(from_micros(settlement.pay), order.currency)
    if status in RUNNING:
        if info.start_count is not None:
            return texts.NOTICE_STARTED_COUNT.lazy(order_id=order.order_id, service=service,
                                                   start_count=Count(info.start_count))
        return texts.NOTICE_STARTED.lazy(order_id=order.order_id, service=service)
    if status is OrderStatus.COMPLETED:
        return texts.NOTICE_COMPLETED.lazy(order_id=order.order_id, service=service)
    if status is OrderStatus.PARTIAL and settlement.held is not None:
        return texts.NOTICE_PARTIAL_HELD.lazy(order_id=order.order_id, service=service)
    if status is OrderStatus.PARTIAL and settlement.pay:
        return texts.NOTICE_PARTIAL.lazy(order_id=order.order_id, service=service, remains=Count(info.remains or 0),
                                         quantity=Count(units or 0), refund=refunded)
    asked = order.cancel_requested_at is not None  # worded by who cancelled: the customer or the provider
    if settlement.pay and before.micros:
        template = texts.NOTICE_CANCELED_ASKED_REST if asked else texts.NOTICE_CANCELED_REST
        return template.lazy(order_id=order.order_id, service=service, refund=refunded,
                               total=Money(from_micros(before.micros + settlement.pay), order.currency))
    if settlement.pay:
        template = texts.NOTICE_CANCELED_ASKED if asked else texts.NOTICE_CANCELED
        return template.lazy(order_id=order.order_id, service=service, refund=refunded)
    return texts.NOTICE_STATUS.lazy(order_id=order.order_id, service=service, status=status_name(status.value))


def _alert_text(order: OrderRecord, status: OrderStatus, info: OrderStatusInfo, refunded: Refunded,
                settlement: Settlement) -> Formatted | None:
    price = Money(from_micros(order.price_micros), order.currency)
    before = Money(from_micros(refunded.micros), order.currency)
    if settlement.held is not None:
        return texts.ALERT_REFUND_HELD.lazy(order_id=order.order_id, user_id=order.user_id, price=price,
                                              refunded=before, raw_status=html.escape(info.raw_status),
                                              reason=settlement.held.reason)
    if settlement.overpaid:
        return texts.ALERT_REFUND_OVERPAID.lazy(
            order_id=order.order_id, user_id=order.user_id, raw_status=html.escape(info.raw_status), refunded=before,
            overpaid=Money(from_micros(settlement.overpaid), order.currency))
    return None


async def poll_orders(db: Database, panels: Panels, alerts: AdminAlerts, *, now: float,
                      interval: float, quantum: int, early: float | None = None,
                      lease: float = POLL_LEASE) -> PollReport:
    """One cycle: at each panel, its due orders, topped up to full batches of 100 with its orders
    due soonest (at most `early` seconds early, one interval by default), so N open orders at a
    panel cost about ceil(N / 100) status requests there a cycle however their schedules drifted
    apart. The panels are asked side by side and each one's answers are stored as soon as they
    come: a panel that is down holds up nobody else's. `quantum`: the price step partial refunds
    are rounded down to (bot/domain/refunds.py). The orders are this instance's for `lease`
    seconds (storage/tracking.py `due_orders`)."""
    due = await due_orders(db, now, horizon=interval if early is None else early, batch=BATCH_LIMIT, lease=lease)
    if not due:
        return PollReport()
    reports = await asyncio.gather(*(_poll_panel(db, panels.get(name), name, orders, alerts, now=now,
                                                 interval=interval, quantum=quantum)
                                     for name, orders in due.items()), return_exceptions=True)
    total = PollReport()
    for name, report in zip(due, reports, strict=True):
        if isinstance(report, BaseException):
            log.error("polling panel %s failed", name, exc_info=report)
            continue
        total = total + report
    return total


async def _poll_panel(db: Database, panel: Panel | None, name: str, due: list[OrderRecord], alerts: AdminAlerts, *,
                      now: float, interval: float, quantum: int) -> PollReport:
    if panel is None:  # orders of a panel PANELS no longer lists: asked again later, the admins see them
        await poll_failed(db, {order.order_id: now + retry_delay(order.poll_failures + 1, interval) for order in due})
        log.warning("polling: %d orders belong to panel %r, which is not configured", len(due), name)
        return PollReport(len(due), failed=len(due))
    results = await panel.client.statuses(order.panel_order_id or "" for order in due)
    decisions: dict[int, Decide] = {}
    failed: dict[int, float] = {}
    missing: list[tuple[OrderRecord, PanelError]] = []
    unreadable: list[tuple[OrderRecord, PanelError | None]] = []
    for order in due:
        result = results.get(order.panel_order_id or "")
        if isinstance(result, OrderStatusInfo):
            decisions[order.order_id] = _decider(result, now, interval, quantum)
        elif isinstance(result, PanelNotFound) or not is_id(order.panel_order_id or ""):
            # the panel does not know it, or its id (typed by hand long ago) cannot be sent
            missing.append((order, result or PanelRejected("no panel order id")))
        else:  # the panel is down or answered garbage for this id: ask again later
            failed[order.order_id] = now + retry_delay(order.poll_failures + 1, interval)
            if order.poll_failures + 1 == UNREADABLE_ALERT_AFTER:
                unreadable.append((order, result))
    stored = await _store(db, alerts, decisions, now)  # first: nothing below may hold up these changes
    for order_id, outcome in stored.items():
        if isinstance(outcome, Exception):
            failed[order_id] = now + retry_delay(1, interval)
    for order, error in missing:
        try:
            await _report_missing(db, alerts, order, error)
        except Exception:
            log.exception("order %s: could not record that the panel does not know it", order.order_id)
            failed[order.order_id] = now + retry_delay(order.poll_failures + 1, interval)
    if failed:
        await poll_failed(db, failed)
        log.warning("polling panel %s: no status for %d of %d orders; retrying later", name, len(failed), len(due))
    if unreadable:  # one alert a cycle, however many orders reach the mark together (a panel outage)
        reason = next((e.panel_message or e.message for _, e in unreadable if e is not None), "-")
        shown = ", ".join(f"#{order.order_id}" for order, _ in unreadable[:20])
        await alerts.alert(texts.ALERT_NO_STATUS.lazy(
            polls=UNREADABLE_ALERT_AFTER, count=len(unreadable),
            orders=shown + (" …" if len(unreadable) > 20 else ""),
            reason=html.escape(shorten(f"{name}: {reason}", 200))))
    changes = [c for c in stored.values() if isinstance(c, StatusChange)]
    return PollReport(len(due), sum(1 for c in changes if c.notice), sum(1 for c in changes if c.refund_micros),
                      len(failed), len(missing), sum(1 for c in changes if c.hold))


def _decider(info: OrderStatusInfo, now: float, interval: float, quantum: int) -> Decide:
    def decide(order: OrderRecord, refunded: Refunded) -> StatusChange:
        return status_change(order, info, refunded, now=now, interval=interval, quantum=quantum)
    return decide


async def _store(db: Database, alerts: AdminAlerts, decisions: dict[int, Decide],
                 now: float) -> dict[int, StatusChange | Exception]:
    """Store the decisions a chunk per transaction, then send the admins' alerts they raised."""
    stored: dict[int, StatusChange | Exception] = {}
    ids = list(decisions)
    for start in range(0, len(ids), APPLY_CHUNK):
        chunk = {order_id: decisions[order_id] for order_id in ids[start:start + APPLY_CHUNK]}
        try:
            stored.update(await apply_decisions(db, chunk, now))
        except Exception as exc:  # the database itself failed (disk full, locked): these wait for next time
            log.exception("polling: could not store %d orders' statuses", len(chunk))
            stored.update(dict.fromkeys(chunk, exc))
    for change in stored.values():
        if isinstance(change, StatusChange) and change.alert:
            await alerts.alert(change.alert)
    return stored


async def _report_missing(db: Database, alerts: AdminAlerts, order: OrderRecord, error: PanelError) -> None:
    await stop_polling(db, order.order_id, error.panel_message or error.message)
    await alerts.alert(texts.ALERT_MISSING.lazy(
        order_id=order.order_id, panel_order_id=html.escape(order.panel_order_id or ""), user_id=order.user_id,
        reason=html.escape(error.panel_message or error.message)))


def _client(panels: Panels, order: OrderRecord) -> PanelClient:
    """The client of the panel that took the order. PanelUnreachable if PANELS no longer lists it."""
    panel = panels.get(order.panel)
    if panel is None:
        raise PanelUnreachable(f"panel {order.panel!r} is not configured")
    return panel.client


async def refresh_order(db: Database, panels: Panels, alerts: AdminAlerts, order: OrderRecord, *, now: float,
                        interval: float, quantum: int) -> OrderRecord:
    """Ask the order's panel about it now (the card's Refresh button). Panel errors propagate."""
    if order.state != "placed" or not order.panel_order_id:
        return order
    info = await _client(panels, order).status(order.panel_order_id)
    stored = await _store(db, alerts, {order.order_id: _decider(info, now, interval, quantum)}, now)
    if isinstance(outcome := stored.get(order.order_id), Exception):
        raise outcome
    return await get_order(db, order.order_id) or order


# --------------------------------------------------------------------------- refill, cancel

@dataclass(frozen=True)
class Answer:
    """What to tell the customer after a refill or cancel request."""

    ok: bool
    text: str


def _refusal(exc: PanelError, order: OrderRecord, refused: str) -> Answer:
    """The customer's answer in the shop's words (`refused`: the text for a refusal). The panel's
    own message is for the admins: it goes to the log with the order's ids."""
    if isinstance(exc, PanelRejected):
        log.info("order %s (panel %s): the panel refused the request: %s", order.order_id, order.panel_order_id,
                 exc.panel_message or exc.message)
        return Answer(False, refused.format(order_id=order.order_id))
    if isinstance(exc, PanelUnreachable | PanelRateLimited) or not isinstance(exc, PanelTransportError):
        return Answer(False, texts.PANEL_BUSY)
    return Answer(False, texts.PANEL_UNSURE)  # it may have arrived: never re-sent automatically


async def request_refill(db: Database, panels: Panels, order: OrderRecord, *, now: float,
                         interval: float) -> Answer:
    assert order.panel_order_id is not None
    try:
        refill = await _client(panels, order).refill(order.panel_order_id)
    except PanelError as exc:
        return _refusal(exc, order, texts.REFILL_REFUSED)
    await add_refill(db, order.order_id, refill.refill_id, now + interval)
    if refill.trackable:
        return Answer(True, texts.REFILL_REQUESTED.format(order_id=order.order_id))
    if refill.message:  # the panel's words, for whoever reads the log: never shown to the customer
        log.info("order %s (panel %s): refill requested: %s", order.order_id, order.panel_order_id,
                 shorten(refill.message, 200))
    await poll_now(db, order.order_id, now + interval)
    return Answer(True, texts.REFILL_REQUESTED_UNTRACKED.format(order_id=order.order_id))


async def request_cancel(db: Database, panels: Panels, order: OrderRecord, *, now: float,
                         interval: float) -> Answer:
    assert order.panel_order_id is not None
    try:
        result = (await _client(panels, order).cancel([order.panel_order_id]))[order.panel_order_id]
    except PanelError as exc:
        result = exc
    if isinstance(result, PanelError):
        return _refusal(result, order, texts.CANCEL_REFUSED)
    # the outcome and refund come with the next poll
    await mark_cancel_requested(db, order.order_id, now + interval)
    return Answer(True, texts.CANCEL_REQUESTED.format(order_id=order.order_id))


async def poll_refills(db: Database, panels: Panels, *, now: float, interval: float) -> int:
    """Due refills with a panel id, at each one's panel in batches of 100 (the panels side by
    side); returns how many changed."""
    due = await due_refills(db, now)
    if not due:
        return 0
    by_panel: dict[str, list[RefillRecord]] = {}
    for refill in due:
        by_panel.setdefault(refill.panel, []).append(refill)

    async def ask(name: str, refills: list[RefillRecord]) -> dict[str, RefillStatusInfo | PanelError]:
        panel = panels.get(name)
        if panel is None:
            return {}
        return await panel.client.refill_statuses(r.panel_refill_id for r in refills if r.panel_refill_id)

    answers = await asyncio.gather(*(ask(name, refills) for name, refills in by_panel.items()), return_exceptions=True)
    changes: list[tuple[int, str, str, float | None, Notice | None]] = []
    for refills, found in zip(by_panel.values(), answers, strict=True):
        results = found if isinstance(found, dict) else {}
        for refill in refills:
            changes.append(_refill_change(refill, results.get(refill.panel_refill_id or ""), now=now,
                                          interval=interval))
    await apply_refill_changes(db, changes, now)
    return sum(1 for change in changes if change[4] is not None)


def _refill_change(refill: RefillRecord, result: RefillStatusInfo | PanelError | None, *, now: float,
                   interval: float) -> tuple[int, str, str, float | None, Notice | None]:
    if isinstance(result, PanelNotFound):
        return (refill.refill_id, RefillStatus.UNKNOWN.value, result.message, None, None)
    if isinstance(result, PanelError) or result is None:
        return (refill.refill_id, refill.status, refill.raw_status or "", now + retry_delay(1, interval), None)
    status = result.status
    notice = None
    if status.value != refill.status and status is not RefillStatus.UNKNOWN:
        text = texts.NOTICE_REFILL.lazy(order_id=refill.order_id,
                                        service=html.escape(shorten(refill.service_name, 120)),
                                        status=status_name(status.value))
        notice = outbox.notice(refill.user_id, text, open_button(refill.order_id), order_id=refill.order_id)
    next_poll = None if status.is_final else now + interval
    shown = status.value if status is not RefillStatus.UNKNOWN else refill.status
    return (refill.refill_id, shown, result.raw_status, next_poll, notice)


def held_reason(stored: str) -> str | Formatted:
    """Why a refund is held, as the order records it (by name, like a queued message), in the
    reader's language; a reason an earlier version recorded in words, as it is."""
    try:
        return Formatted.from_json(json.loads(stored))
    except (ValueError, TypeError, KeyError, AttributeError):
        return html.escape(stored)
