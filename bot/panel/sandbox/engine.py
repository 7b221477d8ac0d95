"""The sandbox panel's behaviour: catalogue, orders on a clock, refills, cancels, a balance.

`SandboxPanel.handle(form)` takes the POSTed form and returns (HTTP status, JSON value) in the
chosen dialect; the HTTP server around it (server.py) adds latency and injected faults.

Orders move Pending → In progress → final on the sandbox clock. The final state comes from a
marker in the link, so demos and tests choose it: `#partial` ends Partial, `#cancel` is canceled
by the panel, anything else Completed. A refill of an order whose link has `#refill-reject`
ends Rejected. Tests can also force any status with `force_status`.
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

PENDING_SECONDS = 30.0
RUN_SECONDS = 120.0
REFILL_PENDING_SECONDS = 10.0
REFILL_RUN_SECONDS = 60.0
REFILL_DAYS = 30
BATCH_LIMIT = 100


class Dialect(StrEnum):
    """v2: seeds 000–003 (the common PerfectPanel-style API). v3: seed 004 (strings everywhere,
    lowercase statuses, bare-string per-id errors, refills without ids, single-order cancel)."""

    V2 = "v2"
    V3 = "v3"


@dataclass(frozen=True)
class _Words:
    bad_key: str
    bad_action: str
    bad_service: str
    no_funds: str
    bad_order: str


_WORDS = {
    Dialect.V2: _Words("Invalid API key", "Incorrect request", "Incorrect service ID",
                       "Not enough funds on balance", "Incorrect order ID"),
    Dialect.V3: _Words("Incorrect API key", "This action is Invalid", "Service not found or inactive",
                       "Your balance is insufficient.", "Order ID not Found"),
}
_DELAYS = {
    Dialect.V2: (0, 5, 10, 15, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 360, 420, 480, 540, 600),
    Dialect.V3: (0, 5, 10, 15, 30, 60, 90),
}


def _v2_word(status: StrEnum) -> str:
    """"in progress" → "In progress", as the v2 seeds spell statuses."""
    return status.value[:1].upper() + status.value[1:]


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
    """Raised inside the engine to answer {"error": message}."""


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
                 first_order_id: int = 23501) -> None:
        self.api_key = api_key
        self.dialect = dialect
        self.clock = clock or SandboxClock()
        self.funds = funds
        self.currency = currency
        self.catalogue = {str(s.service_id): s for s in catalogue}
        self.orders: dict[str, SandboxOrder] = {}
        self.refills: dict[str, SandboxRefill] = {}
        self._next_order = first_order_id
        self._next_refill = 1

    @property
    def words(self) -> _Words:
        return _WORDS[self.dialect]

    # ------------------------------------------------------------------ test controls

    def force_status(self, order_id: str, status: OrderStatus, remains: int | None = None) -> None:
        self.orders[order_id].forced = (status, remains)

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
            return 200, {"error": self.words.bad_key}
        action = (form.get("action") or "").strip().lower()
        handler = {
            "services": self._services, "add": self._add, "status": self._status,
            "refill": self._refill, "refill_status": self._refill_status,
            "cancel": self._cancel, "balance": self._balance,
        }.get(action)
        if handler is None:
            return 200, {"error": self.words.bad_action}
        try:
            return 200, handler(form)
        except PanelReject as exc:
            return 200, {"error": str(exc)}

    def _v3(self) -> bool:
        return self.dialect is Dialect.V3

    def _ids(self, value: str) -> list[str]:
        ids = [one.strip() for one in value.split(",") if one.strip()]
        if not ids or len(ids) > BATCH_LIMIT:
            raise PanelReject(self.words.bad_action)
        return ids

    # ------------------------------------------------------------------ actions

    def _services(self, form: Mapping[str, str]) -> list[dict[str, Any]]:
        out = []
        for s in self.catalogue.values():
            if self._v3():
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
        answer: dict[str, Any] = {"balance": f"{self.balance():.5f}", "currency": self.currency}
        return {"status": "success", **answer} if self._v3() else answer

    def _add(self, form: Mapping[str, str]) -> dict[str, Any]:
        service = self.catalogue.get((form.get("service") or "").strip())
        spec = ORDER_FIELDS.get(service.type) if service else None
        if service is None or spec is None:
            raise PanelReject(self.words.bad_service)
        values = {name: (form.get(name) or "").strip() for name in spec.all}
        target = values.get("link") or values.get("username", "")
        if "link" in spec.required and not values["link"].lower().startswith(("http://", "https://")):
            raise PanelReject("Incorrect link")
        for name in spec.required:
            if not values[name]:
                raise PanelReject(f"Incorrect {name.replace('_', ' ')}")
        if spec.one_of and not any(all(values[n] for n in group) for group in spec.one_of):
            raise PanelReject("Incorrect answer number")
        expires_on = self._check_subscription(values) if service.type is ServiceType.SUBSCRIPTIONS else None
        quantity, units = self._quantity(service, values, form)
        flat = service.type in (ServiceType.PACKAGE, ServiceType.CUSTOM_COMMENTS_PACKAGE)
        price = service.rate if flat else service.rate * units / 1000
        busy = any(o.service is service and o.target == target and not o.state_at(self.clock.now())[0].is_final
                   for o in self.orders.values())
        if busy:
            raise PanelReject("You have active order with this link. Please wait until order being completed.")
        if price > self.balance():
            raise PanelReject(self.words.no_funds)
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
                raise PanelReject("Incorrect quantity") from None
        else:  # the list is the quantity: one comment / username per line
            listed = values.get("comments") or values.get("usernames", "")
            quantity = len([line for line in listed.splitlines() if line.strip()])
        if quantity < service.min:
            raise PanelReject(f"Quantity less than minimal {service.min}")
        if quantity > service.max:
            raise PanelReject(f"Quantity more than maximum {service.max}")
        if values.get("answer_number") and not values["answer_number"].isdigit():
            raise PanelReject("Incorrect answer number")
        runs, interval = (form.get("runs") or "").strip(), (form.get("interval") or "").strip()
        if not (runs or interval):
            return quantity, quantity
        if not service.dripfeed:
            raise PanelReject("Drip-feed is not available for this service")
        if not (runs.isdigit() and interval.isdigit() and int(runs) >= 1):
            raise PanelReject("Incorrect runs or interval")
        return quantity, quantity * int(runs)

    def _check_subscription(self, values: dict[str, str]) -> date | None:
        try:
            low, high, delay = int(values["min"]), int(values["max"]), int(values["delay"])
            int(values.get("posts") or 1), int(values.get("old_posts") or 0)
        except ValueError:
            raise PanelReject("Incorrect request") from None
        if not 0 < low <= high:
            raise PanelReject("Incorrect min/max")
        if delay not in _DELAYS[self.dialect]:
            raise PanelReject("Incorrect delay")
        if not values.get("expiry"):
            return None
        try:
            return datetime.strptime(values["expiry"], "%d/%m/%Y").date()
        except ValueError:
            raise PanelReject("Incorrect expiry date") from None

    def _status_of(self, order: SandboxOrder, *, many: bool) -> dict[str, Any]:
        now = self.clock.now()
        status, remains = order.state_at(now)
        charge = order.charge_at(now)
        if self._v3():
            shown = "processing" if status is OrderStatus.IN_PROGRESS else status.value
            answer = {"order": order.order_id, "status": shown, "charge": f"{charge:.4f}",
                      "start_count": str(order.start_count), "remains": str(remains)}
            return answer if many else {**answer, "currency": self.currency}
        return {"charge": f"{charge:.5f}", "start_count": str(order.start_count),
                "status": _v2_word(status),
                "remains": str(remains), "currency": self.currency}

    def _status(self, form: Mapping[str, str]) -> Any:
        if form.get("orders"):
            answer: dict[str, Any] = {}
            for one in self._ids(form["orders"]):
                order = self.orders.get(one)
                if order is not None:
                    answer[one] = self._status_of(order, many=True)
                else:
                    answer[one] = "Incorrect order ID" if self._v3() else {"error": "Incorrect order ID"}
            return answer
        order = self.orders.get((form.get("order") or "").strip())
        if order is None:
            raise PanelReject(self.words.bad_order)
        return self._status_of(order, many=False)

    def _refill_one(self, order_id: str) -> SandboxRefill:
        order = self.orders.get(order_id)
        if order is None:
            raise PanelReject(self.words.bad_order)
        now = self.clock.now()
        status, _ = order.state_at(now)
        if not order.service.refill or status not in (OrderStatus.COMPLETED, OrderStatus.PARTIAL):
            raise PanelReject("Order cannot be refilled")
        if now - order.created_at > REFILL_DAYS * 86400:
            raise PanelReject("Refill days are over")
        if any(not r.status_at(now).is_final for r in order.refills):
            raise PanelReject("Refill already in progress")
        refill = SandboxRefill(str(self._next_refill), order_id, now, "#refill-reject" in order.target)
        self._next_refill += 1
        order.refills.append(refill)
        self.refills[refill.refill_id] = refill
        return refill

    def _refill(self, form: Mapping[str, str]) -> Any:
        if form.get("orders") and not self._v3():
            answer = []
            for one in self._ids(form["orders"]):
                try:
                    answer.append({"order": int(one) if one.isdigit() else one,
                                   "refill": int(self._refill_one(one).refill_id)})
                except PanelReject as exc:
                    answer.append({"order": one, "refill": {"error": str(exc)}})
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
        if refill is None or self._v3():
            raise PanelReject("Refill not found")
        return {"status": _v2_word(refill.status_at(now))}

    def _cancel_one(self, order_id: str) -> None:
        order = self.orders.get(order_id)
        if order is None:
            raise PanelReject(self.words.bad_order)
        status, _ = order.state_at(self.clock.now())
        if order.canceled_at is not None:
            raise PanelReject("Cancel request already in progress please wait")
        if status.is_final:
            raise PanelReject("Order already completed")
        if not order.service.cancel:
            raise PanelReject("Order cannot be canceled")
        order.canceled_at = self.clock.now()

    def _cancel(self, form: Mapping[str, str]) -> Any:
        if form.get("orders") and not self._v3():
            answer = []
            for one in self._ids(form["orders"]):
                item: dict[str, Any] = {"order": int(one) if one.isdigit() else one}
                try:
                    self._cancel_one(one)
                    item["cancel"] = 1
                except PanelReject as exc:
                    item["cancel"] = {"error": str(exc)}
                answer.append(item)
            return answer
        if not self._v3():
            raise PanelReject(self.words.bad_action)  # v2 only documents the `orders` form
        self._cancel_one((form.get("order") or "").strip())
        return {"success": "Your order will be cancel asap. Thank you for patience."}
