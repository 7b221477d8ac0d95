"""Pure rules: money, prices, catalogue paging and search, order fields and their checks."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.catalogue import Catalogue, category_key, paginate, shorten
from bot.domain.money import format_money, from_micros, parse_amount, round_up, to_micros
from bot.domain.order_form import (
    InvalidAnswer,
    OrderDraft,
    draft_from_json,
    draft_to_json,
    parse_future_date,
    parse_lines,
    parse_link,
    quantity_choices,
    steps_for,
    whole_number,
)
from bot.domain.pricing import breakdown, order_cost, price_per_1000
from bot.panel import Service, ServiceType

T = ServiceType


def service(service_id: str = "1", type_: str = "Default", rate: str = "0.90", min_: int = 50, max_: int = 10000,
            *, dripfeed: bool = False, category: str = "Cat", name: str = "Followers") -> Service:
    return Service.model_validate({"service": service_id, "name": name, "type": type_, "category": category,
                                   "rate": rate, "min": min_, "max": max_, "dripfeed": dripfeed})


# --------------------------------------------------------------------------- money

def test_money_is_exact_and_rounds_up_to_the_micro_unit() -> None:
    assert round_up(Decimal("0.0000001")) == Decimal("0.000001")
    assert round_up(Decimal("0.7867125")) == Decimal("0.786713")
    assert to_micros(Decimal("12.5")) == 12_500_000 and from_micros(12_500_000) == Decimal("12.5")
    with pytest.raises(ValueError, match="finer than a micro-unit"):
        to_micros(Decimal("0.0000001"))
    assert format_money(Decimal("1234.5"), "USD") == "1,234.50 USD"
    assert format_money(Decimal("0.000012")) == "0.000012"
    assert format_money(Decimal(0), "EUR") == "0.00 EUR"


@pytest.mark.parametrize(("text", "expected"), [
    ("10", Decimal(10)), ("10.5", Decimal("10.5")), ("10,50", Decimal("10.50")), (" 1 000 ", Decimal(1000)),
    ("0", None), ("-3", None), ("abc", None), ("NaN", None), ("1e3", Decimal(1000)), ("0.0000001", None),
])
def test_parse_amount(text: str, expected: Decimal | None) -> None:
    assert parse_amount(text) == expected


# --------------------------------------------------------------------------- prices

@pytest.mark.parametrize(("type_", "quantity", "runs", "posts", "expected"), [
    ("Default", 1000, None, None, Decimal("0.90")),
    ("Default", 500, 3, None, Decimal("1.35")),
    ("Package", 1, None, None, Decimal("0.90")),
    ("Custom Comments Package", 7, None, None, Decimal("0.90")),
    ("Custom Comments", 7, None, None, Decimal("0.0063")),
    ("Subscriptions", 200, None, 5, Decimal("0.90")),
])
def test_order_cost(type_: str, quantity: int, runs: int | None, posts: int | None, expected: Decimal) -> None:
    assert order_cost(service(type_=type_), quantity=quantity, runs=runs, posts=posts) == expected


@pytest.mark.parametrize(("rate", "markup", "decimals", "expected"), [
    ("0.90", "0", 2, "0.90"), ("0.90", "12.5", 2, "1.02"),  # 1.0125: rounded up to the cent
    ("0.6993", "12.5", 2, "0.787"),  # 0.786713: three significant digits, finer than a cent
    ("0.01", "33.3333", 2, "0.0134"), ("0.0025", "0", 2, "0.0025"), ("12.3456", "0", 2, "12.35"),
    ("0.0000001", "0", 2, "0.000001"),  # never below a micro-unit
    ("0.90", "12.5", 0, "1.02"), ("1234.5", "0", 0, "1235"),  # PRICE_DECIMALS=0: whole units, or 3 digits
])
def test_the_shops_rate_is_rounded_up_to_cents_or_three_digits(rate: str, markup: str, decimals: int,
                                                                 expected: str) -> None:
    shown = price_per_1000(service(rate=rate), Decimal(markup), decimals)
    assert shown == Decimal(expected) and shown >= Decimal(rate) * (1 + Decimal(markup) / 100)


@pytest.mark.parametrize(("rate", "markup", "decimals", "quantity", "runs", "exact", "price"), [
    ("0.90", "0", 2, 1000, None, "0.90", "0.90"),  # a round amount stays as it is
    ("0.90", "0", 2, 1500, None, "1.35", "1.35"),
    ("0.90", "0", 2, 500, 3, "1.35", "1.35"),  # drip-feed: quantity × runs
    ("0.72", "0", 2, 100, None, "0.072", "0.08"),  # rounded up to the cent, never down
    ("0.6993", "12.5", 2, 1000, None, "0.787", "0.79"),  # the rate 0.786713 is shown (and used) as 0.787
    ("0.0025", "0", 2, 1000, None, "0.0025", "0.01"),  # a views rate still costs a cent
    ("0.72", "0", 3, 100, None, "0.072", "0.072"),  # PRICE_DECIMALS=3
    ("0.72", "0", 0, 100, None, "0.072", "1"),  # PRICE_DECIMALS=0: whole units
])
def test_a_price_is_the_rate_times_the_units_rounded_up_to_the_price_decimals(
        rate: str, markup: str, decimals: int, quantity: int, runs: int | None, exact: str, price: str) -> None:
    basis = breakdown(service(rate=rate), Decimal(markup), decimals, quantity=quantity, runs=runs)
    assert basis.exact == Decimal(exact) and basis.price == Decimal(price)
    assert basis.units == quantity * (runs or 1) and basis.times == runs


# --------------------------------------------------------------------------- catalogue

def test_catalogue_groups_dedupes_and_skips_what_cannot_be_ordered() -> None:
    catalogue = Catalogue([
        service("1", category="B"), service("2", category="A"), service("1", category="A", name="dup"),
        service("3", type_="Weird New Type", category="A"), service("x" * 41, category="A"),
        service("4", category="B", name="Real Likes <HQ>"),
    ])
    assert [c.name for c in catalogue.categories] == ["B", "A"]
    assert len(catalogue) == 3 and catalogue.service("1").name == "Followers"  # type: ignore[union-attr]
    assert catalogue.category(category_key("A")).services[0].service_id == "2"  # type: ignore[union-attr]
    assert [s.service_id for s in catalogue.search("likes REAL")] == ["4"]
    assert catalogue.search("   ") == []


def test_paginate_clamps_to_existing_pages() -> None:
    page = paginate(list(range(20)), 5, 8)
    assert (page.items, page.number, page.count, page.has_prev, page.has_next) == ((16, 17, 18, 19), 2, 3, True, False)
    assert paginate([], 0, 8).count == 1
    assert shorten("a  b " * 30, 10) == "a b a b a…"


# --------------------------------------------------------------------------- fields

def test_steps_follow_the_type() -> None:
    assert [s.field for s in steps_for(service())] == ["link", "quantity"]
    # drip-feed is asked only once chosen among the summary's options
    assert [s.field for s in steps_for(service(dripfeed=True))] == ["link", "quantity"]
    assert [(s.field, s.optional) for s in steps_for(service(dripfeed=True), drip=True)] == [
        ("link", False), ("quantity", False), ("runs", True), ("interval", False)]
    assert [s.field for s in steps_for(service(type_="Poll"))] == ["link", "quantity", "answer_number"]
    assert [(s.field, s.optional) for s in steps_for(service(type_="Subscriptions"))] == [
        ("username", False), ("min", False), ("max", False), ("delay", False), ("posts", False),
        ("old_posts", True), ("expiry", True)]


def test_skipping_runs_skips_the_interval() -> None:
    draft = OrderDraft.start("k", service(dripfeed=True))
    draft.answer("https://x.io/a")
    draft.answer(100)
    assert draft.step is None  # a plain order: drip-feed is the summary's option
    draft.choose_drip_feed()
    assert draft.step is not None and draft.step.field == "runs" and draft.drip
    draft.skip()
    assert draft.step is None and not draft.drip and draft.to_request().to_form() == {
        "service": "1", "link": "https://x.io/a", "quantity": "100"}
    stored = draft_from_json(draft_to_json(draft), service(dripfeed=True))  # the summary again, after Skip
    assert stored is not None and stored.step is None and not stored.drip and stored.values == draft.values
    with pytest.raises(InvalidAnswer):
        OrderDraft.start("k", service()).skip()
    with pytest.raises(InvalidAnswer):  # no drip-feed on a service without it
        OrderDraft.start("k", service()).choose_drip_feed()


def test_drip_feed_chosen_on_the_summary_survives_a_restart() -> None:
    draft = OrderDraft.start("k", service(dripfeed=True))
    draft.answer("https://x.io/a")
    draft.answer(100)
    draft.choose_drip_feed()
    draft.answer(3)
    stored = draft_from_json(draft_to_json(draft), service(dripfeed=True))
    assert stored is not None and stored.drip and stored.step is not None and stored.step.field == "interval"
    assert stored.values == {"link": "https://x.io/a", "quantity": 100, "runs": 3}


@pytest.mark.parametrize(("low", "high", "expected"), [
    (10, 100_000, (200, 500, 1000, 2000, 5000, 10_000)),  # centred on 1000
    (50, 10_000, (200, 500, 1000, 2000, 5000, 10_000)),
    (100, 1000, (100, 200, 500, 1000)),
    (1, 1, (1,)),
    (1500, 1800, (1500,)),  # no round amount fits: the minimum
    (20_000, 10_000_000, (20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000)),
])
def test_quantity_buttons_are_round_amounts_within_the_range(low: int, high: int, expected: tuple[int, ...]) -> None:
    assert quantity_choices(low, high) == expected


@pytest.mark.parametrize(("text", "telegram", "expected"), [
    ("https://instagram.com/acme", False, "https://instagram.com/acme"),
    ("http://x.io/a?b=1&c=2", False, "http://x.io/a?b=1&c=2"),
    ("@my_channel", True, "https://t.me/my_channel"),
    ("t.me/my_channel/5", True, "https://t.me/my_channel/5"),
    ("https://t.me/+AbCdEf", True, "https://t.me/+AbCdEf"),
])
def test_links_accepted(text: str, telegram: bool, expected: str) -> None:
    assert parse_link(text, telegram=telegram) == expected


@pytest.mark.parametrize(("text", "telegram"), [
    ("@acme", False), ("instagram.com/acme", False), ("javascript:alert(1)", False), ("https://localhost", False),
    ("https://x.io/a b", False), ("ftp://x.io", False), ("@ab", True), ("", True),
])
def test_links_refused_with_an_explanation(text: str, telegram: bool) -> None:
    with pytest.raises(InvalidAnswer, match=r"http:// or https://|t\.me"):
        parse_link(text, telegram=telegram)


def test_lines_and_dates() -> None:
    assert parse_lines(" a \r\n\r\nb\n", None) == ("a", "b")
    with pytest.raises(InvalidAnswer, match="You sent 2 lines; this service takes from 3 to 5"):
        parse_lines("a\nb", (3, 5))
    with pytest.raises(InvalidAnswer, match="empty"):
        parse_lines(" \n ", None)
    today = date(2026, 11, 22)
    assert parse_future_date("23/11/2026", today) == date(2026, 11, 23)
    assert parse_future_date("2027-01-31", today) == date(2027, 1, 31)
    with pytest.raises(InvalidAnswer, match="after today"):
        parse_future_date("22.11.2026", today)


@pytest.mark.parametrize(("typed", "count"), [
    ("1000", 1000), ("1 000", 1000), ("1,000", 1000), ("1.000", 1000), ("12.345.678", 12_345_678), ("1_000", 1000),
    ("1\u00a0000", 1000), ("1'000", 1000), ("1k", 1000), ("10K", 10_000), ("2.5k", 2500), ("2,5к", 2500),
    ("1m", 1_000_000), (" 500 ", 500), ("۱۰۰۰", 1000),  # the digits of Persian and Arabic keyboards too
    ("1.5", None), ("1,00", None), ("1.000,5", None), ("k", None), ("1e3", None), ("١٠٠", 100), ("1.2345k", None),
    ("-5", None), ("", None),
])
def test_counts_are_read_as_customers_write_them(typed: str, count: int | None) -> None:
    assert whole_number(typed) == count


@given(st.integers(0, 10**15))
def test_any_count_reads_back_plain_or_grouped(number: int) -> None:
    assert whole_number(str(number)) == number
    assert whole_number(f"{number:,}") == number
    assert whole_number(f"{number:,}".replace(",", ".")) == number
    assert whole_number(f"{number:,}".replace(",", " ")) == number
