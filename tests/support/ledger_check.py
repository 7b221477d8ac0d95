"""The ledger's invariants, checked after a test: every wallet the bot shows is the sum of its
entries, none is negative, and every top-up entry is explained by exactly one payment or
approved request (no credit twice, no credit without a payment, no refund without its debit),
and no order is refunded more than it was charged."""

from __future__ import annotations

from collections import defaultdict

from bot.domain.money import from_micros
from bot.shop.wallet import balance
from storage.database import Database


async def assert_ledger_consistent(db: Database) -> None:
    rows = await db.fetchall("SELECT user_id, amount_micros, reason, ref FROM ledger")
    sums: dict[int, int] = defaultdict(int)
    by_ref: dict[tuple[str, str], list[int]] = defaultdict(list)
    for user_id, amount, reason, ref in rows:
        sums[user_id] += amount
        if ref is not None:
            by_ref[(reason, ref)].append(amount)
    for user_id, total in sums.items():
        assert total >= 0, f"user {user_id}'s wallet is negative: {total}"
        assert await balance(db, user_id) == from_micros(total), f"user {user_id}'s balance is not the sum"

    explained: set[tuple[str, str]] = set()
    for charge_id, amount, state in await db.fetchall("SELECT charge_id, amount_micros, state FROM star_payments"):
        credit = ("topup", f"stars:{charge_id}")
        credited = by_ref.get(credit)
        assert credited == ([amount] if amount else None), f"payment {charge_id} credited {credited}"
        explained.add(credit)
        refunds = {key: amounts for key, amounts in by_ref.items()
                   if key[0] in ("topup_refund", "topup_refund_undone") and key[1].startswith(f"stars:{charge_id}:")}
        explained |= refunds.keys()
        net = sum(sum(amounts) for amounts in refunds.values())
        assert net == (-amount if state in ("refunding", "refunded") else 0), f"payment {charge_id} ({state}): {net}"
    for topup_id, amount, state in await db.fetchall(
            "SELECT topup_id, amount_micros, state FROM topups WHERE method = 'manual'"):
        credit = ("topup", f"manual:{topup_id}")
        assert by_ref.get(credit) == ([amount] if state == "approved" else None), \
            f"request #{topup_id} ({state}) credited {by_ref.get(credit)}"
        explained.add(credit)
    unexplained = [key for key in by_ref if key[0].startswith("topup") and key not in explained]
    assert not unexplained, f"top-up entries with no payment or request: {unexplained}"

    # An order is charged once and refunded at most its charge, over all its refunds together.
    for order_id, charged, refunded, charges in await db.fetchall(
            "SELECT order_id, -SUM(CASE WHEN reason = 'order' THEN amount_micros ELSE 0 END),"
            " SUM(CASE WHEN reason = 'refund' THEN amount_micros ELSE 0 END),"
            " SUM(CASE WHEN reason = 'order' THEN 1 ELSE 0 END) FROM ledger WHERE order_id IS NOT NULL"
            " GROUP BY order_id"):
        assert charges <= 1, f"order {order_id} charged {charges} times"
        assert 0 <= refunded <= charged, f"order {order_id}: refunded {refunded} of a charge of {charged}"
