"""A shop of two panels, for its operator, end to end: a service's sources on its card, merging
(suggested or searched), reordering and splitting them, renaming, the sources to check, and the
exchange rate that puts a panel of another currency on sale. The real bot over loopback HTTP
to the fake Bot API and to two sandbox panels (alpha in USD, beta in EUR)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from bot import texts
from bot.panel import ServiceType
from bot.panel.sandbox import SandboxClock, SandboxPanel, SandboxServer
from bot.panel.sandbox.catalogue import SANDBOX_PANELS, SandboxPanelSpec
from handlers.admin_sources import service_key
from storage.audit import recent_entries
from storage.orders import orders_in_state
from tests.support.customer import Customer
from tests.support.fake_telegram import FakeTelegram, SentMessage
from tests.support.shop import ADMIN_ID, Shop, run_shop
from tests.test_ordering_e2e import confirm, funded, order_until_summary

ALPHA, BETA = SANDBOX_PANELS[0], SANDBOX_PANELS[1]
ALPHA_KEY, BETA_KEY = "sk-alpha-test-key-0001", "sk-beta-test-key-0002"
FOLLOWERS = "101"  # alpha's "📸 Instagram Followers [Real] <Max 10K> ⚡ R30", 0.90 USD
BETA_FOLLOWERS = "beta-1101"  # beta's "Instagram Followers (Real) [max 10k] ♻️ R30", 0.85 EUR
TWITTER = "beta-1801"  # beta's alone: "🐦 X/Twitter Followers [HQ] & Retweets", 2.40 EUR


@dataclass
class TwoPanels:
    shop: Shop
    alpha: SandboxServer
    beta: SandboxServer

    def adds(self, server: SandboxServer) -> list[dict[str, str]]:
        return [r.fields for r in server.requests if r.action == "add"]


@asynccontextmanager
async def two_panel_shop(tmp_path: Path) -> AsyncIterator[TwoPanels]:
    def panel(key: str, spec: SandboxPanelSpec) -> SandboxPanel:
        return SandboxPanel(api_key=key, dialect=spec.dialect, clock=SandboxClock(speed=0), catalogue=spec.catalogue,
                            currency=spec.currency, first_order_id=spec.first_order_id)
    async with FakeTelegram() as telegram, \
            SandboxServer(panel(ALPHA_KEY, ALPHA), hang_seconds=5) as alpha, \
            SandboxServer(panel(BETA_KEY, BETA), hang_seconds=5) as beta:
        panels = json.dumps([{"name": "alpha", "url": alpha.api_url, "key": ALPHA_KEY, "currency": "USD"},
                             {"name": "beta", "url": beta.api_url, "key": BETA_KEY, "currency": "EUR"}])
        async with run_shop(tmp_path, telegram, alpha, panels=panels, panel_api_url=None,
                            panel_api_key=None) as shop:
            yield TwoPanels(shop, alpha, beta)


@pytest.fixture
async def shops(tmp_path: Path) -> AsyncIterator[TwoPanels]:
    async with two_panel_shop(tmp_path) as running:
        yield running


def data_of(message: SentMessage) -> list[str]:
    return [b["callback_data"] for row in message.buttons() for b in row]


def lines_of(message: SentMessage) -> list[str]:
    return message.text.splitlines()


async def set_rate(admin: Customer, currency: str, rate: str) -> None:
    answer = await admin.say(f"/rate {currency} {rate}")
    assert answer.text.startswith(f"✅ 1 {currency} = "), answer.text


async def open_card(shop: Shop, admin: Customer, shop_id: str) -> SentMessage:
    """/catalogue → the service's category (paging if needed) → its services → its card."""
    screen = await admin.say("/catalogue")
    category = next(c for c in shop.state.full_catalogue.categories
                    if any(s.service_id == shop_id for s in c.services))
    await _tap_through(admin, screen, f"a:c:{category.key}")
    await admin.tap(screen, f"a:c:{category.key}:sv:0")
    await _tap_through(admin, screen, f"a:s:{shop_id}")
    return screen


async def _tap_through(admin: Customer, screen: SentMessage, data: str) -> None:
    for _ in range(100):
        if data in data_of(screen):
            await admin.tap(screen, data)
            return
        await admin.tap(screen, "Next ›")
    raise AssertionError(f"no page has {data}")


async def search_services(customer: Customer, words: str) -> SentMessage:
    """What a customer's search in /order shows."""
    await customer.say("/order")
    found = await customer.say(words)
    await customer.say("/cancel")
    return found


# --------------------------------------------------------------------------- exchange rates

async def test_a_panel_in_another_currency_sells_only_once_it_has_a_rate(shops: TwoPanels) -> None:
    shop = shops.shop
    customer = await funded(shop, 5001)
    admin = shop.customer(ADMIN_ID, "Admin")
    # No EUR rate: beta's services are not offered, and /rates says what is missing.
    assert (await search_services(customer, "Twitter")).text.startswith("🔎 Nothing matches Twitter")
    listing = await admin.say("/rates")
    assert str(texts.RATES_NONE) in listing.text and "⚠️ No exchange rate for EUR" in listing.text
    # Bad input is answered in one line and sets nothing.
    usage = texts.RATE_USAGE.format(shop="USD")
    refused = {
        "/rate": usage, "/rate EUR": usage, "/rate EUR 1 2": usage,
        "/rate EU 1.1": texts.BAD_RATE_CURRENCY.format(value="EU"),
        "/rate E1R 1.1": texts.BAD_RATE_CURRENCY.format(value="E1R"),
        "/rate usd 1.1": texts.RATE_SHOP_CURRENCY.format(currency="USD"),
        **{f"/rate EUR {bad}": texts.BAD_RATE.format(value=bad)
           for bad in ("0", "-1", "abc", "1e3", "1.123456789", "1000000001", "1,2,3", "١٫١",
                       "15,800", "1.080")},  # (thousands or decimals? refused, not guessed)
    }
    for command, expected in refused.items():
        answer = await admin.say(command)
        assert answer.raw_text == expected, command
        assert "\n" not in answer.text, command
    assert not shop.state.catalogues.rates
    assert (await search_services(customer, "Twitter")).text.startswith("🔎 Nothing matches Twitter")

    answer = await admin.say("/rate eur 1,10")
    assert answer.text == "✅ 1 EUR = 1.1 USD, for prices from now on (placed orders keep theirs)."
    # Customers now see beta's own service, priced 2.40 EUR × 1.1 = 2.64 USD per 1000.
    card = await customer.open_service(TWITTER)
    assert "🐦 X/Twitter Followers [HQ] & Retweets" in card.text and "💵 2.64 USD per 1000" in card.text
    await customer.say("/cancel")
    text = await confirm(customer, await order_until_summary(customer, TWITTER, ["https://x.com/ann", "1000"]))
    assert text.startswith("✅ Order placed") and "Charged: 2.64 USD" in text
    assert shops.adds(shops.beta) == [{"action": "add", "service": "1801", "link": "https://x.com/ann",
                                       "quantity": "1000"}]
    assert not shops.adds(shops.alpha)
    order = (await orders_in_state(shop.state.db, "placed"))[-1]
    assert order.price_micros == 2_640_000 and order.cost_micros == 2_640_000  # 2.40 EUR at 1.1
    assert await shop.balance(5001) == Decimal(100) - Decimal("2.64")

    listing = await admin.say("/rates")
    assert "1 EUR = 1.1 USD · set just now · beta" in listing.text and "No exchange rate for" not in listing.text
    unused = await admin.say("/rate GBP 1.27")
    assert lines_of(unused) == ["✅ 1 GBP = 1.27 USD, for prices from now on (placed orders keep theirs).",
                                "ℹ️ No panel sells in GBP now; the rate waits for one that does."]
    await set_rate(admin, "EUR", "2")  # a new rate for new prices
    card = await customer.open_service(TWITTER)
    assert "💵 4.80 USD per 1000" in card.text
    entries = [(e.action, e.target, e.before, e.after) for e in await recent_entries(shop.state.db)][:3]
    assert entries == [("exchange rate", "EUR", "1.10", "2"), ("exchange rate", "GBP", "none", "1.27"),
                       ("exchange rate", "EUR", "none", "1.10")]
    menu = await admin.say("/admin")
    assert "/rate CUR RATE" in menu.text
    await admin.tap(menu, "a:rates")
    assert menu.text.startswith("💱 Exchange rates into USD") and "1 EUR = 2 USD" in menu.text


# --------------------------------------------------------------------------- merge, reorder, split

async def test_merge_a_suggestion_reorder_its_sources_then_split_one_out(shops: TwoPanels) -> None:
    shop = shops.shop
    customer = await funded(shop, 5002)
    admin = shop.customer(ADMIN_ID, "Admin")
    await set_rate(admin, "EUR", "1.1")
    card = await open_card(shop, admin, FOLLOWERS)
    assert "1. alpha · 101 · 0.90 USD/1000 ✅" in lines_of(card)
    assert "✅ Orders go to alpha first; when it cannot take one, to the next usable source." in lines_of(card)
    assert not any(":sr:" in data for data in data_of(card))  # one source: nothing to move or split

    await admin.tap(card, texts.BUTTON_MERGE)
    assert card.text.startswith("🔗 Merge with 📸 Instagram Followers [Real] <Max 10K> ⚡ R30")
    items = [line for line in lines_of(card) if line[:1].isdigit()]
    assert items[0] == "1. beta 1101 · Instagram Followers (Real) [max 10k] ♻️ R30 · 0.85 EUR"  # most alike
    assert 1 < len(items) <= 8 and all(item.split(". ", 1)[1].startswith("beta ") for item in items)
    suggested = [data.split(":")[-1] for data in data_of(card) if data.startswith("a:mg:101:")]
    assert len(suggested) == len(items)
    picked = {shop.state.catalogues.shop_id_of("beta", item.split(" ")[2]) for item in items}
    assert all(shop.state.catalogues.spec(i).type is ServiceType.DEFAULT for i in picked)  # type: ignore[union-attr]
    assert max(len(t) for row in card.button_texts() for t in row) <= 30

    await admin.tap(card, "a:mg:101:" + suggested[0])
    assert card.text.startswith("✅ Merged “Instagram Followers (Real) [max 10k] ♻️ R30”")
    assert "1. alpha · 101 · 0.90 USD/1000 ✅" in lines_of(card)
    assert "2. beta · 1101 · 0.85 EUR/1000 (≈0.935 USD)" in lines_of(card)
    assert texts.BUTTON_SOURCE_UP.format(position=2) in str(card.button_texts())
    assert texts.BUTTON_SOURCE_UP.format(position=1) not in str(card.button_texts())  # the first goes no higher
    # Customers find one service for the two now.
    found = data_of(await search_services(customer, "Followers Real"))
    assert any(d.endswith(":svc:101") for d in found) and not any(d.endswith(f":svc:{BETA_FOLLOWERS}") for d in found)

    # The same card on a second screen, then beta moved up on the first.
    other_screen = await open_card(shop, admin, FOLLOWERS)
    await admin.tap(card, texts.BUTTON_SOURCE_UP.format(position=2))
    assert card.text.startswith(str(texts.SOURCE_MOVED))
    assert "1. beta · 1101 · 0.85 EUR/1000 (≈0.935 USD) ✅" in lines_of(card)
    assert "2. alpha · 101 · 0.90 USD/1000" in lines_of(card)
    assert "✅ Orders go to beta first; when it cannot take one, to the next usable source." in lines_of(card)
    # The older screen's button names the source it was drawn for: it moves nothing now.
    await admin.tap(other_screen, texts.BUTTON_SOURCE_UP.format(position=2))
    assert other_screen.text.startswith(str(texts.SOURCES_CHANGED))
    assert "1. beta · 1101 · 0.85 EUR/1000 (≈0.935 USD) ✅" in lines_of(other_screen)

    # A customer's order goes to beta, now first, at beta's price in USD (0.935 → 0.94 per 1000).
    text = await confirm(customer, await order_until_summary(customer, FOLLOWERS, ["https://instagram.com/x",
                                                                                 "1000"]))
    assert text.startswith("✅ Order placed"), text
    assert shops.adds(shops.beta) == [{"action": "add", "service": "1101", "link": "https://instagram.com/x",
                                       "quantity": "1000"}]
    assert not shops.adds(shops.alpha)

    # Split alpha out again: a service of its own, with its own card; 101 keeps beta's source.
    await admin.tap(card, texts.BUTTON_SOURCE_SPLIT.format(position=2))
    assert card.text.startswith("✅ alpha · 101 is a service of its own again.")
    assert "1. beta · 1101 · 0.85 EUR/1000 (≈0.935 USD) ✅" in lines_of(card)
    assert not any(line.startswith("2. ") for line in lines_of(card))
    await admin.tap(card, texts.BUTTON_OPEN_SPLIT)
    assert "1. alpha · 101 · 0.90 USD/1000 ✅" in lines_of(card)
    split_id = lines_of(card)[1].removeprefix("id ").split(" ")[0]
    assert split_id not in ("101", BETA_FOLLOWERS) and shop.state.catalogue.service(split_id) is not None
    text = await confirm(customer, await order_until_summary(customer, split_id, ["https://instagram.com/y",
                                                                                "1000"]))
    assert text.startswith("✅ Order placed"), text
    assert shops.adds(shops.alpha) == [{"action": "add", "service": "101", "link": "https://instagram.com/y",
                                        "quantity": "1000"}]
    actions = [e.action for e in await recent_entries(shop.state.db)][:3]
    assert actions == ["split source", "reorder sources", "merge"]


async def test_merge_by_search_and_stale_merge_buttons(shops: TwoPanels) -> None:
    shop = shops.shop
    admin = shop.customer(ADMIN_ID, "Admin")
    await set_rate(admin, "EUR", "1.1")
    suggestions = await open_card(shop, admin, FOLLOWERS)
    await admin.tap(suggestions, texts.BUTTON_MERGE)
    stale = next(d for d in data_of(suggestions) if d.startswith("a:mg:101:"))  # beta 1101, the most alike
    # Meanwhile beta's 1101 is merged into 102 from its card, found by the panel's service id.
    card = await open_card(shop, admin, "102")
    await admin.tap(card, texts.BUTTON_MERGE)
    await admin.tap(card, texts.BUTTON_MERGE_SEARCH)
    assert card.text.startswith("🔎 Send words from the name")
    missing = await admin.say("no such words at all")
    assert missing.raw_text == texts.MERGE_NOT_FOUND.format(words="no such words at all")  # the prompt stays
    found = await admin.say("1101")
    assert found.text.startswith("🔎 1 service of the same type matches “1101”")
    assert "1. beta 1101 · Instagram Followers (Real) [max 10k] ♻️ R30 · 0.85 EUR" in lines_of(found)
    await admin.tap(found, "🔗 1.")
    assert found.text.startswith("✅ Merged")
    assert "2. beta · 1101 · 0.85 EUR/1000 (≈0.935 USD)" in lines_of(found)
    # The older suggestion is answered plainly and merges nothing.
    toast = await admin.tap(suggestions, stale)
    assert toast[1] == texts.MERGE_GONE
    assert suggestions.text.startswith(str(texts.MERGE_GONE))
    assert "1. alpha · 101 · 0.90 USD/1000 ✅" in lines_of(suggestions)
    assert not any(line.startswith("2. ") for line in lines_of(suggestions))

    # A suggestion whose service changed type meanwhile (beta's 1102 is a poll now) merges nothing either.
    await admin.tap(suggestions, texts.BUTTON_MERGE)
    likes = shop.state.catalogues.shop_id_of("beta", "1102")
    assert likes is not None
    button = f"a:mg:101:{service_key(likes)}"
    assert button in data_of(suggestions)
    shops.beta.panel.catalogue["1102"] = dataclasses.replace(shops.beta.panel.catalogue["1102"],
                                                             type=ServiceType.POLL)
    assert "0 added" in (await admin.say("/refresh")).text
    toast = await admin.tap(suggestions, button)
    assert toast[1] == texts.MERGE_OTHER_TYPE
    assert not any(line.startswith("2. ") for line in lines_of(suggestions))
    assert [e.action for e in await recent_entries(shop.state.db)].count("merge") == 1


# --------------------------------------------------------------------------- rename

async def test_a_new_name_is_what_customers_see_until_it_is_reset(shops: TwoPanels) -> None:
    shop = shops.shop
    customer = await funded(shop, 5003)
    admin = shop.customer(ADMIN_ID, "Admin")
    card = await open_card(shop, admin, "102")
    await admin.tap(card, texts.BUTTON_RENAME)
    assert card.text.startswith("✏️ New name for Instagram Followers – Cheapest_Bots *No Refill*")
    assert (await admin.say("x" * 101)).raw_text == texts.BAD_NAME.format(limit=100)  # the prompt stays
    done = await admin.say("Cheap  <b>followers</b> & co")
    assert done.text == "✅ Customers now see Cheap <b>followers</b> & co."
    shown = await customer.open_service("102")
    assert "Cheap <b>followers</b> & co" in shown.text and "Cheapest_Bots" not in shown.text
    await customer.say("/cancel")
    assert any(d.endswith(":svc:102") for d in data_of(await search_services(customer, "cheap followers")))
    await admin.tap(done, "a:s:102")
    assert "Cheap <b>followers</b> & co" in done.text
    await admin.tap(done, texts.BUTTON_RENAME)
    reset = await admin.say("-")
    assert reset.text == "✅ Back to the panel's name: Instagram Followers – Cheapest_Bots *No Refill*."
    shown = await customer.open_service("102")
    assert "Instagram Followers – Cheapest_Bots *No Refill*" in shown.text
    entries = [(e.action, e.after) for e in await recent_entries(shop.state.db)][:2]
    assert entries == [("set name", "default"), ("set name", "Cheap <b>followers</b> & co")]


async def test_a_services_own_category_description_and_markup_are_what_customers_get(shops: TwoPanels) -> None:
    shop = shops.shop
    customer = await funded(shop, 5004)
    admin = shop.customer(ADMIN_ID, "Admin")
    before = await order_until_summary(customer, "102", ["https://instagram.com/own", "1000"])
    assert "0.12 USD" in before.text  # alpha's 0.12 per 1000, no markup
    await customer.say("/cancel")
    card = await open_card(shop, admin, "102")
    await admin.tap(card, texts.BUTTON_SERVICE_CATEGORY)
    assert card.text.startswith("🗂 Category for Instagram Followers – Cheapest_Bots *No Refill* (now “📸 Instagram")
    assert (await admin.say("y" * 101)).raw_text == texts.BAD_OWN_TEXT.format(limit=100)  # the prompt stays
    assert (await admin.say("⭐ Best sellers")).text == str(texts.SERVICE_EDITED)
    card = await open_card(shop, admin, "102")
    await admin.tap(card, texts.BUTTON_SERVICE_DESCRIPTION)
    assert (await admin.say("Bots, <i>cheap</i>. Drops possible.")).text == str(texts.SERVICE_EDITED)
    card = await open_card(shop, admin, "102")
    await admin.tap(card, texts.BUTTON_SERVICE_MARKUP)
    assert "(now 0%)" in card.text
    assert (await admin.say("lots")).text.startswith("⚠️ “lots” is not a markup")
    done = await admin.say("50")
    assert done.text == "✅ Markup for Instagram Followers – Cheapest_Bots *No Refill*: 50%. It applies to orders" \
                        " confirmed from now on."
    card = await open_card(shop, admin, "102")
    assert "💲 Its own markup: 50%" in card.text and "⭐ Best sellers" in card.text
    # The customer finds it in its new category, reads the shop's description, pays 0.12 + 50%.
    menu = await customer.say("/order")
    assert any("⭐ Best sellers" in text for row in menu.button_texts() for text in row)
    shown = await customer.open_service("102")
    assert "Bots, <i>cheap</i>. Drops possible." in shown.text and "No refill, no cancel" not in shown.text
    await customer.say("/cancel")
    summary = await order_until_summary(customer, "102", ["https://instagram.com/own", "1000"])
    assert "0.18 USD" in summary.text and (await confirm(customer, summary)).startswith("✅ Order placed")
    [order] = await orders_in_state(shop.state.db, "placed")
    assert (order.price_micros, order.cost_micros) == (180_000, 120_000)
    # Back to the defaults: the panel's category, words and the shop's markup.
    for button, typed in ((texts.BUTTON_SERVICE_CATEGORY, "-"), (texts.BUTTON_SERVICE_DESCRIPTION, "default"),
                          (texts.BUTTON_SERVICE_MARKUP, "default")):
        card = await open_card(shop, admin, "102")
        await admin.tap(card, button)
        await admin.say(typed)
    service = shop.state.catalogue.service("102")
    assert service is not None and service.category == "📸 Instagram Followers"
    assert service.description.startswith("Bots, drops possible") and shop.state.markup_for(service) == 0


# --------------------------------------------------------------------------- sources to check

async def test_sources_gone_from_their_panels_lead_to_a_card_that_still_reorders_and_splits(
        shops: TwoPanels) -> None:
    shop = shops.shop
    admin = shop.customer(ADMIN_ID, "Admin")
    await set_rate(admin, "EUR", "1.1")
    screen = await admin.say("/catalogue")
    assert "a:fl:0" not in data_of(screen)  # nothing to check yet
    card = await open_card(shop, admin, FOLLOWERS)
    await admin.tap(card, texts.BUTTON_MERGE)
    await admin.tap(card, "🔗 1.")
    assert "2. beta · 1101 · 0.85 EUR/1000 (≈0.935 USD)" in lines_of(card)
    # Both panels drop the service: 101 can no longer be sold, and its two sources need a look.
    del shops.alpha.panel.catalogue["101"], shops.beta.panel.catalogue["1101"]
    report = await admin.say("/refresh")
    assert "⚠️ 2 sources to check" in report.text
    screen = await admin.say("/catalogue")
    assert "⚠️ Sources to check (2)" in str(screen.button_texts())
    await admin.tap(screen, "a:fl:0")
    assert screen.text.startswith("⚠️ 2 sources to check")
    # (no panel lists either any more: the service keeps the name its first source last had)
    name = "📸 Instagram Followers [Real] <Max 10K> ⚡ R30"
    assert [line.strip() for line in lines_of(screen)[1:]] == ["1. alpha · 101 · gone", f"in “{name}”",
                                                               "2. beta · 1101 · gone", f"in “{name}”"]
    await admin.tap(screen, "⚠️ 2. beta · 1101")
    assert screen.text.startswith(f"🧩 {name}\nid 101 · ⛔ not on sale: none of its sources can take orders")
    assert "1. alpha · 101 ❌ gone from the panel" in lines_of(screen)
    assert "2. beta · 1101 ❌ gone from the panel" in lines_of(screen)
    assert str(texts.SOURCES_NONE_USABLE) in lines_of(screen)
    await admin.tap(screen, texts.BUTTON_SOURCE_UP.format(position=2))
    assert "1. beta · 1101 ❌ gone from the panel" in lines_of(screen)
    await admin.tap(screen, texts.BUTTON_SOURCE_SPLIT.format(position=2))
    assert screen.text.startswith("✅ alpha · 101 is a service of its own again.")
    assert not any(line.startswith("2. ") for line in lines_of(screen))
    # Beta lists 1101 again: the card on sale again, through beta.
    shops.beta.panel.catalogue["1101"] = next(s for s in BETA.catalogue if s.service_id == 1101)
    await admin.say("/refresh")
    await admin.tap(screen, texts.BUTTON_BACK_FLAGGED)
    assert screen.text.startswith("⚠️ 1 source to check") and "1. alpha · 101 · gone" in lines_of(screen)
    await admin.tap(screen, "⚠️ 1. alpha · 101")
    assert "1. alpha · 101 ❌ gone from the panel" in lines_of(screen) and "⛔ not on sale" in screen.text
    card = await open_card(shop, admin, FOLLOWERS)
    assert "1. beta · 1101 · 0.85 EUR/1000 (≈0.935 USD) ✅" in lines_of(card)
