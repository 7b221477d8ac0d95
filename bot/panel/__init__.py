"""The SMM panel API client: no Telegram, no database, just the panel protocol.

The client (and with it httpx) is imported on first use, so that the domain rules, which speak
the panel's vocabulary (Service, OrderRequest…), load no network code.
"""

from typing import Any

from bot.panel.errors import (
    OrderOutcomeUnknown,
    PanelAuthError,
    PanelBadResponse,
    PanelError,
    PanelFundsError,
    PanelNotFound,
    PanelRateLimited,
    PanelRejected,
    PanelTransportError,
    PanelUnreachable,
)
from bot.panel.models import (
    AddedOrder,
    Balance,
    CancelRequested,
    OrderStatus,
    OrderStatusInfo,
    RefillRequested,
    RefillStatus,
    RefillStatusInfo,
    Service,
    ServiceType,
)
from bot.panel.orders import ORDER_FIELDS, OrderRequest, TypeFields
from bot.panel.values import is_id

__all__ = [
    "BATCH_LIMIT",
    "ORDER_FIELDS",
    "AddedOrder",
    "Balance",
    "CancelRequested",
    "OrderOutcomeUnknown",
    "OrderRequest",
    "OrderStatus",
    "OrderStatusInfo",
    "PanelAuthError",
    "PanelBadResponse",
    "PanelClient",
    "PanelError",
    "PanelFundsError",
    "PanelNotFound",
    "PanelRateLimited",
    "PanelRejected",
    "PanelTransportError",
    "PanelUnreachable",
    "RefillRequested",
    "RefillStatus",
    "RefillStatusInfo",
    "Service",
    "ServiceType",
    "TypeFields",
    "is_id",
]


def __getattr__(name: str) -> Any:
    if name in ("PanelClient", "BATCH_LIMIT"):
        from bot.panel import client

        return getattr(client, name)
    raise AttributeError(f"module 'bot.panel' has no attribute {name!r}")
