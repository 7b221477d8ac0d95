"""The numbered SQL scripts that built SQLite databases before Alembic (storage/migrations/).

Alembic's first revision runs them on SQLite: a new file gets all ten, a shop upgraded from an
older version gets the ones its `schema_migrations` table lacks, so every database reaches the
same schema with its rows. PostgreSQL starts from the same schema in one script.
"""

from __future__ import annotations

import re
import sqlite3
from importlib import resources

from sqlalchemy import Connection

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every legacy script, in order."""
    found = []
    for entry in resources.files("storage.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def sqlite_statements(script: str) -> list[str]:
    """A script cut into statements where SQLite would end them (a trigger's body included)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \n;") and not _only_comments(buffer):
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not _only_comments(buffer):
        statements.append(buffer.strip())
    return statements


def postgresql_statements(script: str) -> list[str]:
    """A script cut at each `;` that ends a line outside a `$$ … $$` function body."""
    statements, buffer, in_body = [], [], False
    for line in script.splitlines():
        if line.count("$$") % 2:
            in_body = not in_body
        buffer.append(line)
        if not in_body and line.rstrip().endswith(";"):
            statement = "\n".join(buffer).strip()
            if not _only_comments(statement):
                statements.append(statement)
            buffer = []
    if buffer and not _only_comments("\n".join(buffer)):
        statements.append("\n".join(buffer).strip())
    return statements


def _only_comments(sql: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") or line.strip() == ";" for line in sql.splitlines())


def apply_sqlite(connection: Connection) -> list[int]:
    """Run the legacy scripts this SQLite database has not had, in the caller's transaction."""
    connection.exec_driver_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
    )
    done = {row[0] for row in connection.exec_driver_sql("SELECT version FROM schema_migrations")}
    applied = []
    for version, name, sql in migrations():
        if version in done:
            continue
        for statement in sqlite_statements(sql):
            connection.exec_driver_sql(statement)
        connection.exec_driver_sql("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (version, name))
        applied.append(version)
    return applied


def postgresql_schema() -> str:
    return resources.files("storage.migrations").joinpath("postgresql.sql").read_text(encoding="utf-8")
