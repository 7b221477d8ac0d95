"""The sandbox's demo catalogues, with names as messy as real panels write them (emoji, brackets,
`<`, `&`, `_`, `*`): DEMO_CATALOGUE has one service of every type at least; SANDBOX_PANELS are
the three demo panels of sandbox mode, whose catalogues overlap the way real panels' do."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.panel.models import ServiceType as T
from bot.panel.sandbox.dialect import Dialect


@dataclass(frozen=True)
class DemoService:
    service_id: int
    name: str
    type: T
    category: str
    rate: Decimal  # per 1000, or per package for the Package types
    min: int
    max: int
    refill: bool = False
    cancel: bool = False
    dripfeed: bool = False
    description: str = ""
    average_time: int = 0  # minutes


def _s(service_id: int, name: str, type_: T, category: str, rate: str, min_: int, max_: int,
       *, refill: bool = False, cancel: bool = False, dripfeed: bool = False, description: str = "",
       average_time: int = 60) -> DemoService:
    return DemoService(service_id, name, type_, category, Decimal(rate), min_, max_, refill, cancel,
                       dripfeed, description, average_time)


DEMO_CATALOGUE: tuple[DemoService, ...] = (
    _s(101, "📸 Instagram Followers [Real] <Max 10K> ⚡ R30", T.DEFAULT, "📸 Instagram Followers", "0.90",
       50, 10000, refill=True, cancel=True, dripfeed=True,
       description="Real-looking profiles. Start 0–1 h, speed 5K/day. 30 days refill & cancel button."),
    _s(102, "Instagram Followers – Cheapest_Bots *No Refill*", T.DEFAULT, "📸 Instagram Followers", "0.12",
       100, 50000, description="Bots, drops possible. No refill, no cancel."),
    _s(103, "❤️ Instagram Likes & Views [Instant]", T.DEFAULT, "❤️ Instagram Likes", "0.05", 10, 100000,
       cancel=True, dripfeed=True, description="Instant start. Likes <b>only</b> on public posts."),
    _s(104, "🎁 Instagram Starter Package (1K Likes + 500 Followers)", T.PACKAGE, "❤️ Instagram Likes",
       "2.50", 1, 1, description="One package per link."),
    _s(201, "💬 Instagram Custom Comments [Worldwide]", T.CUSTOM_COMMENTS, "💬 Instagram Comments", "12.00",
       5, 500, cancel=True, description="One comment per line; the number of lines is the quantity."),
    _s(202, "💬 Custom Comments Package — 10 comments", T.CUSTOM_COMMENTS_PACKAGE, "💬 Instagram Comments",
       "1.80", 1, 10, description="Up to 10 comments, flat price."),
    _s(203, "🔍 Instagram Keyword Search Traffic", T.KEYWORDS, "💬 Instagram Comments", "3.20", 100, 10000,
       description="Visits from people who searched your keywords (one per line)."),
    _s(301, "@ Mentions [Random Users]", T.MENTIONS, "📣 Instagram Mentions", "4.00", 100, 20000,
       description="Mentions of the given usernames."),
    _s(302, "@ Mentions with #Hashtags", T.MENTIONS_WITH_HASHTAGS, "📣 Instagram Mentions", "4.50", 100,
       20000),
    _s(303, "@ Mentions – Custom List", T.MENTIONS_CUSTOM_LIST, "📣 Instagram Mentions", "6.00", 10, 5000,
       description="Mentions of exactly the usernames you list (one per line)."),
    _s(304, "@ Mentions of a #Hashtag's posters", T.MENTIONS_HASHTAG, "📣 Instagram Mentions", "3.50", 100,
       20000),
    _s(305, "@ Mentions of a user's Followers", T.MENTIONS_USER_FOLLOWERS, "📣 Instagram Mentions", "3.80",
       100, 20000),
    _s(306, "@ Mentions of a Media's Likers", T.MENTIONS_MEDIA_LIKERS, "📣 Instagram Mentions", "3.90", 100,
       20000),
    _s(401, "🗳 Telegram Poll Votes", T.POLL, "✈️ Telegram", "1.20", 50, 20000, cancel=True),
    _s(402, "✈️ Telegram Channel Members [Non-Drop] R60", T.DEFAULT, "✈️ Telegram", "1.50", 100, 50000,
       refill=True, cancel=True, dripfeed=True, description="Refill for 60 days."),
    _s(403, "✈️ Telegram Group Invites from Groups", T.INVITES_FROM_GROUPS, "✈️ Telegram", "9.00", 100,
       5000, description="Invites members of the groups you list (one per line)."),
    _s(501, "▶️ YouTube Comment Likes [Fast]", T.COMMENT_LIKES, "▶️ YouTube", "2.20", 20, 10000, refill=True),
    _s(502, "▶️ YouTube Comment Replies (Custom)", T.COMMENT_REPLIES, "▶️ YouTube", "15.00", 5, 1000),
    _s(503, "▶️ YouTube Views [HR 60%+] <Lifetime>", T.DEFAULT, "▶️ YouTube", "1.10", 500, 1000000,
       refill=True, cancel=True, dripfeed=True),
    _s(601, "🔁 Instagram Auto-Likes Subscription [Future Posts]", T.SUBSCRIPTIONS, "🔁 Subscriptions",
       "0.40", 50, 5000, description="Likes on new posts for the chosen period."),
    _s(701, "🎵 TikTok Views & Shares_Mix", T.DEFAULT, "🎵 TikTok", "0.01", 100, 10000000, dripfeed=True),
)

# Beta sells several of alpha's services under its own ids and names (same kind, same type; some
# cheaper, some dearer — in EUR), plus a few of its own.
BETA_CATALOGUE: tuple[DemoService, ...] = (
    _s(1101, "Instagram Followers (Real) [max 10k] ♻️ R30", T.DEFAULT, "Instagram | Followers", "0.85",
       100, 10000, refill=True, cancel=True, dripfeed=True, description="Real-looking profiles, 30 days refill."),
    _s(1102, "Instagram Likes & Views <Instant> ❤️", T.DEFAULT, "Instagram | Likes", "0.06", 10, 50000,
       cancel=True, description="Instant start & <i>no</i> drop."),
    _s(1201, "Instagram Custom Comments [WW] 💬", T.CUSTOM_COMMENTS, "Instagram | Comments", "10.50", 5, 300,
       cancel=True, description="One comment per line."),
    _s(1402, "Telegram Channel Members [Non Drop] ✈️ <R60>", T.DEFAULT, "Telegram", "1.65", 100, 30000,
       refill=True, cancel=True, description="Refill for 60 days."),
    _s(1401, "Telegram Poll Votes 🗳 [Any answer]", T.POLL, "Telegram", "1.35", 100, 10000),
    _s(1503, "YouTube Views [HR 70%] <Lifetime> & Likes ▶️", T.DEFAULT, "YouTube", "0.99", 1000, 500000,
       refill=True, dripfeed=True),
    _s(1601, "Instagram Auto-Likes [Future Posts] 🔁 Subscription", T.SUBSCRIPTIONS, "Subscriptions", "0.45",
       100, 3000, description="Likes on new posts."),
    _s(1801, "🐦 X/Twitter Followers [HQ] & Retweets", T.DEFAULT, "X (Twitter)", "2.40", 50, 20000,
       refill=True),
    _s(1802, "🎧 Spotify Plays <Premium> [USA]", T.DEFAULT, "Spotify", "0.70", 1000, 1000000, dripfeed=True),
    _s(1803, "🎁 Facebook Page Starter Pack (500 Likes & 100 Reviews)", T.PACKAGE, "Facebook", "6.00", 1, 1),
)

# Gamma (the reseller script) sells another overlap under its own ids, its types spelt as its
# upstream spells them (`custom_comments`), plus its own; one rate runs into thousands.
GAMMA_CATALOGUE: tuple[DemoService, ...] = (
    _s(7, "Instagram Followers [Real] <Max 10K> R30 🔥", T.DEFAULT, "Instagram Followers", "0.95", 50, 10000,
       refill=True, cancel=True),
    _s(8, "Instagram Followers – Cheapest (Bots) *no refill*", T.DEFAULT, "Instagram Followers", "0.10", 100,
       100000),
    _s(12, "💬 Instagram Custom Comments & Emojis [Worldwide]", T.CUSTOM_COMMENTS, "Instagram Comments",
       "12.50", 10, 500, cancel=True, description="One comment per line; lines = quantity."),
    _s(15, "@ Mentions with #Hashtags <Random users>", T.MENTIONS_WITH_HASHTAGS, "Instagram Mentions", "4.20",
       100, 10000),
    _s(19, "▶️ YouTube Comment Likes [Real] & Fast", T.COMMENT_LIKES, "YouTube", "2.35", 20, 5000, refill=True),
    _s(23, "🗳 Telegram Poll Votes [Fast]", T.POLL, "Telegram", "1.00", 50, 30000, cancel=True),
    _s(31, "🎵 TikTok Likes [Real] & Saves <Instant>", T.DEFAULT, "TikTok", "0.30", 100, 50000, cancel=True),
    _s(42, "🏆 Instagram Verified Badge – PR Package <VIP> [Manual]", T.PACKAGE, "Premium", "1650.00", 1, 1,
       description="Press articles & review by a person; 30 days."),
)


@dataclass(frozen=True)
class SandboxPanelSpec:
    """One demo panel of sandbox mode. Order (and refill) ids start far apart per panel, so that
    asking one panel about another's order is an unknown id, not somebody else's order."""

    name: str
    dialect: Dialect
    currency: str
    funds: Decimal
    catalogue: tuple[DemoService, ...]
    first_order_id: int
    first_refill_id: int = 1


SANDBOX_PANELS: tuple[SandboxPanelSpec, ...] = (
    SandboxPanelSpec("alpha", Dialect.V2, "USD", Decimal("1000"), DEMO_CATALOGUE, 23501),  # the one panel of old
    SandboxPanelSpec("beta", Dialect.V3, "EUR", Decimal("800"), BETA_CATALOGUE, 7_000_001, 700_001),
    SandboxPanelSpec("gamma", Dialect.RESELLER, "USD", Decimal("1000"), GAMMA_CATALOGUE, 1, 90_001),
)
