"""The layers point one way: handlers use domain, storage and the panel client; the panel client
knows no Telegram and no database; storage knows no Telegram and no panel protocol; the domain
knows none of them; and handlers never write SQL. Read from the source, so a shortcut fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|BEGIN|PRAGMA)\b", re.IGNORECASE)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize(("folder", "forbidden"), [
    ("bot/panel", ("telegram", "storage", "aiosqlite", "sqlite3", "handlers")),
    ("storage", ("telegram", "bot.panel", "handlers", "httpx", "aiohttp")),
    ("bot/domain", ("telegram", "storage", "handlers", "aiosqlite", "httpx", "aiohttp", "bot.shop")),
])
def test_a_layer_does_not_import_what_it_must_not_know(folder: str, forbidden: tuple[str, ...]) -> None:
    offences = [f"{path.relative_to(ROOT)} imports {module}" for path in sources(folder)
                for module in sorted(imported_modules(path))
                if any(module == name or module.startswith(name + ".") for name in forbidden)]
    assert sources(folder) and not offences, offences


def test_handlers_write_no_sql() -> None:
    offences = []
    for path in sources("handlers"):
        if {"aiosqlite", "sqlite3"} & imported_modules(path):
            offences.append(f"{path.relative_to(ROOT)} imports a database driver")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
                offences.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value[:40]!r}")
    assert sources("handlers") and not offences, offences
