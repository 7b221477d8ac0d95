"""Several instances on one database: leases for the duties one instance does at a time, claims
on outbox and broadcast rows, the webhook inbox, and the log of changes other instances reload.

Revision ID: 0002_instances
Revises: 0001_baseline
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_instances"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A duty one instance does at a time (the catalogue refresh, the balance check), or a rate
    # shared by all of them (an alert's throttle): held by `owner` until `expires_at` (unix time).
    op.create_table(
        "leases",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    # An outbox row or a broadcast recipient being sent by one instance, until then (unix time);
    # after that another instance may take it.
    with op.batch_alter_table("notifications") as table:
        table.add_column(sa.Column("leased_until", sa.Float, nullable=True))
    with op.batch_alter_table("broadcast_recipients") as table:
        table.add_column(sa.Column("leased_until", sa.Float, nullable=True))
    # The instance placing an order (its `add` in flight): if that instance is gone (its
    # "instance:<name>" lease ran out), the order is recovered as unverified by another.
    with op.batch_alter_table("orders") as table:
        table.add_column(sa.Column("placing_by", sa.Text, nullable=True))
    # Updates Telegram posted to the webhook, stored before they are acknowledged: any instance
    # may take one, a user's strictly in update_id order, one at a time.
    op.create_table(
        "inbox",
        sa.Column("update_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("leased_until", sa.Float, nullable=True),
        sa.Column("owner", sa.Text, nullable=True),
        sa.Column("done_at", sa.Float, nullable=True),
    )
    op.create_index("inbox_open_by_user", "inbox", ["user_id", "update_id"],
                    sqlite_where=sa.text("done_at IS NULL"), postgresql_where=sa.text("done_at IS NULL"))
    op.create_index("inbox_done", "inbox", ["done_at"],
                    sqlite_where=sa.text("done_at IS NOT NULL"), postgresql_where=sa.text("done_at IS NOT NULL"))
    # What one instance changed that the others keep in memory (a ban, a language, the catalogue).
    op.create_table(
        "changes",
        sa.Column("change_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("changes_by_time", "changes", ["created_at"])


def downgrade() -> None:
    raise NotImplementedError("the shop's schema only moves forward; restore a backup to go back")
