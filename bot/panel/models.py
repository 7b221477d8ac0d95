"""Typed, normalised views of what panels answer.

Every model is built with `Model.model_validate(raw_json_object)`: the validators below accept
every spelling listed in shared/panel-api-notes.md, so the rest of the bot sees one shape:
money as Decimal, ids as str, statuses as enums that keep the raw string next to them.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from bot.panel.values import (
    normalise_word,
    to_currency,
    to_decimal,
    to_flag,
    to_id,
    to_int,
    to_note,
    to_optional_decimal,
    to_optional_int,
    to_text,
)

Money = Annotated[Decimal, BeforeValidator(to_decimal)]
OptionalMoney = Annotated[Decimal | None, BeforeValidator(to_optional_decimal)]
Count = Annotated[int, BeforeValidator(to_int)]
OptionalCount = Annotated[int | None, BeforeValidator(to_optional_int)]
Flag = Annotated[bool, BeforeValidator(to_flag)]
Id = Annotated[str, BeforeValidator(to_id)]
Text = Annotated[str, BeforeValidator(to_text)]
Note = Annotated[str, BeforeValidator(to_note)]


class ServiceType(StrEnum):
    DEFAULT = "Default"
    PACKAGE = "Package"
    CUSTOM_COMMENTS = "Custom Comments"
    CUSTOM_COMMENTS_PACKAGE = "Custom Comments Package"
    KEYWORDS = "Keywords"
    MENTIONS = "Mentions"
    MENTIONS_WITH_HASHTAGS = "Mentions with Hashtags"
    MENTIONS_CUSTOM_LIST = "Mentions Custom List"
    MENTIONS_HASHTAG = "Mentions Hashtag"
    MENTIONS_USER_FOLLOWERS = "Mentions User Followers"
    MENTIONS_MEDIA_LIKERS = "Mentions Media Likers"
    POLL = "Poll"
    COMMENT_LIKES = "Comment Likes"
    COMMENT_REPLIES = "Comment Replies"
    INVITES_FROM_GROUPS = "Invites from Groups"
    SUBSCRIPTIONS = "Subscriptions"
    # A type this bot does not know how to order: listed, never guessed at.
    UNKNOWN = "Unknown"

    @classmethod
    def parse(cls, raw: str) -> ServiceType:
        return _SERVICE_TYPES.get(normalise_word(raw), cls.UNKNOWN)


_SERVICE_TYPES = {normalise_word(t.value): t for t in ServiceType if t is not ServiceType.UNKNOWN}
_SERVICE_TYPES |= {"subscription": ServiceType.SUBSCRIPTIONS, "comment like": ServiceType.COMMENT_LIKES,
                   "comment reply": ServiceType.COMMENT_REPLIES, "keyword": ServiceType.KEYWORDS,
                   "custom comment": ServiceType.CUSTOM_COMMENTS}


def _status_key(raw: str) -> str:
    """"tasks.status.completed" → "completed"; "In_progress" → "in progress"."""
    text = raw.strip()
    if "." in text:
        text = text.rsplit(".", 1)[-1]
    return normalise_word(text)


class OrderStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in progress"
    PROCESSING = "processing"
    COMPLETED = "completed"
    PARTIAL = "partial"
    CANCELED = "canceled"
    REFUNDED = "refunded"
    FAILED = "failed"
    # Subscriptions
    ACTIVE = "active"
    PAUSED = "paused"
    EXPIRED = "expired"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, raw: str) -> OrderStatus:
        return _ORDER_STATUSES.get(_status_key(raw), cls.UNKNOWN)

    @property
    def is_final(self) -> bool:
        """No further change is expected from the panel (subscriptions end as Expired)."""
        return self in _FINAL_ORDER_STATUSES


_ORDER_STATUSES = {s.value: s for s in OrderStatus if s is not OrderStatus.UNKNOWN} | {
    "inprogress": OrderStatus.IN_PROGRESS,
    "progress": OrderStatus.IN_PROGRESS,
    "in process": OrderStatus.PROCESSING,
    "cancelled": OrderStatus.CANCELED,
    "cancel": OrderStatus.CANCELED,
    "refund": OrderStatus.REFUNDED,
    "fail": OrderStatus.FAILED,
    "error": OrderStatus.FAILED,
    "complete": OrderStatus.COMPLETED,
}
_FINAL_ORDER_STATUSES = frozenset({OrderStatus.COMPLETED, OrderStatus.PARTIAL, OrderStatus.CANCELED,
                                   OrderStatus.REFUNDED, OrderStatus.FAILED, OrderStatus.EXPIRED})


class RefillStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in progress"
    COMPLETED = "completed"
    REJECTED = "rejected"
    ERROR = "error"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, raw: str) -> RefillStatus:
        return _REFILL_STATUSES.get(_status_key(raw), cls.UNKNOWN)

    @property
    def is_final(self) -> bool:
        return self in {RefillStatus.COMPLETED, RefillStatus.REJECTED, RefillStatus.ERROR}


_REFILL_STATUSES = {s.value: s for s in RefillStatus if s is not RefillStatus.UNKNOWN} | {
    "inprogress": RefillStatus.IN_PROGRESS,
    "processing": RefillStatus.IN_PROGRESS,
    "cancelled": RefillStatus.REJECTED,
    "canceled": RefillStatus.REJECTED,
    "fail": RefillStatus.ERROR,
    "failed": RefillStatus.ERROR,
}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Service(_Model):
    service_id: Id = Field(alias="service")
    name: Text
    type: ServiceType = ServiceType.DEFAULT
    raw_type: str = ""
    category: Text = ""
    rate: Money
    min: Count
    max: Count
    refill: Flag = False
    cancel: Flag = False
    dripfeed: Flag = False
    description: Note = ""
    average_time: Note = ""

    @model_validator(mode="before")
    @classmethod
    def _read_type(cls, data: Any) -> Any:
        if isinstance(data, dict):
            raw = to_text(data.get("type"))[:RAW_STATUS_LIMIT] or ServiceType.DEFAULT.value
            data = {**data, "type": ServiceType.parse(raw), "raw_type": raw}
        return data


RAW_STATUS_LIMIT = 100  # a status word as the panel spelled it, kept for people to read


class OrderStatusInfo(_Model):
    """One order as the panel sees it. `remains` may be negative (over-delivery) or None."""

    order_id: Id
    status: OrderStatus
    raw_status: str
    charge: OptionalMoney = None
    start_count: OptionalCount = None
    remains: OptionalCount = None
    currency: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_status(cls, data: Any) -> Any:
        if isinstance(data, dict):
            raw = to_text(data.get("status"))[:RAW_STATUS_LIMIT]
            data = {**data, "status": OrderStatus.parse(raw), "raw_status": raw,
                    "currency": to_currency(data.get("currency"))}
        return data


class AddedOrder(_Model):
    order_id: Id


class RefillRequested(_Model):
    """A refill the panel accepted.

    Some panels answer `{"success": "..."}` without a refill id: then `refill_id` is None and
    the refill can only be followed through the order's own status (`trackable` is False).
    """

    order_id: Id
    refill_id: Id | None = None
    message: Text = ""

    @property
    def trackable(self) -> bool:
        return self.refill_id is not None


class RefillStatusInfo(_Model):
    refill_id: Id
    status: RefillStatus
    raw_status: str

    @model_validator(mode="before")
    @classmethod
    def _read_status(cls, data: Any) -> Any:
        if isinstance(data, dict):
            raw = to_text(data.get("status"))[:RAW_STATUS_LIMIT]
            data = {**data, "status": RefillStatus.parse(raw), "raw_status": raw}
        return data


class CancelRequested(_Model):
    order_id: Id
    message: Text = ""


class Balance(_Model):
    amount: Money = Field(alias="balance")
    currency: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_currency(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {**data, "currency": to_currency(data.get("currency"))}
        return data
