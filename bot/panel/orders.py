"""What `add` sends for each service type.

`ORDER_FIELDS` is the one table of which fields each type takes (shared/panel-api-notes.md,
"Fields of add by service type"); the conversation asks for exactly these, and
`OrderRequest.to_form()` sends exactly these, so the two can never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

from bot.panel.models import ServiceType

LIST_FIELDS = frozenset({"comments", "usernames", "hashtags", "keywords", "groups", "answers"})


@dataclass(frozen=True)
class TypeFields:
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    # At least one of these groups must be complete (Poll: an answer number, or question + answers).
    one_of: tuple[tuple[str, ...], ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        grouped = tuple(name for group in self.one_of for name in group)
        return self.required + grouped + self.optional


ORDER_FIELDS: dict[ServiceType, TypeFields] = {
    ServiceType.DEFAULT: TypeFields(("link", "quantity"), optional=("runs", "interval")),
    ServiceType.PACKAGE: TypeFields(("link",)),
    ServiceType.CUSTOM_COMMENTS: TypeFields(("link", "comments")),
    ServiceType.CUSTOM_COMMENTS_PACKAGE: TypeFields(("link", "comments")),
    ServiceType.KEYWORDS: TypeFields(("link", "quantity", "keywords")),
    ServiceType.MENTIONS: TypeFields(("link", "quantity", "usernames")),
    ServiceType.MENTIONS_WITH_HASHTAGS: TypeFields(("link", "quantity", "usernames", "hashtags")),
    ServiceType.MENTIONS_CUSTOM_LIST: TypeFields(("link", "usernames")),
    ServiceType.MENTIONS_HASHTAG: TypeFields(("link", "quantity", "hashtag")),
    ServiceType.MENTIONS_USER_FOLLOWERS: TypeFields(("link", "quantity", "username")),
    ServiceType.MENTIONS_MEDIA_LIKERS: TypeFields(("link", "quantity", "media")),
    ServiceType.POLL: TypeFields(("link", "quantity"),
                                 one_of=(("answer_number",), ("question", "answers"))),
    ServiceType.COMMENT_LIKES: TypeFields(("link", "quantity", "username")),
    ServiceType.COMMENT_REPLIES: TypeFields(("link", "comments"), optional=("username",)),
    ServiceType.INVITES_FROM_GROUPS: TypeFields(("link", "quantity", "groups")),
    ServiceType.SUBSCRIPTIONS: TypeFields(("username", "min", "max", "delay"),
                                          optional=("posts", "old_posts", "expiry")),
}


@dataclass(frozen=True)
class OrderRequest:
    """A new order, with the fields its service type needs (the others stay None)."""

    service_id: str
    service_type: ServiceType
    link: str | None = None
    quantity: int | None = None
    runs: int | None = None
    interval: int | None = None  # minutes between drip-feed runs
    comments: tuple[str, ...] | None = None
    usernames: tuple[str, ...] | None = None
    hashtags: tuple[str, ...] | None = None
    keywords: tuple[str, ...] | None = None
    groups: tuple[str, ...] | None = None
    answers: tuple[str, ...] | None = None
    hashtag: str | None = None
    username: str | None = None
    media: str | None = None
    question: str | None = None
    answer_number: int | None = None
    min: int | None = None
    max: int | None = None
    posts: int | None = None
    old_posts: int | None = None
    delay: int | None = None  # minutes
    expiry: date | None = None

    def to_form(self) -> dict[str, str]:
        """The `add` form fields (without key and action).

        Raises ValueError naming what is missing; callers validate user input long before
        this, so here it means a programming error, never something to send to a panel.
        """
        spec = ORDER_FIELDS.get(self.service_type)
        if spec is None:
            raise ValueError(f"cannot order services of type {self.service_type.value!r}")
        present = {f.name for f in fields(self) if self._has(f.name)}
        missing = [name for name in spec.required if name not in present]
        if spec.one_of and not any(set(group) <= present for group in spec.one_of):
            missing.append(" or ".join("+".join(group) for group in spec.one_of))
        if missing:
            raise ValueError(f"{self.service_type.value} order needs: {', '.join(missing)}")
        if ("runs" in present) != ("interval" in present):
            raise ValueError("drip-feed needs both runs and interval")
        form = {"service": self.service_id}
        for name in spec.all:
            if name in present:
                form[name] = self._encode(name)
        return form

    def _has(self, name: str) -> bool:
        value = getattr(self, name)
        if name in LIST_FIELDS:
            return bool(value)
        if isinstance(value, str):
            return bool(value.strip())
        return value is not None

    def _encode(self, name: str) -> str:
        value = getattr(self, name)
        if name in LIST_FIELDS:
            return "\n".join(item.strip() for item in value if item.strip())
        if isinstance(value, date):
            return value.strftime("%d/%m/%Y")
        return str(value).strip()
