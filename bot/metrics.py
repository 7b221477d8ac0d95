"""The bot's Prometheus metrics, served at GET /metrics (bot/http_server.py).

One `Metrics` per Application, each with a registry of its own: tests run many bots in one
process, and a shared (global) registry would refuse the second bot's metrics or mix the
bots' counts. Only prometheus_client is imported here, so any layer may be handed its
callbacks (`observe_panel`, `observe_update`, `observe_telegram_flood`) without learning
Telegram or the database.

What lives in the database (orders, the outbox, the ledger) is read when scraped
(`set_shop_figures`), so every instance of a cluster reports the same, current figures.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from storage.metrics import ShopFigures

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "update_kind"]

# Update fields in the order Telegram documents them; the first one present names the kind.
_UPDATE_KINDS = (
    "message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
    "business_message", "edited_business_message", "deleted_business_messages", "message_reaction",
    "message_reaction_count", "inline_query", "chosen_inline_result", "callback_query", "shipping_query",
    "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer", "my_chat_member", "chat_member",
    "chat_join_request", "chat_boost", "removed_chat_boost",
)
# Replies are expected in tens of milliseconds; a panel call may take the panel's whole timeout.
_UPDATE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_PANEL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0)
MICROS = 1_000_000


def update_kind(update: object) -> str:
    """"message", "callback_query"…: the label an update is counted under (a bounded set)."""
    return next((kind for kind in _UPDATE_KINDS if getattr(update, kind, None) is not None), "other")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)  # memory, CPU and open files of this process (Linux)
        self.updates = Counter("smm_updates", "Updates handled, by kind", ["kind"], registry=r)
        self.update_seconds = Histogram("smm_update_duration_seconds", "Time to handle one update, by kind",
                                        ["kind"], buckets=_UPDATE_BUCKETS, registry=r)
        self.panel_requests = Counter("smm_panel_requests", "Requests to the SMM panels, by panel, action and outcome",
                                      ["panel", "action", "outcome"], registry=r)
        self.panel_seconds = Histogram("smm_panel_request_duration_seconds",
                                       "Panel request latency, by panel and action", ["panel", "action"],
                                       buckets=_PANEL_BUCKETS, registry=r)
        self.telegram_floods = Counter("smm_telegram_rate_limited", "Bot API answers 429 (RetryAfter), by method",
                                       ["method"], registry=r)
        self.webhook_requests = Counter("smm_webhook_requests", "Requests to the webhook path, by outcome",
                                        ["outcome"], registry=r)
        self.orders = Gauge("smm_orders", "Orders in the database, by state and panel status",
                            ["state", "panel_status"], registry=r)
        self.outbox_pending = Gauge("smm_outbox_pending", "Notifications waiting to be sent", registry=r)
        self.outbox_oldest = Gauge("smm_outbox_oldest_pending_age_seconds",
                                   "Age of the oldest notification waiting to be sent (0: none waits)", registry=r)
        self.turnover = Gauge("smm_wallet_turnover", "Sum of wallet ledger amounts, by reason and currency "
                              "(charges negative)", ["reason", "currency"], registry=r)
        self.database_up = Gauge("smm_database_metrics_ok", "1 if the database figures above are current",
                                 registry=r)

    # ---- callbacks handed to the parts that do the work

    def observe_update(self, update: object, seconds: float) -> None:
        kind = update_kind(update)
        self.updates.labels(kind).inc()
        self.update_seconds.labels(kind).observe(seconds)

    def observe_panel(self, panel: str, action: str, outcome: str, seconds: float) -> None:
        self.panel_requests.labels(panel, action, outcome).inc()
        self.panel_seconds.labels(panel, action).observe(seconds)

    def observe_telegram_flood(self, method: str) -> None:
        self.telegram_floods.labels(method).inc()

    def observe_webhook(self, outcome: str) -> None:
        self.webhook_requests.labels(outcome).inc()

    # ---- scrape time

    def set_shop_figures(self, figures: ShopFigures | None, *, now: float | None = None) -> None:
        """Replace the database gauges with `figures` (None: they could not be read, so none is
        shown rather than stale ones). Synchronous, so a concurrent scrape never sees half."""
        self.orders.clear()
        self.turnover.clear()
        if figures is None:
            self.outbox_pending.set(0)
            self.outbox_oldest.set(0)
            self.database_up.set(0)
            return
        for state, panel_status, count in figures.orders:
            self.orders.labels(state, panel_status or "none").set(count)
        self.outbox_pending.set(figures.outbox_pending)
        oldest = figures.oldest_pending_at
        self.outbox_oldest.set(max(0.0, (time.time() if now is None else now) - oldest) if oldest else 0)
        for reason, currency, micros in figures.turnover:
            self.turnover.labels(reason, currency).set(micros / MICROS)
        self.database_up.set(1)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
