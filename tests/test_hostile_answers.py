"""What a hostile or broken panel can send, and what the client makes of it: every value bounded
where it is parsed, every oddity an error for that one id (never an exception that escapes).
Findings 1, 4 and 5 of the hardening issue, at the client's level (the end-to-end side is in
test_hardening_e2e.py)."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from bot.panel import OrderOutcomeUnknown, OrderRequest, PanelClient, ServiceType
from bot.panel.errors import PanelBadResponse, PanelFundsError, PanelNotFound
from bot.panel.models import OrderStatusInfo
from bot.panel.parsing import decode_body, parse_added, parse_services, parse_status, parse_statuses
from bot.panel.values import COUNT_LIMIT, to_id

ORDER = OrderRequest("101", ServiceType.DEFAULT, link="https://instagram.com/x", quantity=100)
GOOD = {"charge": "0.1", "start_count": "5", "status": "In progress", "remains": "10"}


def decode(raw: str) -> object:
    return decode_body(raw.encode(), 200)


# --------------------------------------------------------------------------- finding 1: absurd numbers

@pytest.mark.parametrize("field", ["remains", "start_count"])
@pytest.mark.parametrize("value", [
    pytest.param('"99999999999999999999"', id="2^63-and-more-as-text"),
    pytest.param("99999999999999999999", id="2^63-and-more-as-number"),
    pytest.param('"1e30"', id="exponent-as-text"),
    pytest.param("1e30", id="exponent-as-number"),
    pytest.param('"1e1000000"', id="huge-exponent-as-text"),
    pytest.param("1e1000000", id="huge-exponent-as-number"),
    pytest.param('"-1e30"', id="hugely-negative"),
    pytest.param('"' + "9" * 5000 + '"', id="five-thousand-digits"),
])
def test_an_absurd_count_makes_only_that_order_unreadable(field: str, value: str) -> None:
    answer = f'{{"1": {json.dumps(GOOD)}, "2": {{"status": "In progress", "{field}": {value}}}}}'
    results = parse_statuses(decode(answer), ["1", "2"])
    assert isinstance(results["1"], OrderStatusInfo) and results["1"].remains == 10
    assert isinstance(results["2"], PanelBadResponse), results["2"]
    assert field in results["2"].message


@pytest.mark.parametrize("value", ["1000000000000000", "-1000000000000000", "0", "-5", '"Unknown"', "null", '""'])
def test_counts_at_the_bounds_and_unknowns_are_read(value: str) -> None:
    info = parse_status(decode(f'{{"status": "Partial", "remains": {value}}}'), "7")
    expected = None if value in ('"Unknown"', "null", '""') else int(value)
    assert info.remains == expected
    assert expected is None or abs(expected) <= COUNT_LIMIT


@pytest.mark.parametrize("value", ['"1e13"', '"1e1000000"', '"NaN"', '"Infinity"', '"' + "1" * 80 + '"',
                                   '"0.' + "1" * 60 + '"'])
def test_an_absurd_amount_is_unreadable(value: str) -> None:
    answer = f'{{"1": {{"status": "Completed", "charge": {value}}}}}'
    assert isinstance(parse_statuses(decode(answer), ["1"])["1"], PanelBadResponse)


def test_deeply_nested_json_is_an_unreadable_answer() -> None:
    for depth in (40, 5_000, 200_000):  # below, near and far beyond Python's own recursion limit
        with pytest.raises(PanelBadResponse, match=r"nested too deeply|broken JSON"):
            decode_body(b"[" * depth + b"]" * depth, 200)
    assert decode_body(b'{"a": [[{"b": 1}]]}', 200) == {"a": [[{"b": 1}]]}


def test_a_catalogue_entry_with_an_absurd_bound_is_skipped_not_fatal() -> None:
    entries = [{"service": 1, "name": "ok", "rate": "0.5", "min": "10", "max": "1000"},
               {"service": 2, "name": "absurd max", "rate": "0.5", "min": "10", "max": "99999999999999999999"},
               {"service": 3, "name": "absurd min", "rate": "0.5", "min": "1e30", "max": "1000"},
               {"service": 4, "name": "absurd rate", "rate": "1e1000000", "min": "10", "max": "1000"},
               {"service": 5, "name": {"nested": "name"}, "rate": "0.5", "min": "10", "max": "1000"}]
    assert [s.service_id for s in parse_services(decode(json.dumps(entries)))] == ["1"]


@pytest.mark.parametrize("value", ["12,13", "a b", "x" * 65, "-3", "\u0000"])
def test_an_id_that_cannot_be_sent_back_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="not an id"):
        to_id(value)


async def test_an_answer_larger_than_any_catalogue_is_refused() -> None:
    body = b'[' + b'{"service": 1, "name": "x", "rate": "1", "min": 1, "max": 2},' * 300_000 + b'{}]'
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    async with PanelClient("http://panel.test/api/v2", "k", transport=transport, read_attempts=1) as client:
        with pytest.raises(PanelBadResponse, match="larger than 16 MB"):
            await client.services()


# --------------------------------------------------------------------------- finding 4: add's order id

@pytest.mark.parametrize("answer", [
    pytest.param({"order": 0}, id="zero"),
    pytest.param({"order": "0"}, id="zero-as-text"),
    pytest.param({"order": -5}, id="negative"),
    pytest.param({"order": {"id": 5}}, id="object-without-error"),
    pytest.param({"order": [23501]}, id="list"),
    pytest.param({"order": True}, id="true"),
    pytest.param({"order": "12,13"}, id="two-ids"),
    pytest.param({"order": 1.5}, id="fraction"),
])
async def test_an_order_id_that_is_no_id_is_outcome_unknown(answer: dict[str, object]) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    async with PanelClient("http://panel.test/api/v2", "k", transport=transport) as client:
        with pytest.raises(OrderOutcomeUnknown):
            await client.add(ORDER)


async def test_an_error_inside_the_order_field_is_that_refusal() -> None:
    answer = {"order": {"error": "Not enough funds on balance"}}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    async with PanelClient("http://panel.test/api/v2", "k", transport=transport) as client:
        with pytest.raises(PanelFundsError) as caught:
            await client.add(ORDER)
    assert caught.value.panel_message == "Not enough funds on balance"
    with pytest.raises(PanelFundsError):
        parse_added(answer)


# --------------------------------------------------------------------------- finding 5: whole-request errors

async def test_a_whole_request_not_found_is_narrowed_to_the_ids_it_is_about() -> None:
    """A panel that refuses the whole batch for one id it does not know: the client asks each half
    again, so only that id is reported missing and the 99 others get their status."""
    known = {str(i) for i in range(1, 101)} - {"57"}
    asked: list[int] = []

    def panel(request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        ids = form["orders"].split(",") if "orders" in form else [form["order"]]
        asked.append(len(ids))
        if any(one not in known for one in ids):
            return httpx.Response(200, json={"error": "Incorrect order ID"})
        return httpx.Response(200, json={one: GOOD for one in ids} if "orders" in form else GOOD)

    async with PanelClient("http://panel.test/api/v2", "k", transport=httpx.MockTransport(panel)) as client:
        results = await client.statuses(str(i) for i in range(1, 101))
    assert isinstance(results["57"], PanelNotFound)
    assert all(isinstance(results[one], OrderStatusInfo) for one in known)
    assert asked[0] == 100 and len(asked) <= 2 * 7 + 1  # a halving per level: about 2 log2(100) requests


async def test_a_panel_refusing_every_batch_costs_a_bounded_number_of_requests_and_reports_nobody() -> None:
    """A glitch (or a panel without the `orders` form) refusing every request as a whole: the
    narrowing stops at its budget; no order is taken as "not found", all are asked again later."""
    asked: list[httpx.Request] = []

    def panel(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(200, json={"error": "Incorrect order ID"})

    async with PanelClient("http://panel.test/api/v2", "k", transport=httpx.MockTransport(panel),
                           read_attempts=1) as client:
        results = await client.statuses(str(i) for i in range(1, 101))
    assert len(asked) <= 1 + 30
    assert not any(isinstance(r, PanelNotFound) for r in results.values())
    assert all(isinstance(r, PanelBadResponse) for r in results.values())


async def test_an_id_alone_is_confirmed_in_the_single_order_form() -> None:
    """A panel that refuses `orders=` for one id but answers `order=`: the order is not lost."""
    def panel(request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        if "orders" in form:
            return httpx.Response(200, json={"error": "Incorrect order ID"})
        return httpx.Response(200, json=GOOD)

    async with PanelClient("http://panel.test/api/v2", "k", transport=httpx.MockTransport(panel)) as client:
        assert isinstance((await client.statuses(["5"]))["5"], OrderStatusInfo)


def test_a_number_of_thousands_of_digits_spoils_only_its_own_order() -> None:
    """Python's JSON parser refuses an integer of more than 4,300 digits for the whole answer."""
    body = ('{"1": {"status": "Canceled", "remains": "1000"}, "2": {"status": "Partial", "remains": '
            + "9" * 5000 + "}}").encode()
    results = parse_statuses(decode_body(body, 200), ["1", "2"])
    assert isinstance(results["1"], OrderStatusInfo) and isinstance(results["2"], PanelBadResponse)


def test_lone_surrogates_never_reach_the_database_or_the_panel() -> None:
    """A lone surrogate (JSON "\\ud800") is valid JSON but no UTF-8: it could be neither stored
    nor sent. As an id it is refused; in a text it is replaced."""
    body = rb'{"1": {"status": "Partial \ud800", "remains": "1"}, "\ud800": {"status": "Completed"}}'
    results = parse_statuses(decode_body(body, 200), ["1"])
    info = results["1"]
    assert isinstance(info, OrderStatusInfo) and info.raw_status.encode("utf-8") == b"Partial ?"
    with pytest.raises(ValueError, match="not an id"):
        to_id("\ud800")
    error = parse_statuses(decode_body(rb'{"1": {"error": "Incorrect order ID \udc00"}}', 200), ["1"])["1"]
    assert isinstance(error, PanelNotFound) and error.message.encode("utf-8")


async def test_a_whole_request_not_found_that_stays_is_never_per_id_for_a_batch() -> None:
    """Even read as it is, an "Incorrect order ID" for a batch names none of its ids."""
    results = parse_statuses(decode('{"error": "Incorrect order ID"}'), ["1", "2"])
    assert all(type(r) is PanelBadResponse for r in results.values())
    assert type(parse_statuses(decode('{"error": "Incorrect order ID"}'), ["1"])["1"]) is PanelNotFound


def test_money_stays_decimal_under_the_bounds() -> None:
    info = parse_status(decode('{"status": "Completed", "charge": "999999999999.99999"}'), "1")
    assert info.charge == Decimal("999999999999.99999")


async def test_a_body_that_does_not_match_its_encoding_is_an_unreadable_answer() -> None:
    """httpx raises its own DecodingError for it, which is no transport error: it must not escape."""
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"plain",
                                                                   headers={"Content-Encoding": "gzip"}))
    async with PanelClient("http://panel.test/api/v2", "k", transport=transport, read_attempts=1) as client:
        assert isinstance((await client.statuses(["1"]))["1"], PanelBadResponse)
        with pytest.raises(OrderOutcomeUnknown):
            await client.add(ORDER)
