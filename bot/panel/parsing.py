"""From raw panel answers to models or errors: every dialect in shared/panel-api-notes.md.

Pure functions, no I/O: `decode_body` turns bytes into JSON (or raises PanelBadResponse),
`classify_error` turns a panel's error text into the right PanelError, and one `parse_*`
function per action turns the JSON into models. Batch parsers return exactly one result per
requested id: the model, or the PanelError for that id.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import ValidationError

from bot.panel.errors import (
    PanelAuthError,
    PanelBadResponse,
    PanelError,
    PanelFundsError,
    PanelNotFound,
    PanelRateLimited,
    PanelRejected,
)
from bot.panel.models import (
    AddedOrder,
    Balance,
    CancelRequested,
    OrderStatusInfo,
    RefillRequested,
    RefillStatusInfo,
    Service,
)
from bot.panel.values import TEXT_LIMIT, to_id, to_text

log = logging.getLogger(__name__)

T = TypeVar("T")
Result = T | PanelError

_TRAILING_COMMA = re.compile(r",\s*([}\]])")
MAX_DEPTH = 32  # nesting of a JSON answer; real answers have 3 levels at most
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)

# Error wordings seen in the wild (normalised: lowercase, "_" "." "-" as spaces).
_AUTH = re.compile(r"api ?key|\bkey\b.*\b(invalid|incorrect|wrong)|suspend|account (is )?(banned|blocked|disabled)")
_FUNDS = re.compile(r"not enough (funds|balance|money)|insufficient|low balance|no funds|balance is not enough")
_RATE = re.compile(r"rate limit|too many requests|slow down")
_NOT_FOUND = re.compile(
    r"(order|refill)s?( id)? (not found|does not exist|doesn't exist)"
    r"|(incorrect|invalid|unknown|wrong|bad) (order|refill)( id)?\b"
    r"|(order|refill)s? (is )?not found"
)
_UNTRANSLATED_KEY = re.compile(r"^[a-z0-9]+([._][a-z0-9]+)+$")
# Fields of a single-item answer; an object keyed by ids has none of them as keys.
_SINGLE_ITEM_FIELDS = frozenset({"status", "charge", "start_count", "remains", "order", "refill", "cancel",
                                 "success", "message"})


# --------------------------------------------------------------------------- decoding

def decode_body(body: bytes, http_status: int) -> Any:
    """JSON from a panel answer, tolerating BOMs, padding, text/html content types and
    trailing commas; HTML pages, empty bodies and broken JSON raise PanelBadResponse."""
    text = body.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
    if not text:
        raise PanelBadResponse(f"the panel sent an empty answer (HTTP {http_status})",
                               http_status=http_status)
    if text.startswith("<"):
        title = _HTML_TITLE.search(text)
        what = f" ({' '.join(title.group(1).split())[:80]})" if title else ""
        raise PanelBadResponse(f"the panel sent an HTML page instead of JSON{what} (HTTP {http_status})",
                               http_status=http_status)
    for candidate in (text, _TRAILING_COMMA.sub(r"\1", text)):
        try:
            payload = json.loads(candidate, parse_float=Decimal, parse_int=_json_int)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's stack
            continue
        if not _shallow(payload):
            raise PanelBadResponse(f"the panel sent JSON nested too deeply (HTTP {http_status})",
                                   http_status=http_status)
        return payload
    raise PanelBadResponse(f"the panel sent broken JSON (HTTP {http_status})", http_status=http_status)


def _json_int(text: str) -> int | str:
    """A JSON integer; one too long to be a number we use stays text, which the readers refuse for
    that value alone (Python's own parser would refuse the whole answer past 4,300 digits)."""
    return int(text) if len(text) <= 40 else text


def _shallow(payload: Any) -> bool:
    """No container nested deeper than MAX_DEPTH (checked without recursion)."""
    stack = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Iterable[Any] = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_DEPTH:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


# --------------------------------------------------------------------------- errors

def humanise(message: str) -> str:
    """"  error.incorrect_order_id " → "Incorrect order id"; normal sentences stay as they are."""
    text = " ".join(message.split())
    if _UNTRANSLATED_KEY.match(text):
        tail = text.split("error.", 1)[-1] if "error." in text else text.rsplit(".", 1)[-1]
        words = tail.replace(".", " ").replace("_", " ").strip()
        return words[:1].upper() + words[1:]
    return text


MAX_MESSAGE = 300  # a panel's message is shown to people: never a page of text


def classify_error(message: str, *, http_status: int | None = None) -> PanelError:
    """The PanelError subclass a panel's error text (or HTTP status) stands for."""
    shown = humanise(message) or f"HTTP {http_status}"
    if len(shown) > MAX_MESSAGE:
        shown = shown[: MAX_MESSAGE - 1].rstrip() + "…"
    key = re.sub(r"[\s._\-]+", " ", message.lower()).strip()
    if http_status == 429 or _RATE.search(key):
        return PanelRateLimited(f"the panel is rate limiting us: {shown}", panel_message=shown)
    if _AUTH.search(key) or http_status == 401:
        return PanelAuthError(f"the panel refused the API key: {shown}", panel_message=shown)
    if _FUNDS.search(key):
        return PanelFundsError(f"not enough funds on the panel: {shown}", panel_message=shown)
    if _NOT_FOUND.search(key):
        return PanelNotFound(shown, panel_message=shown)
    return PanelRejected(shown, panel_message=shown)


def message_text(value: Any) -> str:
    """A panel's words for people and logs, whatever JSON they came as; never raises."""
    if isinstance(value, str):
        return to_text(value)
    if value is None:
        return ""
    if isinstance(value, Mapping):
        inner = value.get("message") or value.get("error")
        if isinstance(inner, str | int | Decimal) and not isinstance(inner, bool):
            return message_text(str(inner))
    try:
        return to_text(json.dumps(value, default=str))
    except (ValueError, TypeError, RecursionError):
        return type(value).__name__


def error_message(payload: Any) -> str | None:
    """The error text if this JSON value is an error answer, else None."""
    if isinstance(payload, str):
        return message_text(payload) or "error"
    if not isinstance(payload, Mapping):
        return None
    error = payload.get("error")
    if error not in (None, "", False, 0):
        if isinstance(error, str):
            return message_text(error) or message_text(payload.get("message")) or "error"
        if isinstance(error, Mapping):
            return message_text(error) or "error"
        return message_text(payload.get("message")) or f"error {message_text(error)}"
    errors = payload.get("errors")
    if errors:
        items = list(errors.values()) if isinstance(errors, Mapping) else errors
        items = items if isinstance(items, list) else [items]
        return "; ".join(message_text(item) for item in items[:10])[:TEXT_LIMIT] or "error"
    status = payload.get("status")
    # {"status": "error", "message": "..."}; a bare order status "Error" is data, not an API error.
    if isinstance(status, str) and status.strip().lower() in {"error", "fail", "failed"} and (
        "message" in payload or "msg" in payload
    ):
        return message_text(payload.get("message") or payload.get("msg")) or "error"
    if status is False:
        return message_text(payload.get("message")) or "error"
    return None


def raise_for_error(payload: Any) -> None:
    message = error_message(payload)
    if message is not None:
        raise classify_error(message)


def _validate(model: Callable[..., T], data: Mapping[str, Any], what: str) -> T:
    try:
        return model(data)
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors() if e["loc"]) or "?"
        raise PanelBadResponse(f"the panel's answer for {what} is unreadable (fields: {fields})") from None


def _mapping(payload: Any, what: str) -> Mapping[str, Any]:
    raise_for_error(payload)
    if not isinstance(payload, Mapping):
        raise PanelBadResponse(f"the panel's answer for {what} is not a JSON object")
    return payload


# --------------------------------------------------------------------------- single answers

def parse_services(payload: Any) -> list[Service]:
    """The catalogue. A malformed entry is skipped (and logged), not fatal for the rest."""
    raise_for_error(payload)
    items: Any = payload
    if isinstance(payload, Mapping):
        items = payload.get("data", payload.get("services", []))
        if isinstance(items, str):  # {"status":"success","data":"Empty Data"}
            items = []
        elif isinstance(items, Mapping):
            items = list(items.values())
    if not isinstance(items, list):
        raise PanelBadResponse("the panel's service list is not a list")
    services = []
    for item in items:
        try:
            services.append(Service.model_validate(item))
        except ValidationError as exc:
            log.warning("skipping an unreadable service entry: %s", exc.errors()[0]["msg"])
    return services


def parse_added(payload: Any) -> AddedOrder:
    """The new order's id. `{"order": {"error": …}}` is that error (nothing was placed); an id
    that is not one (0, an object, a list, junk) is unreadable, which `add` reports as unknown."""
    data = _mapping(payload, "the new order")
    order = data.get("order")
    if isinstance(order, Mapping) and (message := error_message(order)) is not None:
        raise classify_error(message)
    if order in (None, ""):
        raise PanelBadResponse("the panel accepted the order but sent no order id")
    added = _validate(AddedOrder.model_validate, {"order_id": order}, "the new order")
    if added.order_id.isdigit() and int(added.order_id) == 0:
        raise PanelBadResponse("the panel answered order id 0, which is no order")
    return added


def parse_status(payload: Any, order_id: str) -> OrderStatusInfo:
    data = _mapping(payload, f"order {order_id}")
    if "status" not in data and order_id in data:  # keyed by id even for one order
        data = _mapping(data[order_id], f"order {order_id}")
    return _validate(OrderStatusInfo.model_validate, {**data, "order_id": order_id}, f"order {order_id}")


def parse_refill(payload: Any, order_id: str) -> RefillRequested:
    data = _mapping(payload, f"the refill of order {order_id}")
    result = _refill_item(order_id, data)
    if isinstance(result, PanelError):
        raise result
    return result


def parse_refill_status(payload: Any, refill_id: str) -> RefillStatusInfo:
    data = _mapping(payload, f"refill {refill_id}")
    result = _refill_status_item(refill_id, data)
    if isinstance(result, PanelError):
        raise result
    return result


def parse_cancel(payload: Any, order_id: str) -> CancelRequested:
    """The single-order form: {"success": "..."} or {"cancel": 1}."""
    data = _mapping(payload, f"the cancel of order {order_id}")
    result = _cancel_item(order_id, data)
    if isinstance(result, PanelError):
        raise result
    return result


def parse_balance(payload: Any) -> Balance:
    data = _mapping(payload, "the balance")
    if isinstance(data.get("data"), Mapping) and "balance" not in data:
        data = data["data"]
    return _validate(Balance.model_validate, data, "the balance")


# --------------------------------------------------------------------------- batch answers

def _by_id(payload: Mapping[str, Any] | list[Any], ids: list[str], id_field: str) -> dict[str, Any]:
    """Index a batch answer by id: an object keyed by id, or a list of items naming their id."""
    found: dict[str, Any] = {}
    if isinstance(payload, Mapping):
        for key, item in payload.items():
            if (one_id := _readable_id(key)) is not None:
                found[one_id] = item
        if len(ids) == 1 and ids[0] not in found and not _SINGLE_ITEM_FIELDS.isdisjoint(payload):
            found = {ids[0]: payload}  # one id asked, answered in the single-order shape
    else:
        for item in payload:
            if isinstance(item, Mapping) and (one_id := _readable_id(item.get(id_field))) is not None:
                found[one_id] = item
    return found


def _readable_id(value: Any) -> str | None:
    """An id from a batch answer; junk (empty, true, null) names no order, so it is skipped and
    the ids we asked for get "not mentioned" instead of the whole batch failing."""
    try:
        return to_id(value)
    except ValueError:
        return None


def whole_request_error(payload: Any, ids: list[str]) -> PanelError | None:
    """The error of a batch answer that refuses the whole request (not keyed by any id), or None."""
    if isinstance(payload, list) or (isinstance(payload, Mapping) and not set(payload).isdisjoint(ids)):
        return None
    message = error_message(payload)
    return classify_error(message) if message is not None else None


def _parse_batch(payload: Any, ids: list[str], id_field: str,
                 parse_item: Callable[[str, Any], Result[T]]) -> dict[str, Result[T]]:
    refused = whole_request_error(payload, ids)
    if refused is not None:
        if len(ids) > 1 and isinstance(refused, PanelNotFound):
            # "Incorrect order ID" for the whole request names no order: it is not "not found"
            # for each of them (which would stop polling them all), only an unanswered request.
            refused = PanelBadResponse(f"the panel refused the whole request: {refused.message}")
        return dict.fromkeys(ids, refused)
    if not isinstance(payload, Mapping | list):
        return dict.fromkeys(ids, PanelBadResponse("the panel's batch answer is not an object or a list"))
    found = _by_id(payload, ids, id_field)
    results: dict[str, Result[T]] = {}
    for one_id in ids:
        if one_id not in found:
            results[one_id] = PanelBadResponse(f"the panel's answer did not mention {id_field} {one_id}")
            continue
        try:
            results[one_id] = parse_item(one_id, found[one_id])
        except PanelError as exc:
            results[one_id] = exc
    return results


def _status_item(order_id: str, item: Any) -> Result[OrderStatusInfo]:
    message = error_message(item)
    if message is not None:
        return classify_error(message)
    if not isinstance(item, Mapping):
        return PanelBadResponse(f"the panel's answer for order {order_id} is not an object")
    return _validate(OrderStatusInfo.model_validate, {**item, "order_id": order_id}, f"order {order_id}")


def _refill_item(order_id: str, item: Any) -> Result[RefillRequested]:
    if not isinstance(item, Mapping):
        message = error_message(item)
        return classify_error(message) if message else PanelBadResponse("unreadable refill answer")
    refill = item.get("refill")
    inner = error_message(refill) if isinstance(refill, Mapping) else None
    outer = error_message(item)
    if inner is not None or outer is not None:
        return classify_error(inner or outer or "error")
    text = message_text(item.get("message") or item.get("success"))
    if refill is None and not text:
        return PanelBadResponse(f"the panel's refill answer for order {order_id} says neither yes nor no")
    if refill is None or isinstance(refill, bool) or refill in ("", 0):
        return RefillRequested(order_id=order_id, refill_id=None, message=text)
    return _validate(RefillRequested.model_validate,
                     {"order_id": order_id, "refill_id": refill, "message": text}, f"refill of {order_id}")


def _refill_status_item(refill_id: str, item: Any) -> Result[RefillStatusInfo]:
    message = error_message(item)
    if message is None and isinstance(item, Mapping) and isinstance(item.get("status"), Mapping):
        message = error_message(item["status"])
    if message is not None:
        return classify_error(message)
    if not isinstance(item, Mapping):
        return PanelBadResponse(f"the panel's answer for refill {refill_id} is not an object")
    return _validate(RefillStatusInfo.model_validate, {**item, "refill_id": refill_id}, f"refill {refill_id}")


def _cancel_item(order_id: str, item: Any) -> Result[CancelRequested]:
    if not isinstance(item, Mapping):
        message = error_message(item)
        return classify_error(message) if message else PanelBadResponse("unreadable cancel answer")
    cancel = item.get("cancel", item.get("success"))
    message = error_message(cancel) if isinstance(cancel, Mapping) else error_message(item)
    if message is not None:
        return classify_error(message)
    if cancel in (None, False, 0, "0", ""):
        return PanelRejected("the panel did not accept the cancel request")
    text = message_text(cancel if isinstance(cancel, str) else item.get("message"))
    return CancelRequested(order_id=order_id, message=text)


def parse_statuses(payload: Any, ids: list[str]) -> dict[str, Result[OrderStatusInfo]]:
    return _parse_batch(payload, ids, "order", _status_item)


def parse_refills(payload: Any, ids: list[str]) -> dict[str, Result[RefillRequested]]:
    return _parse_batch(payload, ids, "order", _refill_item)


def parse_refill_statuses(payload: Any, ids: list[str]) -> dict[str, Result[RefillStatusInfo]]:
    return _parse_batch(payload, ids, "refill", _refill_status_item)


def parse_cancels(payload: Any, ids: list[str]) -> dict[str, Result[CancelRequested]]:
    return _parse_batch(payload, ids, "order", _cancel_item)
