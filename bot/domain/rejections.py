"""What a panel's refusal of an order means for the customer, in a few kinds they can act on.

Panels word refusals in their own English (../shared/panel-api-notes.md lists what is seen);
the customer is told the kind in plain words, the panel's own message goes to the admins.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Rejection(StrEnum):
    LINK = "link"  # the link was refused: wrong, private
    ACTIVE = "active"  # an earlier order for the same link is still running
    QUANTITY = "quantity"  # outside the service's range, or not a multiple it takes
    SERVICE = "service"  # disabled, unknown
    OTHER = "other"


_RULES = (  # first match wins: "active order with this link" is about the order, not the link
    (Rejection.ACTIVE, re.compile(r"active order|already (?:have|has) an? (?:active|running)|wait until")),
    (Rejection.LINK, re.compile(r"\blink\b|\burl\b|username|profile|private")),
    (Rejection.QUANTITY, re.compile(r"quantity|minimal|minimum|maximum|multiple of")),
    (Rejection.SERVICE, re.compile(r"service")),
)


def classify_rejection(panel_message: str) -> Rejection:
    words = " ".join(panel_message.lower().replace("_", " ").replace(".", " ").split())
    return next((kind for kind, rule in _RULES if rule.search(words)), Rejection.OTHER)
