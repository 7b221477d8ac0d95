"""Shop services out of several panels' lists (bot/domain/sourcing.py): pure rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain.sourcing import (
    GONE,
    TYPE_CHANGED,
    ShopServiceSpec,
    SourceRef,
    auto_shop_id,
    build_offer,
    fits,
    proves_not_placed,
    source_changes,
)
from bot.panel import (
    OrderOutcomeUnknown,
    PanelAuthError,
    PanelBadResponse,
    PanelFundsError,
    PanelNotFound,
    PanelRateLimited,
    PanelRejected,
    PanelTransportError,
    PanelUnreachable,
    Service,
    ServiceType,
)


def service(service_id: str, rate: str = "1.00", kind: str = "Default", name: str = "Followers",
            min_: int = 10, max_: int = 1000, dripfeed: bool = False) -> Service:
    return Service.model_validate({"service": service_id, "name": name, "type": kind, "category": "Insta",
                                   "rate": rate, "min": min_, "max": max_, "dripfeed": dripfeed})


DEFAULT = ServiceType.DEFAULT


@pytest.mark.parametrize(("error", "next_source"), [
    (PanelFundsError("not enough funds"), True),
    (PanelAuthError("bad key"), True),
    (PanelRateLimited("slow down"), True),
    (PanelUnreachable("connection refused"), True),
    (PanelRejected("Service not found or inactive", panel_message="Service not found or inactive"), True),
    (PanelRejected("Incorrect service ID", panel_message="Incorrect service ID"), True),
    (PanelRejected("x", panel_message="Quantity must be between 50 and 10000"), True),
    (PanelRejected("x", panel_message="Quantity less than minimal 100"), True),
    (PanelRejected("x", panel_message="Incorrect link"), False),  # the customer's: the next panel says the same
    (PanelNotFound("x", panel_message="Incorrect order ID"), False),
    (PanelTransportError("read timeout"), False),  # it may have arrived
    (OrderOutcomeUnknown("no answer"), False),
    (PanelBadResponse("HTML page"), False),
])
def test_only_a_refusal_that_proves_nothing_was_placed_lets_the_next_source_try(
        error: Exception, next_source: bool) -> None:
    assert proves_not_placed(error) is next_source  # type: ignore[arg-type]


def test_default_shop_ids_keep_the_first_panels_ids_and_fit_a_button() -> None:
    taken: set[str] = set()
    assert auto_shop_id("alpha", "102", first_panel="alpha", taken=taken) == "102"
    assert auto_shop_id("beta", "102", first_panel="alpha", taken=taken) == "beta-102"
    assert auto_shop_id("alpha", "102", first_panel="alpha", taken={"102"}) == "alpha-102"
    long_id = "x" * 60
    made = auto_shop_id("beta", long_id, first_panel="alpha", taken=taken)
    assert made.startswith("beta-h") and len(made.encode()) <= 40
    assert auto_shop_id("beta", "a:b", first_panel="alpha", taken=taken).startswith("beta-h")  # ":" splits buttons
    assert auto_shop_id("beta", long_id, first_panel="alpha", taken={made}) != made


def _offer(services: dict[str, list[Service]], refs: list[SourceRef], specs: list[ShopServiceSpec],
           currencies: dict[str, str | None] | None = None, rates: dict[str, Decimal] | None = None):  # type: ignore[no-untyped-def]
    return build_offer(list(services), services, specs, refs,
                       currencies or dict.fromkeys(services, "USD"), "USD", rates or {})


def test_a_merged_service_is_priced_from_its_first_usable_source_in_the_shops_currency() -> None:
    services = {"alpha": [service("1", "0.90")], "beta": [service("7", "0.50", name="IG followers")]}
    specs = [ShopServiceSpec("1", DEFAULT, edited=True)]
    refs = [SourceRef("beta", "7", "1", 0), SourceRef("alpha", "1", "1", 1)]  # beta preferred
    offer = _offer(services, refs, specs, {"alpha": "USD", "beta": "EUR"}, {"EUR": Decimal("1.10")})
    shown = offer.catalogue.service("1")
    assert shown is not None and shown.rate == Decimal("0.550") and shown.name == "IG followers"
    assert [s.panel for s in offer.sources["1"]] == ["beta", "alpha"]
    assert offer.sources["1"][0].fx_rate == Decimal("1.10")
    # Without a rate for EUR, beta cannot be priced: alpha sells it alone, at its own rate.
    offer = _offer(services, refs, specs, {"alpha": "USD", "beta": "EUR"})
    assert [s.panel for s in offer.sources["1"]] == ["alpha"] and offer.catalogue.service("1").rate == Decimal("0.90")  # type: ignore[union-attr]
    assert [v.problem for v in offer.views["1"]] == ["currency", None]


def test_a_service_with_no_usable_source_is_not_offered_but_the_operator_still_sees_it() -> None:
    services = {"alpha": [service("1")]}
    specs = [ShopServiceSpec("1", DEFAULT), ShopServiceSpec("beta-7", DEFAULT)]
    refs = [SourceRef("alpha", "1", "1", 0), SourceRef("beta", "7", "beta-7", 0)]  # beta is not configured
    offer = _offer(services, refs, specs)
    assert offer.catalogue.service("beta-7") is None and "beta-7" not in offer.sources
    assert [v.problem for v in offer.views["beta-7"]] == ["panel"]


def test_a_refresh_gives_new_services_their_own_and_flags_gone_and_retyped_sources() -> None:
    specs = [ShopServiceSpec("1", DEFAULT, edited=True), ShopServiceSpec("2", DEFAULT),
             ShopServiceSpec("3", DEFAULT)]
    refs = [SourceRef("alpha", "1", "1", 0), SourceRef("beta", "9", "1", 1), SourceRef("alpha", "2", "2", 0),
            SourceRef("alpha", "3", "3", 0)]
    listed = [service("1", kind="Package"), service("2", kind="Package"), service("4")]  # 3 gone, 4 new
    changes = source_changes("alpha", "alpha", listed, specs, refs)
    assert [(spec.shop_id, ref.service_id) for spec, ref in changes.new] == [("4", "4")]
    # 1 was merged by the operator: flagged; 2 is nobody's shaping: it follows its source's type.
    assert set(changes.flags) == {("alpha", "1", TYPE_CHANGED), ("alpha", "3", GONE)}
    assert changes.types == (("2", ServiceType.PACKAGE),)
    # Listed again as before: the flags go.
    flagged = [SourceRef("alpha", "1", "1", 0, TYPE_CHANGED), SourceRef("alpha", "3", "3", 0, GONE)]
    again = source_changes("alpha", "alpha", [service("1"), service("3")], specs, flagged)
    assert set(again.flags) == {("alpha", "1", None), ("alpha", "3", None)}


def test_a_source_that_cannot_take_the_quantity_or_drip_feed_is_not_asked() -> None:
    services = {"alpha": [service("1", min_=100, max_=500, dripfeed=True)]}
    offer = _offer(services, [SourceRef("alpha", "1", "1", 0)], [ShopServiceSpec("1", DEFAULT)])
    (source,) = offer.sources["1"]
    assert fits(source, 100, runs=None) and fits(source, 500, runs=3)
    assert not fits(source, 99, runs=None) and not fits(source, 501, runs=None)
    no_drip = _offer({"alpha": [service("1")]}, [SourceRef("alpha", "1", "1", 0)], [ShopServiceSpec("1", DEFAULT)])
    assert not fits(no_drip.sources["1"][0], 100, runs=2)


def test_a_currency_is_three_letters_as_the_shop_names_them() -> None:
    from bot.shop.panels import currency_code

    assert [currency_code(text) for text in ("usd", " EUR ", "$", "₽", "USDT", "", None, "U$D")] == [
        "USD", "EUR", None, None, None, None, None, None]
