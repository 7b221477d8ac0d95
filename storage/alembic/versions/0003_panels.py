"""Several panels, one shop: the services each panel lists, the shop's own services made of
ranked sources at those panels, what the bot learned of each panel, exchange rates, and which
panel took each order at which cost and rate.

Rows from before (one panel, unnamed) are marked with the panel name '' here; the bot attaches
them to its first configured panel when it starts (storage/panels.py `adopt_unnamed`), since
only it knows that panel's name.

Revision ID: 0003_panels
Revises: 0002_instances
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_panels"
down_revision = "0002_instances"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # What each panel's `services` listed at its last refresh, in its order and its currency.
    op.create_table(
        "panel_services",
        sa.Column("panel", sa.Text, primary_key=True),
        sa.Column("service_id", sa.Text, primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("rate", sa.Text, nullable=False),
        sa.Column("min_quantity", sa.BigInteger, nullable=False),
        sa.Column("max_quantity", sa.BigInteger, nullable=False),
        sa.Column("refill", sa.Integer, nullable=False),
        sa.Column("cancel", sa.Integer, nullable=False),
        sa.Column("dripfeed", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("fetched_at", sa.Text, nullable=False),
    )
    op.execute("INSERT INTO panel_services (panel, service_id, position, name, type, category, rate, min_quantity,"
               " max_quantity, refill, cancel, dripfeed, description, fetched_at)"
               " SELECT '', service_id, position, name, type, category, rate, min_quantity, max_quantity, refill,"
               " cancel, dripfeed, description, fetched_at FROM services")
    op.drop_table("services")
    # The shop's services: what customers browse. Name, category and description NULL: those of
    # the first source; markup NULL: its category's. `type` is the service's type: a source of
    # another type is not used.
    op.create_table(
        "shop_services",
        sa.Column("shop_id", sa.Text, primary_key=True),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("category", sa.Text, nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("markup_percent", sa.Text, nullable=True),  # Decimal as text
        sa.Column("edited", sa.Integer, nullable=False, server_default="0"),  # the operator shaped it
    )
    # Where a shop service is bought, in order of preference (rank 0 first). A panel service is
    # the source of one shop service at most. `flag`: why the operator should look ('gone': the
    # panel no longer lists it; 'type': it changed type), NULL: in use. `name`: the panel's name
    # for it when it last listed it (what the operator reads once it is gone).
    op.create_table(
        "shop_sources",
        sa.Column("panel", sa.Text, primary_key=True),
        sa.Column("service_id", sa.Text, primary_key=True),
        sa.Column("shop_id", sa.Text, sa.ForeignKey("shop_services.shop_id"), nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("flag", sa.Text, nullable=True),
        sa.Column("name", sa.Text, nullable=True),
    )
    op.create_index("shop_sources_by_service", "shop_sources", ["shop_id", "rank"])
    # What the bot learned of each panel: its balance currency (from `balance`), the last balance
    # read, and whether it is below its low-balance mark (one alert per crossing).
    op.create_table(
        "panels",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("currency", sa.Text, nullable=True),
        sa.Column("balance", sa.Text, nullable=True),
        sa.Column("balance_at", sa.Float, nullable=True),
        sa.Column("low", sa.Integer, nullable=False, server_default="0"),
    )
    # Exchange rates set by an admin: one `currency` unit is `rate` shop-currency units.
    op.create_table(
        "exchange_rates",
        sa.Column("currency", sa.Text, primary_key=True),
        sa.Column("rate", sa.Text, nullable=False),
        sa.Column("set_at", sa.Float, nullable=False),
        sa.Column("set_by", sa.BigInteger, nullable=True),
    )
    # Which panel took the order (or is being asked to), at which of its services, what it costs
    # there in its own currency, and the rate that cost was converted at (cost_micros, in the shop
    # currency, is panel_cost_micros × fx_rate): margins and refunds use the order's rate.
    with op.batch_alter_table("orders") as table:
        table.add_column(sa.Column("panel", sa.Text, nullable=True))
        table.add_column(sa.Column("panel_service_id", sa.Text, nullable=True))
        table.add_column(sa.Column("panel_currency", sa.Text, nullable=True))
        table.add_column(sa.Column("fx_rate", sa.Text, nullable=True))
        table.add_column(sa.Column("panel_cost_micros", sa.BigInteger, nullable=True))
    op.execute("UPDATE orders SET panel = '', panel_service_id = service_id, panel_currency = currency,"
               " fx_rate = '1', panel_cost_micros = cost_micros")
    op.create_index("orders_by_panel", "orders", ["panel", "state"])


def downgrade() -> None:
    raise NotImplementedError("the shop's schema only moves forward; restore a backup to go back")
