"""Issue #17 ("the first order in a few taps"), the side items, end to end (and the pure search
matcher's properties):

- item 8, second half: /paysupport mid-order waits for the question as the next message, relays
  it (rate limit and length limit kept), and gives the order back (sent or cancelled);
- item 10: /help and /paysupport in a few lines, with buttons for the rest;
- item 11, admin bits: the top-up list says what it shows (also when it stops at its limit, and
  when it is empty); a decision names the admin; identical stats periods are one block; the
  markup screen's back button names and opens the category (already so on main: kept here);
- item 12: search across the words customers use ("seguidores", "подписчики", "takipçi").
"""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import texts
from bot.dialogue import Session
from bot.domain.catalogue import Catalogue, category_key
from bot.domain.synonyms import CATALOGUE_WORDS, SYNONYMS, concepts_of, fold, matches, query_terms
from bot.panel import Service
from bot.panel.sandbox.catalogue import DEMO_CATALOGUE
from bot.shop.stats import PERIODS, same_figures
from bot.shop.topups import request_manual_topup
from storage.dialogues import DialogueRow
from storage.stats import PeriodFigures
from tests.support.fake_telegram import SentMessage
from tests.support.shop import ADMIN_ID, Shop, open_shop
from tests.test_operator_e2e import admin_home
from tests.test_ordering_e2e import confirm, funded, order_until_summary

FOLLOWERS = "📸 Instagram Followers"


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    async with open_shop(tmp_path, stars_per_unit="50", manual_topup_text="Pay to IBAN DE00 1234",
                         support_contact="@shop_support") as running:
        yield running


def emoji_per_line(text: str) -> int:
    """The most pictographs on one line of `text` (a number sign or an arrow is not one)."""
    return max(sum(1 for ch in line if unicodedata.category(ch) == "So") for line in text.splitlines())


async def relayed_questions(shop: Shop) -> list[SentMessage]:
    return [m for m in shop.customer(ADMIN_ID).user.messages() if "Payment support" in m.text]


# --------------------------------------------------------------------------- item 8: /paysupport waits

async def test_paysupport_mid_order_waits_for_the_question_then_gives_the_order_back(shop: Shop) -> None:
    """/paysupport ended the order and wanted `/paysupport <text>`; a plain message then went to
    the order's question."""
    customer = await funded(shop, 6001)
    await customer.open_service("102")
    await customer.say("https://instagram.com/support")  # now at the quantity
    prompt = await customer.say("/paysupport")
    assert "Help with payments" in prompt.text and "Type your question" in prompt.text
    assert prompt.button_texts() == [[texts.BUTTON_CANCEL]]
    sent = await customer.say("P1 was <not> credited")
    assert sent.text == texts.PAYSUPPORT_SENT
    assert "Continue your order" in str(sent.button_texts())
    relayed = await shop.telegram.wait_for(lambda: [m.text for m in shop.customer(ADMIN_ID).user.messages()
                                                    if "Payment support" in m.text] or None, what="the question")
    assert "P1 was <not> credited" in relayed[0] and "6001" in relayed[0]
    await customer.tap(sent, "Continue your order")
    assert "how many" in sent.text.lower()  # the question the order was at, its answers kept
    summary = await customer.say("1000")
    assert "https://instagram.com/support" in summary.text
    assert (await confirm(customer, summary)).startswith("✅ Order placed")
    assert len(shop.adds()) == 1


async def test_a_cancelled_question_gives_the_summary_back_and_limits_still_hold(shop: Shop) -> None:
    customer = await funded(shop, 6002)
    summary = await order_until_summary(customer, "102", ["https://instagram.com/limits", "1000"])
    prompt = await customer.say("/paysupport")
    await customer.tap(prompt, texts.BUTTON_CANCEL)
    assert prompt.text == texts.PAYSUPPORT_CANCELLED and "Continue your order" in str(prompt.button_texts())
    assert await relayed_questions(shop) == []
    await customer.tap(prompt, "Continue your order")
    assert prompt.text.startswith("🧾 Check your order")
    assert (await confirm(customer, prompt)).startswith("✅ Order placed")
    assert summary.buttons() == []  # type: ignore[attr-defined]
    # no order open: the question is waited for all the same, and typed /cancel ends it
    await customer.say("/paysupport")
    assert (await customer.say("/cancel")).text == texts.PAYSUPPORT_CANCELLED
    # a photo is not a question; a too long one is refused and the question still waited for
    await customer.say("/paysupport")
    await customer.user.send_photo("receipt")
    assert (await customer.user.next_message()).text == texts.PAYSUPPORT_TEXT_EXPECTED
    too_long = await customer.say("x" * 1501)
    assert too_long.text.startswith("Your message is too long (1501 characters)")
    assert (await customer.say("first question")).text == texts.PAYSUPPORT_SENT
    # one a minute: the second is not relayed, and says when to try again
    await customer.say("/paysupport")
    assert (await customer.say("second question")).text == texts.PAYSUPPORT_WAIT
    assert "Continue" not in str(customer.user.messages()[-1].button_texts())  # nothing was open
    questions = await shop.telegram.wait_for(lambda: [m.text for m in shop.customer(ADMIN_ID).user.messages()
                                                      if "Payment support" in m.text] or None, what="the question")
    assert len(questions) == 1 and "first question" in questions[0]
    assert (await customer.say("third")).text == texts.UNKNOWN_INPUT  # the question is no longer awaited


async def test_the_shortcut_and_side_commands_keep_the_order_too(shop: Shop) -> None:
    customer = await funded(shop, 6003)
    await customer.open_service("102")
    sent = await customer.say("/paysupport P7 is missing")  # the old way still works, the order stays
    assert sent.text == texts.PAYSUPPORT_SENT and "Continue your order" in str(sent.button_texts())
    prompt = await customer.say("/paysupport")
    helped = await customer.say("/help")  # a side command while the question is awaited
    await customer.tap(helped, "Back to your question")
    assert helped.text == texts.PAYSUPPORT_STILL_OPEN
    assert (await customer.say("more details")).text == texts.PAYSUPPORT_WAIT  # within the minute
    assert prompt.text.startswith("🆘")
    await customer.tap(customer.user.messages()[-1], "Continue your order")
    assert "link" in customer.user.messages()[-1].text.lower()
    assert await shop.balance(6003) == Decimal(100)


def test_an_aside_gives_back_the_dialogue_under_it_as_it_was() -> None:
    session = Session(DialogueRow(7), now=1000.0, timeout=60.0)
    order_nonce = session.begin("order", "confirm", link="https://x", back="o:abc:cats:0")
    aside_nonce = session.begin_aside("support", "question")
    assert (session.name, session.step) == ("support", "question") and aside_nonce != order_nonce
    session.begin_aside("support", "question")  # asked again: still one order under it, not an aside
    assert session.end_aside()
    assert (session.name, session.step, session.nonce) == ("order", "confirm", order_nonce)
    assert session.draft == {"link": "https://x", "back": "o:abc:cats:0"}
    assert not session.end_aside() and session.name is None  # nothing under an order: it just ends
    session.begin_aside("support", "question")  # over nothing
    assert not session.end_aside() and session.name is None
    session.begin("order", "field")
    session.begin_aside("support", "question")
    expired = Session(session._row, now=2000.0, timeout=60.0)  # a later update, after the expiry
    assert not expired.end_aside() and expired.name is None  # an expired aside gives nothing back


# --------------------------------------------------------------------------- item 10: short texts

async def test_help_and_paysupport_are_short_with_buttons_for_the_rest(shop: Shop) -> None:
    ann = shop.customer(6010, "Ann")
    helped = await ann.say("/help")
    assert helped.text.startswith("How ordering works") and len(helped.text.splitlines()) <= 6
    assert emoji_per_line(helped.text) <= 1
    labels = str(helped.button_texts())
    for button in (texts.BUTTON_NEW_ORDER, texts.BUTTON_MY_ORDERS, texts.BUTTON_BALANCE, texts.BUTTON_TOPUP,
                   texts.BUTTON_PAYSUPPORT):
        assert str(button) in labels
    await ann.tap(helped, texts.BUTTON_PAYSUPPORT)
    support = helped
    assert support.text.startswith("🆘 Help with payments") and emoji_per_line(support.text) <= 1
    assert "refund" in support.text and "Contact: @shop_support" in support.text  # the terms Telegram requires
    assert len(support.text.splitlines()) <= 7
    assert (await ann.say("Where is my refund?")).text == texts.PAYSUPPORT_SENT


# --------------------------------------------------------------------------- item 11: admin bits

async def test_the_top_up_list_says_what_it_shows(shop: Shop) -> None:
    admin, menu = await admin_home(shop)
    await admin.tap(menu, "a:tus")
    assert menu.text == texts.TOPUPS_NONE and menu.button_texts() == [[texts.BUTTON_ADMIN_HOME]]
    for n in range(7):  # 21 requests: one more than the list holds (3 per customer at most)
        await shop.customer(6100 + n, f"C{n}").say("/start")
        for k in range(3):
            await request_manual_topup(shop.state.db, 6100 + n, Decimal(1 + k), "USD", reference=f"ref {n}.{k}",
                                       photo_file_id=None)
    admin, menu = await admin_home(shop)
    await admin.tap(menu, "a:tus")
    assert menu.text.startswith("🏦 Top-up requests waiting: 21. Press one below")
    assert "The oldest 20 are below." in menu.text
    opened = [b for row in menu.button_texts() for b in row if b.startswith("🔎")]
    assert len(opened) == 20 and opened[0] == "🔎 #1"
    await admin.user.press(menu, "a:tu:1")
    request = await admin.user.next_message()
    assert request.text.startswith("🏦 Top-up request #1") and "Approve" in str(request.button_texts())


async def test_a_decision_names_the_admin_not_their_id(shop: Shop) -> None:
    shop.telegram.user(ADMIN_ID).username = "boss"  # before the admin's first update: recorded with it
    ann = shop.customer(6020, "Ann")
    menu = await ann.say("/topup")
    await ann.tap(menu, "t:m")
    await ann.say("12")
    await ann.say("wire 55")
    admin = shop.customer(ADMIN_ID, "Admin")
    copy = await shop.telegram.wait_for(lambda: next(
        (m for m in admin.user.messages() if "Top-up request #1" in m.text), None), what="the request")
    toast = await admin.tap_answer(copy, "a:tu:1:ok")
    assert toast == "✅ Approved by Admin (@boss)"
    await shop.telegram.wait_for(lambda: copy if "Approved by Admin (@boss)" in copy.text else None,
                                 what="the copy to name the admin")
    assert str(ADMIN_ID) not in copy.text.split("Approved by")[1]


async def test_stats_of_a_new_shop_are_one_block(shop: Shop) -> None:
    admin, menu = await admin_home(shop)
    await admin.tap(menu, "a:stats")
    assert str(texts.STATS_NOTHING_YET) in menu.text and "\n7 days:" not in menu.text
    customer = await funded(shop, 6030)
    assert (await confirm(customer, await order_until_summary(
        customer, "102", ["https://instagram.com/day1", "1000"]))).startswith("✅ Order placed")
    admin, menu = await admin_home(shop)
    await admin.tap(menu, "a:stats")
    assert menu.text.count("order ·") == 1  # one block, not four identical ones
    assert "Today = All time: 1 order · turnover 0.12 USD" in menu.text and "\n7 days:" not in menu.text


def figures(orders: int) -> PeriodFigures:
    return PeriodFigures(orders=orders, turnover_micros=orders * 1000)


def test_only_neighbouring_equal_periods_are_merged() -> None:
    assert same_figures(dict(zip(PERIODS, [figures(1)] * 4, strict=True))) == [(PERIODS, figures(1))]
    assert [names for names, _ in same_figures(dict(zip(PERIODS, map(figures, [1, 1, 2, 2]), strict=True)))] == [
        ("today", "7d"), ("30d", "all")]
    assert [names for names, _ in same_figures(dict(zip(PERIODS, map(figures, [0, 1, 2, 3]), strict=True)))] == [
        (p,) for p in PERIODS]


async def test_the_markup_screens_back_button_opens_the_category_it_names(shop: Shop) -> None:
    """Already so on main (BUTTON_BACK_TO); kept: "‹ Catalogue" opened the category."""
    admin, menu = await admin_home(shop)
    await admin.tap(menu, "a:cat:0")
    await admin.tap(menu, f"a:c:{category_key(FOLLOWERS)}")
    await admin.tap(menu, f"a:c:{category_key(FOLLOWERS)}:m")
    done = await admin.say("25")
    assert done.button_texts() == [[f"‹ {FOLLOWERS}"]]
    await admin.tap(done, f"‹ {FOLLOWERS}")
    assert done.text.startswith(f"🗂 {FOLLOWERS}") and "markup 25%" in done.text
    await admin.tap(done, texts.BUTTON_BACK_CATALOGUE)
    assert done.text.startswith("🗂 Catalogue")


# --------------------------------------------------------------------------- item 12: search

@pytest.mark.parametrize("typed", ["seguidores", "подписчики", "takipçi", "Seguidores instagram",
                                   "подписчиков инста", "TAKİPÇİLER"])
async def test_search_finds_followers_in_the_customers_words(shop: Shop, typed: str) -> None:
    customer = shop.customer(6040, "Ana")
    await customer.say("/order")
    results = await customer.say(typed)
    assert results.text.startswith(f"🔎 Results for {typed}")
    found = [b["callback_data"].rsplit(":", 1)[1] for row in results.buttons() for b in row
             if ":svc:" in b["callback_data"]]
    assert {"101", "102"} <= set(found)
    card, _ = await customer.tap(results, ":svc:101")
    assert "Instagram Followers" in card.text


def demo() -> Catalogue:
    return Catalogue(Service.model_validate({"service": str(s.service_id), "name": s.name, "type": s.type.value,
                                             "category": s.category, "rate": str(s.rate), "min": s.min,
                                             "max": s.max}) for s in DEMO_CATALOGUE)


@pytest.mark.parametrize(("typed", "expected"), [
    ("seguidores", {"101", "102", "104", "305"}),  # 305: mentions of a user's followers
    ("curtidas", {"103", "104", "501", "601", "306"}),
    ("просмотры ютуб", {"503"}),
    ("مشاهدات يوتيوب", {"503"}),
    ("تلگرام ممبر", {"402"}),
    ("üyeler telegram", {"402"}),
    ("यूट्यूब व्यूज", {"503"}),
    ("comentários", {"201", "202", "501", "502"}),
    ("me gusta insta", {"103", "104", "601"}),
    ("тик ток", {"701"}),
    ("izlenme tiktok", {"701"}),
    ("ko‘rishlar", {"103", "503", "701"}),
])
def test_synonyms_find_the_services_they_mean(typed: str, expected: set[str]) -> None:
    found = {s.service_id for s in demo().search(typed)}
    assert expected <= found, (typed, found)


def test_a_word_the_table_lacks_still_searches_as_typed() -> None:
    catalogue = demo()
    assert [s.service_id for s in catalogue.search("zebra")] == []
    assert {s.service_id for s in catalogue.search("Cheapest")} == {"102"}
    assert {s.service_id for s in catalogue.search("instant")} == {"103"}  # "insta" only as a whole word
    assert catalogue.search("   ") == []


STEMS = [(concept, term.removesuffix("*")) for concept, languages in SYNONYMS.items()
         for terms in languages.values() for term in terms if term.endswith("*")]
EXACT = [(concept, term) for concept, languages in SYNONYMS.items()
         for terms in languages.values() for term in terms if not term.endswith("*")]


@given(st.sampled_from(STEMS), st.text(alphabet="abcdeflmnorsuvyzаеиовлрыхلنيهاरसू", max_size=6),
       st.sampled_from([str.lower, str.upper, str.title]))
def test_a_stem_takes_any_ending_in_any_case(stem: tuple[str, str], ending: str, case: object) -> None:
    concept, term = stem
    typed = case(term + ending)  # type: ignore[operator]
    words = query_terms(typed)
    assert len(words) == 1 and set(CATALOGUE_WORDS[concept]) <= words[0]


@given(st.sampled_from(EXACT))
def test_a_whole_word_term_means_its_concept_and_nothing_longer_does(exact: tuple[str, str]) -> None:
    concept, term = exact
    assert concept in concepts_of(fold(term))
    if " " in term:  # a phrase: two typed words read as one
        assert set(CATALOGUE_WORDS[concept]) <= query_terms(term.upper())[0]


@given(st.text(alphabet=st.characters(categories=("Lu", "Ll", "Nd")), min_size=1, max_size=12),
       st.text(alphabet=st.characters(categories=("Lu", "Ll", "Nd", "Zs")), max_size=20))
def test_a_name_containing_the_typed_word_is_always_found(word: str, around: str) -> None:
    """Synonyms only add: what the plain search found is still found."""
    name = f"{around[:10]}{word}{around[10:]}"
    if not fold(word).strip() or len(fold(word).split()) != 1:
        return  # folds to nothing, or to two words (a ligature of a space?): not a typed word
    assert matches(query_terms(word), fold(name))
