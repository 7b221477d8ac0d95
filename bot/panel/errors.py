"""What can go wrong when talking to a panel, as exceptions the callers can act on.

PanelError
├── PanelAuthError        the key is wrong or the account is suspended: alert the operator
├── PanelFundsError       the operator's panel balance is too low: refund, alert the operator
├── PanelRejected         the panel refused this request (message shown to the customer)
│   └── PanelNotFound     the order / refill id is unknown to the panel
├── PanelRateLimited      too many requests: wait and try again later
├── PanelTransportError   timeout or dropped connection: a write may or may not have arrived
│   └── PanelUnreachable  the connection failed before the request left: nothing arrived
├── PanelBadResponse      the answer could not be read (HTML page, empty body, broken JSON)
└── OrderOutcomeUnknown   `add` was sent but no readable answer came back: the order may exist

No message built here ever contains the API key: errors carry the panel's own words or our own.
"""

from __future__ import annotations


class PanelError(Exception):
    """Base class; `panel_message` is the panel's own text where it sent one."""

    def __init__(self, message: str, *, panel_message: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.panel_message = panel_message


class PanelAuthError(PanelError):
    """The panel refused the API key (wrong, revoked, or the account is suspended)."""


class PanelFundsError(PanelError):
    """The operator's balance on the panel does not cover the order."""


class PanelRejected(PanelError):
    """The panel understood the request and said no (bad link, quantity, service…)."""


class PanelNotFound(PanelRejected):
    """The panel does not know the order or refill id."""


class PanelRateLimited(PanelError):
    """The panel asks us to slow down; `retry_after` is in seconds when it said so."""

    def __init__(self, message: str, *, retry_after: float | None = None,
                 panel_message: str | None = None) -> None:
        super().__init__(message, panel_message=panel_message)
        self.retry_after = retry_after


class PanelTransportError(PanelError):
    """The request got no answer (timeout, dropped connection). For a write this means the
    panel may have acted on it: only PanelUnreachable says for sure that it did not."""


class PanelUnreachable(PanelTransportError):
    """The connection failed before the request was sent (refused, DNS, connect timeout)."""


class PanelBadResponse(PanelError):
    """The panel answered something that is not the JSON we can read."""

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status


class OrderOutcomeUnknown(PanelError):
    """`add` may or may not have created an order: never retry it blindly.

    Raised when the request may have reached the panel but no readable answer came back
    (read timeout, dropped connection, gateway error page, garbage). The caller must keep the
    order as unverified and have a person reconcile it.
    """
