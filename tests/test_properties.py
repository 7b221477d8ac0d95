"""Property tests (Hypothesis): whatever a panel answers, the client raises nothing but its own
errors; whatever order the statuses come in, refunds never exceed the charge; and the poll job,
over a real database and the real client, survives any answer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import tempfile
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.domain.catalogue import is_package
from bot.domain.money import quantum_micros
from bot.domain.refunds import Held, billed_units, refund_target, settle
from bot.panel import OrderRequest, OrderStatus, PanelClient, PanelError, ServiceType, is_id
from bot.panel.models import AddedOrder, Balance, CancelRequested, OrderStatusInfo, RefillRequested, RefillStatusInfo
from bot.panel.parsing import (
    decode_body,
    parse_added,
    parse_balance,
    parse_cancel,
    parse_cancels,
    parse_refill,
    parse_refill_status,
    parse_refill_statuses,
    parse_refills,
    parse_services,
    parse_status,
    parse_statuses,
)
from bot.shop.alerts import AdminAlerts
from bot.shop.panels import Panels
from bot.shop.tracking import poll_orders
from storage.database import Database, open_database
from tests.support.databases import database_at
from tests.support.ledger_check import assert_ledger_consistent
from tests.support.orders import placed_order

# --------------------------------------------------------------------------- hostile JSON

HOSTILE_SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(["", " ", "0", "-1", "1e30", "1e1000000", "-1e1000000", "99999999999999999999", "NaN",
                     "Infinity", "Unknown", "1,650.00", "12,13", "In progress", "Partial", "Canceled", "completed",
                     "tasks.status.completed", "error", "Incorrect order ID", "Not enough funds on balance",
                     "\u0000", "<b>", "0.000000000000000000000000000001"]),
    st.text(max_size=30),
    st.decimals(allow_nan=False, allow_infinity=False, places=None),
)
FIELDS = st.sampled_from(["order", "status", "remains", "start_count", "charge", "currency", "error", "message",
                          "refill", "cancel", "success", "balance", "service", "name", "rate", "min", "max", "type",
                          "data", "1", "2", "3", "errors"])
HOSTILE_JSON = st.recursive(
    HOSTILE_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.one_of(FIELDS, st.text(max_size=5)),
                                                                         inner, max_size=5)),
    max_leaves=25,
)
IDS = ["1", "2", "3"]
# Numbers no real order has, as text and as JSON numbers (drawn often: they are what broke polling).
ABSURD = st.sampled_from(["99999999999999999999", 2**63, -(2**63) - 1, 10**30, "1e30", "-1e30", "1e1000000",
                          "9" * 4000, Decimal("1e30"), Decimal("-1e1000"), "1.5", -1])
# An order's status as a panel might send it, every field hostile or missing.
STATUS_ITEM = st.fixed_dictionaries({}, optional={
    "status": st.sampled_from(["Pending", "In progress", "Completed", "Partial", "Canceled", "Refunded", "Fail",
                               "Expired", "weird", ""]) | HOSTILE_SCALARS,
    "remains": ABSURD | HOSTILE_SCALARS, "start_count": ABSURD | HOSTILE_SCALARS, "charge": ABSURD | HOSTILE_SCALARS,
    "currency": HOSTILE_SCALARS, "error": HOSTILE_SCALARS,
})

CENT_STEP = quantum_micros(2)  # partial refunds in whole cents (PRICE_DECIMALS=2)


def _to_text(value: Any) -> str:
    return json.dumps(value, default=lambda d: str(d) if isinstance(d, Decimal) else repr(d))


SINGLE: list[tuple[Callable[[Any], Any], tuple[type, ...]]] = [
    (parse_services, (list,)),
    (parse_added, (AddedOrder,)),
    (lambda p: parse_status(p, "1"), (OrderStatusInfo,)),
    (lambda p: parse_refill(p, "1"), (RefillRequested,)),
    (lambda p: parse_refill_status(p, "1"), (RefillStatusInfo,)),
    (lambda p: parse_cancel(p, "1"), (CancelRequested,)),
    (parse_balance, (Balance,)),
]
BATCH = [parse_statuses, parse_refills, parse_refill_statuses, parse_cancels]


@given(st.binary(max_size=200))
def test_any_bytes_decode_or_are_an_unreadable_answer(body: bytes) -> None:
    with contextlib.suppress(PanelError):
        decode_body(body, 200)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(HOSTILE_JSON)
def test_every_parser_survives_any_json(payload: Any) -> None:
    decoded = decode_body(_to_text(payload).encode(), 200)  # as the client sees it: floats as Decimal
    for parse, returns in SINGLE:
        with contextlib.suppress(PanelError):
            assert isinstance(parse(decoded), returns)
    for parse_batch in BATCH:
        results = parse_batch(decoded, IDS)
        assert list(results) == IDS
        assert all(isinstance(r, PanelError) or hasattr(r, "model_dump") for r in results.values())


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(HOSTILE_JSON, st.sampled_from([200, 400, 403, 404, 429, 500, 502]))
def test_add_on_any_answer_is_placed_with_a_real_id_or_a_panel_error(payload: Any, status: int) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, text=_to_text(payload)))

    async def add() -> None:
        async with PanelClient("http://panel.test/api/v2", "k", transport=transport) as client:
            try:
                added = await client.add(OrderRequest("1", ServiceType.DEFAULT, link="https://x.test", quantity=5))
            except PanelError:
                return
            assert is_id(added.order_id) and added.order_id != "0"

    asyncio.run(add())


# --------------------------------------------------------------------------- refund arithmetic

STATUSES = st.sampled_from([s for s in OrderStatus])
REMAINS = st.one_of(st.none(), st.integers(min_value=-(10**15), max_value=10**15))


@given(STATUSES, st.integers(min_value=0, max_value=10**13), st.one_of(st.none(), st.integers(1, 10**15)), REMAINS)
def test_a_target_never_exceeds_the_price(status: OrderStatus, price: int, units: int | None,
                                          remains: int | None) -> None:
    target = refund_target(status, price, units, remains)
    if isinstance(target, int):
        assert 0 <= target <= price
        if status is OrderStatus.PARTIAL and units and remains is not None:
            assert target * units <= price * remains  # never more than the undelivered share (rounded down)


@given(st.integers(min_value=0, max_value=10**13), st.integers(1, 10**9), st.integers(1, 10**9),
       st.sampled_from([1, 10, 100, 1_000, 10_000, 100_000, 1_000_000]))
def test_a_partial_refund_is_a_whole_price_step_and_at_most_one_step_short(
        price: int, units: int, remains: int, quantum: int) -> None:
    """PRICE_DECIMALS: the share is rounded down to the price step (a cent), so wallets stay in
    whole steps, and the customer loses less than one step to the rounding."""
    remains = min(remains, units)
    target = refund_target(OrderStatus.PARTIAL, price, units, remains, quantum)
    assert isinstance(target, int) and target % quantum == 0 and 0 <= target <= price
    assert price * remains - quantum * units < target * units <= price * remains


@given(st.integers(min_value=0, max_value=10**13), st.one_of(st.none(), st.integers(1, 10**9)),
       st.lists(st.tuples(STATUSES, REMAINS), max_size=8))
def test_refunds_over_any_sequence_of_statuses_never_exceed_the_charge(
        price: int, units: int | None, answers: list[tuple[OrderStatus, int | None]]) -> None:
    refunded = 0
    for status, remains in answers:
        done = settle(refund_target(status, price, units, remains), refunded)
        assert done.pay >= 0 and done.overpaid >= 0
        refunded += done.pay
        assert refunded <= price
    if answers and answers[-1][0] in (OrderStatus.CANCELED, OrderStatus.REFUNDED, OrderStatus.FAILED):
        assert refunded == price  # a full refund always completes, whatever came before


@given(st.sampled_from(list(ServiceType)), st.one_of(st.none(), st.integers(-5, 10**6)),
       st.dictionaries(st.sampled_from(["runs", "posts", "max"]), st.text(max_size=8), max_size=3))
def test_billed_units_are_positive_or_unknown(service_type: ServiceType, quantity: int | None,
                                              request: dict[str, str]) -> None:
    units = billed_units(service_type.value, quantity, request)
    assert units is None or units >= 1
    if is_package(service_type):
        assert units is None


def test_held_is_not_a_number() -> None:
    target = refund_target(OrderStatus.PARTIAL, 1_000_000, None, 5)
    assert isinstance(target, Held) and settle(target, 0).pay == 0


# --------------------------------------------------------------------------- the poll job

class _Loop:
    """One event loop and one database file for all of a test's examples (opening a database
    per example would make the suite slow for no gain: each example re-arms the orders)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.folder = tempfile.TemporaryDirectory()
        self.db: Database | None = None

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        if self.db is not None:
            self.run(self.db.close())
        self.loop.close()
        self.folder.cleanup()


class _Refused(logging.Handler):
    """Collects what the storage layer logs about a refund the database refused."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "exceed its charge" in record.getMessage() or (
                record.exc_info and "exceed its charge" in str(record.exc_info[1])):
            self.records.append(record)


@pytest.fixture(scope="module")
def world() -> Iterator[_Loop]:
    running = _Loop()
    yield running
    running.close()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.one_of(HOSTILE_JSON, st.dictionaries(st.sampled_from(["23501", "23502", "23503"]),
                                               STATUS_ITEM | HOSTILE_JSON, min_size=1, max_size=3)),
       st.integers(min_value=0, max_value=3))
@example({"23501": {"status": "Partial", "remains": "5000"}, "23502": {"status": "Partial", "remains": "1"},
          "23503": {"status": "Canceled"}}, 1)  # every refund path, answered twice
def test_the_poll_job_survives_any_answer(world: _Loop, payload: Any, shape: int) -> None:
    """Three placed orders (a drip-feed, a package, a plain one); the panel answers anything, and
    the same again a moment later (as a poll followed by a Refresh). The job returns, every order
    is still there and placed, each has a next poll unless final, no refund beyond a charge was
    even tried, and the ledger's invariants hold."""

    async def example() -> None:
        if world.db is None:
            world.db = await open_database(await database_at(Path(world.folder.name) / "poll.db"))
            await placed_order(world.db, user_id=1, panel_order_id="23501", price_micros=10_000_000,
                               request={"service": "1", "link": "x", "quantity": "1000", "runs": "10"})
            await placed_order(world.db, user_id=2, panel_order_id="23502", price_micros=2_500_000,
                               service_type="Package", quantity=1)
            await placed_order(world.db, user_id=3, panel_order_id="23503", price_micros=120_000)
        db = world.db
        body = _to_text(payload)
        transport = httpx.MockTransport(lambda request: httpx.Response(200 if shape else 500, text=body))
        sent: list[str] = []

        async def send(chat_id: int, text: str) -> None:
            sent.append(text)

        refused = _Refused()
        logging.getLogger("storage").addHandler(refused)
        try:
            async with PanelClient("http://panel.test/api/v2", "k", transport=transport, read_attempts=1) as client:
                for _ in range(2):
                    async with db.transaction() as conn:  # due again, as if nothing was known yet
                        await conn.execute("UPDATE orders SET next_poll_at = 0, panel_status = NULL")
                    report = await poll_orders(db, Panels.one(client), AdminAlerts([9], send), now=1000.0,
                                               interval=60.0,
                                               quantum=CENT_STEP)
        finally:
            logging.getLogger("storage").removeHandler(refused)
        # The database refuses a refund past the charge; the poll must never have tried one.
        assert not refused.records, [r.getMessage() for r in refused.records]
        assert report.due == 3
        rows = await db.fetchall("SELECT order_id, state, panel_status, next_poll_at FROM orders ORDER BY order_id")
        assert [row[1] for row in rows] == ["placed"] * 3
        missing = {row[0] for row in await db.fetchall("SELECT order_id FROM order_events WHERE kind = 'missing'")}
        for order_id, _state, panel_status, next_poll_at in rows:
            final = panel_status is not None and OrderStatus(panel_status).is_final
            # never dropped from polling by an odd answer: only a final status or "not found" ends it
            assert final or next_poll_at is not None or order_id in missing
        await assert_ledger_consistent(db)

    world.run(example())
