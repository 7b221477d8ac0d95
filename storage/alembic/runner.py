"""Alembic, run from the bot itself on the connection it opened (no alembic.ini needed).

The whole upgrade is one transaction: a failed revision leaves the schema as it was.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event

HERE = Path(__file__).parent


def config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision shipped with the code."""
    found = ScriptDirectory.from_config(config()).get_current_head()
    assert found is not None
    return found


def current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection) -> list[str]:
    """Apply the revisions this database has not seen, in the caller's transaction if it opened
    one (PostgreSQL: under the migration lock), else in one of its own; returns them, oldest first."""
    if connection.in_transaction():
        return _upgrade(connection)
    if connection.dialect.name == "sqlite":
        # The driver runs in autocommit mode (storage/database.py): open the transaction ourselves.
        event.listen(connection, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    with connection.begin():
        return _upgrade(connection)


def _upgrade(connection: Connection) -> list[str]:
    before = current(connection)
    command.upgrade(config(connection), "head")
    after = current(connection)
    if after == before:
        return []
    script = ScriptDirectory.from_config(config())
    return [rev.revision for rev in reversed(list(script.iterate_revisions(after, before)))]
