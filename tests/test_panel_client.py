"""The panel client against the sandbox panel over real loopback HTTP, in both dialects."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import httpx
import pytest

from bot.panel import (
    OrderOutcomeUnknown,
    OrderRequest,
    OrderStatus,
    PanelAuthError,
    PanelBadResponse,
    PanelClient,
    PanelError,
    PanelFundsError,
    PanelNotFound,
    PanelRateLimited,
    PanelRejected,
    PanelTransportError,
    RefillStatus,
    ServiceType,
)
from bot.panel.sandbox import Dialect, FaultKind, SandboxPanel, SandboxServer
from bot.panel.sandbox.engine import PENDING_SECONDS, REFILL_PENDING_SECONDS, REFILL_RUN_SECONDS, RUN_SECONDS
from tests.conftest import SANDBOX_KEY

T = ServiceType
DONE = PENDING_SECONDS + RUN_SECONDS + 1

# One valid order of every type, against the demo catalogue.
VALID_ORDERS: dict[ServiceType, OrderRequest] = {
    T.DEFAULT: OrderRequest("101", T.DEFAULT, link="https://instagram.com/acme", quantity=500),
    T.PACKAGE: OrderRequest("104", T.PACKAGE, link="https://instagram.com/p/pkg"),
    T.CUSTOM_COMMENTS: OrderRequest("201", T.CUSTOM_COMMENTS, link="https://instagram.com/p/c1",
                                    comments=("Great!", "Love it 😍", "wow & <3", "nice", "🔥")),
    T.CUSTOM_COMMENTS_PACKAGE: OrderRequest("202", T.CUSTOM_COMMENTS_PACKAGE, link="https://instagram.com/p/c2",
                                            comments=("one", "two")),
    T.KEYWORDS: OrderRequest("203", T.KEYWORDS, link="https://shop.example/p", quantity=100,
                             keywords=("red shoes", "sneakers")),
    T.MENTIONS: OrderRequest("301", T.MENTIONS, link="https://instagram.com/p/m1", quantity=100,
                             usernames=("alice", "bob")),
    T.MENTIONS_WITH_HASHTAGS: OrderRequest("302", T.MENTIONS_WITH_HASHTAGS, link="https://instagram.com/p/m2",
                                           quantity=100, usernames=("alice",), hashtags=("#sale", "#shoes")),
    T.MENTIONS_CUSTOM_LIST: OrderRequest("303", T.MENTIONS_CUSTOM_LIST, link="https://instagram.com/p/m3",
                                         usernames=tuple(f"user{i}" for i in range(12))),
    T.MENTIONS_HASHTAG: OrderRequest("304", T.MENTIONS_HASHTAG, link="https://instagram.com/p/m4",
                                     quantity=100, hashtag="#travel"),
    T.MENTIONS_USER_FOLLOWERS: OrderRequest("305", T.MENTIONS_USER_FOLLOWERS, link="https://instagram.com/p/m5",
                                            quantity=100, username="https://instagram.com/natgeo"),
    T.MENTIONS_MEDIA_LIKERS: OrderRequest("306", T.MENTIONS_MEDIA_LIKERS, link="https://instagram.com/p/m6",
                                          quantity=100, media="https://instagram.com/p/xyz"),
    T.POLL: OrderRequest("401", T.POLL, link="https://t.me/channel/12", quantity=100, answer_number=2),
    T.COMMENT_LIKES: OrderRequest("501", T.COMMENT_LIKES, link="https://youtube.com/watch?v=1&lc=2",
                                  quantity=50, username="commenter"),
    T.COMMENT_REPLIES: OrderRequest("502", T.COMMENT_REPLIES, link="https://youtube.com/watch?v=1&lc=3",
                                    comments=("a", "b", "c", "d", "e"), username="commenter"),
    T.INVITES_FROM_GROUPS: OrderRequest("403", T.INVITES_FROM_GROUPS, link="https://t.me/mygroup", quantity=100,
                                        groups=("https://t.me/g1", "https://t.me/g2")),
    T.SUBSCRIPTIONS: OrderRequest("601", T.SUBSCRIPTIONS, username="acme", min=100, max=200, posts=5,
                                  old_posts=1, delay=30, expiry=date(2031, 12, 31)),
}


def default_order(link: str, quantity: int = 500, service_id: str = "101") -> OrderRequest:
    return OrderRequest(service_id, T.DEFAULT, link=link, quantity=quantity)


# --------------------------------------------------------------------------- catalogue, balance

async def test_services_cover_every_type_with_exact_money(client: PanelClient, dialect: Dialect) -> None:
    services = await client.services()
    assert {s.type for s in services} == set(ServiceType) - {ServiceType.UNKNOWN}
    followers = next(s for s in services if s.service_id == "101")
    assert followers.rate == Decimal("0.90") and isinstance(followers.rate, Decimal)
    assert (followers.min, followers.max, followers.refill, followers.cancel, followers.dripfeed) == (
        50, 10000, True, True, True)
    assert "<Max 10K>" in followers.name
    assert next(s for s in services if s.service_id == "102").refill is False


async def test_balance_charges_and_refunds(client: PanelClient, panel: SandboxPanel) -> None:
    assert (await client.balance()).amount == Decimal("1000")
    kept = await client.add(default_order("https://instagram.com/kept", 1000))  # 0.90
    partial = await client.add(default_order("https://instagram.com/half#partial", 400))  # 0.36
    canceled = await client.add(default_order("https://instagram.com/gone", 2000))  # 1.80
    assert (await client.balance()).amount == Decimal("1000") - Decimal("3.06")
    await client.cancel([canceled.order_id])
    panel.clock.advance(DONE)
    statuses = await client.statuses([kept.order_id, partial.order_id, canceled.order_id])
    assert [statuses[o.order_id].status for o in (kept, partial, canceled)] == [  # type: ignore[union-attr]
        OrderStatus.COMPLETED, OrderStatus.PARTIAL, OrderStatus.CANCELED]
    # Partial keeps the delivered 300 of 400 (remains 100): 0.27; canceled is refunded in full.
    assert statuses[partial.order_id].remains == 100  # type: ignore[union-attr]
    assert (await client.balance()).amount == Decimal("1000") - Decimal("0.90") - Decimal("0.27")


# --------------------------------------------------------------------------- add

@pytest.mark.parametrize("service_type", list(VALID_ORDERS), ids=lambda t: t.name.lower())
async def test_add_every_service_type(client: PanelClient, server: SandboxServer, panel: SandboxPanel,
                                      service_type: ServiceType) -> None:
    order = VALID_ORDERS[service_type]
    added = await client.add(order)
    assert added.order_id in panel.orders
    sent = [r for r in server.requests if r.action == "add"]
    assert len(sent) == 1
    assert sent[0].fields == {"action": "add", **order.to_form()}
    assert "key" not in sent[0].fields
    status = await client.status(added.order_id)
    assert status.status is OrderStatus.PENDING


def test_add_form_sends_only_the_fields_of_the_type() -> None:
    form = OrderRequest("9", T.SUBSCRIPTIONS, link="https://ignored", quantity=5, username=" acme ", min=1,
                        max=2, delay=0, expiry=date(2030, 1, 2)).to_form()
    assert form == {"service": "9", "username": "acme", "min": "1", "max": "2", "delay": "0",
                    "expiry": "02/01/2030"}
    comments = OrderRequest("9", T.CUSTOM_COMMENTS, link="https://x.io/p", comments=("a ", "", " b")).to_form()
    assert comments == {"service": "9", "link": "https://x.io/p", "comments": "a\nb"}
    with pytest.raises(ValueError, match="Poll order needs: answer_number or question\\+answers"):
        OrderRequest("9", T.POLL, link="https://x.io/p", quantity=10).to_form()
    with pytest.raises(ValueError, match="runs and interval"):
        OrderRequest("9", T.DEFAULT, link="https://x.io/p", quantity=10, runs=3).to_form()


async def test_add_dripfeed_charges_every_run(client: PanelClient, panel: SandboxPanel) -> None:
    order = OrderRequest("101", T.DEFAULT, link="https://instagram.com/drip", quantity=1000, runs=5, interval=30)
    added = await client.add(order)
    assert panel.orders[added.order_id].price == Decimal("4.5")


async def test_add_validation_errors_use_the_panels_words(client: PanelClient, panel: SandboxPanel) -> None:
    with pytest.raises(PanelRejected, match="Quantity less than minimal 50"):
        await client.add(default_order("https://instagram.com/a", 10))
    with pytest.raises(PanelRejected, match="Quantity more than maximum 10000"):
        await client.add(default_order("https://instagram.com/a", 10001))
    with pytest.raises(PanelRejected, match=r"Incorrect service ID|Service not found"):
        await client.add(default_order("https://instagram.com/a", 100, service_id="9999"))
    with pytest.raises(PanelRejected, match="Incorrect link"):
        await client.add(default_order("instagram.com/a", 100))
    await client.add(default_order("https://instagram.com/busy", 100))
    with pytest.raises(PanelRejected, match="active order with this link"):
        await client.add(default_order("https://instagram.com/busy", 100))
    panel.funds = Decimal("0.01")
    with pytest.raises(PanelFundsError) as funds:
        await client.add(default_order("https://instagram.com/b", 100))
    assert funds.value.panel_message in ("Not enough funds on balance", "Your balance is insufficient.")
    assert not isinstance(funds.value, PanelRejected)


async def test_panel_reports_missing_fields(server: SandboxServer) -> None:
    """The sandbox itself refuses incomplete forms (what a misbehaving client would meet)."""
    async with httpx.AsyncClient() as http:
        answer = await http.post(server.api_url, data={"key": SANDBOX_KEY, "action": "add", "service": "201",
                                                       "link": "https://instagram.com/p/x"})
    assert answer.json() == {"error": "Incorrect comments"}


async def test_bad_key_is_an_auth_error_for_every_action(server: SandboxServer) -> None:
    async with PanelClient(server.api_url, "wrong-key", backoff_base=0.01) as bad:
        calls = [bad.services(), bad.balance(), bad.status("1"), bad.refill_status("1"), bad.refill("1"),
                 bad.add(default_order("https://instagram.com/a"))]
        for call in calls:
            with pytest.raises(PanelAuthError):
                await call
        results = await bad.statuses(["1", "2"])
        assert all(isinstance(r, PanelAuthError) for r in results.values())
    assert len(server.requests) == 7  # auth errors are never retried


# --------------------------------------------------------------------------- add never retried

async def test_add_timeout_is_outcome_unknown_and_never_retried(
        client: PanelClient, server: SandboxServer, panel: SandboxPanel) -> None:
    server.inject(FaultKind.TIMEOUT, action="add", after_processing=True)
    with pytest.raises(OrderOutcomeUnknown, match="may exist"):
        await client.add(default_order("https://instagram.com/slow"))
    assert server.actions()["add"] == 1
    assert len(panel.orders) == 1  # the panel did create it: only a person can tell


@pytest.mark.parametrize("fault", [FaultKind.DROP, FaultKind.HTML_502, FaultKind.EMPTY, FaultKind.BROKEN_JSON])
async def test_add_unreadable_answer_is_outcome_unknown(
        client: PanelClient, server: SandboxServer, fault: FaultKind) -> None:
    server.inject(fault, action="add")
    with pytest.raises(OrderOutcomeUnknown):
        await client.add(default_order("https://instagram.com/x"))
    assert server.actions()["add"] == 1


async def test_add_rate_limited_is_not_retried(client: PanelClient, server: SandboxServer) -> None:
    server.inject(FaultKind.RATE_LIMIT, action="add")
    with pytest.raises(PanelRateLimited):
        await client.add(default_order("https://instagram.com/x"))
    assert server.actions()["add"] == 1


async def test_unreachable_panel_is_a_transport_error_not_unknown() -> None:
    async with SandboxServer(SandboxPanel()) as stopped:
        url = stopped.api_url
    async with PanelClient(url, "k", timeout=0.5, backoff_base=0.01) as client:
        with pytest.raises(PanelTransportError) as error:
            await client.add(default_order("https://instagram.com/x"))
        assert not isinstance(error.value, OrderOutcomeUnknown)
        with pytest.raises(PanelTransportError):
            await client.balance()


# --------------------------------------------------------------------------- reads retried

@pytest.mark.parametrize("fault", [FaultKind.TIMEOUT, FaultKind.DROP, FaultKind.HTML_502,
                                   FaultKind.RATE_LIMIT, FaultKind.RATE_LIMIT_JSON])
async def test_reads_are_retried_after_transient_faults(
        client: PanelClient, server: SandboxServer, fault: FaultKind) -> None:
    server.inject(fault, action="balance")
    assert (await client.balance()).amount == Decimal("1000")
    assert server.actions()["balance"] == 2


async def test_reads_give_up_after_the_configured_attempts(client: PanelClient, server: SandboxServer) -> None:
    server.inject(FaultKind.HTML_502, action="services", times=5)
    with pytest.raises(PanelBadResponse, match=r"HTML page.*502 Bad Gateway"):
        await client.services()
    assert server.actions()["services"] == 3


async def test_broken_json_on_a_read_is_reported_not_retried(client: PanelClient, server: SandboxServer) -> None:
    server.inject(FaultKind.BROKEN_JSON, action="balance")
    with pytest.raises(PanelBadResponse, match="broken JSON"):
        await client.balance()
    assert server.actions()["balance"] == 1


# --------------------------------------------------------------------------- status

async def test_order_moves_through_its_states(client: PanelClient, panel: SandboxPanel) -> None:
    added = await client.add(default_order("https://instagram.com/life", 1000))
    first = await client.status(added.order_id)
    assert (first.status, first.remains, first.charge) == (OrderStatus.PENDING, 1000, Decimal("0.9"))
    panel.clock.advance(PENDING_SECONDS + RUN_SECONDS / 2)
    middle = await client.status(added.order_id)
    assert middle.status in (OrderStatus.IN_PROGRESS, OrderStatus.PROCESSING)  # v3 says processing
    assert middle.remains == 500
    assert middle.start_count is not None
    panel.clock.advance(RUN_SECONDS)
    last = await client.status(added.order_id)
    assert (last.status, last.remains) == (OrderStatus.COMPLETED, 0) and last.status.is_final


async def test_status_of_an_unknown_order_is_not_found(client: PanelClient) -> None:
    with pytest.raises(PanelNotFound):
        await client.status("424242")


async def test_250_ids_take_3_requests_and_every_id_gets_one_result(
        client: PanelClient, server: SandboxServer, panel: SandboxPanel) -> None:
    real = [(await client.add(default_order(f"https://instagram.com/u{i}", 100))).order_id for i in range(5)]
    ids = real + [str(900000 + i) for i in range(245)]
    server.reset_counters()
    results = await client.statuses(ids + real)  # duplicates are asked once
    assert server.actions()["status"] == 3
    batches = sorted(len(r.fields["orders"].split(",")) for r in server.requests)
    assert batches == [50, 100, 100]
    assert list(results) == ids
    assert all(results[i].status is OrderStatus.PENDING for i in real)  # type: ignore[union-attr]
    assert all(isinstance(results[i], PanelNotFound) for i in ids[5:])


async def test_a_failed_batch_gives_each_of_its_ids_the_error(client: PanelClient, server: SandboxServer) -> None:
    server.inject(FaultKind.BROKEN_JSON, action="status")
    results = await client.statuses([str(i) for i in range(150)])
    errors = [r for r in results.values() if isinstance(r, PanelBadResponse)]
    assert len(results) == 150 and len(errors) == 100  # one batch broken, the other answered


async def test_concurrency_is_bounded(server: SandboxServer) -> None:
    server.latency = 0.02
    async with PanelClient(server.api_url, SANDBOX_KEY, max_concurrency=3) as client:
        results = await client.statuses(str(i) for i in range(1000))
    assert len(results) == 1000 and server.actions()["status"] == 10
    assert server.max_in_flight == 3


# --------------------------------------------------------------------------- refill

async def completed_order(client: PanelClient, panel: SandboxPanel, link: str) -> str:
    order_id = (await client.add(default_order(link))).order_id
    panel.clock.advance(DONE)
    return order_id


async def test_refill_and_refill_status(client: PanelClient, panel: SandboxPanel, dialect: Dialect) -> None:
    order_id = await completed_order(client, panel, "https://instagram.com/refill")
    refill = await client.refill(order_id)
    assert refill.order_id == order_id
    if dialect is Dialect.V3:  # this dialect never tells a refill id
        assert refill.refill_id is None and not refill.trackable and "refill asap" in refill.message
        return
    assert refill.trackable and refill.refill_id
    assert (await client.refill_status(refill.refill_id)).status is RefillStatus.PENDING
    panel.clock.advance(REFILL_PENDING_SECONDS)
    assert (await client.refill_status(refill.refill_id)).status is RefillStatus.IN_PROGRESS
    panel.clock.advance(REFILL_RUN_SECONDS)
    assert (await client.refill_status(refill.refill_id)).status is RefillStatus.COMPLETED


async def test_refill_refusals_reach_the_caller(client: PanelClient, panel: SandboxPanel) -> None:
    pending = (await client.add(default_order("https://instagram.com/notyet"))).order_id
    with pytest.raises(PanelRejected, match="Order cannot be refilled"):
        await client.refill(pending)
    done = await completed_order(client, panel, "https://instagram.com/again")
    await client.refill(done)
    with pytest.raises(PanelRejected, match="Refill already in progress"):
        await client.refill(done)
    with pytest.raises(PanelNotFound):
        await client.refill("777777")


async def test_refills_many_with_fallback_and_per_id_errors(
        client: PanelClient, server: SandboxServer, panel: SandboxPanel, dialect: Dialect) -> None:
    first = (await client.add(default_order("https://instagram.com/r1"))).order_id
    second = (await client.add(default_order("https://instagram.com/r2"))).order_id
    panel.clock.advance(DONE)
    server.reset_counters()
    results = await client.refills([first, second, "555555"])
    assert isinstance(results["555555"], PanelNotFound)
    accepted = [results[first], results[second]]
    assert all(not isinstance(r, PanelError) for r in accepted)
    if dialect is Dialect.V2:
        assert server.actions()["refill"] == 1
        assert all(r.trackable for r in accepted)  # type: ignore[union-attr]
    else:  # the many form is refused once, then one request per order
        assert server.actions()["refill"] == 1 + 3
        assert all(r.refill_id is None for r in accepted)  # type: ignore[union-attr]


async def test_refill_statuses_many(client: PanelClient, server: SandboxServer, panel: SandboxPanel,
                                    dialect: Dialect) -> None:
    if dialect is Dialect.V3:
        results = await client.refill_statuses(["1", "2"])
        assert all(isinstance(r, PanelNotFound) for r in results.values())
        return
    ok = await completed_order(client, panel, "https://instagram.com/rs1")
    bad = await completed_order(client, panel, "https://instagram.com/rs2#refill-reject")
    refills = await client.refills([ok, bad])
    ids = [refills[ok].refill_id, refills[bad].refill_id]  # type: ignore[union-attr]
    panel.clock.advance(REFILL_PENDING_SECONDS + REFILL_RUN_SECONDS)
    server.reset_counters()
    results = await client.refill_statuses([*ids, "999"])  # type: ignore[list-item]
    assert server.actions()["refill_status"] == 1
    assert results[ids[0]].status is RefillStatus.COMPLETED  # type: ignore[index,union-attr]
    assert results[ids[1]].status is RefillStatus.REJECTED  # type: ignore[index,union-attr]
    assert isinstance(results["999"], PanelNotFound)


# --------------------------------------------------------------------------- cancel

async def test_cancel_many_with_single_order_fallback(
        client: PanelClient, server: SandboxServer, panel: SandboxPanel, dialect: Dialect) -> None:
    a = (await client.add(default_order("https://instagram.com/c1"))).order_id
    b = (await client.add(default_order("https://instagram.com/c2"))).order_id
    no_cancel = (await client.add(default_order("https://instagram.com/c3", 100, service_id="102"))).order_id
    server.reset_counters()
    results = await client.cancel([a, no_cancel, "31337"])
    assert not isinstance(results[a], PanelError)
    assert isinstance(results[no_cancel], PanelRejected) and "cannot be canceled" in str(results[no_cancel])
    assert isinstance(results["31337"], PanelNotFound)
    expected = 1 if dialect is Dialect.V2 else 1 + 3
    assert server.actions()["cancel"] == expected
    # The client remembers what the panel takes: the next call goes straight to the right form.
    server.reset_counters()
    await client.cancel([b])
    assert server.actions()["cancel"] == 1
    assert (await client.status(a)).status is OrderStatus.CANCELED


# --------------------------------------------------------------------------- secrets

async def test_the_key_never_leaks(server: SandboxServer, caplog: pytest.LogCaptureFixture) -> None:
    secret = "sk-SUPER-SECRET-KEY-42"
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    async with PanelClient(server.api_url, secret, timeout=0.3, backoff_base=0.01) as client:
        seen.append(repr(client))
        server.inject(FaultKind.TIMEOUT, action="add")
        server.inject(FaultKind.HTML_502, action="balance", times=3)
        for call in (client.add(default_order("https://instagram.com/s")), client.balance(), client.status("1")):
            with pytest.raises(PanelError) as error:
                await call
            seen += [str(error.value), repr(error.value), str(error.value.__cause__), str(error.value.args)]
    seen += [record.getMessage() for record in caplog.records]
    assert len(seen) > 12 and not [line for line in seen if secret in line]


@pytest.mark.parametrize("body", [
    '{"error": "Invalid API key sk-ECHOED-KEY-77 for action add"}',
    '{"error": "Not enough funds (key sk-ECHOED-KEY-77, balance 0.1)"}',
    '<html><body>Error: key=sk-ECHOED-KEY-77 blocked</body></html>',
])
async def test_a_panel_quoting_the_key_back_never_passes_it_on(body: str) -> None:
    """The panel's own words reach customers (a rejection), admins (alerts) and logs."""
    secret = "sk-ECHOED-KEY-77"
    async with PanelClient("http://panel.example/api/v2", secret, transport=answering(200, body)) as client:
        for call in (client.add(default_order("https://instagram.com/s")), client.balance()):
            with pytest.raises(PanelError) as error:
                await call
            shown = [str(error.value), repr(error.value), error.value.message, error.value.panel_message or ""]
            assert not [text for text in shown if secret in text], shown


async def test_redirect_is_explained() -> None:
    def redirect(request: httpx.Request) -> httpx.Response:
        return httpx.Response(301, headers={"location": "https://panel.example/api/v2"})

    async with PanelClient("http://panel.example/api/v2", "k", transport=httpx.MockTransport(redirect)) as client:
        with pytest.raises(PanelBadResponse, match=r"redirected to https://panel\.example/api/v2"):
            await client.balance()


def answering(status: int, body: str) -> httpx.MockTransport:
    """A panel that answers every request with this HTTP status and body."""
    return httpx.MockTransport(lambda request: httpx.Response(status, text=body))


@pytest.mark.parametrize(("status", "body"), [
    (502, '{"error": "Bad Gateway"}'),
    (504, '{"status": "error", "message": "upstream timed out"}'),
    (500, '{"error": "Internal error"}'),
    (200, '"Order received"'),
    (200, '{"order": 77, "error": "Something odd"}'),
    (200, '{"status": "success"}'),
])
async def test_add_answers_that_do_not_say_no_are_outcome_unknown(status: int, body: str) -> None:
    async with PanelClient("http://panel.example/api/v2", "k", transport=answering(status, body)) as client:
        with pytest.raises(OrderOutcomeUnknown):
            await client.add(default_order("https://instagram.com/x"))


@pytest.mark.parametrize(("status", "body", "error"), [
    (200, '{"error": "Incorrect link"}', PanelRejected),
    (400, '{"error": "Quantity less than minimal 100"}', PanelRejected),
    (200, '{"error": "Not enough funds on balance"}', PanelFundsError),
    (401, "", PanelAuthError),
])
async def test_add_clear_refusals(status: int, body: str, error: type[PanelError]) -> None:
    async with PanelClient("http://panel.example/api/v2", "k", transport=answering(status, body)) as client:
        with pytest.raises(error) as raised:
            await client.add(default_order("https://instagram.com/x"))
    assert not isinstance(raised.value, OrderOutcomeUnknown)


async def test_junk_ids_in_a_batch_answer_do_not_break_the_batch() -> None:
    body = '{"": {"status": "Completed"}, "true": "x", "7": {"status": "Partial", "remains": "5"}}'
    async with PanelClient("http://panel.example/api/v2", "k", transport=answering(200, body)) as client:
        results = await client.statuses(["7", "8"])
    assert results["7"].status is OrderStatus.PARTIAL  # type: ignore[union-attr]
    assert isinstance(results["8"], PanelBadResponse)


async def test_long_panel_messages_are_shortened() -> None:
    body = '{"error": "' + "very long reason " * 400 + '"}'
    async with PanelClient("http://panel.example/api/v2", "k", transport=answering(200, body)) as client:
        with pytest.raises(PanelRejected) as raised:
            await client.add(default_order("https://instagram.com/x"))
    assert len(str(raised.value)) <= 300 and str(raised.value).endswith("…")
