"""The schema as of the ten legacy scripts (users, shop, tracking, operator tools, top-ups,
refunds, dialogues, cancel requests, the pending outbox, languages).

Revision ID: 0001_baseline
Revises:
"""

from __future__ import annotations

from alembic import op

from storage.alembic.legacy import apply_sqlite, postgresql_schema, postgresql_statements

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        apply_sqlite(bind)  # a new file gets all ten; an older shop the ones it lacks
        return
    for statement in postgresql_statements(postgresql_schema()):
        bind.exec_driver_sql(statement)


def downgrade() -> None:
    raise NotImplementedError("the shop's schema only moves forward; restore a backup to go back")
