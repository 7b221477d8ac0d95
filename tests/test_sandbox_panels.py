"""The three demo panels of sandbox mode — three dialects, overlapping catalogues — through the
real PanelClient over loopback HTTP, their refusals, and `python -m bot.panel.sandbox --panels 3`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from bot.panel import (
    OrderRequest,
    OrderStatus,
    PanelAuthError,
    PanelError,
    PanelFundsError,
    PanelNotFound,
    PanelRejected,
    PanelUnreachable,
    RefillStatus,
    Service,
    ServiceType,
)
from bot.panel.client import PanelClient
from bot.panel.sandbox import (
    DEMO_CATALOGUE,
    SANDBOX_PANELS,
    DemoService,
    Dialect,
    SandboxClock,
    SandboxPanel,
    SandboxPanelSpec,
    SandboxServer,
    StartedSandboxPanel,
    start_sandbox_panels,
    stop_sandbox_panels,
)
from bot.panel.sandbox.engine import PENDING_SECONDS, REFILL_PENDING_SECONDS, REFILL_RUN_SECONDS, RUN_SECONDS
from bot.panel.values import to_decimal
from tests.conftest import SANDBOX_KEY

ROOT = Path(__file__).resolve().parents[1]
DONE = PENDING_SECONDS + RUN_SECONDS + 1
SPECS = {spec.name: spec for spec in SANDBOX_PANELS}

# How each dialect spells what the client must understand.
RAW_WORDS = {  # (pending, running, canceled)
    Dialect.V2: ("Pending", "In progress", "Canceled"),
    Dialect.V3: ("pending", "processing", "canceled"),
    Dialect.RESELLER: ("Pending", "processing", "Cancelled"),
}
RUNNING = {Dialect.V2: OrderStatus.IN_PROGRESS, Dialect.V3: OrderStatus.PROCESSING,
           Dialect.RESELLER: OrderStatus.PROCESSING}
REFUSALS = {  # (service disabled, quantity below min, quantity above max, out of funds)
    Dialect.V2: ("Incorrect service ID", "Quantity less than minimal {min}", "Quantity more than maximum {max}",
                 "Not enough funds on balance"),
    Dialect.V3: ("Service not found or inactive", "Quantity less than minimal {min}",
                 "Quantity more than maximum {max}", "Your balance is insufficient."),
    Dialect.RESELLER: ("Service not found or inactive", "Quantity must be between {min} and {max}",
                       "Quantity must be between {min} and {max}",
                       "Insufficient balance. Add funds with crypto first."),
}


def refillable(spec: SandboxPanelSpec) -> DemoService:
    """The panel's first Default service with refill and cancel."""
    return next(s for s in spec.catalogue if s.type is ServiceType.DEFAULT and s.refill and s.cancel)


def order_of(service: DemoService, link: str, quantity: int) -> OrderRequest:
    return OrderRequest(str(service.service_id), service.type, link=link, quantity=quantity)


@pytest.fixture(params=list(SPECS), ids=list(SPECS))
def spec(request: pytest.FixtureRequest) -> SandboxPanelSpec:
    return SPECS[request.param]


@pytest.fixture
def panel(spec: SandboxPanelSpec) -> SandboxPanel:
    """The demo panel as sandbox mode runs it, with a clock that moves only when told (the
    conftest `server` and `client` fixtures serve this one)."""
    return SandboxPanel(api_key=SANDBOX_KEY, dialect=spec.dialect, clock=SandboxClock(speed=0), funds=spec.funds,
                        currency=spec.currency, catalogue=spec.catalogue, first_order_id=spec.first_order_id,
                        first_refill_id=spec.first_refill_id)


@pytest.fixture
async def demo_panels() -> AsyncIterator[list[StartedSandboxPanel]]:
    started = await start_sandbox_panels(3, clock=SandboxClock(speed=0))
    yield started
    await stop_sandbox_panels(started)


def client_of(started: StartedSandboxPanel, key: str | None = None) -> PanelClient:
    return PanelClient(started.server.api_url, key or started.key, timeout=2, backoff_base=0.01, backoff_max=0.05)


# --------------------------------------------------------------------------- each dialect end to end

async def test_services_parse_to_the_catalogue_in_every_dialect(client: PanelClient, spec: SandboxPanelSpec) -> None:
    services = {s.service_id: s for s in await client.services()}
    assert set(services) == {str(s.service_id) for s in spec.catalogue}
    for demo in spec.catalogue:
        got = services[str(demo.service_id)]
        assert (got.name, got.type, got.category, got.min, got.max, got.refill, got.cancel) == (
            demo.name, demo.type, demo.category, demo.min, demo.max, demo.refill, demo.cancel)
        assert got.rate == demo.rate and isinstance(got.rate, Decimal)
        # The reseller lists no dripfeed field: read as "not offered".
        assert got.dripfeed is (demo.dripfeed and spec.dialect is not Dialect.RESELLER)


async def test_orders_statuses_refills_cancel_and_balance_in_every_dialect(
        client: PanelClient, panel: SandboxPanel, spec: SandboxPanelSpec) -> None:
    dialect = spec.dialect
    service = refillable(spec)
    pending_word, running_word, canceled_word = RAW_WORDS[dialect]

    kept = await client.add(order_of(service, "https://example.com/kept", 1000))
    partial = await client.add(order_of(service, "https://example.com/half#partial#refill-reject", 400))
    gone = await client.add(order_of(service, "https://example.com/gone", 2000))
    first = spec.first_order_id
    assert [kept.order_id, partial.order_id, gone.order_id] == [str(first), str(first + 1), str(first + 2)]

    canceled = await client.cancel([gone.order_id, "888888888"])
    assert not isinstance(canceled[gone.order_id], PanelError)
    assert isinstance(canceled["888888888"], PanelNotFound)

    asked = [kept.order_id, partial.order_id, gone.order_id, "999999999", "x-1"]
    statuses = await client.statuses(asked)
    assert isinstance(statuses["999999999"], PanelNotFound) and isinstance(statuses["x-1"], PanelNotFound)
    waiting = statuses[kept.order_id]
    assert not isinstance(waiting, PanelError)
    assert (waiting.status, waiting.raw_status) == (OrderStatus.PENDING, pending_word)
    # Before its first sync with the upstream the reseller says remains "0"; the others the quantity.
    assert waiting.remains == (0 if dialect is Dialect.RESELLER else 1000)
    gone_status = statuses[gone.order_id]
    assert not isinstance(gone_status, PanelError)
    assert (gone_status.status, gone_status.raw_status) == (OrderStatus.CANCELED, canceled_word)

    panel.clock.advance(PENDING_SECONDS + 1)
    running = await client.status(kept.order_id)
    assert (running.status, running.raw_status) == (RUNNING[dialect], running_word)

    panel.clock.advance(RUN_SECONDS)
    done = await client.statuses([kept.order_id, partial.order_id])
    assert [done[kept.order_id].status, done[partial.order_id].status] == [  # type: ignore[union-attr]
        OrderStatus.COMPLETED, OrderStatus.PARTIAL]
    assert done[partial.order_id].remains == 100  # type: ignore[union-attr]
    assert done[kept.order_id].charge == service.rate  # type: ignore[union-attr]

    refill = await client.refill(kept.order_id)
    if dialect is Dialect.V3:  # this dialect never tells a refill id
        assert refill.refill_id is None and not refill.trackable
    else:
        assert refill.refill_id == str(spec.first_refill_id)
        assert (await client.refill_status(refill.refill_id)).status is RefillStatus.PENDING
    again = await client.refills([kept.order_id, partial.order_id, "999999999"])
    assert isinstance(again[kept.order_id], PanelRejected) and "Refill already in progress" in str(
        again[kept.order_id])
    assert isinstance(again["999999999"], PanelNotFound)
    second = again[partial.order_id]
    assert not isinstance(second, PanelError)
    if dialect is not Dialect.V3:
        panel.clock.advance(REFILL_PENDING_SECONDS + REFILL_RUN_SECONDS)
        ids = [refill.refill_id, second.refill_id]
        refills = await client.refill_statuses([*ids, "424242"])  # type: ignore[list-item]
        assert [refills[i].status for i in ids] == [  # type: ignore[index,union-attr]
            RefillStatus.COMPLETED, RefillStatus.REJECTED]
        assert isinstance(refills["424242"], PanelNotFound)
        with pytest.raises(PanelNotFound):
            await client.refill_status("424242")

    balance = await client.balance()
    # Kept 1000 pays in full, the partial 300 of 400 delivered, the canceled nothing.
    assert balance.amount == spec.funds - service.rate * Decimal("1.3")
    assert balance.currency == spec.currency


# --------------------------------------------------------------------------- refusals that place nothing

async def test_disabled_service_quantity_and_funds_refusals_in_the_panels_words(
        client: PanelClient, panel: SandboxPanel, spec: SandboxPanelSpec) -> None:
    service = refillable(spec)
    disabled_words, low_words, high_words, funds_words = REFUSALS[spec.dialect]
    bounds = {"min": service.min, "max": service.max}

    with pytest.raises(PanelRejected) as low:
        await client.add(order_of(service, "https://example.com/low", service.min - 1))
    assert low.value.panel_message == low_words.format(**bounds)
    with pytest.raises(PanelRejected) as high:
        await client.add(order_of(service, "https://example.com/high", service.max + 1))
    assert high.value.panel_message == high_words.format(**bounds)

    panel.disable_service(service.service_id)
    assert str(service.service_id) not in {s.service_id for s in await client.services()}
    with pytest.raises(PanelRejected) as disabled:
        await client.add(order_of(service, "https://example.com/off", service.min))
    assert disabled.value.panel_message == disabled_words
    assert not isinstance(disabled.value, PanelNotFound | PanelFundsError)
    panel.enable_service(service.service_id)

    panel.funds = Decimal(0)
    with pytest.raises(PanelFundsError) as broke:
        await client.add(order_of(service, "https://example.com/broke", service.min))
    assert broke.value.panel_message == funds_words
    assert panel.orders == {}  # none of the refusals placed anything

    panel.funds = spec.funds
    placed = await client.add(order_of(service, "https://example.com/fine", service.min))
    assert placed.order_id == str(spec.first_order_id)


async def test_a_disabled_service_lets_placed_orders_carry_on() -> None:
    panel = SandboxPanel(api_key=SANDBOX_KEY, clock=SandboxClock(speed=0))
    async with SandboxServer(panel) as server, PanelClient(server.api_url, SANDBOX_KEY) as client:
        placed = await client.add(OrderRequest("101", ServiceType.DEFAULT, link="https://example.com/a", quantity=100))
        panel.disable_service("101")
        panel.clock.advance(DONE)
        assert (await client.status(placed.order_id)).status is OrderStatus.COMPLETED
        with pytest.raises(KeyError):
            panel.disable_service("no-such-service")


async def test_the_reseller_speaks_http_status_codes_and_its_own_formats() -> None:
    spec = SPECS["gamma"]
    panel = SandboxPanel(api_key=SANDBOX_KEY, dialect=Dialect.RESELLER, clock=SandboxClock(speed=0),
                         catalogue=spec.catalogue, first_order_id=1)
    async with SandboxServer(panel) as server, httpx.AsyncClient() as http:
        async def post(**form: str) -> httpx.Response:
            return await http.post(server.api_url, data={"key": SANDBOX_KEY, **form})

        services = (await post(action="services")).json()
        by_id = {s["service"]: s for s in services}
        assert by_id[42]["rate"] == "1,650.00000" and by_id[7]["rate"] == "0.95000"
        assert by_id[12]["type"] == "custom_comments" and all("dripfeed" not in s for s in services)
        balance = await http.post(server.api_url, data={"action": "balance"}, headers={"X-Api-Key": SANDBOX_KEY})
        assert (balance.status_code, balance.json()) == (200, {"balance": "1,000.00000", "currency": "USD"})
        assert "PHPSESSID" in balance.cookies
        wrong_key = await http.post(server.api_url, data={"key": "nope", "action": "balance"})
        assert (wrong_key.status_code, wrong_key.json()) == (403, {"error": "Invalid API key"})
        assert (await http.get(server.api_url, params={"key": SANDBOX_KEY, "action": "balance"})).status_code == 405
        assert (await post(action="nonsense")).status_code == 400
        low = await post(action="add", service="7", link="https://example.com/x", quantity="1")
        assert (low.status_code, low.json()) == (400, {"error": "Quantity must be between 50 and 10000"})
        bad_link = await post(action="add", service="7", link="example.com", quantity="100")
        assert (bad_link.status_code, bad_link.json()) == (400, {"error": "Invalid link"})
        unknown = await post(action="status", order="31337")
        assert (unknown.status_code, unknown.json()) == (404, {"error": "Incorrect order ID"})
        dear = await post(action="add", service="42", link="https://example.com/vip")
        assert (dear.status_code, dear.json()) == (402, {"error": "Insufficient balance. Add funds with crypto first."})
        first = await post(action="add", service="7", link="https://example.com/a", quantity="100")
        second = await post(action="add", service="7", link="https://example.com/b", quantity="100")
        assert [first.json(), second.json()] == [{"order": 1}, {"order": 2}]
        # Batches come in the panel's own order, errors as {"order", "error"} items.
        cancels = (await post(action="cancel", orders="2,77,1")).json()
        assert cancels == [{"order": 1, "cancel": 1}, {"order": 2, "cancel": 1}, {"order": 77,
                                                                                 "error": "Incorrect order ID"}]
        assert (await post(action="cancel", order="1")).status_code == 400  # only the `orders` form
        mixed = (await post(action="status", orders="1,abc")).json()
        assert isinstance(mixed, list) and [item["order"] for item in mixed] == ["1", "abc"]
        assert mixed[0]["status"] == "Cancelled" and mixed[1] == {"order": "abc", "error": "Incorrect order ID"}


async def test_the_reseller_cancels_only_while_pending() -> None:
    spec = SPECS["gamma"]
    panel = SandboxPanel(api_key=SANDBOX_KEY, dialect=Dialect.RESELLER, clock=SandboxClock(speed=0),
                         catalogue=spec.catalogue)
    async with SandboxServer(panel) as server, PanelClient(server.api_url, SANDBOX_KEY) as client:
        started = await client.add(order_of(refillable(spec), "https://example.com/late", 100))
        panel.clock.advance(PENDING_SECONDS + 1)
        refused = (await client.cancel([started.order_id]))[started.order_id]
        assert isinstance(refused, PanelRejected) and refused.panel_message == "Order cannot be canceled"
        assert server.actions()["cancel"] == 1


@pytest.mark.parametrize(("text", "amount"), [
    ("1,650.00000", Decimal("1650")), ("1,000,000.5", Decimal("1000000.5")), (" 98.81200 ", Decimal("98.812")),
])
def test_amounts_with_a_thousands_separator_are_read(text: str, amount: Decimal) -> None:
    assert to_decimal(text) == amount


@pytest.mark.parametrize("text", ["1,500", "0,900", "12,34.5", "1,0000.0", "1.650,00"])
def test_amounts_a_comma_makes_ambiguous_stay_unreadable(text: str) -> None:
    """Without a decimal point after groups of three, the comma may be a decimal comma."""
    with pytest.raises(ValueError, match="not an amount"):
        to_decimal(text)


# --------------------------------------------------------------------------- the three demo panels

def twin_words(name: str) -> set[str]:
    return {word for word in re.findall(r"[a-z]+", name.lower()) if len(word) > 2}


# Beta's and gamma's versions of alpha's services (the same kind of service, under other ids and names).
TWINS = {
    "beta": {"1101": "101", "1102": "103", "1201": "201", "1402": "402", "1401": "401", "1503": "503",
             "1601": "601"},
    "gamma": {"7": "101", "8": "102", "12": "201", "15": "302", "19": "501", "23": "401"},
}


async def test_the_demo_catalogues_overlap_by_type_with_other_ids_and_prices(
        demo_panels: list[StartedSandboxPanel]) -> None:
    catalogues: dict[str, dict[str, Service]] = {}
    for started in demo_panels:
        async with client_of(started) as client:
            catalogues[started.spec.name] = {s.service_id: s for s in await client.services()}
    alpha = catalogues["alpha"]
    assert not set(alpha) & set(catalogues["beta"]) and not set(alpha) & set(catalogues["gamma"])
    assert not set(catalogues["beta"]) & set(catalogues["gamma"])
    for name, twins in TWINS.items():
        own = catalogues[name]
        cheaper = dearer = 0
        for their_id, alpha_id in twins.items():
            theirs, ours = own[their_id], alpha[alpha_id]
            assert theirs.type is ours.type and theirs.type is not ServiceType.UNKNOWN
            assert theirs.name != ours.name and len(twin_words(theirs.name) & twin_words(ours.name)) >= 2, (
                theirs.name, ours.name)
            assert theirs.rate != ours.rate
            cheaper += theirs.rate < ours.rate
            dearer += theirs.rate > ours.rate
        assert cheaper >= 2 and dearer >= 2, name
        assert len(set(own) - set(twins)) >= 2, f"{name} sells a few services of its own"
    # Same types, spelt as each dialect spells them.
    assert catalogues["gamma"]["12"].raw_type == "custom_comments" != alpha["201"].raw_type == "Custom Comments"
    assert catalogues["beta"]["1101"].raw_type == "default" != alpha["101"].raw_type
    messy = [s.name for catalogue in catalogues.values() for s in catalogue.values()]
    assert any("<" in n for n in messy) and any("&" in n for n in messy) and any("[" in n for n in messy)


async def test_start_sandbox_panels_gives_each_its_own_port_key_currency_and_ids(
        demo_panels: list[StartedSandboxPanel]) -> None:
    assert [(s.spec.name, s.spec.dialect) for s in demo_panels] == [
        ("alpha", Dialect.V2), ("beta", Dialect.V3), ("gamma", Dialect.RESELLER)]
    assert len({s.server.port for s in demo_panels}) == 3 and len({s.key for s in demo_panels}) == 3
    placed = {}
    for started in demo_panels:
        async with client_of(started) as client:
            balance = await client.balance()
            assert (balance.amount, balance.currency) == (started.spec.funds, started.spec.currency)
            service = refillable(started.spec)
            placed[started.spec.name] = (await client.add(order_of(service, "https://example.com/x", 100))).order_id
        other_key = demo_panels[(demo_panels.index(started) + 1) % 3].key
        async with client_of(started, other_key) as stranger:
            with pytest.raises(PanelAuthError):
                await stranger.balance()
    assert placed == {"alpha": "23501", "beta": "7000001", "gamma": "1"}
    alpha, _, gamma = demo_panels
    async with client_of(alpha) as client:  # a gamma order asked of alpha: unknown, never alpha's own
        with pytest.raises(PanelNotFound):
            await client.status(placed["gamma"])
    # Out of funds at one panel only.
    gamma.server.panel.funds = Decimal(0)
    async with client_of(gamma) as broke, client_of(alpha) as fine:
        with pytest.raises(PanelFundsError):
            await broke.add(order_of(refillable(gamma.spec), "https://example.com/y", 100))
        assert (await fine.add(order_of(refillable(alpha.spec), "https://example.com/y", 100))).order_id == "23502"


async def test_one_sandbox_panel_is_the_panel_of_old_and_counts_are_bounded() -> None:
    started = await start_sandbox_panels(1)
    try:
        [(spec, server, key)] = started
        assert (spec.name, spec.dialect, spec.currency, spec.catalogue) == ("alpha", Dialect.V2, "USD",
                                                                              DEMO_CATALOGUE)
        assert server.panel.api_key == key and server.panel.funds == Decimal(1000)
    finally:
        await stop_sandbox_panels(started)
    async with client_of(started[0]) as client:
        with pytest.raises(PanelUnreachable):
            await client.balance()
    for count in (0, 4):
        with pytest.raises(ValueError, match="1 to 3"):
            await start_sandbox_panels(count)


@pytest.mark.timeout(60)
def test_the_stand_alone_sandbox_prints_a_panels_line_for_three_panels() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.panel.sandbox", "--panels", "3", "--port", "0"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:  # ends when the process does, so a crash fails here, not hangs
            seen.append(line)
            if line.startswith("PANELS="):
                break
        panels_line = seen[-1] if seen else ""
        assert panels_line.startswith("PANELS="), "".join(seen)
        entries = json.loads(panels_line.removeprefix("PANELS="))
        assert [e["name"] for e in entries] == ["alpha", "beta", "gamma"]
        assert len({e["url"] for e in entries}) == 3 and len({e["key"] for e in entries}) == 3
        assert sum("Sandbox panel" in line for line in seen) == 3
        currencies = []
        for entry in entries:  # the line works as printed: each url answers its key
            answer = httpx.post(entry["url"], data={"key": entry["key"], "action": "balance"}, timeout=5).json()
            currencies.append(answer["currency"])
        assert currencies == ["USD", "EUR", "USD"]
    finally:
        process.terminate()
        process.communicate(timeout=10)
