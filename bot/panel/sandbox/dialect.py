"""The dialects the sandbox panel speaks (its own module, so that the catalogue can name them)."""

from __future__ import annotations

from enum import StrEnum


class Dialect(StrEnum):
    """v2: seeds 000–003 (the common PerfectPanel-style API). v3: seed 004 (strings everywhere,
    lowercase statuses, bare-string per-id errors, refills without ids, single-order cancel).

    reseller: the PHP panel script that resells another panel (shared/panel-api-notes.md, "Seen in
    a PHP panel script…"). Errors come with HTTP codes (400 refusals, 402 its own balance, 403 the
    key, 404 an unknown order in a single `status` / `refill`, 405 anything but POST) and its own
    words ("Quantity must be between 10 and 10000", "Insufficient balance. Add funds with crypto
    first.", "Invalid link"); money as text with five decimals and a thousands separator
    ("1,650.00000"); no `dripfeed` in `services`; its own order ids 1, 2, 3…, and `remains` "0"
    while an order is Pending (not yet synced upstream). Types and statuses come in its upstream's
    spelling — here a seed-004 panel: `custom_comments`, `processing`, `completed` — except its own
    `Pending` and `Cancelled`. Multi `status` is keyed by id (a list once an id is not numeric);
    multi `refill` and `cancel` are lists in the panel's own order with `{"order": …, "error": …}`
    items; cancel takes only `orders`, only while Pending. The key may also come as `X-Api-Key`,
    and every answer sets a session cookie. Its limit of 120 requests a minute is not simulated
    (inject FaultKind.RATE_LIMIT for that)."""

    V2 = "v2"
    V3 = "v3"
    RESELLER = "reseller"
