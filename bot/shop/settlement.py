"""Settling an order's refund by hand: panels lose orders, and some Partial answers do not say
how much was undelivered (the refund is then held, see bot/domain/refunds.py). An admin refunds
all that is left, a part, or (for a held refund) decides nothing is due; the customer is told
what the ledger did, and the audit log records it."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from enum import Enum

from bot import texts
from bot.domain.catalogue import shorten
from bot.domain.money import Money, from_micros
from bot.domain.refunds import refundable
from bot.shop import outbox
from bot.shop.tracking import open_button
from storage.database import Database
from storage.ledger import Refunded
from storage.orders import OrderRecord, get_order
from storage.settlements import refund_by_hand, refunded_so_far, release_hold


@dataclass(frozen=True)
class Settleable:
    """An order as the admin sees it before deciding."""

    order: OrderRecord
    refunded: Refunded

    @property
    def left(self) -> int:
        """What can still be refunded, in micro-units."""
        return refundable(self.order.price_micros, self.refunded.micros)


class Refusal(Enum):
    UNKNOWN_ORDER = "unknown order"
    NOT_PLACED = "not placed"  # placing, unverified (settled on its own screen) or rejected (refunded in full)
    CHANGED = "changed"  # refunded meanwhile (a poll, another admin): look again
    OUT_OF_RANGE = "out of range"  # nothing, or more than is left
    NOTHING_HELD = "nothing held"


@dataclass(frozen=True)
class SettledByHand:
    order: OrderRecord
    amount_micros: int  # 0: nothing was due


async def look_up(db: Database, order_id: int) -> Settleable | None:
    order = await get_order(db, order_id)
    return None if order is None else Settleable(order, await refunded_so_far(db, order_id))


async def refund(db: Database, order_id: int, amount_micros: int | None, *, seen_refunds: int,
                 admin_id: int) -> SettledByHand | Refusal:
    """Refund `amount_micros` (None: all that is left) if the order's refunds are still the
    `seen_refunds` the admin was shown."""
    current = await look_up(db, order_id)
    if current is None:
        return Refusal.UNKNOWN_ORDER
    if current.order.state != "placed":
        return Refusal.NOT_PLACED
    if current.refunded.count != seen_refunds:
        return Refusal.CHANGED
    amount = current.left if amount_micros is None else amount_micros
    if not 0 < amount <= current.left:
        return Refusal.OUT_OF_RANGE
    order = current.order
    notice = outbox.notice(order.user_id, texts.NOTICE_REFUND_BY_HAND.lazy(
        order_id=order.order_id, service=html.escape(shorten(order.service_name, 120)),
        refund=Money(from_micros(amount), order.currency)), open_button(order.order_id),
        order_id=order.order_id)
    if not await refund_by_hand(db, order, amount, seen=current.refunded, admin_id=admin_id, notice=notice,
                                now=time.time()):
        return Refusal.CHANGED
    return SettledByHand(order, amount)


async def nothing_due(db: Database, order_id: int, *, admin_id: int) -> SettledByHand | Refusal:
    """A held refund decided as nothing more due."""
    order = await get_order(db, order_id)
    if order is None:
        return Refusal.UNKNOWN_ORDER
    notice = outbox.notice(order.user_id, texts.NOTICE_NOTHING_DUE.lazy(
        order_id=order.order_id, service=html.escape(shorten(order.service_name, 120))),
        open_button(order.order_id), order_id=order.order_id)
    if not await release_hold(db, order_id, admin_id=admin_id, notice=notice, now=time.time()):
        return Refusal.NOTHING_HELD
    return SettledByHand(order, 0)
