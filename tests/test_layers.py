"""The layers point one way: handlers use domain, storage and the panel client; the panel client
knows no Telegram and no database; storage knows no Telegram and no panel protocol; the domain
knows none of them; and handlers never write SQL. Read from the source, so a shortcut fails here."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
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
    ("bot/panel", ("telegram", "storage", "aiosqlite", "sqlite3", "sqlalchemy", "asyncpg", "handlers")),
    ("storage", ("telegram", "bot.panel", "handlers", "httpx", "aiohttp")),
    ("bot/domain", ("telegram", "storage", "handlers", "aiosqlite", "sqlalchemy", "httpx", "aiohttp", "bot.shop")),
])
def test_a_layer_does_not_import_what_it_must_not_know(folder: str, forbidden: tuple[str, ...]) -> None:
    offences = [f"{path.relative_to(ROOT)} imports {module}" for path in sources(folder)
                for module in sorted(imported_modules(path))
                if any(module == name or module.startswith(name + ".") for name in forbidden)]
    assert sources(folder) and not offences, offences


def test_handlers_write_no_sql() -> None:
    offences = []
    for path in sources("handlers"):
        if {"aiosqlite", "sqlite3", "sqlalchemy", "asyncpg"} & imported_modules(path):
            offences.append(f"{path.relative_to(ROOT)} imports a database driver")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
                offences.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value[:40]!r}")
    assert sources("handlers") and not offences, offences


def _package_modules(folder: str) -> list[str]:
    return [".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            for path in sources(folder) if ("sandbox" not in path.parts or folder == "bot/panel")
            and not _alembic_script(path)]


def _alembic_script(path: Path) -> bool:
    """Alembic loads its environment and revisions itself (they import nothing of their own)."""
    return "alembic" in path.parts and (path.name == "env.py" or "versions" in path.parts)


@pytest.mark.parametrize(("folder", "forbidden"), [
    ("bot/domain", ("telegram", "storage", "handlers", "aiosqlite", "httpx", "aiohttp", "bot.shop",
                    "bot.panel.client")),
    ("bot/panel", ("telegram", "storage", "aiosqlite", "handlers", "bot.shop")),
    ("storage", ("telegram", "bot.panel", "handlers", "httpx", "aiohttp", "bot.shop")),
])
def test_a_layer_loads_nothing_it_must_not_know_even_indirectly(folder: str, forbidden: tuple[str, ...]) -> None:
    """Imported in a fresh interpreter: what a module's imports import counts too."""
    modules = _package_modules(folder)
    code = ("import importlib, sys\n"
            f"for name in {modules!r}:\n    importlib.import_module(name)\n"
            "print('\\n'.join(sorted(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,  # noqa: S603
                            cwd=ROOT).stdout.split()
    offences = sorted(m for m in loaded if any(m == name or m.startswith(name + ".") for name in forbidden))
    assert modules and not offences, offences


WRITE = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b")


def _storage_writers() -> set[str]:
    """Functions of storage/ that write: they open a transaction or hold a writing statement."""
    writers = set()
    for path in sources("storage"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.AsyncFunctionDef):
                continue
            opens = any(isinstance(n, ast.Attribute) and n.attr == "transaction" for n in ast.walk(node))
            writes = any(isinstance(n, ast.Constant) and isinstance(n.value, str) and WRITE.search(n.value)
                         for n in ast.walk(node))
            if opens or writes:
                writers.add(node.name)
    return writers


def test_handlers_change_nothing_but_through_the_use_cases() -> None:
    """Handlers read from storage/ at most; every change goes through bot/shop/ (or a service)."""
    writers = _storage_writers()
    offences = []
    for path in sources("handlers"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("storage"):
                offences += [f"{path.relative_to(ROOT)} imports {node.module}.{alias.name}"
                             for alias in node.names if alias.name in writers]
    assert writers and not offences, offences
