"""Wallet top-ups: Stars invoices and payments, Stars refunds, manual requests and their decision.

Every credit and debit happens in one transaction together with the state change that allows
it and the customer's message (the outbox), so a replayed update, a double tap, two admins at
once or a restart can neither credit twice nor lose a receipt.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from bot import texts
from bot.domain.money import Money, from_micros, source_money, to_micros
from bot.domain.topup import (
    MAX_PENDING_MANUAL,
    Checkout,
    CheckoutProblem,
    checkout_problem,
    credit_for,
    payload_for,
    stars_for,
    topup_id_of,
)
from bot.shop import outbox
from storage.audit import record
from storage.database import Connection, Database
from storage.ledger import add_entry, balance_micros
from storage.topups import (
    StarPayment,
    Topup,
    add_topup_notice,
    begin_refund,
    count_pending_manual,
    finish_refund,
    get_star_payment,
    get_topup,
    insert_star_payment,
    insert_topup,
    settle_topup,
    star_payment_by_charge,
    undo_refund,
)
from storage.tracking import mark_sent, queue_notice

# --------------------------------------------------------------------------- Stars


@dataclass(frozen=True)
class Invoice:
    topup_id: int
    amount: Decimal
    stars: int
    payload: str


async def open_stars_topup(db: Database, user_id: int, amount: Decimal, currency: str,
                           stars_per_unit: Decimal) -> Invoice:
    """Record a pending top-up; the invoice for it names it in its payload."""
    stars = stars_for(amount, stars_per_unit)
    async with db.transaction() as conn:
        topup_id = await insert_topup(conn, user_id, "stars", to_micros(amount), currency, stars=stars)
    return Invoice(topup_id, amount, stars, payload_for(topup_id))


async def review_checkout(db: Database, payer_id: int, payload: str, currency: str, total_stars: int,
                          stars_per_unit: Decimal | None) -> CheckoutProblem | None:
    """Why the pre-checkout must be refused (see `checkout_problem`), or None to accept it."""
    topup_id = topup_id_of(payload)
    topup = await get_topup(db, topup_id) if topup_id is not None else None
    if topup is None:
        return checkout_problem(Checkout(payer_id, currency, total_stars, None), stars_per_unit)
    created = datetime.fromisoformat(topup.created_at.replace("Z", "+00:00"))
    age_hours = (datetime.now(UTC) - created).total_seconds() / 3600
    return checkout_problem(Checkout(payer_id, currency, total_stars, topup.user_id, topup.method, topup.state,
                                     topup.stars, from_micros(topup.amount_micros), age_hours), stars_per_unit)


@dataclass(frozen=True)
class PaymentRecorded:
    payment_id: int
    amount: Decimal
    currency: str
    balance: Decimal
    expected: bool  # the payment matched a pending invoice of the payer exactly
    topup_id: int | None = None  # the payer's top-up it paid
    receipt_id: int | None = None  # the receipt in the outbox


async def record_payment(db: Database, *, payer_id: int, charge_id: str, payload: str, total_stars: int,
                         stars_per_unit: Decimal | None, wallet_currency: str,
                         receipt_delay: float = 0) -> PaymentRecorded | None:
    """Credit a payment Telegram confirmed, once per charge id; None for one already recorded
    (a replayed update). The receipt goes to the outbox in the same transaction, `receipt_delay`
    seconds later when the caller means to tell the payer itself (then `receipt_shown`)."""
    topup_id = topup_id_of(payload)
    async with db.transaction() as conn:
        topup = await get_topup(conn, topup_id) if topup_id is not None else None
        if topup is not None and (topup.user_id != payer_id or topup.method != "stars"):
            topup = None  # not this payer's invoice: credited at the rate, and the admins are told
        currency = topup.currency if topup is not None else wallet_currency
        amount = credit_for(total_stars, topup.stars if topup else None,
                            from_micros(topup.amount_micros) if topup else None, stars_per_unit)
        micros = to_micros(amount)
        payment_id = await insert_star_payment(conn, charge_id, topup.topup_id if topup else None, payer_id,
                                               total_stars, micros, currency)
        if payment_id is None:
            return None
        settled = topup is not None and await settle_topup(conn, topup.topup_id, "paid")
        if micros > 0:
            await add_entry(conn, payer_id, micros, currency, "topup", ref=f"stars:{charge_id}",
                            note=f"{total_stars} Stars")
        balance = from_micros(await balance_micros(conn, payer_id))
        receipt_id = await queue_notice(conn, outbox.notice(payer_id, texts.TOPUP_RECEIPT.lazy(
            stars=total_stars, amount=Money(amount, currency), balance=Money(balance, currency),
            reference=payment_id)), time.time() + receipt_delay)
    expected = settled and topup is not None and topup.stars == total_stars
    return PaymentRecorded(payment_id, amount, currency, balance, expected, topup.topup_id if topup else None,
                           receipt_id)


async def receipt_shown(db: Database, payment: PaymentRecorded) -> None:
    """The payer was told of the payment another way (the order summary it paid for): its queued
    receipt is not sent again."""
    if payment.receipt_id is not None:
        await mark_sent(db, [payment.receipt_id])


# --------------------------------------------------------------------------- Stars refunds


class RefundRefused(Exception):
    """Telegram refused the refund: nothing was refunded."""


class RefundUnknown(Exception):
    """Telegram's answer was lost: the refund may or may not have happened."""


RefundCall = Callable[[int, str], Awaitable[None]]  # (user id, charge id); raises the two above


class RefundResult(StrEnum):
    DONE = "done"
    ALREADY = "already"  # refunded before
    BUSY = "busy"  # another admin's refund of it is running
    NOT_FOUND = "not_found"
    OVERDRAFT = "overdraft"  # the wallet holds less than the payment bought
    REFUSED = "refused"  # by Telegram (the reason in `reason`); the money went back to the wallet
    UNKNOWN = "unknown"  # Telegram's answer was lost: held, retried from the user card


@dataclass(frozen=True)
class RefundOutcome:
    result: RefundResult
    stars: int = 0
    amount: Decimal = Decimal(0)
    currency: str = ""
    balance: Decimal = Decimal(0)
    reason: str = ""


_refund_locks: dict[int, asyncio.Lock] = {}


async def refund_stars(db: Database, payment_id: int, user_id: int, admin_id: int, call: RefundCall) -> RefundOutcome:
    """Refund a Stars payment of `user_id` and take its amount back from the wallet.

    The wallet is debited before Telegram is asked, so the customer cannot spend the money
    meanwhile; a refusal gives it back. Telegram refunds a charge once, so asking again after a
    lost answer is safe: a refund left 'refunding' is retried, not debited again. One refund of a
    payment runs at a time (two admins: the second then finds it settled)."""
    async with _refund_lock(payment_id):
        return await _refund_stars(db, payment_id, user_id, admin_id, call)


@asynccontextmanager
async def _refund_lock(payment_id: int) -> AsyncIterator[None]:
    """One refund step of a payment at a time; the lock is forgotten once nobody holds or awaits it."""
    lock = _refund_locks.setdefault(payment_id, asyncio.Lock())
    try:
        async with lock:
            yield
    finally:
        if not lock.locked():
            _refund_locks.pop(payment_id, None)


async def _tell_refunded(conn: Connection, payment: StarPayment, balance_micros_now: int) -> None:
    """The customer's message, in the outbox in the same transaction as the refund."""
    await queue_notice(conn, outbox.notice(payment.user_id, texts.STARS_REFUNDED_CUSTOMER.lazy(
        stars=payment.stars, amount=Money(from_micros(payment.amount_micros), payment.currency),
        balance=Money(from_micros(balance_micros_now), payment.currency))), time.time())


async def _refund_stars(db: Database, payment_id: int, user_id: int, admin_id: int, call: RefundCall
                        ) -> RefundOutcome:
    payment = await get_star_payment(db, payment_id)
    if payment is None or payment.user_id != user_id:
        return RefundOutcome(RefundResult.NOT_FOUND)
    amount, currency = from_micros(payment.amount_micros), payment.currency
    if payment.state == "refunded":
        return RefundOutcome(RefundResult.ALREADY, payment.stars, amount, currency)
    attempt = payment.refund_attempt
    retry = payment.state == "refunding"  # an earlier attempt's answer was lost: it may have happened
    if payment.state == "paid":
        async with db.transaction() as conn:
            balance = await balance_micros(conn, user_id)
            if balance < payment.amount_micros:
                return RefundOutcome(RefundResult.OVERDRAFT, payment.stars, amount, currency, from_micros(balance))
            started = await begin_refund(conn, payment_id)
            if started is None:  # another admin got there first
                return RefundOutcome(RefundResult.BUSY, payment.stars, amount, currency)
            attempt = started
            if payment.amount_micros:
                await add_entry(conn, user_id, -payment.amount_micros, currency, "topup_refund",
                                ref=f"stars:{payment.charge_id}:{attempt}", admin_id=admin_id,
                                note=f"{payment.stars} Stars")
            await record(conn, admin_id, "stars refund", f"payment {payment_id} of user {user_id}",
                         before=source_money(from_micros(balance), currency),
                         after=source_money(from_micros(balance - payment.amount_micros), currency))
    try:
        await call(user_id, payment.charge_id)
    except RefundRefused as exc:
        if retry and "CHARGE_NOT_FOUND" not in str(exc).upper():
            # This refusal says nothing of the earlier attempt, which may have refunded: keep it held.
            return RefundOutcome(RefundResult.UNKNOWN, payment.stars, amount, currency)
        async with db.transaction() as conn:
            if await undo_refund(conn, payment_id, attempt) and payment.amount_micros:
                await add_entry(conn, user_id, payment.amount_micros, currency, "topup_refund_undone",
                                ref=f"stars:{payment.charge_id}:{attempt}", admin_id=admin_id, note=str(exc)[:200])
                await record(conn, admin_id, "stars refund refused", f"payment {payment_id} of user {user_id}",
                             before="refunding", after=f"paid ({str(exc)[:100]})")
        return RefundOutcome(RefundResult.REFUSED, payment.stars, amount, currency, reason=str(exc))
    except RefundUnknown:
        return RefundOutcome(RefundResult.UNKNOWN, payment.stars, amount, currency)
    async with db.transaction() as conn:
        done = await finish_refund(conn, payment_id, admin_id)
        balance_now = await balance_micros(conn, user_id)
        if done:
            await _tell_refunded(conn, payment, balance_now)
    return RefundOutcome(RefundResult.DONE if done else RefundResult.ALREADY, payment.stars, amount, currency,
                         from_micros(balance_now))


class Reported(StrEnum):
    """What Telegram's `refunded_payment` message meant for our records."""
    OURS = "ours"  # a refund the bot made and settled: nothing to do
    CONFIRMED = "confirmed"  # a refund whose answer was lost: now settled
    TAKEN_BACK = "taken_back"  # refunded outside the bot: the credit was taken back
    SHORT = "short"  # refunded outside the bot, but the wallet holds less than the credit: an admin decides
    UNKNOWN = "unknown"  # no such payment of this user


@dataclass(frozen=True)
class RefundReport:
    result: Reported
    payment_id: int = 0
    stars: int = 0
    amount: Decimal = Decimal(0)
    currency: str = ""
    balance: Decimal = Decimal(0)


async def settle_reported_refund(db: Database, user_id: int, charge_id: str) -> RefundReport:
    """Telegram says `charge_id` of `user_id` was refunded. Stars are refunded only through the
    Bot API, by this bot or by anything else holding its token; either way the wallet must not
    keep the credit the Stars bought. Runs under the payment's refund lock, so a refund the bot
    is making right now finishes first and this finds it settled."""
    payment = await star_payment_by_charge(db, charge_id)
    if payment is None or payment.user_id != user_id:
        return RefundReport(Reported.UNKNOWN)
    async with _refund_lock(payment.payment_id):
        return await _settle_reported_refund(db, payment.payment_id)


async def _settle_reported_refund(db: Database, payment_id: int) -> RefundReport:
    known = await get_star_payment(db, payment_id)
    assert known is not None
    async with db.transaction() as conn:
        # The customer first, then the payment: the order `refund_stars` takes them in, so that two
        # instances settling one payment wait for each other instead of deadlocking.
        await conn.lock_user(known.user_id)
        payment = await get_star_payment(conn, payment_id)
        assert payment is not None
        amount, currency = from_micros(payment.amount_micros), payment.currency
        balance = await balance_micros(conn, payment.user_id)
        report = RefundReport(Reported.OURS, payment_id, payment.stars, amount, currency, from_micros(balance))
        if payment.state == "refunded":
            return report
        if payment.state == "paid":
            if balance < payment.amount_micros:
                return dataclasses.replace(report, result=Reported.SHORT)
            attempt = await begin_refund(conn, payment_id)
            assert attempt is not None  # the state was read in this transaction
            if payment.amount_micros:
                await add_entry(conn, payment.user_id, -payment.amount_micros, currency, "topup_refund",
                                ref=f"stars:{payment.charge_id}:{attempt}", note=f"{payment.stars} Stars, "
                                "refunded outside the bot")
            balance -= payment.amount_micros
            report = dataclasses.replace(report, result=Reported.TAKEN_BACK, balance=from_micros(balance))
        else:
            report = dataclasses.replace(report, result=Reported.CONFIRMED)
        await finish_refund(conn, payment_id, None)
        await _tell_refunded(conn, payment, balance)
    return report


# --------------------------------------------------------------------------- manual requests


class TooManyPending(Exception):
    pass


async def request_manual_topup(db: Database, user_id: int, amount: Decimal, currency: str, *,
                               reference: str = "", photo_file_id: str | None = None) -> int:
    """Record a request for the admins; at most MAX_PENDING_MANUAL wait per customer."""
    async with db.transaction() as conn:
        await conn.lock_user(user_id)
        if await count_pending_manual(conn, user_id) >= MAX_PENDING_MANUAL:
            raise TooManyPending
        return await insert_topup(conn, user_id, "manual", to_micros(amount), currency, reference=reference,
                                  photo_file_id=photo_file_id)


@dataclass(frozen=True)
class Decision:
    topup: Topup | None  # None: no such request
    changed: bool  # False: it was decided already (see topup.state and decided_by)
    balance: Decimal = Decimal(0)


async def decide_manual_topup(db: Database, topup_id: int, admin_id: int, *, approve: bool) -> Decision:
    """Approve (credit once) or reject a manual request; decided once, whoever presses first."""
    new_state = "approved" if approve else "rejected"
    async with db.transaction() as conn:
        topup = await get_topup(conn, topup_id)
        if topup is None or topup.method != "manual":
            return Decision(None, False)
        if not await settle_topup(conn, topup_id, new_state, admin_id=admin_id):
            return Decision(topup, False)
        amount, currency = from_micros(topup.amount_micros), topup.currency
        before = await balance_micros(conn, topup.user_id)
        if approve:
            await add_entry(conn, topup.user_id, topup.amount_micros, currency, "topup", ref=f"manual:{topup_id}",
                            admin_id=admin_id, note=f"request #{topup_id}")
        after = before + (topup.amount_micros if approve else 0)
        await record(conn, admin_id, f"top-up {'approve' if approve else 'reject'}",
                     f"request #{topup_id} of user {topup.user_id}: {source_money(amount, currency)}",
                     before=source_money(from_micros(before), currency),
                     after=source_money(from_micros(after), currency))
        text = (texts.MANUAL_APPROVED_CUSTOMER if approve else texts.MANUAL_REJECTED_CUSTOMER).lazy(
            topup_id=topup_id, amount=Money(amount, currency), balance=Money(from_micros(after), currency))
        await queue_notice(conn, outbox.notice(topup.user_id, text), time.time())
        decided = await get_topup(conn, topup_id)
    return Decision(decided, True, from_micros(after))


async def remember_notice(db: Database, topup_id: int, admin_id: int, message_id: int, *, is_photo: bool) -> None:
    """The admin's copy of a request, so every copy can show the decision once it is made."""
    await add_topup_notice(db, topup_id, admin_id, message_id, is_photo=is_photo)
