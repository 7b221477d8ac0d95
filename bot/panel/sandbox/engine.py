"""The sandbox panel's behaviour: catalogue, orders on a clock, refills, cancels, a balance.

`SandboxPanel.handle(form)` takes the POSTed form and returns (HTTP status, JSON value) in the
chosen dialect; the HTTP server around it (server.py) adds latency and injected faults.

Orders move Pending → In progress → final on the sandbox clock. The final state comes from a
marker in the link, so demos and tests choose it: `#partial` ends Partial, `#cancel` is canceled
by the panel, anything else Completed. A refill of an order whose link has `#refill-reject`
ends Rejected. Tests can also force any status with `force_status`, take a service out of sale
with `disable_service`, and empty the balance with `panel.funds = Decimal(0)`.

Every refusal of `add` proves nothing was placed, in the dialect's own words (and HTTP status):
an unknown or disabled service, a quantity out of bounds, a bad link, too little funds.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from bot.panel.models import OrderStatus, RefillStatus, ServiceType
from bot.panel.orders import ORDER_FIELDS
from bot.panel.sandbox.catalogue import DEMO_CATALOGUE, DemoService
from bot.panel.sandbox.dialect import Dialect

__all__ = ["Dialect", "PanelReject", "SandboxClock", "SandboxOrder", "SandboxPanel", "SandboxRefill"]

PENDING_SECONDS = 30.0
RUN_SECONDS = 120.0
REFILL_PENDING_SECONDS = 10.0
REFILL_RUN_SECONDS = 60.0
REFILL_DAYS = 30
BATCH_LIMIT = 100


@dataclass(frozen=True)
class _Words:
    bad_key: str
    bad_action: str
    bad_service: str  # also a service the operator disabled: panels do not tell the two apart
    no_funds: str
    bad_order: str
    quantity_low: str  # with {min} and {max}
    quantity_high: str
    bad_link: str = "Incorrect link"


_WORDS = {
    Dialect.V2: _Words("Invalid API key", "Incorrect request", "Incorrect service ID",
                       "Not enough funds on balance", "Incorrect order ID",
                       "Quantity less than minimal {min}", "Quantity more than maximum {max}"),
    Dialect.V3: _Words("Incorrect API key", "This action is Invalid", "Service not found or inactive",
                       "Your balance is insufficient.", "Order ID not Found",
                       "Quantity less than minimal {min}", "Quantity more than maximum {max}"),
    Dialect.RESELLER: _Words("Invalid API key", "Incorrect request", "Service not found or inactive",
                             "Insufficient balance. Add funds with crypto first.", "Incorrect order ID",
                             "Quantity must be between {min} and {max}", "Quantity must be between {min} and {max}",
                             "Invalid link"),
}
_SEED_004_DELAYS = (0, 5, 10, 15, 30, 60, 90)
_DELAYS = {
    Dialect.V2: (0, 5, 10, 15, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 360, 420, 480, 540, 600),
    Dialect.V3: _SEED_004_DELAYS,
    Dialect.RESELLER: _SEED_004_DELAYS,  # its upstream's list
}


def _v2_word(status: StrEnum) -> str:
    """"in progress" → "In progress", as the v2 seeds spell statuses."""
    return status.value[:1].upper() + status.value[1:]


def _v3_word(status: OrderStatus) -> str:
    """As seed 004 spells order statuses: lowercase, "processing" while running."""
    return "processing" if status is OrderStatus.IN_PROGRESS else status.value


def _reseller_word(status: OrderStatus) -> str:
    """Its own "Pending" and "Cancelled"; everything else in its (seed-004) upstream's spelling."""
    if status is OrderStatus.PENDING:
        return "Pending"
    return "Cancelled" if status is OrderStatus.CANCELED else _v3_word(status)


def _reseller_money(amount: Decimal) -> str:
    """"1,650.00000": five decimals and a thousands separator."""
    return f"{amount:,.5f}"


def _panel_order(ids: list[str]) -> list[str]:
    """The reseller lists batch answers in its own order (by id), not in the order asked."""
    return sorted(ids, key=lambda one: (not one.isdigit(), int(one) if one.isdigit() else 0, one))


class SandboxClock:
    """Seconds since start, `speed` times real time, plus whatever tests `advance` by hand.
    speed=0 freezes it, so a test decides exactly when orders move."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._started = time.monotonic()
        self._offset = 0.0

    def now(self) -> float:
        return (time.monotonic() - self._started) * self.speed + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds


class PanelReject(Exception):
    """Raised inside the engine to answer {"error": message}, with HTTP `http_status`."""

    def __init__(self, message: str, http_status: int = 200) -> None:
        super().__init__(message)
        self.http_status = http_status


@dataclass
class SandboxRefill:
    refill_id: str
    order_id: str
    created_at: float
    rejects: bool

    def status_at(self, now: float) -> RefillStatus:
        age = now - self.created_at
        if age < REFILL_PENDING_SECONDS:
            return RefillStatus.PENDING
        if age < REFILL_PENDING_SECONDS + REFILL_RUN_SECONDS:
            return RefillStatus.IN_PROGRESS
        return RefillStatus.REJECTED if self.rejects else RefillStatus.COMPLETED


@dataclass
class SandboxOrder:
    order_id: str
    service: DemoService
    target: str  # link, or username for subscriptions
    quantity: int
    price: Decimal  # the full charge before any refund
    created_at: float
    fields: dict[str, str]
    start_count: int
    outcome: OrderStatus = OrderStatus.COMPLETED
    expires_on: date | None = None
    canceled_at: float | None = None
    forced: tuple[OrderStatus, int | None] | None = None
    refills: list[SandboxRefill] = field(default_factory=list)

    def state_at(self, now: float) -> tuple[OrderStatus, int]:
        """(status, remains) at sandbox time `now`."""
        if self.forced is not None:
            status, remains = self.forced
            return status, self.quantity if remains is None else remains
        if self.canceled_at is not None:
            return OrderStatus.CANCELED, self.quantity
        age = now - self.created_at
        if age < PENDING_SECONDS:
            return OrderStatus.PENDING, self.quantity
        if self.service.type is ServiceType.SUBSCRIPTIONS:
            today = date.today()
            expired = self.expires_on is not None and self.expires_on < today
            return (OrderStatus.EXPIRED if expired else OrderStatus.ACTIVE), 0
        if age < PENDING_SECONDS + RUN_SECONDS:
            done = int(self.quantity * (age - PENDING_SECONDS) / RUN_SECONDS)
            return OrderStatus.IN_PROGRESS, self.quantity - done
        if self.outcome is OrderStatus.PARTIAL:
            return OrderStatus.PARTIAL, max(1, self.quantity // 4)
        if self.outcome is OrderStatus.CANCELED:
            return OrderStatus.CANCELED, self.quantity
        return OrderStatus.COMPLETED, 0

    def charge_at(self, now: float) -> Decimal:
        """What the panel keeps: nothing when canceled, the delivered share when partial."""
        status, remains = self.state_at(now)
        if status in (OrderStatus.CANCELED, OrderStatus.REFUNDED, OrderStatus.FAILED):
            return Decimal(0)
        if status is OrderStatus.PARTIAL and self.quantity:
            return self.price * (self.quantity - remains) / self.quantity
        return self.price


class SandboxPanel:
    def __init__(self, *, api_key: str = "sandbox-key", dialect: Dialect = Dialect.V2,
                 clock: SandboxClock | None = None, funds: Decimal = Decimal("1000"),
                 currency: str = "USD", catalogue: tuple[DemoService, ...] = DEMO_CATALOGUE,
                 first_order_id: int = 23501, first_refill_id: int = 1) -> None:
        self.api_key = api_key
        self.dialect = dialect
        self.clock = clock or SandboxClock()
        self.funds = funds
        self.currency = currency
        self.catalogue = {str(s.service_id): s for s in catalogue}
        self.orders: dict[str, SandboxOrder] = {}
        self.refills: dict[str, SandboxRefill] = {}
        self.disabled: set[str] = set()  # service ids the operator took out of sale
        self._next_order = first_order_id
        self._next_refill = first_refill_id

    @property
    def words(self) -> _Words:
        return _WORDS[self.dialect]

    # ------------------------------------------------------------------ test controls

    def force_status(self, order_id: str, status: OrderStatus, remains: int | None = None) -> None:
        self.orders[order_id].forced = (status, remains)

    def disable_service(self, service_id: str | int) -> None:
        """The operator takes the service out of sale: it leaves `services`, and `add` refuses it
        as the dialect refuses an unknown service. Orders already placed carry on."""
        if str(service_id) not in self.catalogue:
            raise KeyError(f"no service {service_id} in this sandbox's catalogue")
        self.disabled.add(str(service_id))

    def enable_service(self, service_id: str | int) -> None:
        self.disabled.discard(str(service_id))

    def create_orders(self, count: int, service_id: str = "101", quantity: int = 100) -> list[str]:
        """Bulk-create pending orders without the per-request checks (for benchmarks)."""
        service = self.catalogue[service_id]
        ids = []
        for _ in range(count):
            order_id = str(self._next_order)
            self._next_order += 1
            self.orders[order_id] = SandboxOrder(order_id, service, f"https://example.com/{order_id}", quantity,
                                                 service.rate * quantity / 1000, self.clock.now(), {}, 0)
            ids.append(order_id)
        return ids

    def balance(self) -> Decimal:
        now = self.clock.now()
        return self.funds - sum((o.charge_at(now) for o in self.orders.values()), Decimal(0))

    # ------------------------------------------------------------------ dispatch

    def handle(self, form: Mapping[str, str]) -> tuple[int, Any]:
        if form.get("key") != self.api_key:
            return self._http(403), {"error": self.words.bad_key}
        action = (form.get("action") or "").strip().lower()
        handler = {
            "services": self._services, "add": self._add, "status": self._status,
            "refill": self._refill, "refill_status": self._refill_status,
            "cancel": self._cancel, "balance": self._balance,
        }.get(action)
        if handler is None:
            return self._http(400), {"error": self.words.bad_action}
        try:
            return 200, handler(form)
        except PanelReject as exc:
            return exc.http_status, {"error": str(exc)}

    def _v3(self) -> bool:
        return self.dialect is Dialect.V3

    def _reseller(self) -> bool:
        return self.dialect is Dialect.RESELLER

    def _http(self, status: int) -> int:
        """Only the reseller tells errors by HTTP status; the others answer every error with 200."""
        return status if self._reseller() else 200

    def _no(self, message: str, http_status: int = 400) -> PanelReject:
        return PanelReject(message, self._http(http_status))

    def _ids(self, value: str) -> list[str]:
        ids = [one.strip() for one in value.split(",") if one.strip()]
        if not ids or len(ids) > BATCH_LIMIT:
            raise self._no(self.words.bad_action)
        return ids

    # ------------------------------------------------------------------ actions

    def _services(self, form: Mapping[str, str]) -> list[dict[str, Any]]:
        out = []
        for s in self.catalogue.values():
            if str(s.service_id) in self.disabled:
                continue
            if self._reseller():  # no dripfeed field; its upstream's type spelling
                out.append({
                    "service": s.service_id, "name": s.name, "type": s.type.value.lower().replace(" ", "_"),
                    "category": s.category, "rate": _reseller_money(s.rate), "min": str(s.min),
                    "max": str(s.max), "refill": s.refill, "cancel": s.cancel, "description": s.description,
                })
            elif self._v3():
                out.append({
                    "service": str(s.service_id), "category": s.category, "name": s.name,
                    "description": s.description, "rate": f"{s.rate:.4f}", "min": str(s.min),
                    "max": str(s.max), "type": s.type.value.lower().replace(" ", "_"),
                    "dripfeed": str(int(s.dripfeed)), "refill": str(int(s.refill)),
                    "cancel": str(int(s.cancel)), "average_time": str(s.average_time),
                })
            else:
                out.append({
                    "service": s.service_id, "name": s.name, "type": s.type.value, "category": s.category,
                    "rate": str(s.rate), "min": str(s.min), "max": str(s.max), "dripfeed": s.dripfeed,
                    "refill": s.refill, "cancel": s.cancel, "description": s.description,
                })
        return out

    def _balance(self, form: Mapping[str, str]) -> dict[str, Any]:
        balance = self.balance()
        shown = _reseller_money(balance) if self._reseller() else f"{balance:.5f}"
        answer: dict[str, Any] = {"balance": shown, "currency": self.currency}
        return {"status": "success", **answer} if self._v3() else answer

    def _add(self, form: Mapping[str, str]) -> dict[str, Any]:
        service_id = (form.get("service") or "").strip()
        service = None if service_id in self.disabled else self.catalogue.get(service_id)
        spec = ORDER_FIELDS.get(service.type) if service else None
        if service is None or spec is None:
            raise self._no(self.words.bad_service)
        values = {name: (form.get(name) or "").strip() for name in spec.all}
        target = values.get("link") or values.get("username", "")
        if "link" in spec.required and not values["link"].lower().startswith(("http://", "https://")):
            raise self._no(self.words.bad_link)
        for name in spec.required:
            if not values[name]:
                raise self._no(f"Incorrect {name.replace('_', ' ')}")
        if spec.one_of and not any(all(values[n] for n in group) for group in spec.one_of):
            raise self._no("Incorrect answer number")
        expires_on = self._check_subscription(values) if service.type is ServiceType.SUBSCRIPTIONS else None
        quantity, units = self._quantity(service, values, form)
        flat = service.type in (ServiceType.PACKAGE, ServiceType.CUSTOM_COMMENTS_PACKAGE)
        price = service.rate if flat else service.rate * units / 1000
        busy = any(o.service is service and o.target == target and not o.state_at(self.clock.now())[0].is_final
                   for o in self.orders.values())
        if busy:
            raise self._no("You have active order with this link. Please wait until order being completed.")
        if price > self.balance():
            raise self._no(self.words.no_funds, 402)
        order_id = str(self._next_order)
        self._next_order += 1
        outcome = (OrderStatus.PARTIAL if "#partial" in target else
                   OrderStatus.CANCELED if "#cancel" in target else OrderStatus.COMPLETED)
        start = int(hashlib.sha256(target.encode()).hexdigest()[:6], 16) % 5000
        self.orders[order_id] = SandboxOrder(order_id, service, target, quantity, price, self.clock.now(),
                                             {k: v for k, v in values.items() if v}, start, outcome, expires_on)
        return {"status": "success", "order": int(order_id)} if self._v3() else {"order": int(order_id)}

    def _quantity(self, service: DemoService, values: dict[str, str],
                  form: Mapping[str, str]) -> tuple[int, int]:
        """(quantity, billed units) after the panel's bounds checks."""
        if service.type is ServiceType.PACKAGE:
            return 1, 1
        if service.type is ServiceType.SUBSCRIPTIONS:  # charged as max per post × posts
            posts = int(values["posts"]) if values.get("posts", "").isdigit() else 1
            return int(values["max"]), int(values["max"]) * max(posts, 1)
        if "quantity" in values:
            try:
                quantity = int(values["quantity"])
            except ValueError:
                raise self._no("Incorrect quantity") from None
        else:  # the list is the quantity: one comment / username per line
            listed = values.get("comments") or values.get("usernames", "")
            quantity = len([line for line in listed.splitlines() if line.strip()])
        if quantity < service.min:
            raise self._no(self.words.quantity_low.format(min=service.min, max=service.max))
        if quantity > service.max:
            raise self._no(self.words.quantity_high.format(min=service.min, max=service.max))
        if values.get("answer_number") and not values["answer_number"].isdigit():
            raise self._no("Incorrect answer number")
        runs, interval = (form.get("runs") or "").strip(), (form.get("interval") or "").strip()
        if not (runs or interval):
            return quantity, quantity
        if not service.dripfeed or self._reseller():  # the reseller offers no drip-feed at all
            raise self._no("Drip-feed is not available for this service")
        if not (runs.isdigit() and interval.isdigit() and int(runs) >= 1):
            raise self._no("Incorrect runs or interval")
        return quantity, quantity * int(runs)

    def _check_subscription(self, values: dict[str, str]) -> date | None:
        try:
            low, high, delay = int(values["min"]), int(values["max"]), int(values["delay"])
            int(values.get("posts") or 1), int(values.get("old_posts") or 0)
        except ValueError:
            raise self._no("Incorrect request") from None
        if not 0 < low <= high:
            raise self._no("Incorrect min/max")
        if delay not in _DELAYS[self.dialect]:
            raise self._no("Incorrect delay")
        if not values.get("expiry"):
            return None
        try:
            return datetime.strptime(values["expiry"], "%d/%m/%Y").date()
        except ValueError:
            raise self._no("Incorrect expiry date") from None

    def _status_of(self, order: SandboxOrder, *, many: bool) -> dict[str, Any]:
        now = self.clock.now()
        status, remains = order.state_at(now)
        charge = order.charge_at(now)
        if self._v3():
            answer = {"order": order.order_id, "status": _v3_word(status), "charge": f"{charge:.4f}",
                      "start_count": str(order.start_count), "remains": str(remains)}
            return answer if many else {**answer, "currency": self.currency}
        if self._reseller():  # counts stay "0" until its first sync with the upstream
            synced = status is not OrderStatus.PENDING
            return {"charge": _reseller_money(charge), "start_count": str(order.start_count if synced else 0),
                    "status": _reseller_word(status), "remains": str(remains if synced else 0),
                    "currency": self.currency}
        return {"charge": f"{charge:.5f}", "start_count": str(order.start_count),
                "status": _v2_word(status),
                "remains": str(remains), "currency": self.currency}

    def _status(self, form: Mapping[str, str]) -> Any:
        if form.get("orders"):
            ids = self._ids(form["orders"])
            if self._reseller() and not all(one.isdigit() for one in ids):
                return [{"order": one, **self._status_item(one)} for one in _panel_order(ids)]
            return {one: self._status_item(one) for one in ids}
        order = self.orders.get((form.get("order") or "").strip())
        if order is None:
            raise self._no(self.words.bad_order, 404)
        return self._status_of(order, many=False)

    def _status_item(self, order_id: str) -> Any:
        order = self.orders.get(order_id)
        if order is not None:
            return self._status_of(order, many=True)
        return "Incorrect order ID" if self._v3() else {"error": "Incorrect order ID"}

    def _refill_one(self, order_id: str) -> SandboxRefill:
        order = self.orders.get(order_id)
        if order is None:
            raise self._no(self.words.bad_order, 404)
        now = self.clock.now()
        status, _ = order.state_at(now)
        if not order.service.refill or status not in (OrderStatus.COMPLETED, OrderStatus.PARTIAL):
            raise self._no("Order cannot be refilled")
        if now - order.created_at > REFILL_DAYS * 86400:
            raise self._no("Refill days are over")
        if any(not r.status_at(now).is_final for r in order.refills):
            raise self._no("Refill already in progress")
        refill = SandboxRefill(str(self._next_refill), order_id, now, "#refill-reject" in order.target)
        self._next_refill += 1
        order.refills.append(refill)
        self.refills[refill.refill_id] = refill
        return refill

    def _refill(self, form: Mapping[str, str]) -> Any:
        if form.get("orders") and not self._v3():
            ids = self._ids(form["orders"])
            answer = []
            for one in _panel_order(ids) if self._reseller() else ids:
                shown_id: int | str = int(one) if one.isdigit() else one
                try:
                    answer.append({"order": shown_id, "refill": int(self._refill_one(one).refill_id)})
                except PanelReject as exc:  # the reseller: {"order", "error"}; v2 nests it in "refill"
                    error = {"error": str(exc)}
                    answer.append({"order": shown_id, **error} if self._reseller()
                                  else {"order": one, "refill": error})
            return answer
        refill = self._refill_one((form.get("order") or "").strip())
        if self._v3():  # this dialect never tells the refill id
            return {"success": "Your order will be refill asap. Thank you for patience."}
        return {"refill": refill.refill_id}

    def _refill_status(self, form: Mapping[str, str]) -> Any:
        now = self.clock.now()
        if form.get("refills") and not self._v3():
            answer = []
            for one in self._ids(form["refills"]):
                refill = self.refills.get(one)
                status = {"error": "Refill not found"} if refill is None else _v2_word(refill.status_at(now))
                answer.append({"refill": int(one) if one.isdigit() else one, "status": status})
            return answer
        refill = self.refills.get((form.get("refill") or "").strip())
        if self._reseller() and refill is None:  # HTTP 200, the error nested in "status"
            return {"status": {"error": "Refill not found"}}
        if refill is None or self._v3():
            raise self._no("Refill not found")
        return {"status": _v2_word(refill.status_at(now))}

    def _cancel_one(self, order_id: str) -> None:
        order = self.orders.get(order_id)
        if order is None:
            raise self._no(self.words.bad_order)
        status, _ = order.state_at(self.clock.now())
        if order.canceled_at is not None:
            raise self._no("Cancel request already in progress please wait")
        if status.is_final:
            raise self._no("Order already completed")
        if not order.service.cancel or (self._reseller() and status is not OrderStatus.PENDING):
            raise self._no("Order cannot be canceled")  # the reseller cancels only what is still Pending
        order.canceled_at = self.clock.now()

    def _cancel(self, form: Mapping[str, str]) -> Any:
        if form.get("orders") and not self._v3():
            ids = self._ids(form["orders"])
            answer = []
            for one in _panel_order(ids) if self._reseller() else ids:
                item: dict[str, Any] = {"order": int(one) if one.isdigit() else one}
                try:
                    self._cancel_one(one)
                    item["cancel"] = 1
                except PanelReject as exc:  # the reseller: {"order", "error"}; v2 nests it in "cancel"
                    if self._reseller():
                        item["error"] = str(exc)
                    else:
                        item["cancel"] = {"error": str(exc)}
                answer.append(item)
            return answer
        if not self._v3():
            raise self._no(self.words.bad_action)  # v2 and the reseller only take the `orders` form
        self._cancel_one((form.get("order") or "").strip())
        return {"success": "Your order will be cancel asap. Thank you for patience."}
