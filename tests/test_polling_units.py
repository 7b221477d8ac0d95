"""Polling, refunds and the small rules around them, on a real SQLite file: each order's update
is its own unit, requests are filled to 100 ids, and refunds follow one rule per order type."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.exc import DBAPIError

from bot.domain.markup import escape_stray
from bot.domain.refunds import Held, billed_units, refund_target, settle
from bot.domain.throttle import Throttle
from bot.panel import OrderStatus, PanelClient
from bot.shop.alerts import AdminAlerts
from bot.shop.panels import Panels
from bot.shop.tracking import poll_orders
from storage.database import Database, open_database
from storage.orders import OrderRecord, get_order
from storage.tracking import StatusChange, apply_decisions, due_orders
from tests.support import databases
from tests.support.databases import allow_updates, database_at, refuse_updates
from tests.support.ledger_check import assert_ledger_consistent
from tests.support.orders import placed_order

EXACT = 1  # refunds to the micro-unit: these tests are about polling (rounding: test_properties.py)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(await database_at(tmp_path / "bot.db"))
    yield database
    await assert_ledger_consistent(database)
    await database.close()


def panel_answering(statuses: dict[str, dict[str, str]]) -> PanelClient:
    """A real client whose panel answers these statuses (by panel id) to every multi-status."""
    def answer(request: httpx.Request) -> httpx.Response:
        asked = dict(httpx.QueryParams(request.content.decode()))["orders"].split(",")
        return httpx.Response(200, text=json.dumps({one: statuses[one] for one in asked if one in statuses}))
    return PanelClient("http://panel.test/api/v2", "k", transport=httpx.MockTransport(answer), read_attempts=1)


def collecting_alerts() -> tuple[AdminAlerts, list[str]]:
    """Real AdminAlerts for one admin, whose messages land in the list."""
    sent: list[str] = []

    async def to_admins(chat_id: int, text: str) -> None:
        sent.append(text)

    return AdminAlerts([9], to_admins), sent


async def no_alerts(chat_id: int, text: str) -> None:
    raise AssertionError(f"unexpected alert: {text}")


# --------------------------------------------------------------------------- each order its own unit

async def test_one_orders_failed_write_leaves_the_others_stored(db: Database) -> None:
    good = await placed_order(db, user_id=1, panel_order_id="101", price_micros=120_000)
    bad = await placed_order(db, user_id=2, panel_order_id="102", price_micros=120_000)
    also = await placed_order(db, user_id=3, panel_order_id="103", price_micros=120_000)
    # the database refuses any write to one order's row
    await refuse_updates(db, "broken", when=f"OLD.order_id = {bad.order_id}", message="disk I/O error")
    canceled = {"status": "Canceled", "remains": "1000"}
    async with panel_answering({"101": canceled, "102": canceled, "103": canceled}) as client:
        report = await poll_orders(db, Panels.one(client), AdminAlerts([], no_alerts), now=100.0, interval=60.0,
                                   quantum=EXACT)
    assert (report.due, report.refunds, report.failed) == (3, 2, 1)
    for order in (good, also):
        stored = await get_order(db, order.order_id)
        assert stored is not None and stored.panel_status == "canceled" and stored.next_poll_at is None
    refunded = await db.fetchall("SELECT order_id, amount_micros FROM ledger WHERE reason = 'refund'")
    assert sorted(tuple(r) for r in refunded) == [(good.order_id, 120_000), (also.order_id, 120_000)]
    notices = await db.fetchall("SELECT order_id FROM notifications ORDER BY order_id")
    assert [r[0] for r in notices] == [good.order_id, also.order_id]
    await allow_updates(db, "broken")
    stuck = await get_order(db, bad.order_id)
    assert stuck is not None and stuck.panel_status is None  # untouched, asked again next cycle


@pytest.mark.skipif(databases.ENGINE != "sqlite", reason="SQLite's own rollback of a whole transaction")
async def test_when_the_database_undoes_the_whole_transaction_nothing_is_half_stored(db: Database) -> None:
    """On some errors (disk full, I/O) SQLite rolls the whole transaction back by itself: the
    per-order units must not go on outside it, committing some orders and not others."""
    orders = [await placed_order(db, user_id=i, panel_order_id=str(400 + i), price_micros=100) for i in (1, 2, 3)]
    async with db.transaction() as conn:
        await conn.execute(f"CREATE TRIGGER full BEFORE UPDATE ON orders WHEN OLD.order_id = {orders[1].order_id}"
                           " BEGIN SELECT RAISE(ROLLBACK, 'database or disk is full'); END")

    def canceled(order: OrderRecord, refunded: object) -> StatusChange:
        return StatusChange(order.order_id, "canceled", "Canceled", None, None, None, refund_micros=100)

    with pytest.raises(DBAPIError, match="disk is full"):
        await apply_decisions(db, {o.order_id: canceled for o in orders}, now=1.0)
    assert await db.fetchall("SELECT * FROM ledger WHERE reason = 'refund'") == []
    assert await db.fetchall("SELECT * FROM notifications") == []
    async with db.transaction():  # and the connection is not left inside it
        pass


async def test_an_order_whose_stored_id_cannot_be_sent_is_reported_once(db: Database) -> None:
    """An id typed by hand before ids were checked ("12,13") would be asked as two orders."""
    odd = await placed_order(db, user_id=1, panel_order_id="12,13", price_micros=100)
    fine = await placed_order(db, user_id=2, panel_order_id="14", price_micros=100)
    alerts, sent = collecting_alerts()
    async with panel_answering({"14": {"status": "Completed", "remains": "0"}}) as client:
        for now in (100.0, 10_000.0):
            await poll_orders(db, Panels.one(client), alerts, now=now, interval=60.0, quantum=EXACT)
    assert len(sent) == 1 and f"#{odd.order_id}" in sent[0] and "12,13" in sent[0]
    assert (await get_order(db, odd.order_id)).next_poll_at is None  # type: ignore[union-attr]
    assert (await get_order(db, fine.order_id)).panel_status == "completed"  # type: ignore[union-attr]


async def test_a_panel_message_that_is_no_utf8_is_stored_and_stops_nobody(db: Database) -> None:
    canceled = await placed_order(db, user_id=1, panel_order_id="21", price_micros=100)
    lost = await placed_order(db, user_id=2, panel_order_id="22", price_micros=100)
    body = rb'{"21": {"status": "Canceled", "remains": "1000"}, "22": {"error": "Incorrect order ID \ud800"}}'
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    alerts, sent = collecting_alerts()
    async with PanelClient("http://panel.test/api/v2", "k", transport=transport) as client:
        report = await poll_orders(db, Panels.one(client), alerts, now=100.0, interval=60.0, quantum=EXACT)
    assert (report.refunds, report.missing) == (1, 1)
    assert len(sent) == 1 and "Incorrect order ID ?" in sent[0]
    assert (await get_order(db, lost.order_id)).error == "Incorrect order ID ?"  # type: ignore[union-attr]
    assert (await get_order(db, canceled.order_id)).panel_status == "canceled"  # type: ignore[union-attr]


async def test_an_order_without_a_readable_status_five_times_running_is_reported_once(db: Database) -> None:
    garbled = await placed_order(db, user_id=1, panel_order_id="31", price_micros=100)
    fine = await placed_order(db, user_id=2, panel_order_id="32", price_micros=100)
    alerts, sent = collecting_alerts()
    async with panel_answering({"31": {"status": "In progress", "remains": "1e30"},
                                "32": {"status": "In progress", "remains": "5"}}) as client:
        for cycle in range(1, 9):  # far enough apart that every retry is due
            await poll_orders(db, Panels.one(client), alerts, now=cycle * 10_000.0, interval=60.0, quantum=EXACT)
    assert len(sent) == 1, sent
    assert f"No readable status for 5 polls in a row</b> (1): #{garbled.order_id}." in sent[0]
    assert "(fields: remains)" in sent[0]  # the panel's last word, for the operator
    assert (await get_order(db, garbled.order_id)).poll_failures == 8  # type: ignore[union-attr]
    assert (await get_order(db, fine.order_id)).poll_failures == 0  # type: ignore[union-attr]


async def test_a_held_order_is_asked_about_until_its_share_can_be_computed(db: Database) -> None:
    order = await placed_order(db, user_id=1, panel_order_id="41", price_micros=100_000)
    answers = {"41": {"status": "Partial", "remains": "Unknown"}}
    alerts, sent = collecting_alerts()
    async with panel_answering(answers) as client:
        await poll_orders(db, Panels.one(client), alerts, now=100.0, interval=60.0, quantum=EXACT)
        held = await get_order(db, order.order_id)
        assert held is not None and held.refund_hold and held.next_poll_at is not None  # still asked
        await poll_orders(db, Panels.one(client), alerts, now=10_000.0, interval=60.0, quantum=EXACT)
        assert len(sent) == 1  # the admins are told once
        answers["41"] = {"status": "Partial", "remains": "250"}
        await poll_orders(db, Panels.one(client), alerts, now=20_000.0, interval=60.0, quantum=EXACT)
    settled = await get_order(db, order.order_id)
    assert settled is not None and settled.refund_hold is None and settled.next_poll_at is None
    refunds = await db.fetchall("SELECT amount_micros FROM ledger WHERE reason = 'refund'")
    assert [r[0] for r in refunds] == [25_000]  # 250 of 1000 undelivered


async def test_a_decision_that_raises_stops_only_its_order(db: Database) -> None:
    first = await placed_order(db, user_id=1, panel_order_id="201", price_micros=1)
    second = await placed_order(db, user_id=2, panel_order_id="202", price_micros=1)

    def boom(order: object, refunded: object) -> StatusChange:
        raise ZeroDivisionError("a bug in one decision")

    def fine(order: object, refunded: object) -> StatusChange:
        return StatusChange(second.order_id, "completed", "Completed", 5, 0, None)

    results = await apply_decisions(db, {first.order_id: boom, second.order_id: fine}, now=1.0)
    assert isinstance(results[first.order_id], ZeroDivisionError)
    assert isinstance(results[second.order_id], StatusChange)
    assert (await get_order(db, second.order_id)).panel_status == "completed"  # type: ignore[union-attr]


async def test_the_database_refuses_a_refund_beyond_the_charge(db: Database) -> None:
    order = await placed_order(db, user_id=1, panel_order_id="301", price_micros=100)

    def too_much(current: object, refunded: object) -> StatusChange:
        return StatusChange(order.order_id, "canceled", "Canceled", None, None, None, refund_micros=101)

    results = await apply_decisions(db, {order.order_id: too_much}, now=1.0)
    assert "exceed its charge" in str(results[order.order_id])
    assert await db.fetchall("SELECT * FROM ledger WHERE reason = 'refund'") == []


# --------------------------------------------------------------------------- full batches

async def _placed_orders_due_at(db: Database, times: list[float]) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO users (user_id, first_name) VALUES (1, 'x')")
        await conn.executemany(
            "INSERT INTO orders (user_id, draft_key, service_id, service_name, service_type, quantity, request_json,"
            " price_micros, cost_micros, currency, state, panel_order_id, next_poll_at, panel)"
            " VALUES (1, ?, '1', 's', 'Default', 1, '{}', 0, 0, 'USD', 'placed', ?, ?, 'main')",
            [(f"d{i}", str(1000 + i), at) for i, at in enumerate(times)])


async def _due(db: Database, now: float, **options: float) -> list[OrderRecord]:
    """Every panel's due orders in one list (these tests have one panel)."""
    return [order for orders in (await due_orders(db, now, **options)).values() for order in orders]  # type: ignore[arg-type]


async def test_due_orders_are_topped_up_to_full_batches_with_the_soonest_due(db: Database) -> None:
    await _placed_orders_due_at(
        db, [100.0] * 150 + [100.0 + 60 - i / 10 for i in range(60)] + [100.0 + 61 + i for i in range(40)])
    assert await _due(db, 50.0, horizon=60.0, batch=100) == []  # nothing due: nothing asked early
    due = await _due(db, 100.0, horizon=60.0, batch=100, lease=300.0)
    assert len(due) == 200
    assert sum(1 for o in due if o.next_poll_at == 100.0) == 150
    soonest = sorted(o.next_poll_at for o in due if o.next_poll_at != 100.0)  # type: ignore[type-var]
    assert soonest == sorted(100.0 + 60 - i / 10 for i in range(60))[:50]
    if db.dialect == "postgresql":  # several instances: they are this poll's until the lease runs out
        assert await _due(db, 100.0, horizon=60.0, batch=100) == []
        # (claimed past the horizon too, so that no instance takes them as "due early" meanwhile)
        claimed = {o.order_id for o in due}
        assert not claimed & {o.order_id for o in await _due(db, 459.0, horizon=0.0, batch=100)}
        again = {o.order_id for o in await _due(db, 460.0, horizon=0.0, batch=100)}
        assert claimed <= again
    else:  # one instance, one poll at a time: nothing to claim them from
        assert len(await _due(db, 100.0, horizon=60.0, batch=100)) == 200


async def test_without_a_horizon_nothing_is_asked_early(db: Database) -> None:
    await _placed_orders_due_at(db, [100.0] * 150 + [130.0] * 10)
    assert len(await _due(db, 100.0, horizon=0.0, batch=100)) == 150


# --------------------------------------------------------------------------- the refund rule

@pytest.mark.parametrize(("service_type", "quantity", "sent", "units"), [
    ("Default", 1000, {}, 1000),
    ("Default", 1000, {"runs": "10", "interval": "15"}, 10_000),
    ("Subscriptions", 200, {"max": "200", "posts": "5"}, 1000),
    ("Package", 1, {}, None),
    ("Custom Comments Package", 4, {"comments": "a\nb\nc\nd"}, None),
    ("Custom Comments", 5, {"comments": "a\nb\nc\nd\ne"}, 5),
    ("Default", 1000, {"runs": "x"}, None),
])
def test_the_units_a_price_paid_for(service_type: str, quantity: int, sent: dict[str, str],
                                    units: int | None) -> None:
    assert billed_units(service_type, quantity, sent) == units


@pytest.mark.parametrize(("status", "units", "remains", "target"), [
    (OrderStatus.CANCELED, 1000, 1000, 10_000_000),
    (OrderStatus.REFUNDED, None, None, 10_000_000),
    (OrderStatus.FAILED, 1000, 0, 10_000_000),
    (OrderStatus.COMPLETED, 1000, 500, 0),
    (OrderStatus.IN_PROGRESS, 1000, 500, None),
    (OrderStatus.PARTIAL, 10_000, 500, 500_000),  # 1000 × 10 runs for 10.00, 500 undelivered: 0.50
    (OrderStatus.PARTIAL, 3, 1, 3_333_333),  # rounded down
    (OrderStatus.PARTIAL, 1000, 1000, 10_000_000),
    (OrderStatus.PARTIAL, None, 1, Held("the price is per package, so the undelivered part cannot be computed")),
    (OrderStatus.PARTIAL, 1000, None, Held("the panel did not say how many were not delivered")),
    (OrderStatus.PARTIAL, 1000, 1001, Held("the panel says 1001 of 1000 were not delivered, which cannot be right")),
    (OrderStatus.PARTIAL, 1000, 0, Held("the panel says 0 of 1000 were not delivered, which cannot be right")),
])
def test_what_each_status_makes_due(status: OrderStatus, units: int | None, remains: int | None,
                                    target: object) -> None:
    assert refund_target(status, 10_000_000, units, remains) == target


def test_a_later_status_settles_the_difference_and_never_takes_back() -> None:
    assert settle(30_000, 0).pay == 30_000  # Partial
    assert settle(120_000, 30_000).pay == 90_000  # then Canceled: the rest
    assert settle(120_000, 120_000).pay == 0  # asked again: nothing more
    later = settle(0, 120_000)  # then Completed: nothing taken back, the admins are told
    assert (later.pay, later.overpaid) == (0, 120_000)
    assert settle(None, 5).pay == 0


# --------------------------------------------------------------------------- small rules

def test_the_refresh_throttle() -> None:
    throttle = Throttle(every=10, overall_every=0.5)
    assert throttle.wait("ann", 100.0) == 0
    assert throttle.wait("ann", 105.0) == pytest.approx(5.0)  # her own limit
    assert throttle.wait("bob", 100.2) == pytest.approx(0.3)  # the shop's overall limit
    assert throttle.wait("bob", 100.5) == 0
    assert throttle.wait("ann", 110.0) == 0


@pytest.mark.parametrize(("typed", "sent"), [
    ("today & tomorrow", "today &amp; tomorrow"),
    ("<3 and 2<5", "&lt;3 and 2&lt;5"),
    ("<b>bold</b> & <i>it</i>", "<b>bold</b> &amp; <i>it</i>"),
    ('<a href="https://x.test/?a=1&b=2">link</a>', '<a href="https://x.test/?a=1&b=2">link</a>'),
    ("&amp; &lt; &#128512; &#x1F600; &copy;", "&amp; &lt; &#128512; &#x1F600; &amp;copy;"),
    ("<br> <script>", "&lt;br> &lt;script>"),
    ('<span class="tg-spoiler">s</span> <tg-spoiler>t</tg-spoiler>',
     '<span class="tg-spoiler">s</span> <tg-spoiler>t</tg-spoiler>'),
    ("<blockquote expandable>q</blockquote><pre><code class=\"language-py\">x</code></pre>",
     "<blockquote expandable>q</blockquote><pre><code class=\"language-py\">x</code></pre>"),
])
def test_stray_markup_characters_are_escaped_and_tags_kept(typed: str, sent: str) -> None:
    assert escape_stray(typed) == sent
