"""The pure parsing layer against every answer real panels send.

Cases come from the example answers of the five published API pages in shared/seeds/ (copied
verbatim apart from indentation; the test id names the seed) and from every
variant listed in shared/panel-api-notes.md ("notes" in the id). Each raw answer goes through
`decode_body(raw.encode(), 200)` and the matching `parse_*` function, and the normalised values
are checked with their types: Decimal money, str ids, enums, None where the panel does not say.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from bot.panel.errors import (
    PanelAuthError,
    PanelBadResponse,
    PanelError,
    PanelFundsError,
    PanelNotFound,
    PanelRateLimited,
    PanelRejected,
)
from bot.panel.models import OrderStatus, RefillStatus, ServiceType
from bot.panel.parsing import (
    classify_error,
    decode_body,
    error_message,
    humanise,
    parse_added,
    parse_balance,
    parse_cancel,
    parse_cancels,
    parse_refill,
    parse_refill_status,
    parse_refill_statuses,
    parse_refills,
    parse_services,
    parse_status,
    parse_statuses,
)

# --------------------------------------------------------------------------- helpers

Expected = dict[str, Any] | tuple[type[PanelError], str | None]


def decode(raw: str) -> Any:
    return decode_body(raw.encode(), 200)


def typed(values: dict[str, Any]) -> dict[str, tuple[type, Any]]:
    """Compare values *and* types: Decimal("1") == 1 and ServiceType.POLL == "Poll" otherwise."""
    return {name: (type(value), value) for name, value in values.items()}


def err(cls: type[PanelError], panel_message: str | None = None) -> tuple[type[PanelError], str | None]:
    return (cls, panel_message)


BAD = err(PanelBadResponse)


def check(actual: Any, expected: Expected) -> None:
    if isinstance(expected, tuple):
        cls, panel_message = expected
        assert type(actual) is cls, f"expected {cls.__name__}, got {actual!r}"
        if panel_message is not None:
            assert actual.panel_message == panel_message
    else:
        assert not isinstance(actual, PanelError), f"expected a model, got {actual!r}"
        assert typed(actual.model_dump()) == typed(expected)


def check_batch(results: dict[str, Any], expected: dict[str, Expected]) -> None:
    assert list(results) == list(expected), "one result per requested id, in the order asked"
    for one_id, want in expected.items():
        check(results[one_id], want)


def service(service_id: str, name: str, type_: ServiceType, raw_type: str, category: str, rate: str,
            min_: int, max_: int, *, refill: bool, cancel: bool, dripfeed: bool = False,
            description: str = "", average_time: str = "") -> dict[str, Any]:
    return {"service_id": service_id, "name": name, "type": type_, "raw_type": raw_type,
            "category": category, "rate": Decimal(rate), "min": min_, "max": max_, "refill": refill,
            "cancel": cancel, "dripfeed": dripfeed, "description": description,
            "average_time": average_time}


def status(order_id: str, st: OrderStatus, raw: str, charge: str | None, start_count: int | None,
           remains: int | None, currency: str | None) -> dict[str, Any]:
    return {"order_id": order_id, "status": st, "raw_status": raw,
            "charge": None if charge is None else Decimal(charge), "start_count": start_count,
            "remains": remains, "currency": currency}


def refill(order_id: str, refill_id: str | None, message: str = "") -> dict[str, Any]:
    return {"order_id": order_id, "refill_id": refill_id, "message": message}


def refill_status(refill_id: str, st: RefillStatus, raw: str) -> dict[str, Any]:
    return {"refill_id": refill_id, "status": st, "raw_status": raw}


def cancel(order_id: str, message: str = "") -> dict[str, Any]:
    return {"order_id": order_id, "message": message}


def balance(amount: str, currency: str | None) -> dict[str, Any]:
    return {"amount": Decimal(amount), "currency": currency}


S = ServiceType
O = OrderStatus  # noqa: E741
R = RefillStatus
REFILL_RECEIVED = "Your refill request has been received, please wait."

# --------------------------------------------------------------------------- seed answers (verbatim)

SEED000_SERVICES = """[
    {
        "service": 2,
        "name": "Followers",
        "category": "First Category",
        "type": "Default",
        "rate": "0.73",
        "min": "100",
        "max": "10000",
        "dripfeed": false,
        "refill": false,
        "cancel": false,
        "description": "-"
    },
    {
        "service": 2,
        "name": "Comments",
        "type": "Custom Comments",
        "category": "Second Category",
        "rate": "12",
        "min": "10",
        "max": "2500",
        "refill": false,
        "cancel": true,
        "description": "-"
    }
]"""
SEED000_ADD = """{
    "order": 23501
}"""
SEED000_STATUS = """{
    "charge": "0.65788",
    "start_count": "12",
    "status": "Pending",
    "remains": "200",
    "currency": "EUR"
}"""
SEED000_STATUSES = """{
    "1": {
        "charge": "1.03841045",
        "start_count": "1",
        "status": "In progress",
        "remains": "287",
        "currency": "EUR"
    },
    "10": {
        "charge": "0.657880205",
        "start_count": "12",
        "status": "Pending",
        "remains": "23",
        "currency": "EUR"
    },
    "100": {
        "error": "Incorrect order ID"
    }
}"""
SEED000_REFILL = """{
    "order": "12",
    "refill": "1",
    "message": "Your refill request has been received, please wait." 
}"""  # noqa: W291 (the seed has this trailing space)
SEED000_REFILLS = """[
    {
        "order": 1,
        "refill": 1,
        "message": "Your refill request has been received, please wait."
    },
    {
        "order": 2,
        "refill": 2,
        "message": "Your refill request has been received, please wait."
    },
    {
        "order": 3,
        "refill": {
            "error": "Order cannot be refilled"
        },
        "message": "Order cannot be refilled"
    }
]"""
SEED000_REFILL_STATUS = """{
    "refill": 2,
    "status": "Completed"
}"""
SEED000_REFILL_STATUSES = """[
    {
        "refill": 1,
        "status": "Completed"
    },
    {
        "refill": 2,
        "status": "Rejected"
    },
    {
        "refill": 3,
        "status": {
            "error": "Refill not found"
        }
    }
]"""
SEED000_CANCELS = """[
    {
        "order": 9,
        "cancel": {
            "error": "Incorrect order ID"
        }
    },
    {
        "order": 2,
        "cancel": "Your cancellation request has been received."
    }
]"""
SEED000_BALANCE = """{
    "balance": "128.60633",
    "currency": "EUR"
}"""

SEED001_SERVICES = """[
{
"service": 1,
"name": "Followers",
"type": "Default",
"category": "First Category",
"rate": "0.90",
"min": "50",
"max": "10000",
"refill": true,
"cancel": true
},
{
"service": 2,
"name": "Comments",
"type": "Custom Comments",
"category": "Second Category",
"rate": "8",
"min": "10",
"max": "1500",
"refill": false,
"cancel": true
}
]"""
SEED001_ADD = """{
"order": 23501
}"""
SEED001_STATUS = """{
"charge": "0.27819",
"start_count": "3572",
"status": "Partial",
"remains": "157",
"currency": "USD"
}"""
SEED001_STATUSES = """{
"1": {
"charge": "0.27819",
"start_count": "3572",
"status": "Partial",
"remains": "157",
"currency": "USD"
},
"10": {
"error": "Incorrect order ID"
},
"100": {
"charge": "1.44219",
"start_count": "234",
"status": "In progress",
"remains": "10",
"currency": "USD"
}
}"""
SEED001_REFILL = """{
"refill": "1"
}"""
SEED001_REFILLS = """[
{
"order": 1,
"refill": 1
},
{
"order": 2,
"refill": 2
},
{
"order": 3,
"refill": {
"error": "Incorrect order ID"
}
}
]"""
SEED001_REFILL_STATUS = """{
"status": "Completed"
}"""
SEED001_REFILL_STATUSES = """[
{
"refill": 1,
"status": "Completed"
},
{
"refill": 2,
"status": "Rejected"
},
{
"refill": 3,
"status": {
"error": "Refill not found"
}
}
]"""
SEED001_CANCELS = """[
{
"order": 9,
"cancel": {
"error": "Incorrect order ID"
}
},
{
"order": 2,
"cancel": 1
}
]"""
SEED001_BALANCE = """{
"balance": "100.84292",
"currency": "USD"
}"""

# Seed 002 (another panel) publishes the very same examples as seed 001, seed 003 those of seed 000:
# kept as separate literals so that each document is covered as published.
SEED002_SERVICES = """[
{
"service": 1,
"name": "Followers",
"type": "Default",
"category": "First Category",
"rate": "0.90",
"min": "50",
"max": "10000",
"refill": true,
"cancel": true
},
{
"service": 2,
"name": "Comments",
"type": "Custom Comments",
"category": "Second Category",
"rate": "8",
"min": "10",
"max": "1500",
"refill": false,
"cancel": true
}
]"""
SEED002_ADD = """{
"order": 23501
}"""
SEED002_STATUS = """{
"charge": "0.27819",
"start_count": "3572",
"status": "Partial",
"remains": "157",
"currency": "USD"
}"""
SEED002_STATUSES = """{
"1": {
"charge": "0.27819",
"start_count": "3572",
"status": "Partial",
"remains": "157",
"currency": "USD"
},
"10": {
"error": "Incorrect order ID"
},
"100": {
"charge": "1.44219",
"start_count": "234",
"status": "In progress",
"remains": "10",
"currency": "USD"
}
}"""
SEED002_REFILL = """{
"refill": "1"
}"""
SEED002_REFILLS = """[
{
"order": 1,
"refill": 1
},
{
"order": 2,
"refill": 2
},
{
"order": 3,
"refill": {
"error": "Incorrect order ID"
}
}
]"""
SEED002_REFILL_STATUS = """{
"status": "Completed"
}"""
SEED002_REFILL_STATUSES = """[
{
"refill": 1,
"status": "Completed"
},
{
"refill": 2,
"status": "Rejected"
},
{
"refill": 3,
"status": {
"error": "Refill not found"
}
}
]"""
SEED002_CANCELS = """[
{
"order": 9,
"cancel": {
"error": "Incorrect order ID"
}
},
{
"order": 2,
"cancel": 1
}
]"""
SEED002_BALANCE = """{
"balance": "100.84292",
"currency": "USD"
}"""

SEED003_SERVICES = """[
    {
        "service": 2,
        "name": "Followers",
        "category": "First Category",
        "type": "Default",
        "rate": "0.73",
        "min": "100",
        "max": "10000",
        "dripfeed": false,
        "refill": false,
        "cancel": false,
        "description": "-"
    },
    {
        "service": 2,
        "name": "Comments",
        "type": "Custom Comments",
        "category": "Second Category",
        "rate": "12",
        "min": "10",
        "max": "2500",
        "refill": false,
        "cancel": true,
        "description": "-"
    }
]"""
SEED003_ADD = """{
    "order": 23501
}"""
SEED003_STATUS = """{
    "charge": "0.65788",
    "start_count": "12",
    "status": "Pending",
    "remains": "200",
    "currency": "EUR"
}"""
SEED003_STATUSES = """{
    "1": {
        "charge": "1.03841045",
        "start_count": "1",
        "status": "In progress",
        "remains": "287",
        "currency": "EUR"
    },
    "10": {
        "charge": "0.657880205",
        "start_count": "12",
        "status": "Pending",
        "remains": "23",
        "currency": "EUR"
    },
    "100": {
        "error": "Incorrect order ID"
    }
}"""
SEED003_REFILL = """{
    "order": "12",
    "refill": "1",
    "message": "Your refill request has been received, please wait."
}"""
SEED003_REFILLS = """[
    {
        "order": 1,
        "refill": 1,
        "message": "Your refill request has been received, please wait."
    },
    {
        "order": 2,
        "refill": 2,
        "message": "Your refill request has been received, please wait."
    },
    {
        "order": 3,
        "refill": {
            "error": "Order cannot be refilled"
        },
        "message": "Order cannot be refilled"
    }
]"""
SEED003_REFILL_STATUS = """{
    "refill": 2,
    "status": "Completed"
}"""
SEED003_REFILL_STATUSES = """[
    {
        "refill": 1,
        "status": "Completed"
    },
    {
        "refill": 2,
        "status": "Rejected"
    },
    {
        "refill": 3,
        "status": {
            "error": "Refill not found"
        }
    }
]"""
SEED003_CANCELS = """[
    {
        "order": 9,
        "cancel": {
            "error": "Incorrect order ID"
        }
    },
    {
        "order": 2,
        "cancel": "Your cancellation request has been received."
    }
]"""
SEED003_BALANCE = """{
    "balance": "128.60633",
    "currency": "EUR"
}"""

SEED004_ADD = """{
"status": "success",
"order": 32
}"""
SEED004_STATUS = """{
"order": "32",
"status": "pending",
"charge": "0.0360",
"start_count": "0",
"remains": "0",
"currency": "USD"
}"""
SEED004_STATUSES = """{
"12": {
"order": "12",
"status": "processing",
"charge": "1.2600",
"start_count": "0",
"remains": "0"
},
"2": "Incorrect order ID",
"13": {
"order": "13",
"status": "pending",
"charge": "0.6300",
"start_count": "0",
"remains": "0"
}
}"""
SEED004_SERVICES = """[
{
"service": "30",
"category": "First Cateogry",
"name": "First Service",
"description": "First Description",
"rate": "0.8000",
"min": "100",
"max": "2000000",
"type": "default",
"dripfeed": "0",
"refill": "0",
"cancel": "0",
"average_time": "0"
},
{
"service": "2",
"category": "Second Category",
"name": "Second Service",
"description": "Second Description",
"rate": "0.8400",
"min": "100",
"max": "100000000",
"type": "default",
"dripfeed": "0",
"refill": "0",
"cancel": "0",
"average_time": "0"
}
]"""
SEED004_REFILL_OK = """{
"success": "Your order will be refill asap. Thank you for patience."
}"""
SEED004_REFILL_BUSY = """{
"error": "Refill already in progress"
}"""
SEED004_REFILL_NOT_FOUND = """{
"error": "Order ID not Found"
}"""
SEED004_REFILL_STATUS = """{
"status": "Completed",
}"""
SEED004_CANCEL_OK = """{
"success": "Your order will be cancel asap. Thank you for patience."
}"""
SEED004_CANCEL_BUSY = """{
"error": "Cancel request already in progress please wait"
}"""
SEED004_CANCEL_NOT_FOUND = """{
"error": "Order ID not Found"
}"""
SEED004_BALANCE = """{
"status": "success",
"balance": "0.03",
"currency": "USD"
}"""

# --------------------------------------------------------------------------- services

FOLLOWERS_000 = service("2", "Followers", S.DEFAULT, "Default", "First Category", "0.73", 100, 10000,
                        refill=False, cancel=False, dripfeed=False, description="-")
COMMENTS_000 = service("2", "Comments", S.CUSTOM_COMMENTS, "Custom Comments", "Second Category", "12",
                       10, 2500, refill=False, cancel=True, description="-")
FOLLOWERS_001 = service("1", "Followers", S.DEFAULT, "Default", "First Category", "0.90", 50, 10000,
                        refill=True, cancel=True)
COMMENTS_001 = service("2", "Comments", S.CUSTOM_COMMENTS, "Custom Comments", "Second Category", "8",
                       10, 1500, refill=False, cancel=True)


@pytest.mark.parametrize(("raw", "expected"), [
    # Both entries share id 2: the parser keeps the catalogue as published (in order) and does not
    # silently drop one; which one a storefront offers is the catalogue's decision, not parsing's.
    pytest.param(SEED000_SERVICES, [FOLLOWERS_000, COMMENTS_000], id="seed000-two-services-same-id-2"),
    pytest.param(SEED001_SERVICES, [FOLLOWERS_001, COMMENTS_001], id="seed001-services"),
    pytest.param(SEED002_SERVICES, [FOLLOWERS_001, COMMENTS_001], id="seed002-services"),
    pytest.param(SEED003_SERVICES, [FOLLOWERS_000, COMMENTS_000], id="seed003-two-services-same-id-2"),
    pytest.param(SEED004_SERVICES, [
        service("30", "First Service", S.DEFAULT, "default", "First Cateogry", "0.8000", 100, 2000000,
                refill=False, cancel=False, dripfeed=False, description="First Description",
                average_time="0"),
        service("2", "Second Service", S.DEFAULT, "default", "Second Category", "0.8400", 100, 100000000,
                refill=False, cancel=False, dripfeed=False, description="Second Description",
                average_time="0"),
    ], id="seed004-string-ids-lowercase-type-string-flags"),
    pytest.param('{"status":"success","data":"Empty Data"}', [], id="notes-empty-catalogue-Empty-Data"),
    pytest.param("[]", [], id="notes-empty-list"),
    pytest.param(
        '[{"service": 7, "name": "Likes", "type": "Default", "category": "Likes", "rate": 0.1, "min": 10,'
        ' "max": 5000, "refill": 1, "cancel": 0, "dripfeed": true}]',
        [service("7", "Likes", S.DEFAULT, "Default", "Likes", "0.1", 10, 5000, refill=True, cancel=False,
                 dripfeed=True)],
        id="notes-numbers-as-numbers-flags-1-0"),
    pytest.param(
        '[{"service": "15", "name": "Comments", "type": "custom_comments", "category": "IG", "rate": "1.25",'
        ' "min": "5", "max": "1000", "refill": "1", "cancel": "0", "dripfeed": "1"}]',
        [service("15", "Comments", S.CUSTOM_COMMENTS, "custom_comments", "IG", "1.25", 5, 1000, refill=True,
                 cancel=False, dripfeed=True)],
        id="notes-string-id-snake-type-string-flags"),
    pytest.param(
        '{"status":"success","data":[{"service":3,"name":"Views","type":"Package","category":"TG",'
        '"rate":"0.00012345","min":1,"max":1,"refill":false,"cancel":false}]}',
        [service("3", "Views", S.PACKAGE, "Package", "TG", "0.00012345", 1, 1, refill=False, cancel=False)],
        id="notes-success-wrapper-with-data-list"),
])
def test_parse_services(raw: str, expected: list[dict[str, Any]]) -> None:
    services = parse_services(decode(raw))
    assert len(services) == len(expected)
    for got, want in zip(services, expected, strict=True):
        check(got, want)


def test_parse_services_skips_an_unreadable_entry_but_keeps_the_rest() -> None:
    raw = ('[{"service": 1, "name": "No rate", "type": "Default", "min": "1", "max": "2"},'
           ' {"service": 2, "name": "Fine", "type": "Default", "rate": "1.5", "min": "1", "max": "2"}]')
    assert [s.service_id for s in parse_services(decode(raw))] == ["2"]


@pytest.mark.parametrize(("raw_type", "expected"), [
    pytest.param("Default", S.DEFAULT, id="Default"),
    pytest.param("default", S.DEFAULT, id="default-lowercase"),
    pytest.param("Package", S.PACKAGE, id="Package"),
    pytest.param("Custom Comments", S.CUSTOM_COMMENTS, id="Custom-Comments"),
    pytest.param("custom_comments", S.CUSTOM_COMMENTS, id="custom_comments"),
    pytest.param("Custom Comments Package", S.CUSTOM_COMMENTS_PACKAGE, id="Custom-Comments-Package"),
    pytest.param("Keywords", S.KEYWORDS, id="Keywords-seed001"),
    pytest.param("Mentions", S.MENTIONS, id="Mentions"),
    pytest.param("Mentions with Hashtags", S.MENTIONS_WITH_HASHTAGS, id="Mentions-with-Hashtags"),
    pytest.param("mentions_with_hashtags", S.MENTIONS_WITH_HASHTAGS, id="mentions_with_hashtags"),
    pytest.param("Mentions Custom List", S.MENTIONS_CUSTOM_LIST, id="Mentions-Custom-List"),
    pytest.param("Mentions Hashtag", S.MENTIONS_HASHTAG, id="Mentions-Hashtag"),
    pytest.param("Mentions User Followers", S.MENTIONS_USER_FOLLOWERS, id="Mentions-User-Followers"),
    pytest.param("Mentions Media Likers", S.MENTIONS_MEDIA_LIKERS, id="Mentions-Media-Likers"),
    pytest.param("Poll", S.POLL, id="Poll"),
    pytest.param("Comment Likes", S.COMMENT_LIKES, id="Comment-Likes"),
    pytest.param("Comment Replies", S.COMMENT_REPLIES, id="Comment-Replies"),
    pytest.param("Invites from Groups", S.INVITES_FROM_GROUPS, id="Invites-from-Groups"),
    pytest.param("Subscriptions", S.SUBSCRIPTIONS, id="Subscriptions"),
    pytest.param("subscriptions", S.SUBSCRIPTIONS, id="subscriptions-lowercase"),
    pytest.param("Story Poll Premium", S.UNKNOWN, id="made-up-type-is-UNKNOWN"),
    pytest.param("Mentions Hashtags Custom", S.UNKNOWN, id="near-miss-type-is-UNKNOWN"),
])
def test_service_type_spellings(raw_type: str, expected: ServiceType) -> None:
    assert ServiceType.parse(raw_type) is expected
    entry = {"service": 9, "name": "X", "type": raw_type, "category": "C", "rate": "1", "min": "1",
             "max": "9"}
    [parsed] = parse_services(decode(json.dumps([entry])))
    assert parsed.type is expected
    assert parsed.raw_type == raw_type  # kept as sent, also when the type is unknown


# --------------------------------------------------------------------------- add

@pytest.mark.parametrize(("raw", "expected"), [
    pytest.param(SEED000_ADD, "23501", id="seed000-add"),
    pytest.param(SEED001_ADD, "23501", id="seed001-add"),
    pytest.param(SEED002_ADD, "23501", id="seed002-add"),
    pytest.param(SEED003_ADD, "23501", id="seed003-add"),
    pytest.param(SEED004_ADD, "32", id="seed004-add-success-wrapper"),
    pytest.param('{"order": "23501"}', "23501", id="notes-order-id-as-string"),
    pytest.param('{"status":"success","order":"32"}', "32", id="notes-success-wrapper-string-id"),
    pytest.param('{"order": "ORD-7f3a9c"}', "ORD-7f3a9c", id="notes-non-numeric-order-id"),
    pytest.param('{"order": 98234710023}', "98234710023", id="notes-non-sequential-large-id"),
])
def test_parse_added(raw: str, expected: str) -> None:
    added = parse_added(decode(raw))
    assert type(added.order_id) is str
    assert added.order_id == expected


@pytest.mark.parametrize("raw", [
    pytest.param('{"status":"success"}', id="success-without-order"),
    pytest.param('{"order": ""}', id="empty-order"),
    pytest.param('{"order": null}', id="null-order"),
    pytest.param("[]", id="a-list"),
])
def test_parse_added_without_an_order_id_is_a_bad_response(raw: str) -> None:
    with pytest.raises(PanelBadResponse):
        parse_added(decode(raw))


# --------------------------------------------------------------------------- status

@pytest.mark.parametrize(("raw", "order_id", "expected"), [
    pytest.param(SEED000_STATUS, "23501", status("23501", O.PENDING, "Pending", "0.65788", 12, 200, "EUR"),
                 id="seed000-status"),
    pytest.param(SEED001_STATUS, "23501", status("23501", O.PARTIAL, "Partial", "0.27819", 3572, 157, "USD"),
                 id="seed001-status"),
    pytest.param(SEED002_STATUS, "23501", status("23501", O.PARTIAL, "Partial", "0.27819", 3572, 157, "USD"),
                 id="seed002-status"),
    pytest.param(SEED003_STATUS, "23501", status("23501", O.PENDING, "Pending", "0.65788", 12, 200, "EUR"),
                 id="seed003-status"),
    pytest.param(SEED004_STATUS, "32", status("32", O.PENDING, "pending", "0.0360", 0, 0, "USD"),
                 id="seed004-status-lowercase-with-order-field"),
    pytest.param('{"charge":"1.2600","start_count":"0","status":"processing","remains":"0"}', "12",
                 status("12", O.PROCESSING, "processing", "1.2600", 0, 0, None), id="notes-no-currency"),
    pytest.param('{"charge":"1.2600","start_count":"0","status":"processing","remains":"0","currency":""}', "12",
                 status("12", O.PROCESSING, "processing", "1.2600", 0, 0, None), id="notes-empty-currency-is-None"),
    pytest.param('{"charge": 0.1, "start_count": 12, "status": "In progress", "remains": 88,'
                 ' "currency": "USD"}', "7", status("7", O.IN_PROGRESS, "In progress", "0.1", 12, 88, "USD"),
                 id="notes-numbers-as-numbers-exact-decimal"),
    pytest.param('{"charge":"0.5","start_count":"1000","status":"Completed","remains":"-15","currency":"USD"}',
                 "7", status("7", O.COMPLETED, "Completed", "0.5", 1000, -15, "USD"),
                 id="notes-remains-negative-string"),
    pytest.param('{"charge":"0.5","start_count":1000,"status":"Completed","remains":-15,"currency":"USD"}',
                 "7", status("7", O.COMPLETED, "Completed", "0.5", 1000, -15, "USD"),
                 id="notes-remains-negative-number"),
    pytest.param('{"charge":"0.5","start_count":"Unknown","status":"In progress","remains":"Unknown",'
                 '"currency":"USD"}',
                 "7", status("7", O.IN_PROGRESS, "In progress", "0.5", None, None, "USD"),
                 id="notes-remains-Unknown-is-None"),
    pytest.param('{"order": "ab-77", "status": "Pending"}', "ab-77",
                 status("ab-77", O.PENDING, "Pending", None, None, None, None),
                 id="notes-non-numeric-id-and-nothing-else-said"),
    pytest.param('{"5": {"charge": "2", "start_count": "3", "status": "Completed", "remains": "0",'
                 ' "currency": "USD"}}',
                 "5", status("5", O.COMPLETED, "Completed", "2", 3, 0, "USD"),
                 id="notes-single-order-keyed-by-id"),
])
def test_parse_status(raw: str, order_id: str, expected: dict[str, Any]) -> None:
    check(parse_status(decode(raw), order_id), expected)


@pytest.mark.parametrize(("raw", "expected"), [
    pytest.param("Pending", (O.PENDING, False), id="Pending"),
    pytest.param("In progress", (O.IN_PROGRESS, False), id="In-progress"),
    pytest.param("Processing", (O.PROCESSING, False), id="Processing"),
    pytest.param("Completed", (O.COMPLETED, True), id="Completed"),
    pytest.param("Partial", (O.PARTIAL, True), id="Partial"),
    pytest.param("Canceled", (O.CANCELED, True), id="Canceled"),
    pytest.param("Cancelled", (O.CANCELED, True), id="Cancelled"),
    pytest.param("Inprogress", (O.IN_PROGRESS, False), id="Inprogress"),
    pytest.param("in_progress", (O.IN_PROGRESS, False), id="in_progress"),
    pytest.param("pending", (O.PENDING, False), id="pending-lowercase"),
    pytest.param("processing", (O.PROCESSING, False), id="processing-lowercase"),
    pytest.param("Refunded", (O.REFUNDED, True), id="Refunded"),
    pytest.param("Fail", (O.FAILED, True), id="Fail"),
    pytest.param("Error", (O.FAILED, True), id="Error-is-an-order-status-not-an-api-error"),
    pytest.param("tasks.status.completed", (O.COMPLETED, True), id="tasks.status.completed"),
    pytest.param("Active", (O.ACTIVE, False), id="subscription-Active"),
    pytest.param("Paused", (O.PAUSED, False), id="subscription-Paused"),
    pytest.param("Expired", (O.EXPIRED, True), id="subscription-Expired"),
    pytest.param(" IN PROGRESS ", (O.IN_PROGRESS, False), id="padded-uppercase"),
    pytest.param("Teleported", (O.UNKNOWN, False), id="made-up-is-UNKNOWN"),
    pytest.param("tasks.status.teleported", (O.UNKNOWN, False), id="made-up-raw-key-is-UNKNOWN"),
    # "success" is the envelope word of the {"status":"success", ...} dialect, not an order state:
    # reading it as Completed (final) would close an order nobody said was done.
    pytest.param("success", (O.UNKNOWN, False), id="envelope-word-success-is-UNKNOWN"),
])
def test_order_status_spellings(raw: str, expected: tuple[OrderStatus, bool]) -> None:
    want, final = expected
    answer = json.dumps({"charge": "0.5", "start_count": "10", "status": raw, "remains": "0",
                         "currency": "USD"})
    info = parse_status(decode(answer), "7")
    assert info.status is want
    assert info.raw_status == raw.strip()
    assert info.status.is_final is final
    assert OrderStatus.parse(raw) is want


@pytest.mark.parametrize(("raw", "ids", "expected"), [
    pytest.param(SEED000_STATUSES, ["1", "10", "100"], {
        "1": status("1", O.IN_PROGRESS, "In progress", "1.03841045", 1, 287, "EUR"),
        "10": status("10", O.PENDING, "Pending", "0.657880205", 12, 23, "EUR"),
        "100": err(PanelNotFound, "Incorrect order ID"),
    }, id="seed000-statuses"),
    pytest.param(SEED001_STATUSES, ["1", "10", "100"], {
        "1": status("1", O.PARTIAL, "Partial", "0.27819", 3572, 157, "USD"),
        "10": err(PanelNotFound, "Incorrect order ID"),
        "100": status("100", O.IN_PROGRESS, "In progress", "1.44219", 234, 10, "USD"),
    }, id="seed001-statuses"),
    pytest.param(SEED002_STATUSES, ["1", "10", "100"], {
        "1": status("1", O.PARTIAL, "Partial", "0.27819", 3572, 157, "USD"),
        "10": err(PanelNotFound, "Incorrect order ID"),
        "100": status("100", O.IN_PROGRESS, "In progress", "1.44219", 234, 10, "USD"),
    }, id="seed002-statuses"),
    pytest.param(SEED003_STATUSES, ["1", "10", "100"], {
        "1": status("1", O.IN_PROGRESS, "In progress", "1.03841045", 1, 287, "EUR"),
        "10": status("10", O.PENDING, "Pending", "0.657880205", 12, 23, "EUR"),
        "100": err(PanelNotFound, "Incorrect order ID"),
    }, id="seed003-statuses"),
    pytest.param(SEED004_STATUSES, ["12", "2", "13"], {
        "12": status("12", O.PROCESSING, "processing", "1.2600", 0, 0, None),
        "2": err(PanelNotFound, "Incorrect order ID"),
        "13": status("13", O.PENDING, "pending", "0.6300", 0, 0, None),
    }, id="seed004-statuses-bare-string-error-no-currency"),
    pytest.param(SEED001_STATUSES, ["1", "10", "100", "7"], {
        "1": status("1", O.PARTIAL, "Partial", "0.27819", 3572, 157, "USD"),
        "10": err(PanelNotFound, "Incorrect order ID"),
        "100": status("100", O.IN_PROGRESS, "In progress", "1.44219", 234, 10, "USD"),
        "7": BAD,
    }, id="seed001-statuses-id-not-mentioned-is-bad-response"),
    pytest.param('{"ab-1": {"charge": 0.25, "start_count": 3, "status": "Canceled", "remains": 100},'
                 ' "ab-2": {"error": "error.incorrect_order_id"}}', ["ab-1", "ab-2"], {
        "ab-1": status("ab-1", O.CANCELED, "Canceled", "0.25", 3, 100, None),
        "ab-2": err(PanelNotFound, "Incorrect order id"),
    }, id="notes-non-numeric-ids-numbers-untranslated-error"),
    pytest.param('{"charge":"0.5","start_count":"10","status":"Completed","remains":"0","currency":"USD"}',
                 ["77"], {
        "77": status("77", O.COMPLETED, "Completed", "0.5", 10, 0, "USD"),
    }, id="notes-one-id-answered-in-single-order-shape"),
    pytest.param('{"78": {"charge":"0.5","start_count":"10","status":"Completed","remains":"0"}}', ["77"], {
        "77": BAD,
    }, id="notes-one-id-answer-about-another-id-is-bad-response"),
    pytest.param('{"78": "Incorrect order ID"}', ["77"], {"77": BAD},
                 id="notes-one-id-bare-string-about-another-id-is-bad-response"),
    pytest.param('{"error": "Invalid API key"}', ["1", "2"], {
        "1": err(PanelAuthError, "Invalid API key"), "2": err(PanelAuthError, "Invalid API key"),
    }, id="notes-whole-request-refused"),
    pytest.param('{"status":"error","message":"Rate limit exceeded"}', ["1", "2"], {
        "1": err(PanelRateLimited, "Rate limit exceeded"), "2": err(PanelRateLimited, "Rate limit exceeded"),
    }, id="notes-whole-request-rate-limited"),
    pytest.param("[]", ["1"], {"1": BAD}, id="notes-empty-list-answer"),
])
def test_parse_statuses(raw: str, ids: list[str], expected: dict[str, Expected]) -> None:
    check_batch(parse_statuses(decode(raw), ids), expected)


# --------------------------------------------------------------------------- refill

@pytest.mark.parametrize(("raw", "order_id", "expected"), [
    pytest.param(SEED000_REFILL, "12", refill("12", "1", REFILL_RECEIVED), id="seed000-refill-with-message"),
    pytest.param(SEED001_REFILL, "12", refill("12", "1"), id="seed001-refill"),
    pytest.param(SEED002_REFILL, "12", refill("12", "1"), id="seed002-refill"),
    pytest.param(SEED003_REFILL, "12", refill("12", "1", REFILL_RECEIVED), id="seed003-refill-with-message"),
    pytest.param(SEED004_REFILL_OK, "32",
                 refill("32", None, "Your order will be refill asap. Thank you for patience."),
                 id="seed004-refill-success-without-refill-id"),
    pytest.param(SEED004_REFILL_BUSY, "32", err(PanelRejected, "Refill already in progress"),
                 id="seed004-refill-already-in-progress"),
    pytest.param(SEED004_REFILL_NOT_FOUND, "32", err(PanelNotFound, "Order ID not Found"),
                 id="seed004-refill-order-id-not-found"),
    pytest.param('{"refill": 42}', "9", refill("9", "42"), id="notes-refill-id-as-number"),
    pytest.param('{"error": "Refill days are over"}', "9", err(PanelRejected, "Refill days are over"),
                 id="notes-refill-days-over"),
    # Neither an id nor a word of success: not evidence that the panel accepted anything.
    pytest.param("{}", "9", BAD, id="notes-empty-object-is-bad-response"),
])
def test_parse_refill(raw: str, order_id: str, expected: Expected) -> None:
    try:
        result: Any = parse_refill(decode(raw), order_id)
    except PanelError as exc:
        result = exc
    check(result, expected)
    if not isinstance(expected, tuple):
        assert result.trackable is (expected["refill_id"] is not None)


@pytest.mark.parametrize(("raw", "ids", "expected"), [
    pytest.param(SEED000_REFILLS, ["1", "2", "3"], {
        "1": refill("1", "1", REFILL_RECEIVED),
        "2": refill("2", "2", REFILL_RECEIVED),
        "3": err(PanelRejected, "Order cannot be refilled"),
    }, id="seed000-refills"),
    pytest.param(SEED001_REFILLS, ["1", "2", "3"], {
        "1": refill("1", "1"), "2": refill("2", "2"), "3": err(PanelNotFound, "Incorrect order ID"),
    }, id="seed001-refills"),
    pytest.param(SEED002_REFILLS, ["1", "2", "3"], {
        "1": refill("1", "1"), "2": refill("2", "2"), "3": err(PanelNotFound, "Incorrect order ID"),
    }, id="seed002-refills"),
    pytest.param(SEED003_REFILLS, ["1", "2", "3"], {
        "1": refill("1", "1", REFILL_RECEIVED),
        "2": refill("2", "2", REFILL_RECEIVED),
        "3": err(PanelRejected, "Order cannot be refilled"),
    }, id="seed003-refills"),
    pytest.param(SEED001_REFILLS, ["1", "4"], {"1": refill("1", "1"), "4": BAD},
                 id="seed001-refills-id-not-mentioned-is-bad-response"),
    pytest.param('{"error": "This action is Invalid"}', ["1", "2"], {
        "1": err(PanelRejected, "This action is Invalid"), "2": err(PanelRejected, "This action is Invalid"),
    }, id="notes-batch-refill-not-offered"),
    pytest.param('{"success": "Your order will be refill asap. Thank you for patience."}', ["5"], {
        "5": refill("5", None, "Your order will be refill asap. Thank you for patience."),
    }, id="notes-one-id-answered-in-single-shape-without-id"),
    pytest.param('{"6": {"refill": "1"}}', ["5"], {"5": BAD}, id="notes-one-id-answer-about-another-id"),
])
def test_parse_refills(raw: str, ids: list[str], expected: dict[str, Expected]) -> None:
    check_batch(parse_refills(decode(raw), ids), expected)


# --------------------------------------------------------------------------- refill status

@pytest.mark.parametrize(("raw", "refill_id", "expected"), [
    pytest.param(SEED000_REFILL_STATUS, "2", refill_status("2", R.COMPLETED, "Completed"),
                 id="seed000-refill-status-with-refill-field"),
    pytest.param(SEED001_REFILL_STATUS, "5", refill_status("5", R.COMPLETED, "Completed"),
                 id="seed001-refill-status"),
    pytest.param(SEED002_REFILL_STATUS, "5", refill_status("5", R.COMPLETED, "Completed"),
                 id="seed002-refill-status"),
    pytest.param(SEED003_REFILL_STATUS, "2", refill_status("2", R.COMPLETED, "Completed"),
                 id="seed003-refill-status-with-refill-field"),
    pytest.param(SEED004_REFILL_STATUS, "5", refill_status("5", R.COMPLETED, "Completed"),
                 id="seed004-refill-status-trailing-comma"),
    pytest.param('{"error": "Refill not found"}', "5", err(PanelNotFound, "Refill not found"),
                 id="notes-refill-not-found"),
    pytest.param('{"status": {"error": "Refill not found"}}', "5", err(PanelNotFound, "Refill not found"),
                 id="notes-refill-not-found-inside-status"),
])
def test_parse_refill_status(raw: str, refill_id: str, expected: Expected) -> None:
    try:
        result: Any = parse_refill_status(decode(raw), refill_id)
    except PanelError as exc:
        result = exc
    check(result, expected)


@pytest.mark.parametrize(("raw", "expected"), [
    pytest.param("Pending", (R.PENDING, False), id="Pending"),
    pytest.param("In progress", (R.IN_PROGRESS, False), id="In-progress"),
    pytest.param("Completed", (R.COMPLETED, True), id="Completed"),
    pytest.param("Rejected", (R.REJECTED, True), id="Rejected"),
    pytest.param("Error", (R.ERROR, True), id="Error-is-a-refill-status-not-an-api-error"),
    pytest.param("in_progress", (R.IN_PROGRESS, False), id="in_progress"),
    pytest.param("Teleported", (R.UNKNOWN, False), id="made-up-is-UNKNOWN"),
])
def test_refill_status_spellings(raw: str, expected: tuple[RefillStatus, bool]) -> None:
    want, final = expected
    info = parse_refill_status(decode(json.dumps({"refill": 8, "status": raw})), "8")
    assert info.status is want
    assert info.raw_status == raw
    assert info.refill_id == "8"
    assert info.status.is_final is final
    assert RefillStatus.parse(raw) is want


REFILL_STATUSES_EXPECTED: dict[str, Expected] = {
    "1": refill_status("1", R.COMPLETED, "Completed"),
    "2": refill_status("2", R.REJECTED, "Rejected"),
    "3": err(PanelNotFound, "Refill not found"),
}


@pytest.mark.parametrize(("raw", "ids", "expected"), [
    pytest.param(SEED000_REFILL_STATUSES, ["1", "2", "3"], REFILL_STATUSES_EXPECTED,
                 id="seed000-refill-statuses"),
    pytest.param(SEED001_REFILL_STATUSES, ["1", "2", "3"], REFILL_STATUSES_EXPECTED,
                 id="seed001-refill-statuses"),
    pytest.param(SEED002_REFILL_STATUSES, ["1", "2", "3"], REFILL_STATUSES_EXPECTED,
                 id="seed002-refill-statuses"),
    pytest.param(SEED003_REFILL_STATUSES, ["1", "2", "3"], REFILL_STATUSES_EXPECTED,
                 id="seed003-refill-statuses"),
    pytest.param(SEED001_REFILL_STATUSES, ["2", "9"],
                 {"2": refill_status("2", R.REJECTED, "Rejected"), "9": BAD},
                 id="seed001-refill-statuses-id-not-mentioned-is-bad-response"),
    pytest.param('[{"refill":"r-1","status":"In progress"},{"refill":"r-2","status":"Error"}]',
                 ["r-1", "r-2"], {
                     "r-1": refill_status("r-1", R.IN_PROGRESS, "In progress"),
                     "r-2": refill_status("r-2", R.ERROR, "Error"),
                 }, id="notes-string-refill-ids"),
])
def test_parse_refill_statuses(raw: str, ids: list[str], expected: dict[str, Expected]) -> None:
    check_batch(parse_refill_statuses(decode(raw), ids), expected)


# --------------------------------------------------------------------------- cancel

@pytest.mark.parametrize(("raw", "ids", "expected"), [
    pytest.param(SEED000_CANCELS, ["9", "2"], {
        "9": err(PanelNotFound, "Incorrect order ID"),
        "2": cancel("2", "Your cancellation request has been received."),
    }, id="seed000-cancels-message-string"),
    pytest.param(SEED001_CANCELS, ["9", "2"], {
        "9": err(PanelNotFound, "Incorrect order ID"), "2": cancel("2"),
    }, id="seed001-cancels"),
    pytest.param(SEED002_CANCELS, ["9", "2"], {
        "9": err(PanelNotFound, "Incorrect order ID"), "2": cancel("2"),
    }, id="seed002-cancels"),
    pytest.param(SEED003_CANCELS, ["9", "2"], {
        "9": err(PanelNotFound, "Incorrect order ID"),
        "2": cancel("2", "Your cancellation request has been received."),
    }, id="seed003-cancels-message-string"),
    pytest.param(SEED001_CANCELS, ["2", "3"], {"2": cancel("2"), "3": BAD},
                 id="seed001-cancels-id-not-mentioned-is-bad-response"),
    pytest.param('[{"order": 4, "cancel": {"error": "Order already completed"}}]', ["4"], {
        "4": err(PanelRejected, "Order already completed"),
    }, id="notes-cancel-order-already-completed"),
])
def test_parse_cancels(raw: str, ids: list[str], expected: dict[str, Expected]) -> None:
    check_batch(parse_cancels(decode(raw), ids), expected)


@pytest.mark.parametrize(("raw", "expected"), [
    pytest.param(SEED004_CANCEL_OK, cancel("32", "Your order will be cancel asap. Thank you for patience."),
                 id="seed004-cancel-success"),
    pytest.param(SEED004_CANCEL_BUSY, err(PanelRejected, "Cancel request already in progress please wait"),
                 id="seed004-cancel-already-in-progress"),
    pytest.param(SEED004_CANCEL_NOT_FOUND, err(PanelNotFound, "Order ID not Found"),
                 id="seed004-cancel-order-id-not-found"),
    pytest.param('{"cancel": 1}', cancel("32"), id="notes-single-cancel-1"),
])
def test_parse_cancel_single_order_form(raw: str, expected: Expected) -> None:
    try:
        result: Any = parse_cancel(decode(raw), "32")
    except PanelError as exc:
        result = exc
    check(result, expected)


# --------------------------------------------------------------------------- balance

@pytest.mark.parametrize(("raw", "expected"), [
    pytest.param(SEED000_BALANCE, balance("128.60633", "EUR"), id="seed000-balance"),
    pytest.param(SEED001_BALANCE, balance("100.84292", "USD"), id="seed001-balance"),
    pytest.param(SEED002_BALANCE, balance("100.84292", "USD"), id="seed002-balance"),
    pytest.param(SEED003_BALANCE, balance("128.60633", "EUR"), id="seed003-balance"),
    pytest.param(SEED004_BALANCE, balance("0.03", "USD"), id="seed004-balance-success-wrapper"),
    pytest.param('{"balance": 100.84292, "currency": "USD"}', balance("100.84292", "USD"),
                 id="notes-balance-as-number"),
    pytest.param('{"balance": 0.1, "currency": "USD"}', balance("0.1", "USD"), id="notes-0.1-stays-exact"),
    pytest.param('{"balance": "0.12345678", "currency": "USD"}', balance("0.12345678", "USD"),
                 id="notes-8-decimals"),
    pytest.param('{"balance": "15.1234567", "currency": "RUB"}', balance("15.1234567", "RUB"),
                 id="notes-7-decimals"),
    pytest.param('{"balance": "12.5", "currency": "USDT"}', balance("12.5", "USDT"),
                 id="notes-odd-currency-USDT"),
    pytest.param('{"balance": "250", "currency": "\u20ba"}', balance("250", "\u20ba"),
                 id="notes-odd-currency-sign"),
    pytest.param('{"balance": 7}', balance("7", None), id="notes-integer-without-currency"),
    pytest.param('{"status": "success", "balance": "3.5", "currency": ""}', balance("3.5", None),
                 id="notes-empty-currency-is-None"),
])
def test_parse_balance(raw: str, expected: dict[str, Any]) -> None:
    result = parse_balance(decode(raw))
    check(result, expected)
    assert str(result.amount) == str(expected["amount"])  # not even the trailing digits are rounded


# --------------------------------------------------------------------------- errors

ERROR_MESSAGES = [
    # key
    ("Invalid API key", PanelAuthError),
    ("Incorrect API key", PanelAuthError),
    ("API key invalid", PanelAuthError),
    ("Your account has been suspended", PanelAuthError),
    # request
    ("Incorrect request", PanelRejected),
    ("This action is Invalid", PanelRejected),
    # service
    ("Incorrect service ID", PanelRejected),
    ("Service not found or inactive", PanelRejected),
    # quantity
    ("Quantity less than minimal 100", PanelRejected),
    ("Quantity more than maximum 5000", PanelRejected),
    ("Incorrect quantity", PanelRejected),
    ("Quantity must be a multiple of 10", PanelRejected),
    # funds
    ("Not enough funds on balance", PanelFundsError),
    ("Your balance is insufficient.", PanelFundsError),
    ("neworder.error.not_enough_funds", PanelFundsError),
    # link
    ("Incorrect link", PanelRejected),
    ("Bad link", PanelRejected),
    ("You have active order with this link. Please wait until order being completed.", PanelRejected),
    # order / refill / cancel
    ("Incorrect order ID", PanelNotFound),
    ("Order not found.", PanelNotFound),
    ("Order ID not Found", PanelNotFound),
    ("Refill not found", PanelNotFound),
    ("Order cannot be refilled", PanelRejected),
    ("Refill days are over", PanelRejected),
    ("Order already completed", PanelRejected),
    ("Refill already in progress", PanelRejected),
    ("Cancel request already in progress please wait", PanelRejected),
    # rate limiting
    ("Rate limit exceeded", PanelRateLimited),
    # untranslated keys and padding
    ("error.incorrect_order_id", PanelNotFound),
    ("  Incorrect order ID  ", PanelNotFound),
    ("   Not enough funds on balance ", PanelFundsError),
]
ERROR_CASES = [pytest.param(message, cls, id=message.strip()) for message, cls in ERROR_MESSAGES]
HUMANISED = {
    "neworder.error.not_enough_funds": "Not enough funds",
    "error.incorrect_order_id": "Incorrect order id",
    "  Incorrect order ID  ": "Incorrect order ID",
    "   Not enough funds on balance ": "Not enough funds on balance",
}


@pytest.mark.parametrize(("message", "cls"), ERROR_CASES)
def test_classify_error(message: str, cls: type[PanelError]) -> None:
    error = classify_error(message)
    assert type(error) is cls  # exact: "Rejected" must not be a NotFound and vice versa
    assert error.panel_message == HUMANISED.get(message, message)


@pytest.mark.parametrize(("message", "cls"), ERROR_CASES)
def test_error_answer_to_add_raises_its_class(message: str, cls: type[PanelError]) -> None:
    with pytest.raises(PanelError) as caught:
        parse_added(decode(json.dumps({"error": message})))
    assert type(caught.value) is cls
    assert caught.value.panel_message == HUMANISED.get(message, message)


ERROR_SHAPES = [
    pytest.param('{"error": "Incorrect order ID"}', "Incorrect order ID", PanelNotFound, id="error-field"),
    pytest.param('{"status":"error","message":"Invalid API key"}', "Invalid API key", PanelAuthError,
                 id="status-error-message"),
    pytest.param('{"status":"error","code":3,"message":"Not enough funds on balance"}',
                 "Not enough funds on balance", PanelFundsError, id="status-error-with-numeric-code"),
    pytest.param('{"error": 101, "message": "Incorrect service ID"}', "Incorrect service ID", PanelRejected,
                 id="numeric-error-code-and-message"),
    pytest.param('{"error": "Rate limit exceeded", "code": 429}', "Rate limit exceeded", PanelRateLimited,
                 id="error-with-numeric-code-field"),
    pytest.param('{"error": "  error.incorrect_order_id  "}', "Incorrect order id", PanelNotFound,
                 id="padded-untranslated-key"),
    pytest.param('"Incorrect request"', "Incorrect request", PanelRejected, id="bare-json-string"),
]

SINGLE_PARSERS = [
    pytest.param(parse_services, id="services"),
    pytest.param(parse_added, id="add"),
    pytest.param(lambda p: parse_status(p, "1"), id="status"),
    pytest.param(lambda p: parse_refill(p, "1"), id="refill"),
    pytest.param(lambda p: parse_refill_status(p, "1"), id="refill_status"),
    pytest.param(lambda p: parse_cancel(p, "1"), id="cancel"),
    pytest.param(parse_balance, id="balance"),
]


@pytest.mark.parametrize(("raw", "message", "cls"), ERROR_SHAPES)
def test_error_message_reads_every_error_shape(raw: str, message: str, cls: type[PanelError]) -> None:
    assert humanise(error_message(decode(raw)) or "") == message


@pytest.mark.parametrize("parse", SINGLE_PARSERS)
@pytest.mark.parametrize(("raw", "message", "cls"), ERROR_SHAPES)
def test_single_parsers_raise_the_error_answer(raw: str, message: str, cls: type[PanelError],
                                               parse: Any) -> None:
    with pytest.raises(PanelError) as caught:
        parse(decode(raw))
    assert type(caught.value) is cls
    assert caught.value.panel_message == message


@pytest.mark.parametrize("parse", [
    pytest.param(parse_statuses, id="statuses"),
    pytest.param(parse_refills, id="refills"),
    pytest.param(parse_refill_statuses, id="refill_statuses"),
    pytest.param(parse_cancels, id="cancels"),
])
@pytest.mark.parametrize(("raw", "message", "cls"), ERROR_SHAPES)
def test_batch_parsers_give_every_id_the_whole_request_error(raw: str, message: str, cls: type[PanelError],
                                                             parse: Any) -> None:
    results = parse(decode(raw), ["1", "2"])
    assert list(results) == ["1", "2"]
    for result in results.values():
        if cls is PanelNotFound:  # names no order: not "not found" for each id, only unanswered
            assert type(result) is PanelBadResponse
            assert result.message == f"the panel refused the whole request: {message}"
            continue
        assert type(result) is cls
        assert result.panel_message == message
    [alone] = parse(decode(raw), ["1"]).values()  # for one id, the error is that id's
    assert type(alone) is cls and alone.panel_message == message


@pytest.mark.parametrize("raw", [
    pytest.param(SEED004_ADD, id="seed004-success-wrapper"),
    pytest.param(SEED004_BALANCE, id="seed004-balance-success-wrapper"),
    pytest.param(SEED001_STATUS, id="seed001-status"),
    pytest.param('{"charge":"0","status":"Error","remains":"100"}', id="order-status-Error-is-data"),
    pytest.param('{"status":"success","data":"Empty Data"}', id="empty-data"),
    pytest.param(SEED000_REFILLS, id="seed000-batch-list"),
])
def test_error_message_is_none_for_answers_that_are_not_errors(raw: str) -> None:
    assert error_message(decode(raw)) is None


@pytest.mark.parametrize(("message", "http_status", "cls", "shown"), [
    pytest.param("", 429, PanelRateLimited, "HTTP 429", id="http-429-empty-body"),
    pytest.param("Too Many Requests", 429, PanelRateLimited, "Too Many Requests", id="http-429-with-text"),
    pytest.param("Rate limit exceeded", 200, PanelRateLimited, "Rate limit exceeded",
                 id="rate-limit-with-http-200"),
    pytest.param("", 401, PanelAuthError, "HTTP 401", id="http-401"),
    pytest.param("Bad link", 400, PanelRejected, "Bad link", id="http-400-keeps-the-message-class"),
])
def test_classify_error_with_http_status(message: str, http_status: int, cls: type[PanelError],
                                         shown: str) -> None:
    error = classify_error(message, http_status=http_status)
    assert type(error) is cls
    assert error.panel_message == shown


@pytest.mark.parametrize(("message", "expected"), [
    pytest.param("error.incorrect_order_id", "Incorrect order id", id="untranslated-key"),
    pytest.param("neworder.error.not_enough_funds", "Not enough funds", id="namespaced-untranslated-key"),
    pytest.param("  Incorrect   order ID \n", "Incorrect order ID", id="padded-and-inner-spaces"),
    pytest.param("Order not found.", "Order not found.", id="sentence-unchanged"),
])
def test_humanise(message: str, expected: str) -> None:
    assert humanise(message) == expected


# --------------------------------------------------------------------------- decoding

CLOUDFLARE_502 = """<!DOCTYPE html>
<html>
<head><title>example.com | 502: Bad gateway</title></head>
<body><h1>Bad gateway</h1><p>Error code 502</p><p>Cloudflare Ray ID: 7d1f2e3a4b5c6d7e</p></body>
</html>
"""


@pytest.mark.parametrize(("body", "http_status"), [
    pytest.param(CLOUDFLARE_502.encode(), 502, id="html-502-page"),
    pytest.param(b"<html><body>Maintenance</body></html>", 200, id="html-page-with-http-200"),
    pytest.param(b"", 200, id="empty-body"),
    pytest.param(b" \r\n\t ", 200, id="whitespace-only-body"),
    pytest.param(b"\xef\xbb\xbf", 200, id="bom-only-body"),
    pytest.param(b'{"order": 23501', 200, id="broken-json-truncated"),
    pytest.param(b'{"order": 23501}}', 200, id="broken-json-extra-brace"),
    pytest.param(b"Service Unavailable", 503, id="plain-text"),
])
def test_decode_body_refuses_what_is_not_json(body: bytes, http_status: int) -> None:
    with pytest.raises(PanelBadResponse) as caught:
        decode_body(body, http_status)
    assert caught.value.http_status == http_status


def test_decode_body_names_the_html_page() -> None:
    with pytest.raises(PanelBadResponse, match="502: Bad gateway"):
        decode_body(CLOUDFLARE_502.encode(), 502)


@pytest.mark.parametrize(("body", "expected"), [
    pytest.param(b'\xef\xbb\xbf{"order": 23501}', {"order": 23501}, id="utf8-bom"),
    pytest.param(b'\r\n\r\n  {"order": 23501}  \r\n', {"order": 23501}, id="surrounding-whitespace"),
    pytest.param(b'{\r\n    "status": "Completed",\r\n}', {"status": "Completed"},
                 id="trailing-comma-object"),
    pytest.param(b'[{"refill": 1, "status": "Completed",},]', [{"refill": 1, "status": "Completed"}],
                 id="trailing-commas-nested"),
    pytest.param(b'{"balance": 0.1, "rate": 100.84292}',
                 {"balance": Decimal("0.1"), "rate": Decimal("100.84292")},
                 id="floats-decode-as-exact-decimals"),
    pytest.param('{"name": "Подписчики 👍, 100%"}'.encode(), {"name": "Подписчики 👍, 100%"}, id="utf8-text"),
])
def test_decode_body_tolerates(body: bytes, expected: Any) -> None:
    decoded = decode_body(body, 200)
    assert decoded == expected
    if isinstance(expected, dict):
        assert {k: type(v) for k, v in decoded.items()} == {k: type(v) for k, v in expected.items()}
