"""Top-up rules without Telegram: Stars conversion, amount ranges, payloads, pre-checkout
decisions, what a payment credits; and the storage rules (one credit per charge id, one decision
per request, one debit per refund attempt) on a real SQLite file."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from bot.domain.topup import (
    MAX_STARS,
    AmountRange,
    Checkout,
    checkout_problem,
    credit_for,
    payload_for,
    stars_for,
    stars_range,
    topup_amount_problem,
    topup_id_of,
)
from bot.shop.topups import (
    RefundRefused,
    RefundUnknown,
    TooManyPending,
    decide_manual_topup,
    open_stars_topup,
    record_payment,
    refund_stars,
    request_manual_topup,
    review_checkout,
    settle_reported_refund,
)
from storage.database import open_database
from storage.ledger import balance_micros
from storage.topups import get_star_payment
from storage.users import touch_user
from tests.support.databases import database_at
from tests.support.ledger_check import assert_ledger_consistent


@pytest.mark.parametrize(("amount", "rate", "stars"), [
    ("10", "50", 500), ("0.01", "50", 1), ("0.03", "50", 2), ("1.99", "1", 2), ("7.77", "13.5", 105),
])
def test_stars_are_rounded_up_to_a_whole_star(amount: str, rate: str, stars: int) -> None:
    assert stars_for(Decimal(amount), Decimal(rate)) == stars


def test_stars_range_spans_one_star_to_the_invoice_limit() -> None:
    assert stars_range(Decimal(50)) == AmountRange(Decimal("0.02"), Decimal("200.00"))
    assert stars_range(Decimal(1000)) == AmountRange(Decimal("0.01"), Decimal("10.00"))  # never below a cent
    high = stars_range(Decimal(3)).high
    assert stars_for(high, Decimal(3)) <= MAX_STARS < stars_for(high + Decimal("0.01"), Decimal(3))


def test_amount_problems() -> None:
    allowed = AmountRange(Decimal("0.02"), Decimal("200"))
    assert topup_amount_problem(Decimal("10"), allowed) is None
    assert topup_amount_problem(Decimal("10.005"), allowed) == "cents"
    assert topup_amount_problem(Decimal("0.01"), allowed) == "range"
    assert topup_amount_problem(Decimal("200.01"), allowed) == "range"
    assert topup_amount_problem(Decimal("123456.78")) is None  # manual requests have no range


def test_payload_round_trip_and_forgeries() -> None:
    assert topup_id_of(payload_for(42)) == 42
    for forged in ("", "topup:", "topup:-1", "topup:1:2", "order:5", "topup:1 ", "topup:" + "9" * 19):
        assert topup_id_of(forged) is None


def _checkout(**changes: object) -> Checkout:
    values: dict[str, object] = dict(payer_id=7, currency="XTR", total_stars=500, topup_user_id=7, topup_method="stars",
                                     topup_state="pending", topup_stars=500, topup_amount=Decimal(10), age_hours=1.0)
    values.update(changes)
    return Checkout(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("changes", "rate", "problem"), [
    ({}, "50", None),
    ({}, None, "disabled"),
    ({"topup_user_id": None}, "50", "unknown"),
    ({"topup_user_id": 8}, "50", "unknown"),
    ({"topup_method": "manual"}, "50", "unknown"),
    ({"topup_state": "paid"}, "50", "paid"),
    ({"age_hours": 25.0}, "50", "expired"),
    ({"total_stars": 499}, "50", "changed"),
    ({"currency": "USD"}, "50", "changed"),
    ({}, "40", "changed"),  # the operator changed STARS_PER_UNIT after the invoice
])
def test_checkout_decisions(changes: dict[str, object], rate: str | None, problem: str | None) -> None:
    assert checkout_problem(_checkout(**changes), Decimal(rate) if rate else None) == problem


def test_credit_for_a_payment() -> None:
    assert credit_for(500, 500, Decimal("10"), Decimal(50)) == Decimal("10")
    assert credit_for(250, 500, Decimal("10"), Decimal(50)) == Decimal("5.00")  # at the invoice's own rate
    assert credit_for(333, None, None, Decimal(50)) == Decimal("6.66")  # rounded down
    assert credit_for(333, None, None, None) == Decimal(0)


# --------------------------------------------------------------------------- storage rules

@pytest.fixture
async def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = await open_database(await database_at(tmp_path / "topups.db"))
    for user_id in (1, 2):
        await touch_user(database, user_id, f"user{user_id}", None, "en")
    yield database
    await assert_ledger_consistent(database)  # after every test
    await database.close()


async def _balance(db, user_id: int) -> int:  # type: ignore[no-untyped-def]
    return await balance_micros(db, user_id)


async def test_a_payment_is_credited_once_per_charge_id(db) -> None:  # type: ignore[no-untyped-def]
    invoice = await open_stars_topup(db, 1, Decimal(10), "USD", Decimal(50))
    assert await review_checkout(db, 1, invoice.payload, "XTR", 500, Decimal(50)) is None
    assert await review_checkout(db, 2, invoice.payload, "XTR", 500, Decimal(50)) == "unknown"
    args = dict(payer_id=1, payload=invoice.payload, total_stars=500, stars_per_unit=Decimal(50), wallet_currency="USD")
    first = await record_payment(db, charge_id="ch-1", **args)  # type: ignore[arg-type]
    assert first is not None and first.expected and first.amount == Decimal(10)
    assert await record_payment(db, charge_id="ch-1", **args) is None  # type: ignore[arg-type]
    assert await _balance(db, 1) == 10_000_000
    assert await review_checkout(db, 1, invoice.payload, "XTR", 500, Decimal(50)) == "paid"
    # Telegram confirmed a second charge for the same invoice: money was taken, so it is credited
    # (and flagged for the admins as unexpected).
    second = await record_payment(db, charge_id="ch-2", **args)  # type: ignore[arg-type]
    assert second is not None and not second.expected
    assert await _balance(db, 1) == 20_000_000


async def test_manual_requests_are_decided_once_even_at_the_same_moment(db) -> None:  # type: ignore[no-untyped-def]
    topup_id = await request_manual_topup(db, 1, Decimal("12.50"), "USD", reference="IBAN transfer 77")
    decisions = await asyncio.gather(decide_manual_topup(db, topup_id, 900, approve=True),
                                     decide_manual_topup(db, topup_id, 901, approve=True),
                                     decide_manual_topup(db, topup_id, 902, approve=False))
    assert sum(d.changed for d in decisions) == 1
    winner = next(d for d in decisions if d.changed)
    assert winner.topup is not None and winner.topup.decided_by in (900, 901, 902)
    expected = 12_500_000 if winner.topup.state == "approved" else 0
    assert await _balance(db, 1) == expected
    audit = await db.fetchall("SELECT action FROM audit")
    assert len(audit) == 1


async def test_pending_manual_requests_are_limited(db) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        await request_manual_topup(db, 2, Decimal(1), "USD", reference="x")
    with pytest.raises(TooManyPending):
        await request_manual_topup(db, 2, Decimal(1), "USD", reference="x")


async def test_refund_debits_once_and_a_refusal_gives_the_money_back(db) -> None:  # type: ignore[no-untyped-def]
    invoice = await open_stars_topup(db, 1, Decimal(10), "USD", Decimal(50))
    paid = await record_payment(db, payer_id=1, charge_id="ch-9", payload=invoice.payload, total_stars=500,
                                stars_per_unit=Decimal(50), wallet_currency="USD")
    assert paid is not None
    calls: list[tuple[int, str]] = []

    async def refuse(user_id: int, charge_id: str) -> None:
        calls.append((user_id, charge_id))
        raise RefundRefused("CHARGE_NOT_FOUND")

    async def lose_answer(user_id: int, charge_id: str) -> None:
        calls.append((user_id, charge_id))
        raise RefundUnknown("timed out")

    async def succeed(user_id: int, charge_id: str) -> None:
        calls.append((user_id, charge_id))

    assert (await refund_stars(db, paid.payment_id, 2, 900, succeed)).result == "not_found"  # not user 2's
    assert (await refund_stars(db, paid.payment_id, 1, 900, refuse)).result == "refused"
    assert await _balance(db, 1) == 10_000_000
    assert (await refund_stars(db, paid.payment_id, 1, 900, lose_answer)).result == "unknown"
    assert await _balance(db, 1) == 0  # held while Telegram's answer is unknown
    assert (await refund_stars(db, paid.payment_id, 1, 900, succeed)).result == "done"  # the retry
    assert await _balance(db, 1) == 0  # debited once, not twice
    assert (await refund_stars(db, paid.payment_id, 1, 900, succeed)).result == "already"
    assert calls == [(1, "ch-9")] * 3


async def test_refund_is_refused_when_the_wallet_was_spent(db) -> None:  # type: ignore[no-untyped-def]
    invoice = await open_stars_topup(db, 1, Decimal(10), "USD", Decimal(50))
    paid = await record_payment(db, payer_id=1, charge_id="ch-3", payload=invoice.payload, total_stars=500,
                                stars_per_unit=Decimal(50), wallet_currency="USD")
    assert paid is not None
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO ledger (user_id, amount_micros, currency, reason)"
                           " VALUES (1, -1, 'USD', 'debit')")

    async def never(user_id: int, charge_id: str) -> None:
        raise AssertionError("Telegram must not be asked")

    outcome = await refund_stars(db, paid.payment_id, 1, 900, never)
    assert outcome.result == "overdraft" and outcome.balance == Decimal("9.999999")


async def test_a_retried_refund_is_never_given_back_on_an_unrelated_refusal(db) -> None:  # type: ignore[no-untyped-def]
    """The first attempt's answer was lost (Telegram may have refunded); the retry meets another
    refusal: the money stays held, only a definite answer settles it."""
    invoice = await open_stars_topup(db, 1, Decimal(10), "USD", Decimal(50))
    paid = await record_payment(db, payer_id=1, charge_id="ch-5", payload=invoice.payload, total_stars=500,
                                stars_per_unit=Decimal(50), wallet_currency="USD")
    assert paid is not None

    async def lose_answer(user_id: int, charge_id: str) -> None:
        raise RefundUnknown("timed out")

    async def refuse(user_id: int, charge_id: str) -> None:
        raise RefundRefused("Forbidden: bot was blocked by the user")

    assert (await refund_stars(db, paid.payment_id, 1, 900, lose_answer)).result == "unknown"
    assert (await refund_stars(db, paid.payment_id, 1, 900, refuse)).result == "unknown"
    assert await _balance(db, 1) == 0  # still held


async def test_two_admins_refunding_at_once_ask_telegram_once(db) -> None:  # type: ignore[no-untyped-def]
    invoice = await open_stars_topup(db, 1, Decimal(10), "USD", Decimal(50))
    paid = await record_payment(db, payer_id=1, charge_id="ch-6", payload=invoice.payload, total_stars=500,
                                stars_per_unit=Decimal(50), wallet_currency="USD")
    assert paid is not None
    calls: list[str] = []
    asked, release = asyncio.Event(), asyncio.Event()

    async def slow(user_id: int, charge_id: str) -> None:
        calls.append(charge_id)
        asked.set()
        await release.wait()

    first = asyncio.create_task(refund_stars(db, paid.payment_id, 1, 900, slow))
    second = asyncio.create_task(refund_stars(db, paid.payment_id, 1, 901, slow))
    await asked.wait()  # the first admin's call is at Telegram
    release.set()
    results = sorted([(await first).result, (await second).result])
    assert results == ["already", "done"] and calls == ["ch-6"]
    assert await _balance(db, 1) == 0


async def _paid(db, charge_id: str, user_id: int = 1):  # type: ignore[no-untyped-def]
    invoice = await open_stars_topup(db, user_id, Decimal(10), "USD", Decimal(50))
    paid = await record_payment(db, payer_id=user_id, charge_id=charge_id, payload=invoice.payload, total_stars=500,
                                stars_per_unit=Decimal(50), wallet_currency="USD")
    assert paid is not None
    return paid


async def _notices(db) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(row[0]) for row in await db.fetchall("SELECT text FROM notifications ORDER BY notification_id")]


async def test_a_reported_refund_settles_one_whose_answer_was_lost(db) -> None:  # type: ignore[no-untyped-def]
    paid = await _paid(db, "ch-20")

    async def lose_answer(user_id: int, charge_id: str) -> None:
        raise RefundUnknown("timed out")

    assert (await refund_stars(db, paid.payment_id, 1, 900, lose_answer)).result == "unknown"
    before = len(await _notices(db))
    report = await settle_reported_refund(db, 1, "ch-20")
    assert (report.result, report.payment_id, report.stars, report.balance) == ("confirmed", paid.payment_id, 500, 0)
    assert await _balance(db, 1) == 0  # the debit made when the refund began, not a second one
    assert (await get_star_payment(db, paid.payment_id)).state == "refunded"  # type: ignore[union-attr]
    assert len(await _notices(db)) == before + 1  # the customer is told once
    assert (await settle_reported_refund(db, 1, "ch-20")).result == "ours"  # Telegram's message again

    async def never(user_id: int, charge_id: str) -> None:
        raise AssertionError("settled: Telegram must not be asked again")

    assert (await refund_stars(db, paid.payment_id, 1, 900, never)).result == "already"
    assert len(await _notices(db)) == before + 1


async def test_a_refund_made_outside_the_bot_takes_the_credit_back_once(db) -> None:  # type: ignore[no-untyped-def]
    await _paid(db, "ch-21")
    assert (await settle_reported_refund(db, 2, "ch-21")).result == "unknown"  # another user's charge
    assert (await settle_reported_refund(db, 1, "no-such-charge")).result == "unknown"
    assert await _balance(db, 1) == 10_000_000
    report = await settle_reported_refund(db, 1, "ch-21")
    assert (report.result, report.amount, report.balance) == ("taken_back", Decimal(10), 0)
    assert await _balance(db, 1) == 0
    assert (await settle_reported_refund(db, 1, "ch-21")).result == "ours"
    assert await _balance(db, 1) == 0
    assert len(await _notices(db)) == 2  # the receipt of the payment, then the refund


async def test_a_refund_made_outside_the_bot_of_spent_money_takes_nothing(db) -> None:  # type: ignore[no-untyped-def]
    paid = await _paid(db, "ch-22")
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO ledger (user_id, amount_micros, currency, reason)"
                           " VALUES (1, -4000000, 'USD', 'debit')")
    report = await settle_reported_refund(db, 1, "ch-22")
    assert (report.result, report.amount, report.balance) == ("short", Decimal(10), Decimal(6))
    assert await _balance(db, 1) == 6_000_000
    assert (await get_star_payment(db, paid.payment_id)).state == "paid"  # type: ignore[union-attr]


async def test_a_reported_refund_waits_for_the_refund_the_bot_is_making(db) -> None:  # type: ignore[no-untyped-def]
    """Telegram's message can arrive while the admin's refund call is still waiting for its
    answer: it must not settle the refund under the admin's feet (the admin would then read
    "already refunded" for their own refund, and the customer be told twice)."""
    paid = await _paid(db, "ch-23")
    asked, release = asyncio.Event(), asyncio.Event()

    async def slow(user_id: int, charge_id: str) -> None:
        asked.set()
        await release.wait()

    refund = asyncio.create_task(refund_stars(db, paid.payment_id, 1, 900, slow))
    await asked.wait()
    reported = asyncio.create_task(settle_reported_refund(db, 1, "ch-23"))
    await asyncio.sleep(0)  # let it reach the lock
    assert not reported.done()
    release.set()
    assert (await refund).result == "done"
    assert (await reported).result == "ours"
    assert await _balance(db, 1) == 0
    assert len(await _notices(db)) == 2
