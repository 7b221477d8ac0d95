"""The callback-data codec and the dialogue store, as units: every kind of button round-trips
within Telegram's 64 bytes and no text decodes to two kinds; forged data decodes to nothing; the
store never revives a dialogue the expiry sweep closed."""

from __future__ import annotations

import typing
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import fields
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from types import NoneType, UnionType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.dialogue import FINISHED_KEPT, Dialogues
from handlers import buttons
from handlers.buttons import DATA_LIMIT, Button, Page, parse_any
from storage.database import open_database
from storage.dialogues import load_dialogue, save_dialogue
from tests.support.databases import database_at

KINDS = [kind for group in buttons._KINDS.values() for kind in group]


def _strategy(declared: object) -> st.SearchStrategy[object]:
    if isinstance(declared, UnionType):
        inner = next(t for t in typing.get_args(declared) if t is not NoneType)
        return st.none() | _strategy(inner)
    if declared is Page:
        return st.integers(0, 99_999).map(Page)
    if declared is int:
        return st.integers(0, 10**18 - 1)
    if declared is str:
        return st.text(st.characters(blacklist_characters=":", blacklist_categories=("Cs",)), min_size=1, max_size=40)
    if declared is Decimal:
        return st.decimals(0, 10**9, places=2, allow_nan=False, allow_infinity=False)
    assert isinstance(declared, type) and issubclass(declared, StrEnum), declared
    return st.sampled_from(list(declared))


def _values(kind: type[Button]) -> st.SearchStrategy[Button]:
    hints = typing.get_type_hints(kind)
    return st.builds(kind, **{f.name: _strategy(hints[f.name]) for f in fields(kind)})  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_kind_round_trips_within_64_bytes_and_decodes_as_itself_only(kind: type[Button],
                                                                           data: st.DataObject) -> None:
    value = data.draw(_values(kind))
    try:
        encoded = value.data
    except ValueError:  # too long for Telegram, or half an optional part: refused, never sent
        raw = value.unchecked_data()
        assert len(raw.encode()) > DATA_LIMIT or kind.parse(raw) != value
        return
    assert len(encoded.encode()) <= DATA_LIMIT
    assert kind.parse(encoded) == value and parse_any(encoded) == value
    others = [other for other in KINDS if other is not kind and other.parse(encoded) is not None]
    assert not others, f"{encoded!r} also decodes as {others}"


@given(st.text(max_size=80))
def test_any_text_decodes_to_at_most_a_valid_button_and_never_raises(text: str) -> None:
    pressed = parse_any(text)
    if pressed is not None:  # whatever is accepted is a value the codec can send again, unchanged
        assert len(pressed.data.encode()) <= DATA_LIMIT and parse_any(pressed.data) == pressed


def test_the_wire_format_of_existing_buttons_is_kept() -> None:
    assert buttons.MyOrders(3).data == "m:orders:3"
    assert buttons.Settle(7, buttons.SettleAction.ALL, 0).data == "a:st:7:a:0"
    assert buttons.Settle(7).data == "a:st:7"
    assert buttons.TopupPreset(Decimal(5)).data == "t:a:5"
    assert buttons.OrderCard(12, buttons.CardAction.CANCEL_YES).data == "ord:12:cy"
    assert buttons.AdminCategoryServices("ab12", 0).data == "a:c:ab12:sv:0"
    assert parse_any("a:c:ab12:sv:0") == buttons.AdminCategoryServices("ab12", 0)
    assert parse_any("a:c:ab12:h") == buttons.AdminCategory("ab12", buttons.CategoryAction.HIDE)


@pytest.mark.parametrize("forged", ["m:orders:-1", "m:orders:999999", "o:abcdef:cats:²", "ord:٣", "ord:1:zz",
                                    "a:st:1:a", "t:a:1e9", "t:a:-5", "x:", "a:u:1:cr:extra", "", "m", "🙂:1"])
def test_forged_data_decodes_to_nothing(forged: str) -> None:
    assert parse_any(forged) is None


def test_a_field_without_a_place_in_its_layout_is_refused() -> None:
    with pytest.raises(TypeError):
        @buttons.button
        class Broken(Button):
            layout = "zz:{a}"
            a: int
            b: int


# --------------------------------------------------------------------------- the store

@asynccontextmanager
async def _turn(user_id: int) -> AsyncIterator[None]:
    yield


async def test_a_dialogue_is_stored_read_back_and_never_revived_after_the_sweep(tmp_path: Path) -> None:
    db = await open_database(await database_at(tmp_path / "d.db"))
    now = [1000.0]
    dialogues = Dialogues(db, timeout=60, clock=lambda: now[0])
    try:
        async with dialogues.session(7) as session:
            nonce = session.begin("order", "browse", query="likes")
        async with dialogues.session(7) as session:
            assert (session.name, session.step, session.nonce, session.draft) == ("order", "browse", nonce,
                                                                                  {"query": "likes"})
            session.goto("field", order={"values": {"expiry": "2031-12-31"}})
        stale = await load_dialogue(db, 7)
        now[0] += 61
        assert [row.user_id for row in await dialogues.sweep(_turn)] == [7]
        assert await dialogues.sweep(_turn) == []  # claimed once
        stale.step = "confirm"
        assert not await save_dialogue(db, stale)  # read before the sweep: not written over it
        assert (await load_dialogue(db, 7)).name is None
        fresh = await load_dialogue(db, 8)
        assert await save_dialogue(db, fresh) and not await save_dialogue(db, fresh)  # a second insert loses
    finally:
        await db.close()


async def test_confirmed_nonces_are_kept_for_the_last_orders_only(tmp_path: Path) -> None:
    db = await open_database(await database_at(tmp_path / "d.db"))
    dialogues = Dialogues(db, timeout=60)
    try:
        nonces = []
        for _ in range(FINISHED_KEPT + 2):
            async with dialogues.session(9) as session:
                nonces.append(session.begin("order", "confirm"))
                session.end()
                session.remember_confirmed(nonces[-1])
        async with dialogues.session(9) as session:
            assert session.name is None
            assert [session.confirmed(n) for n in nonces] == [False, False] + [True] * FINISHED_KEPT
    finally:
        await db.close()
