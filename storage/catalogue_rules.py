"""The operator's catalogue rules: hidden categories and services, markups per category."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from storage.database import Connection, Database


@dataclass
class RuleRows:
    hidden_categories: set[str] = field(default_factory=set)
    hidden_services: set[str] = field(default_factory=set)
    category_markups: dict[str, Decimal] = field(default_factory=dict)


async def load_rules(db: Database) -> RuleRows:
    rules = RuleRows()
    for kind, name, hidden, markup in await db.fetchall(
            "SELECT kind, name, hidden, markup_percent FROM catalogue_rules"):
        if hidden:
            (rules.hidden_categories if kind == "category" else rules.hidden_services).add(name)
        if kind == "category" and markup is not None:
            rules.category_markups[name] = Decimal(markup)
    return rules


async def set_hidden(conn: Connection, kind: str, name: str, hidden: bool) -> None:
    await conn.execute("INSERT INTO catalogue_rules (kind, name, hidden) VALUES (?, ?, ?)"
                       " ON CONFLICT (kind, name) DO UPDATE SET hidden = excluded.hidden", (kind, name, int(hidden)))


async def set_category_markup(conn: Connection, name: str, markup: Decimal | None) -> None:
    await conn.execute("INSERT INTO catalogue_rules (kind, name, markup_percent) VALUES ('category', ?, ?)"
                       " ON CONFLICT (kind, name) DO UPDATE SET markup_percent = excluded.markup_percent",
                       (name, None if markup is None else str(markup)))
