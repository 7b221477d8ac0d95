"""Every text the bot shows a user, in one place: the English source of the gettext catalogs.

Handlers never write user-facing literals; they format these. Texts are HTML (parse_mode HTML):
anything that comes from a user or a panel is escaped by the renderer before it is put in.

A text is looked up in the reader's language when it is rendered (`str()`, `.format()`; see
bot/i18n.py), never when this module is imported: `_("…")` marks one for extraction,
`N_("… {count} …", "… {count} …")` one with plural forms (chosen by its `count`), `C_("context",
"…")` one whose English word has several meanings.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from bot import i18n
from bot.domain.money import Count, Money


class Rendered:
    """Something shown as a string in the reader's language (a `Text`, a `Formatted`): it acts as
    that string wherever one is read (compared, joined, searched, sliced)."""

    __slots__ = ()

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __add__(self, other: object) -> str:
        return str(self) + str(other)

    def __radd__(self, other: object) -> str:
        return str(other) + str(self)

    def __eq__(self, other: object) -> bool:
        return str(self) == (str(other) if isinstance(other, str | Rendered) else other)

    def __hash__(self) -> int:  # as equal as its rendering, like a str
        return hash(str(self))

    def __contains__(self, part: str) -> bool:
        return part in str(self)

    def __len__(self) -> int:
        return len(str(self))

    def __getitem__(self, key: int | slice) -> str:
        return str(self)[key]

    def __getattr__(self, name: str) -> Any:  # startswith, split, strip…: those of the rendered text
        return getattr(str(self), name)


class Text(Rendered):
    """A text rendered in the reader's language each time it is used as a string."""

    __slots__ = ("context", "key", "msgid")

    def __init__(self, msgid: str, context: str | None = None) -> None:
        self.msgid = msgid
        self.context = context
        self.key = ""  # its name in this module ("NOTICE_COMPLETED", "ASK[link]"), set at import

    def lazy(self, **params: Any) -> Formatted:
        """This text with its parameters, rendered when (and in whichever language) it is sent:
        a queued message is stored as this and rendered for its recipient."""
        return Formatted(self, params)

    def __str__(self) -> str:
        return i18n.gettext(self.msgid, self.context)

    def format(self, *args: Any, **kwargs: Any) -> str:
        return _render(str(self), args, kwargs)

    def __repr__(self) -> str:
        return f"Text({self.msgid!r})"


class Plural(Text):
    """A text with plural forms: `.format(count=n)` (or whichever parameter `number` names) takes
    the form of the reader's language for n."""

    __slots__ = ("number", "plural")

    def __init__(self, singular: str, plural: str, number: str = "count") -> None:
        super().__init__(singular)
        self.plural = plural
        self.number = number

    def format(self, *args: Any, **kwargs: Any) -> str:
        count = kwargs.get(self.number)
        if isinstance(count, Count):
            count = count.number
        if not isinstance(count, int):
            raise TypeError(f"{self.msgid!r} needs an int {self.number}")
        return _render(i18n.ngettext(self.msgid, self.plural, count, self.context), args, kwargs)

    def __str__(self) -> str:  # without its number: the plural form, as a label
        return i18n.ngettext(self.msgid, self.plural, 2, self.context)


_IN_CODE = re.compile(r"<code>\{(\w+)\}</code>")


def _render(template: str, args: tuple[Any, ...], values: dict[str, Any]) -> str:
    """The text with its values put in. In right-to-left text each value is isolated, so a
    Latin name, a link or a number keeps its own direction (bot/i18n.py `isolated`); a value shown
    as <code> (an id the customer copies) is isolated outside the tag, so that what is copied is
    the value alone."""
    if i18n.current() not in i18n.RIGHT_TO_LEFT:
        return template.format(*args, **values)
    in_code = set(_IN_CODE.findall(template))
    template = _IN_CODE.sub(lambda m: f"\u2068<code>{{{m.group(1)}}}</code>\u2069", template)
    return template.format(*args, **{name: value if name in in_code else i18n.isolated(str(value))
                                     for name, value in values.items()})


class Formatted(Rendered):
    """A text and its parameters, rendered in the reader's language each time it is used as a
    string; stored in the outbox as JSON (`to_json`), so it is rendered in the recipient's
    language when it is sent. Parameters are strings and numbers (what the panel or the customer
    wrote stays as it was), or texts and Formatted themselves (rendered in the same language)."""

    __slots__ = ("params", "text")

    def __init__(self, text: Text, params: dict[str, Any]) -> None:
        self.text = text
        self.params = params

    def __str__(self) -> str:
        return self.text.format(**{name: str(value) if isinstance(value, Text | Formatted | Money) else value
                                   for name, value in self.params.items()})

    def __repr__(self) -> str:
        return f"Formatted({self.text.key or self.text.msgid!r}, {self.params!r})"

    def to_json(self) -> dict[str, Any]:
        if not self.text.key:
            raise ValueError(f"{self.text!r} is not a text of bot/texts.py")
        return {"key": self.text.key, "params": {name: _param_json(value) for name, value in self.params.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Formatted:
        return cls(by_key(data["key"]), {name: _param_from_json(value) for name, value in data["params"].items()})


def _param_json(value: Any) -> Any:
    if isinstance(value, Money):
        return {"$money": [f"{value.amount:f}", value.currency]}
    if isinstance(value, Count):
        return {"$count": value.number}
    if isinstance(value, Formatted):
        return {"$formatted": value.to_json()}
    if isinstance(value, Text):
        return {"$text": value.key}
    if isinstance(value, str | int | float) or value is None:
        return value
    return str(value)  # a Decimal, say: as it reads


def _param_from_json(value: Any) -> Any:
    if isinstance(value, dict) and "$count" in value:
        return Count(int(value["$count"]))
    if isinstance(value, dict) and "$money" in value:
        amount, currency = value["$money"]
        return Money(Decimal(amount), currency)
    if isinstance(value, dict) and "$formatted" in value:
        return Formatted.from_json(value["$formatted"])
    if isinstance(value, dict) and "$text" in value:
        return by_key(value["$text"])
    return value


def by_key(key: str) -> Text:
    """The text named `key` ("NOTICE_COMPLETED", "ASK[link]"); KeyError if there is none."""
    name, _, entry = key.partition("[")
    found = globals()[name]
    if entry:
        found = next(text for k, text in found.items() if str(k) == entry.removesuffix("]"))
    if not isinstance(found, Text):
        raise KeyError(key)
    return found


def _(text: str) -> Text:
    return Text(text)


def N_(singular: str, plural: str, number: str = "count") -> Plural:
    return Plural(singular, plural, number)


def C_(context: str, text: str) -> Text:
    return Text(text, context)


# --------------------------------------------------------------------------- main menu, help

GREETING = _(
    "👋 Hello, {name}!\n\n"
    "This bot sells social-media services: followers, likes, views, comments and more. "
    "Choose a service, send the link, confirm the price, and the order starts.\n\n"
    "Your balance: <b>{balance}</b>"
)
SANDBOX_BANNER = _(
    "🧪 <b>Sandbox mode</b>: this bot is connected to a simulated panel. "
    "Orders are simulated, nothing is bought and no money is spent."
)
SANDBOX_ORDER_NOTE = _("🧪 Sandbox: simulated order, nothing was bought.")
HELP = _(
    "<b>How ordering works</b>\n"
    "1. Press <b>New order</b> (or send /order) and pick a service, or type a word to search.\n"
    "2. Send the link and the quantity.\n"
    "3. Check the price and press <b>Confirm</b>. The price is paid from your wallet and comes back if "
    "the order fails.\n\n"
    "/cancel stops what you are doing."
)
BUTTON_NEW_ORDER = _("🛒 New order")
BUTTON_MY_ORDERS = _("📦 My orders")
BUTTON_BALANCE = _("💰 Balance")
BUTTON_HELP = _("❓ Help")
BUTTON_MAIN_MENU = _("🏠 Main menu")
BUTTON_TOPUP = _("💳 Top up")
BUTTON_PAYSUPPORT = _("🆘 Help with a payment")

COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", _("Main menu")),
    ("order", _("New order")),
    ("orders", _("My orders")),
    ("balance", _("My wallet")),
    ("topup", _("Add money to the wallet")),
    ("paysupport", _("Help with a payment")),
    ("help", _("How ordering works")),
    ("language", _("Change the language")),
    ("cancel", _("Leave the current order")),
)
# Shown by Telegram before a user starts the bot (setMyDescription / setMyShortDescription).
BOT_DESCRIPTION = _("Order followers, likes, views and comments for your social-media accounts: choose a "
                    "service, send the link, pay from your wallet, and follow every order here.")
BOT_SHORT_DESCRIPTION = _("Social-media services: followers, likes, views and more, ordered in a few taps.")
BUTTON_LANGUAGE = _("🌐 Language")
LANGUAGE_CHOOSE = _("🌐 Choose the language of this bot:")
LANGUAGE_CHOSEN = _("✅ From now on this bot speaks English.")

# --------------------------------------------------------------------------- access, errors

PRIVATE_BOT = _(
    "🔒 This bot is private.\n\nTo get access, send your Telegram id to the operator: <code>{user_id}</code>"
)
ERROR_GENERIC = _(
    "😕 Something went wrong on our side. Please try again in a minute. If you were confirming an "
    "order, check /orders first so as not to order twice. If it keeps happening, contact the operator."
)
TEXT_EXPECTED = _("Please answer with a text message, or press Cancel.")
UNKNOWN_INPUT = _("I did not understand that. Use the menu below, or send /help.")
MENU_EXPIRED = _("This menu has expired. Send /order to start again.")

# --------------------------------------------------------------------------- wallet

BALANCE = _("💰 Your balance: <b>{balance}</b>\n\nYour id: <code>{user_id}</code>. Press <b>Top up</b> to add money.")
CREDIT_USAGE = _("Usage: <code>/credit USER_ID AMOUNT</code>, e.g. <code>/credit 123456789 10.50</code>")
DEBIT_USAGE = _("Usage: <code>/debit USER_ID AMOUNT</code>, e.g. <code>/debit 123456789 10.50</code>")
BAD_USER_ID = _("{value} is not a Telegram user id: send the number, e.g. 123456789.")
BAD_AMOUNT = _("{value} is not an amount: send a positive number with at most 6 decimals, e.g. 10.50.")
UNKNOWN_USER = _("User {user_id} has never started this bot, so they have no wallet yet.")
DEBIT_TOO_MUCH = _("User {user_id} has only {balance}; a debit cannot take the wallet below zero.")
CREDITED_ADMIN = _("✅ Credited {amount} to user {user_id}. New balance: <b>{balance}</b>")
DEBITED_ADMIN = _("✅ Debited {amount} from user {user_id}. New balance: <b>{balance}</b>")
CREDITED_CUSTOMER = _("💰 Your wallet was credited with {amount}. Balance: <b>{balance}</b>")
DEBITED_CUSTOMER = _("💰 {amount} was taken from your wallet by the operator. Balance: <b>{balance}</b>")
CUSTOMER_UNREACHABLE = _("(The customer could not be told: they have not started the bot or blocked it.)")

# --------------------------------------------------------------------------- catalogue

CHOOSE_CATEGORY = N_("🛒 <b>Choose a category</b> ({count} service)\n\nOr type a word to search services by name.",
                     "🛒 <b>Choose a category</b> ({count} services)\n\nOr type a word to search services by name.")
CHOOSE_SERVICE = _("<b>{category}</b>\n\nChoose a service. Or type a word to search.")
SEARCH_RESULTS = _("🔎 Results for <b>{query}</b>: {count}\n\nChoose a service, or type another search.")
SEARCH_NOTHING = _("🔎 Nothing matches <b>{query}</b>. Try another word, or choose a category.")
CATALOGUE_EMPTY = _("The catalogue is empty right now. Please try again later.")
PAGE = _("Page {number} of {count}")
BUTTON_PREV = _("‹ Prev")
BUTTON_NEXT = _("Next ›")
BUTTON_BACK = _("‹ Back")
BUTTON_CATEGORIES = _("‹ Categories")
BUTTON_CANCEL = _("✖ Cancel")
BUTTON_CONTINUE_ORDER = _("▶️ Continue your order")
BUTTON_CONTINUE_TOPUP = _("▶️ Continue your top-up")
BUTTON_CONTINUE_PROMPT = _("▶️ Back to the question")
PROMPT_STILL_OPEN = _("✏️ The question is still open: send your answer, or press Cancel.")
BUTTON_SKIP = _("Skip ›")
SERVICE_BUTTON = _("{name} · {price} / 1K")
PACKAGE_BUTTON = _("{name} · {price}")
# A service, shown with the first question of its order (one message: choosing a service starts it).
SERVICE_HEADER = _("<b>{name}</b>\n<i>{category}</i>")
SERVICE_RATE = _("💵 <b>{price}</b> per 1000")
SERVICE_RATE_PACKAGE = _("💵 <b>{price}</b> for the package")
SERVICE_RANGE = _("📏 From {min} to {max}")
SERVICE_REFILL = _("♻️ Refilled if it drops")
SERVICE_CANCEL = _("✖ Can be cancelled while it runs")
SERVICE_DRIP_FEED = _("💧 Can be delivered gradually")

# --------------------------------------------------------------------------- order fields

ASK: dict[str, str] = {
    "link": _("🔗 Send the link of the page or post this is for (it starts with https://)."),
    "link_telegram": _("🔗 Send the link of the channel, group or post: https://t.me/… , t.me/… or @channelname."),
    "quantity": _("🔢 How many? Choose below or type a number from {min} to {max} (e.g. 1000 or 1k)."),
    "comments": _("💬 Send the comments to post, one per line: from {min} to {max} comments."),
    "comments_any": _("💬 Send the comments, one per line."),
    "usernames": _("👥 Send the usernames, one per line."),
    "usernames_counted": _("👥 Send the usernames, one per line ({min} to {max} lines; each line is one mention)."),
    "hashtags": _("#️⃣ Send the hashtags, one per line."),
    "keywords": _("🔍 Send the keywords, one per line."),
    "groups": _("👥 Send the groups to invite from, one per line."),
    "hashtag": _("#️⃣ Send one hashtag (e.g. #travel)."),
    "username": _("👤 Send the username (or profile link)."),
    "username_comment_owner": _("👤 Send the username of the comment's owner."),
    "username_followers": _("👤 Send the username or profile link whose followers should be mentioned."),
    "username_subscription": _("👤 Send the username of the account whose new posts this is for (e.g. @yourname)."),
    "media": _("🖼 Send the link of the post whose likers should be mentioned (http:// or https://)."),
    "answer_number": _("🗳 Send the number of the poll answer to vote for (1 for the first answer)."),
    "min": _("🔢 At least how many for each new post? Send a whole number from {min} to {max}."),
    "max": _("🔢 At most how many for each new post? Send a whole number from {low} to {max}."),
    "posts": _("📰 How many new posts should it cover? Send a whole number from 1 to {limit}."),
    "old_posts": _("📰 How many existing posts should it also cover? Send a number from 0 to {limit}, or skip."),
    "delay": _("⏱ Choose the delay before each post is served (minutes)."),
    "expiry": _("📅 Send the end date as DD/MM/YYYY (e.g. 31/12/2027), or skip for no end date."),
    "runs": _("💧 Gradual delivery: in how many runs? Each run delivers the quantity again, so the total is "
              "quantity × runs. Send a number from 2 to {limit}, or skip to deliver at once."),
    "interval": _("⏱ Minutes between runs: a whole number from 1 to {limit}."),
}
INVALID: dict[str, str] = {
    "link": _("⚠️ That is not a link. Send an address that starts with http:// or https://, "
              "e.g. https://instagram.com/yourname."),
    "link_telegram": _("⚠️ That is not a Telegram link. Send https://t.me/name, t.me/name or @name."),
    "whole_number": _("⚠️ {value} is not a whole number. Send a number from {min} to {max}."),
    "range": _("⚠️ {value} is out of range: send a number from {min} to {max}."),
    "lines_count": N_("⚠️ You sent {count} line; this service takes from {min} to {max}, one per line.",
                      "⚠️ You sent {count} lines; this service takes from {min} to {max}, one per line."),
    "lines_empty": _("⚠️ The list is empty: send at least one line."),
    "lines_too_many": N_("⚠️ That is {count} line; at most {max} are accepted.",
                         "⚠️ That is {count} lines; at most {max} are accepted."),
    "line_too_long": _("⚠️ Line {number} is longer than {max} characters."),
    "word": _("⚠️ Send a single word without spaces (at most {max} characters)."),
    "date": _("⚠️ {value} is not a date. Send it as DD/MM/YYYY, e.g. 31/12/2027."),
    "date_past": _("⚠️ The end date must be after today."),
    "choice": _("⚠️ Please choose one of the buttons below."),
    "text": _("⚠️ Please answer with a text message."),
    "not_optional": _("⚠️ This field is required."),
}

# --------------------------------------------------------------------------- summary, confirm

SUMMARY = _(
    "🧾 <b>Check your order</b>\n\n"
    "<b>{service}</b>\n"
    "{details}\n"
    "{price}\n"
    "💰 Your balance: {balance}"
)
# The summary's price line: plain, or with the arithmetic when the total is not simply the rate.
PRICE_PLAIN = _("💵 Price: <b>{price}</b>")
PRICE_PER_1000 = _("💵 {units} × {rate} per 1000 = <b>{price}</b>")
PRICE_RUNS = _("💵 {quantity} × {times} runs = {units} × {rate} per 1000 = <b>{price}</b>")
PRICE_POSTS = _("💵 up to {quantity} × {times} posts = {units} × {rate} per 1000 = <b>{price}</b>")
PRICE_ROUNDED = _("Rounded up to the nearest {step}.")
SUMMARY_CONFIRM_HINT = _("👇 Press <b>Confirm</b> to place the order.")
SUMMARY_SHORT_STARS = _("⚠️ Your balance is {missing} short. Add it with Telegram Stars below: your order stays "
                        "ready, and you confirm it after paying.")
SUMMARY_SHORT_MANUAL = _("⚠️ Your balance is {missing} short. Top up your wallet first, then place the order.")
SUMMARY_SHORT = _("⚠️ Your balance is {missing} short. Ask the operator to top up your wallet "
                  "(your id: <code>{user_id}</code>).")
QUANTITY_BUTTON = _("{quantity} · {price}")
BUTTON_PAY_AND_ORDER = _("💳 Add {amount} and order")
BUTTON_DRIP_FEED = _("⚙️ Deliver gradually (drip-feed)")
BUTTON_TOP_UP = _("💰 Top up")
ORDER_INVOICE_SENT = _("💳 Pay the invoice below: {stars} ⭐ adds {amount} to your wallet. Your order stays ready; "
                       "you confirm it after paying.")
ORDER_PAID = _("✅ <b>Payment received</b>: {stars} ⭐, {amount} added to your wallet (payment reference "
               "<code>P{reference}</code>).")
FIELD_NAMES: dict[str, str] = {
    "link": _("Link"), "quantity": _("Quantity"), "comments": _("Comments"), "usernames": _("Usernames"),
    "hashtags": _("Hashtags"), "keywords": _("Keywords"), "groups": _("Groups"), "hashtag": _("Hashtag"),
    "username": _("Username"), "media": _("Media"), "answer_number": _("Answer"), "min": _("Min per post"),
    "max": _("Max per post"), "posts": _("New posts"), "old_posts": _("Old posts"), "delay": _("Delay (min)"),
    "expiry": _("Ends"), "runs": _("Runs"), "interval": _("Interval (min)"),
}
LINES = N_("{count} line", "{count} lines")
FIELD_LINE = _("{field}: {value}")  # a line of the summary: what was asked, what was answered
BUTTON_CONFIRM = _("✅ Confirm {price}")
ORDER_CANCELLED = _("✖ Order cancelled. Nothing was charged.")
ORDER_TIMED_OUT = _("⌛ The order was left unfinished for too long and was cancelled. Nothing was charged. "
                    "Send /order to start again.")
NOTHING_TO_CANCEL = _("There is nothing to cancel.")
NOT_ENOUGH_MONEY = _("⚠️ Not enough money: the order costs {price}, your balance is {balance}. "
                     "Ask the operator to top up your wallet (your id: <code>{user_id}</code>).")
PLACING = _("⏳ Placing your order…")
ORDER_PLACED = _(
    "✅ <b>Order placed</b>\n\n"
    "Order #{order_id}: <b>{service}</b>\n"
    "Charged: <b>{price}</b> · Balance: {balance}\n\n"
    "You will get a message as it progresses; /orders shows it any time."
)
# A refused order, in the customer's words (the panel's own message goes to the admins' order screen).
ORDER_REJECTED: dict[str, str] = {
    "link": _("❌ The order was not accepted: the link was refused. Check that it is correct and that the page "
              "is public, then order again. The {price} was returned to your wallet."),
    "active": _("❌ The order was not accepted: an earlier order for this link is still running. Please order "
                "again once it has finished. The {price} was returned to your wallet."),
    "quantity": _("❌ The order was not accepted: this quantity is not available for this service. Try another "
                  "amount. The {price} was returned to your wallet."),
    "service": _("❌ This service is not available right now. The {price} was returned to your wallet; please "
                 "choose another one."),
    "other": _("❌ The order was not accepted by the provider. The {price} was returned to your wallet; please "
               "check the details and try again."),
}
ORDER_UNAVAILABLE = _("❌ This service is temporarily unavailable. The {price} was returned to your wallet; please "
                      "try again later.")
ORDER_BUSY = _("❌ The provider is busy right now. The {price} was returned to your wallet; please try again in a "
               "minute.")
ORDER_UNKNOWN = _("⏳ The provider did not answer in time, so we cannot tell yet whether order #{order_id} was "
                  "placed. The {price} stays reserved while the operator checks it; you will be told the result. "
                  "Please do not order the same thing again meanwhile.")
ALREADY_CONFIRMED = _("This order was already confirmed.")

# --------------------------------------------------------------------------- my orders

MY_ORDERS = _("📦 <b>Your orders</b> ({count}). Tap one to see it.")
MY_ORDERS_EMPTY = _("You have no orders yet. Press New order to place one.")
BUTTON_ORDER_IN_LIST = _("{mark} #{order_id} · {service}")
ORDER_STATES: dict[str, str] = {
    "placing": _("being placed"), "placed": _("placed"), "unverified": _("being checked"),
    "rejected": _("refused, refunded"),
}

# --------------------------------------------------------------------------- tracking

NOTICE_STARTED = _("🚀 Order #{order_id} ({service}) has started.")
NOTICE_STARTED_COUNT = _("🚀 Order #{order_id} ({service}) has started. Start count: {start_count}.")
NOTICE_COMPLETED = _("✅ Order #{order_id} ({service}) is completed.")
NOTICE_PARTIAL = _("⚠️ Order #{order_id} ({service}) was partially delivered: {remains} of {quantity} were not "
                   "delivered. {refund} was returned to your wallet.")
NOTICE_PARTIAL_HELD = _("⚠️ Order #{order_id} ({service}) was partially delivered. We are checking with the "
                        "provider how much was not delivered; you will get a message with the outcome.")
NOTICE_CANCELED = _("❌ Order #{order_id} ({service}) was canceled by the provider. {refund} was returned to your "
                    "wallet.")
NOTICE_CANCELED_REST = _("❌ Order #{order_id} ({service}) was canceled by the provider. {refund} more was returned "
                         "to your wallet: {total} in all for this order.")
NOTICE_CANCELED_ASKED = _("❌ Order #{order_id} ({service}) was cancelled as you asked. {refund} was returned to "
                          "your wallet.")
NOTICE_CANCELED_ASKED_REST = _("❌ Order #{order_id} ({service}) was cancelled as you asked. {refund} more was "
                               "returned to your wallet: {total} in all for this order.")
NOTICE_REFUND_BY_HAND = _("↩️ {refund} was returned to your wallet for order #{order_id} ({service}).")
NOTICE_NOTHING_DUE = _("ℹ️ Order #{order_id} ({service}) was checked with the provider: nothing more is due back.")
NOTICE_STATUS = _("ℹ️ Order #{order_id} ({service}): {status}.")
NOTICE_REFILL = _("♻️ Refill of order #{order_id} ({service}): {status}.")
BUTTON_OPEN_ORDER = _("🔎 Open order #{order_id}")
ORDER_CARD = _(
    "📦 <b>Order #{order_id}</b>\n"
    "<b>{service}</b>\n"
    "🔗 {link}\n"
    "🔢 Quantity: {quantity}\n"
    "💵 Price: {price}{refund}\n"
    "{mark} Status: <b>{status}</b>{progress}\n"
    "📅 Ordered: {created} · Updated: {updated}"
    "{refills}"
)
ORDER_CARD_REFUNDED = _("\n↩️ Returned to your wallet: {refund}")
ORDER_CARD_REFUND_HELD = _("\n↩️ Refund: being checked with the provider; you will get a message with the outcome")
ORDER_CARD_PROGRESS = _("\n▶️ Start count: {start_count} · remains: {remains}")
ORDER_CARD_REFILL = _("\n♻️ Refill {number}: {status}")
JUST_NOW = _("just now")
MINUTES_AGO = N_("{minutes} minute ago", "{minutes} minutes ago", "minutes")
HOURS_AGO = N_("{hours} hour ago", "{hours} hours ago", "hours")
YESTERDAY = _("yesterday")
DAYS_AGO = N_("{days} day ago", "{days} days ago", "days")
BUTTON_REFRESH = _("🔄 Refresh")
BUTTON_REFILL = _("♻️ Refill")
BUTTON_CANCEL_ORDER = _("✖ Cancel order")
BUTTON_CANCEL_YES = _("Yes, cancel it")
BUTTON_CANCEL_NO = _("No, keep it")
BUTTON_MY_ORDERS_BACK = _("‹ My orders")
CANCEL_ORDER_CONFIRM = _("Cancel order #{order_id} ({service})? If the provider accepts, the undelivered part is "
                         "refunded to your wallet.")
CANCELLATION_REQUESTED = _("{status}, cancellation requested")
CANCEL_REQUESTED = _("✖ Cancel request for order #{order_id} received by the provider. The result and any refund "
                     "will reach you in a message.")
REFILL_REQUESTED = _("♻️ Refill of order #{order_id} requested. You will get a message when it changes.")
REFILL_REQUESTED_UNTRACKED = _("♻️ Refill of order #{order_id} requested. Its progress is not reported on its "
                               "own; you will get a message when the order changes.")
CANCEL_REFUSED = _("❌ Order #{order_id} could not be cancelled: the provider did not accept the request (it may be "
                   "finishing already). The order goes on; you will get a message when it changes.")
REFILL_REFUSED = _("❌ A refill of order #{order_id} cannot be requested now: the provider did not accept it (it may "
                   "be too soon after the order or an earlier refill, or the refill period is over).")
PANEL_BUSY = _("⏳ The provider is not answering right now. Please try again in a few minutes.")
PANEL_UNSURE = _("⏳ The provider did not answer in time; the request may still have arrived. Please check the "
                 "order again in a few minutes before repeating it.")
NOT_YOUR_ORDER = _("This order is not in your list.")
REFRESHED = _("Updated.")
REFRESH_THROTTLED = N_("⏳ Please wait {seconds} second before refreshing again. Every change reaches you in a "
                       "message anyway.",
                       "⏳ Please wait {seconds} seconds before refreshing again. Every change reaches you in a "
                       "message anyway.", "seconds")
REFILL_THROTTLED = N_("⏳ A refill was just requested; try again in {seconds} second if you need to.",
                      "⏳ A refill was just requested; try again in {seconds} seconds if you need to.", "seconds")
STATUS_NAMES: dict[str, Text] = {  # an order's or a refill's status, as the panel reports it
    "pending": C_("order status", "pending"),
    "in progress": C_("order status", "in progress"),
    "processing": C_("order status", "in progress"),
    "completed": C_("order status", "completed"),
    "partial": C_("order status", "partially delivered"),
    "canceled": C_("order status", "canceled"),
    "refunded": C_("order status", "refunded"),
    "failed": C_("order status", "failed"),
    "active": C_("order status", "active"),
    "paused": C_("order status", "paused"),
    "expired": C_("order status", "expired"),
    "unknown": C_("order status", "unknown"),
    "rejected": C_("order status", "rejected"),
    "error": C_("order status", "failed"),
}

# --------------------------------------------------------------------------- admin alerts

ALERT_UNVERIFIED = _(
    "⚠️ <b>Order outcome unknown</b>: check the panel by hand.\n"
    "Order #{order_id} of user <code>{user_id}</code>\n"
    "Service {service_id}: {service}\n"
    "Link: {link}\nQuantity: {quantity}\n"
    "Reason: {reason}\n"
    "The customer's {price} stays held. It was not re-sent.\n"
    "When you know: <code>/resolve {order_id} placed PANEL_ORDER_ID</code> or <code>/resolve {order_id} failed</code>"
)
ALERT_PANEL_FUNDS = _("⚠️ <b>The panel balance is too low</b>: orders are being refused with \"{reason}\" and "
                      "customers refunded. Top up the panel account.")
ALERT_PANEL_AUTH = _("⚠️ <b>The panel refuses the API key</b> (\"{reason}\"). Check PANEL_API_KEY; orders are being "
                     "refunded.")
RESOLVE_USAGE = _("Usage: <code>/resolve ORDER_ID placed PANEL_ORDER_ID</code> when the panel has the order, or "
                  "<code>/resolve ORDER_ID failed</code> to refund the customer.")
UNVERIFIED_NONE = _("No order is waiting for a check.")
UNVERIFIED_LIST = _("❔ <b>Orders whose outcome is unknown</b> ({count}). Check each on the panel, then settle it "
                    "with its buttons (or <code>/resolve</code>):")
RESOLVE_NOT_UNVERIFIED = _("Order #{order_id} is not waiting for a check (it is {state}).")
RESOLVED_PLACED_ADMIN = _("✅ Order #{order_id} marked as placed (panel order {panel_order_id}).")
RESOLVED_FAILED_ADMIN = _("✅ Order #{order_id} marked as failed; {price} refunded to user {user_id}.")
RESOLVED_PLACED_CUSTOMER = _("✅ Order #{order_id} ({service}) is confirmed. You will get a message when it "
                             "changes; see it any time with /orders.")
RESOLVED_FAILED_CUSTOMER = _("❌ Order #{order_id} ({service}) could not be placed. The {price} was returned to "
                             "your wallet.")
ALERT_MISSING = _("⚠️ The panel does not know order #{order_id} (panel id {panel_order_id}, user "
                  "<code>{user_id}</code>): \"{reason}\". It is no longer polled; check it on the panel, and "
                  "refund the customer if it is lost: <code>/settle {order_id}</code>")
ALERT_PLACED_NOT_RECORDED = _("🚨 <b>Order #{order_id} of user <code>{user_id}</code> was placed at the panel as "
                              "<code>{panel_order_id}</code>, but the database would not store it.</b> The bot "
                              "keeps trying. If it restarts before that works, the order waits under Unverified: "
                              "settle it with <code>/resolve {order_id} placed {panel_order_id}</code>.")
ALERT_NO_STATUS = N_("⚠️ <b>No readable status for {polls} poll in a row</b> ({count}): {orders}. The panel's "
                     "last word: \"{reason}\". They are still asked about (every 30 minutes at most). Check them "
                     "on the panel, and refund a lost one with <code>/settle ORDER_ID</code>.",
                     "⚠️ <b>No readable status for {polls} polls in a row</b> ({count}): {orders}. The panel's "
                     "last word: \"{reason}\". They are still asked about (every 30 minutes at most). Check them "
                     "on the panel, and refund a lost one with <code>/settle ORDER_ID</code>.", "polls")
ALERT_REFUND_HELD = _("💸 <b>A refund needs your decision</b>: order #{order_id} of user <code>{user_id}</code> "
                      "(price {price}, refunded so far {refunded}) is now \"{raw_status}\", but {reason}. The money "
                      "is held. Check the order on the panel, then refund all, part or nothing: "
                      "<code>/settle {order_id}</code>")
ALERT_REFUND_OVERPAID = _("⚠️ Order #{order_id} of user <code>{user_id}</code> is now \"{raw_status}\", which makes "
                          "{overpaid} less due back than the {refunded} already refunded. Nothing was taken back; "
                          "debit the customer by hand if you need to.")
ALERT_RESTART_PLACING = _("⚠️ Order #{order_id} was being placed when the bot stopped; its outcome is unknown. "
                          "Check the panel by hand, then <code>/resolve {order_id} placed PANEL_ORDER_ID</code> or "
                          "<code>/resolve {order_id} failed</code>.")

# --------------------------------------------------------------------------- operator tools

BANNED = _("⛔ Your access to this bot has been closed by the operator.")
ALERT_PANEL_LOW_BALANCE = _("⚠️ <b>The balance at panel {panel} is low</b>: {balance}, below the alert level of "
                            "{threshold}. Top up that account before its orders go elsewhere or fail.")
ADMIN_MENU = _("🛠 <b>Admin</b>\nCommands: <code>/user ID</code>, <code>/credit ID AMOUNT</code>, "
               "<code>/debit ID AMOUNT</code>, <code>/settle ORDER_ID</code>, /broadcast, /refresh, /unverified.")
BUTTON_ADMIN_PANEL = _("🏦 Panels")
BUTTON_ADMIN_STATS = _("📊 Stats")
BUTTON_ADMIN_USERS = _("👥 Users")
BUTTON_ADMIN_UNVERIFIED = _("❔ Unverified ({count})")
BUTTON_ADMIN_HELD = _("💸 Refunds to decide ({count})")
BUTTON_ADMIN_BROADCAST = _("📣 Broadcast")
BUTTON_ADMIN_CATALOGUE = _("🗂 Catalogue")
BUTTON_ADMIN_AUDIT = _("📜 Audit log")
BUTTON_ADMIN_HOME = _("‹ Admin")
BUTTON_ADMIN_REFRESH = _("🔄 Refresh catalogue")
PANEL_VIEW = _("🏦 <b>Panels</b> · the shop sells in {currency}\n\n"
               "{panels}\n\n"
               "Catalogue: {services} services in {categories} categories ({visible} shown to customers, "
               "{hidden} hidden)\n"
               "Last refresh: {refreshed}{rates}")
PANEL_BLOCK = _("<b>{name}</b> · {currency}\n"
                "Balance: <b>{balance}</b>{low}\n"
                "{reach} · last hour: {requests} requests, {failures} failed{latency}\n"
                "Orders open: {open}")
PANEL_GONE_BLOCK = _("<b>{name}</b>: no longer in PANELS · orders open: {open}")
PANEL_LATENCY = _(" · answers in {median} s (95% within {p95} s)")
PANEL_ANSWERING = _("🟢 answering")
PANEL_NOT_ANSWERING = _("🔴 not answering")
PANEL_NOT_ASKED = _("⚪ not asked")
PANEL_CURRENCY_UNKNOWN = _("currency not known yet")
PANEL_NO_RATE = _("⚠️ No exchange rate for {currency}: those services are not on sale. Set one with "
                  "<code>/rate {currency} RATE</code> (how many {shop} one {currency} is).")
PANEL_RATES = _("\nExchange rates: {rates}")
PANEL_RATE = _("1 {currency} = {rate} {shop} (set {age})")
PANEL_LOW_NOTE = _(" ⚠️ below the alert level of {threshold}")
PANEL_UNREADABLE = _("not readable now ({reason})")
NEVER = _("never")
STATS_TITLE = _("📊 <b>Stats</b> (UTC)\n👥 Customers: <b>{customers}</b> · active in the last 7 days: <b>{active}</b>")
STATS_PANEL = N_("   🏦 {panel}: {orders} order · turnover {turnover} · margin {margin}",
                 "   🏦 {panel}: {orders} orders · turnover {turnover} · margin {margin}")
STATS_PERIOD = N_("<b>{period}</b>: {orders} order · turnover {turnover} · cost {cost} · margin <b>{margin}</b>"
                  "{statuses}",
                  "<b>{period}</b>: {orders} orders · turnover {turnover} · cost {cost} · margin <b>{margin}</b>"
                  "{statuses}", "orders")
STATS_TOPUPS = _("\n   top-ups {total}: {stars} ⭐ for {stars_money}, other methods {manual}")
STATS_PERIODS: dict[str, str] = {"today": _("Today"), "7d": _("7 days"), "30d": _("30 days"), "all": _("All time")}
STATS_SAME_FIGURES = _("{first} = {last}")  # neighbouring periods with the same figures, shown once
STATS_NOTHING_YET = _("No orders or top-ups yet.")
USERS_HELP = _("👥 <b>Users</b>\nOpen a customer with <code>/user ID</code> (the id is in every alert and in "
               "the customer's balance screen). Recently active:")
USERS_NONE = _("👥 No customer has written to the bot yet.")
USER_CARD = _("👤 <b>{name}</b> {username}· id <code>{user_id}</code>\n"
              "Status: {status} · first seen {first_seen} · last seen {last_seen}\n"
              "💰 Wallet: <b>{balance}</b>\n\n"
              "<b>Last orders</b>\n{orders}\n\n<b>Ledger</b>\n{ledger}")
USER_STATUS_ACTIVE = C_("user status", "active")
USER_STATUS_BANNED = _("⛔ banned")
USER_STATUS_BLOCKED = _("blocked the bot")
USER_NO_ORDERS = _("none")
USER_NO_LEDGER = _("no entries")
USER_LEDGER_LINE = _("{created} · {amount} · {reason}{note}")
USER_USAGE = _("Usage: <code>/user ID</code>, the customer's numeric Telegram id.")
BUTTON_CREDIT = _("➕ Credit")
BUTTON_DEBIT = _("➖ Debit")
BUTTON_BAN = _("⛔ Ban")
BUTTON_UNBAN = _("✅ Unban")
ASK_CREDIT = _("➕ How much to credit to user <code>{user_id}</code>? Send the amount (e.g. 10 or 2.50), or /cancel.")
ASK_DEBIT = _("➖ How much to debit from user <code>{user_id}</code>? Send the amount (e.g. 10 or 2.50), or /cancel.")
PROMPT_CANCELLED = _("Cancelled.")
PROMPT_EXPIRED = _("⌛ That question has expired, so nothing was done. Open the screen again to start over.")
BANNED_ADMIN = _("⛔ User <code>{user_id}</code> is banned. They are told once that access is closed; "
                 "nothing they send or press works.")
UNBANNED_ADMIN = _("✅ User <code>{user_id}</code> is no longer banned.")
BAN_UNCHANGED = _("Nothing changed: user <code>{user_id}</code> already is {status}.")
CANNOT_BAN_ADMIN = _("An admin cannot be banned.")
ORDER_AT_PANEL = _("🏦 Panel <b>{panel}</b> · its service {service_id} · cost {cost}{converted}")
ORDER_COST_CONVERTED = _(" ({panel_cost} at {rate})")
UNVERIFIED_ITEM = _("❔ <b>Order #{order_id}</b> · user <code>{user_id}</code> · {created}\n"
                    "{service}\n🔗 {link} · {quantity} · {price}\nWhy: {error}")
BUTTON_MARK_PLACED = _("✅ Placed…")
BUTTON_MARK_FAILED = _("❌ Failed, refund")
BUTTON_YES_REFUND = _("Yes, refund {price}")
BUTTON_NO = _("No")
ASK_PANEL_ORDER_ID = _("✅ Order #{order_id}: send the panel's order id (as the panel shows it), or /cancel.")
CONFIRM_FAILED = _("❌ Mark order #{order_id} as failed and refund {price} to user <code>{user_id}</code>?")
BAD_PANEL_ORDER_ID = _("A panel order id is 1–64 characters without spaces or commas, e.g. <code>123456</code>. Send "
                       "it again, or /cancel.")
BAD_PANEL_ORDER_ID_COMMAND = _("A panel order id is 1–64 characters without spaces or commas, e.g. "
                               "<code>/resolve 12 placed 123456</code>.")
BUTTON_ADMIN_HELD_LIST = _("💸 Refunds to decide")
HELD_NONE = _("💸 No refund is waiting for a decision.")
HELD_LIST = _("💸 <b>Refunds to decide</b> ({count}): the panel's answer did not say how much was not delivered. "
              "Check each order on the panel, then open it:")
HELD_ITEM = _("💸 <b>Order #{order_id}</b> · user <code>{user_id}</code> · {price}\n{service}\nWhy: {reason}")
SETTLE_USAGE = _("Usage: <code>/settle ORDER_ID</code>: the order's money, with buttons to refund all, part, or "
                 "(for a held refund) nothing.")
SETTLE_UNKNOWN = _("There is no order #{order_id}.")
SETTLE_CARD = _("💸 <b>Order #{order_id}</b> · user <code>{user_id}</code>\n"
                "{service}\n🔗 {link} · quantity {quantity}\n"
                "Status: {status} (panel: \"{raw_status}\", remains {remains}) · panel order {panel_order_id}\n"
                "Price {price} · refunded so far {refunded} · <b>can still be refunded {left}</b>")
SETTLE_HELD = _("⏸ <b>Refund held</b>: {reason}.")
# Why a refund is held (bot/domain/refunds.py words them in English for the log and the order's
# record; bot/shop/settlement.py `held_reason` shows them in the admin's language).
HOLD_PER_PACKAGE = _("the price is per package, so the undelivered part cannot be computed")
HOLD_NO_REMAINS = _("the panel did not say how many were not delivered")
HOLD_IMPOSSIBLE = _("the panel says {remains} of {units} were not delivered, which cannot be right")
SETTLE_NOT_PLACED = _("Only a placed order is settled here; unverified orders are settled on the Unverified screen, "
                      "and a refused order was refunded in full.")
BUTTON_REFUND_ALL = _("↩️ Refund all {amount}")
BUTTON_REFUND_PART = _("✏️ Refund part…")
BUTTON_NOTHING_DUE = _("✅ Nothing is due")
SETTLE_CONFIRM_ALL = _("↩️ Refund {amount} of order #{order_id} to user <code>{user_id}</code>? They are told.")
SETTLE_CONFIRM_NOTHING = _("✅ Decide that nothing is due back on order #{order_id}? User <code>{user_id}</code> is "
                           "told that the order was delivered as charged.")
ASK_SETTLE_AMOUNT = _("✏️ Order #{order_id}: send the amount to refund (at most {left}), or /cancel.")
BAD_SETTLE_AMOUNT = _("\"{value}\" is not an amount between 0.000001 and {left}. Send it again, or /cancel.")
SETTLE_CHANGED = _("⚠️ The order's refunds changed since this screen was drawn; here it is again.")
SETTLE_REFUSED: dict[str, str] = {
    "unknown order": _("⚠️ There is no such order."),
    "not placed": _("⚠️ This order is not placed, so it is not settled here."),
    "changed": _("⚠️ The order's refunds changed meanwhile; nothing was done. Here it is again."),
    "out of range": _("⚠️ Nothing is left to refund on this order."),
    "nothing held": _("⚠️ No refund is held on this order (any more); nothing was done."),
}
SETTLED_REFUND = _("✅ {amount} refunded on order #{order_id} to user <code>{user_id}</code>, who is told.")
SETTLED_NOTHING = _("✅ Order #{order_id}: nothing is due; user <code>{user_id}</code> is told.")
BROADCAST_ASK = _("📣 Send the message for every customer ({count} can receive it). HTML is allowed: &lt;b&gt;, "
                  "&lt;i&gt;, &lt;u&gt;, &lt;s&gt;, &lt;a href=\"…\"&gt;, &lt;code&gt;, &lt;pre&gt;, "
                  "&lt;blockquote&gt;, &lt;tg-spoiler&gt;. /cancel to stop.")
BROADCAST_NOT_TEXT = _("A broadcast is text only. Send the text, or /cancel.")
BROADCAST_INVALID = _("⚠️ Telegram refuses this text: {error}\nCheck the HTML tags (every tag closed, &amp;lt; for "
                      "a literal &lt;) and send it again, or /cancel.")
BROADCAST_PREVIEW = N_("👆 This is how customers will see it. Send it to <b>{count}</b> customer?",
                       "👆 This is how customers will see it. Send it to <b>{count}</b> customers?")
BUTTON_BROADCAST_SEND = _("📣 Send to {count}")
BROADCAST_CANCELLED = _("Broadcast cancelled; nobody got it.")
BROADCAST_GONE = _("This broadcast was already sent or cancelled.")
BROADCAST_NOBODY = _("Nobody can receive a broadcast yet: no customer has written to the bot (or all blocked it).")
BROADCAST_PROGRESS = _("📣 <b>Broadcast #{broadcast_id}</b>\n{bar}\n{done} / {total} · delivered {sent} · "
                       "blocked {blocked} · failed {failed}")
BROADCAST_REPORT = _("📣 <b>Broadcast #{broadcast_id} finished</b>: {sent} delivered, {blocked} blocked the bot, "
                     "{failed} failed (of {total}).")
CATALOGUE_ADMIN = _("🗂 <b>Catalogue</b>: {services} services in {categories} categories. 🙈 = hidden from "
                    "customers; % = a markup of its own (default {markup}%).")
CATEGORY_ADMIN = N_("🗂 <b>{name}</b>\n{count} service · {state} · markup {markup}%{own}",
                    "🗂 <b>{name}</b>\n{count} services · {state} · markup {markup}%{own}")
CATEGORY_OWN_MARKUP = _(" (its own)")
STATE_SHOWN = _("shown")
STATE_HIDDEN = _("🙈 hidden")
SERVICE_ADMIN = _("🧩 <b>{name}</b>\nid {service_id} · {category}\nPanel rate {rate} · customers pay {price} per "
                  "1000 · {state}")
BUTTON_HIDE = _("🙈 Hide")
BUTTON_SHOW = _("👁 Show")
BUTTON_SET_MARKUP = _("% Markup…")
BUTTON_SERVICES = _("🧩 Services")
BUTTON_BACK_CATALOGUE = _("‹ Catalogue")
BUTTON_BACK_TO = _("‹ {name}")
ASK_MARKUP = _("% Markup for <b>{name}</b> in percent (0–10000, e.g. 25 or 12.5), or <code>default</code> for the "
               "shop's {markup}%. /cancel to stop.")
BAD_MARKUP = _("⚠️ “{value}” is not a markup: send a number of percent from 0 to 10000 (e.g. 25 or 12.5), or "
               "<code>default</code>.")
MARKUP_SET = _("✅ Markup for <b>{name}</b>: {markup}%. It applies to orders confirmed from now on.")
CATALOGUE_REFRESHED = _("🔄 Catalogue refreshed: {services} services. {added} added, {removed} removed, "
                        "{repriced} with a new panel rate (new rates apply to orders confirmed from now on).")
CATALOGUE_REFRESH_FAILED = _("⚠️ The panel did not give its services ({reason}); the catalogue is unchanged.")
REFRESH_PANEL_LINE = _("• <b>{panel}</b>: {services} services, {added} added, {removed} removed, {repriced} repriced")
REFRESH_PANEL_FAILED = _("• <b>{panel}</b>: not read ({reason}); its last list stays on sale")
REFRESH_FLAGGED = N_("⚠️ {count} source to check: it left its panel or changed type (🗂 Catalogue → ⚠️ Sources).",
                     "⚠️ {count} sources to check: they left their panel or changed type (🗂 Catalogue → ⚠️ Sources).")
# A shop service's sources (handlers/admin_catalogue.py) and exchange rates (handlers/admin_rates.py).
SERVICE_ADMIN_OFF_SALE = _("🧩 <b>{name}</b>\nid {service_id} · ⛔ not on sale: none of its sources can take orders")
SOURCES_TITLE = _("<b>Sources</b>, tried in this order:")
SOURCE_LINE = _("{position}. {panel} · {service_id} · {rate}{converted}{mark}")
SOURCE_LINE_UNLISTED = _("{position}. {panel} · {service_id}{mark}")
SOURCE_RATE = _("{rate}/1000")
SOURCE_RATE_PACKAGE = _("{rate}/package")
SOURCE_CONVERTED = _(" (≈{amount})")
SOURCE_FIRST_MARK = _(" ✅")
SOURCE_PROBLEMS: dict[str, str] = {  # why a source is not used (bot/domain/sourcing.py SourceView.problem)
    "gone": _(" ❌ gone from the panel"),
    "type": _(" ⚠️ type changed to {type}"),
    "panel": _(" ⚠️ panel not in PANELS"),
    "currency": _(" ⚠️ no exchange rate for {currency}"),
    "limits": _(" ⚠️ impossible rate or limits"),
}
SOURCES_FIRST = _("✅ Orders go to <b>{panel}</b> first; when it cannot take one, to the next usable source.")
SOURCES_NONE_USABLE = _("⛔ No source can take orders: customers do not see this service.")
SOURCES_HINT = _("⬆️⬇️ change the order · ✂️ Split takes a source out into a service of its own.")
BUTTON_SOURCE_UP = _("⬆️ {position}")
BUTTON_SOURCE_DOWN = _("⬇️ {position}")
BUTTON_SOURCE_SPLIT = _("✂️ Split {position}")
BUTTON_MERGE = _("🔗 Merge with…")
BUTTON_RENAME = _("✏️ Rename")
SOURCES_CHANGED = _("⚠️ The sources changed since this screen was drawn; nothing was done. Here they are now.")
SOURCE_MOVED = _("✅ Order of sources changed.")
SOURCE_SPLIT = _("✅ {panel} · {service_id} is a service of its own again.")
BUTTON_OPEN_SPLIT = _("🧩 Open the new service")
MERGE_TITLE = _("🔗 <b>Merge with {name}</b>\nThe one you tap becomes this service's last source, and its own "
                "entry goes. Same type, at other panels, most alike first:")
MERGE_NONE = _("🔗 No service of the same type at another panel to merge with <b>{name}</b>. Search by words:")
MERGE_ITEM = _("{number}. {sources} · {name}{rate}")
BUTTON_MERGE_PICK = _("🔗 {number}. {name}")
BUTTON_MERGE_SEARCH = _("🔎 Search by words…")
ASK_MERGE_SEARCH = _("🔎 Send words from the name (or a panel's service id) of the service to merge into "
                     "<b>{name}</b>. /cancel to stop.")
MERGE_FOUND = N_("🔎 {count} service of the same type matches “{words}”. Tap it to merge it into <b>{name}</b>:",
                 "🔎 {count} services of the same type match “{words}”. Tap one to merge it into <b>{name}</b>:")
MERGE_FOUND_MORE = _("(the first {shown}; send more words to narrow it down)")
MERGE_NOT_FOUND = _("🔎 No service of the same type matches “{words}”. Send other words, or /cancel.")
MERGED = _("✅ Merged “{other}”: its sources are now last in the list below.")
MERGE_GONE = _("⚠️ That service is gone (merged or removed meanwhile); nothing was merged.")
MERGE_OTHER_TYPE = _("⚠️ That service is of another type now; nothing was merged.")
ASK_RENAME = _("✏️ New name for <b>{name}</b>, as customers will see it (up to {limit} characters), or "
               "<code>-</code> for the panel's name. /cancel to stop.")
BAD_NAME = _("⚠️ A name is 1–{limit} characters of text. Send it again, <code>-</code> for the panel's name, or "
             "/cancel.")
RENAMED = _("✅ Customers now see <b>{name}</b>.")
RENAMED_DEFAULT = _("✅ Back to the panel's name: <b>{name}</b>.")
BUTTON_SERVICE_CATEGORY = _("🗂 Category")
BUTTON_SERVICE_DESCRIPTION = _("📝 Description")
BUTTON_SERVICE_MARKUP = _("💲 Markup")
ASK_SERVICE_CATEGORY = _("🗂 Category for <b>{name}</b> (now “{category}”): send a category name (up to {limit} "
                         "characters; an existing one puts it there), or <code>-</code> for the panel's. /cancel to "
                         "stop.")
ASK_SERVICE_DESCRIPTION = _("📝 Description of <b>{name}</b>, as customers will read it (up to {limit} characters), "
                            "or <code>-</code> for the panel's. /cancel to stop.")
ASK_SERVICE_MARKUP = _("💲 Markup for <b>{name}</b> alone, in percent (now {markup}%), or <code>default</code> for "
                       "its category's. /cancel to stop.")
BAD_OWN_TEXT = _("⚠️ Send 1–{limit} characters of text, <code>-</code> for the panel's, or /cancel.")
SERVICE_OWN_MARKUP = _("💲 Its own markup: {markup}% (its category's does not apply to it)")
SERVICE_EDITED = _("✅ Saved: customers see it from now on.")
SERVICE_MARKUP_SET = _("✅ Markup for <b>{name}</b>: {markup}%. It applies to orders confirmed from now on.")
BUTTON_FLAGGED = _("⚠️ Sources to check ({count})")
BUTTON_BACK_FLAGGED = _("‹ Sources to check")
FLAGGED_TITLE = N_("⚠️ <b>{count} source to check</b>: it left its panel or changed type. Open its service to "
                   "reorder or split it:",
                   "⚠️ <b>{count} sources to check</b>: they left their panel or changed type. Open a service to "
                   "reorder or split it:")
FLAGGED_ITEM = _("{number}. {panel} · {service_id} · {problem}\n   in “{name}”")
FLAGGED_GONE = _("gone")
FLAGGED_TYPE = _("type changed")
FLAGGED_NONE = _("✅ No source to check: every one is listed by its panel, with its type.")
BUTTON_FLAGGED_ITEM = _("⚠️ {number}. {panel} · {service_id}")
RATE_USAGE = _("Usage: <code>/rate CUR RATE</code>, how many {shop} one CUR is, e.g. <code>/rate EUR 1.08</code>.")
BAD_RATE_CURRENCY = _("⚠️ “{value}” is not a currency code: three letters, like EUR.")
RATE_SHOP_CURRENCY = _("⚠️ {currency} is the shop's own currency: it needs no rate.")
BAD_RATE = _("⚠️ “{value}” is not a rate: a number above 0 and up to 1,000,000,000, with at most 8 decimals "
             "(e.g. 1.08).")
RATE_SET = _("✅ 1 {currency} = {rate} {shop}, for prices from now on (placed orders keep theirs).")
RATE_UNUSED = _("ℹ️ No panel sells in {currency} now; the rate waits for one that does.")
RATES_TITLE = _("💱 <b>Exchange rates</b> into {shop}")
RATES_LINE = _("1 {currency} = {rate} {shop} · set {age} · {panels}")
RATES_NO_PANEL = _("no panel uses it")
RATES_NONE = _("No exchange rate is set.")
RATES_HINT = _("Set or change one with <code>/rate CUR RATE</code>.")
ADMIN_MENU_RATES = _("Exchange rates: <code>/rate CUR RATE</code>, /rates.")
BUTTON_ADMIN_RATES = _("💱 Exchange rates")
AUDIT_TITLE = _("📜 <b>Audit log</b> (latest first, UTC)")
AUDIT_LINE = _("{created} · admin <code>{admin_id}</code> · {action} {target}: {before} → {after}")
AUDIT_NONE = _("📜 No admin action yet.")
SERVICE_GONE = _("This service is no longer available. Nothing was charged. Send /order to choose another.")
PRICE_CHANGED = _("ℹ️ The price changed since you looked: it is now {price}. Check the order and confirm again.")

# --------------------------------------------------------------------------- top-ups

TOPUP_MENU = _("💳 <b>Top up your wallet</b>\nBalance: <b>{balance}</b>\n\n{methods}")
TOPUP_STARS_LINE = _("⭐ <b>Telegram Stars</b>: 1 {currency} = {rate} ⭐. Choose an amount, or type your own "
                     "({low} to {high}).")
TOPUP_MANUAL_LINE = _("🏦 <b>Another method</b> (bank transfer, crypto…): the operator credits your wallet after "
                      "checking the payment.")
TOPUP_DISABLED = _("💳 Top-ups are not available in this shop yet. To add money to your wallet, contact the "
                   "operator and send them your id: <code>{user_id}</code>")
BUTTON_TOPUP_PRESET = _("{amount} · {stars} ⭐")
BUTTON_TOPUP_CUSTOM = _("✏️ Other amount")
BUTTON_TOPUP_MANUAL = _("🏦 Other payment method")
BUTTON_TOPUP_MENU = _("‹ Top up")
ASK_TOPUP_AMOUNT = _("✏️ Type the amount to add, in {currency}: from {low} to {high}, e.g. {example}.")
TOPUP_BAD_AMOUNT = _("“{value}” is not an amount. Type a number in {currency} from {low} to {high}, with at most "
                     "2 decimals, e.g. {example}.")
TOPUP_OUT_OF_RANGE = _("{amount} cannot be paid with Stars: the amount must be from {low} to {high}.")
TOPUP_STARS_DISABLED = _("Top-ups with Telegram Stars are not available now.")
INVOICE_TITLE = _("Wallet top-up")
INVOICE_DESCRIPTION = _("{amount} for your wallet in this shop, paid in Telegram Stars. The money is on your wallet "
                        "as soon as the payment goes through.")
INVOICE_LABEL = _("Top-up {amount}")
INVOICE_SENT = N_("🧾 Your invoice for <b>{amount}</b> ({stars} ⭐) is below. It can be paid within {hours} hour; "
                  "your wallet is credited as soon as Telegram confirms the payment.",
                  "🧾 Your invoice for <b>{amount}</b> ({stars} ⭐) is below. It can be paid within {hours} hours; "
                  "your wallet is credited as soon as Telegram confirms the payment.", "hours")
CHECKOUT_REFUSED = {
    "disabled": _("Top-ups with Telegram Stars are paused. Nothing was charged."),
    "unknown": _("This invoice is not valid for your account. Nothing was charged; open /topup for a new one."),
    "paid": _("This invoice is already paid. Nothing was charged; open /topup for a new top-up."),
    "expired": _("This invoice has expired. Nothing was charged; open /topup for a new one."),
    "changed": _("The price of this top-up has changed. Nothing was charged; open /topup for a new invoice."),
    "banned": _("This shop cannot take your payment. Nothing was charged."),
    "private": _("This bot is private. Nothing was charged."),
    "error": _("The shop cannot take payments right now. Nothing was charged; please try again later."),
}
TOPUP_RECEIPT = _("✅ <b>Payment received</b>: {stars} ⭐\n{amount} added to your wallet. Balance: <b>{balance}</b>\n"
                  "Payment reference: <code>P{reference}</code> (quote it in /paysupport)")
STARS_REFUNDED_CUSTOMER = _("↩️ Your payment of {stars} ⭐ was refunded to you, and {amount} was taken from your "
                            "wallet. Balance: <b>{balance}</b>")
MANUAL_INSTRUCTIONS = _("🏦 <b>Top up by another method</b>\n\n{instructions}\n\nOnce you have paid, type the amount "
                        "you paid in {currency}, e.g. {example}.")
MANUAL_BAD_AMOUNT = _("“{value}” is not an amount. Type the amount you paid in {currency}: a positive number with at "
                      "most 2 decimals, e.g. {example}.")
ASK_MANUAL_PROOF = _("Amount: <b>{amount}</b>\n\nNow send the payment reference (transaction id, sender name…) as "
                     "text, or a photo of the receipt.")
MANUAL_PROOF_EXPECTED = _("Please send the payment reference as text (up to {limit} characters) or a photo of the "
                          "receipt, or press Cancel.")
MANUAL_SENT = _("📨 Request <b>#{topup_id}</b> for {amount} was sent to the operator. You will get a message here "
                "once it is checked.")
MANUAL_TOO_MANY = N_("You already have {count} top-up request waiting for the operator. Please wait until it is "
                     "checked.",
                     "You already have {count} top-up requests waiting for the operator. Please wait until they "
                     "are checked.")
MANUAL_APPROVED_CUSTOMER = _("✅ Your top-up request #{topup_id} was approved: {amount} added to your wallet. "
                             "Balance: <b>{balance}</b>")
MANUAL_REJECTED_CUSTOMER = _("❌ Your top-up request #{topup_id} for {amount} was not approved. If you did pay, "
                             "send /paysupport with the details.")
TOPUP_CANCELLED = _("Top-up cancelled.")
TOPUP_EXPIRED = _("⌛ That top-up was left unfinished for too long, so nothing was done. Press Top up to start again.")
PAYSUPPORT = _("🆘 <b>Help with payments</b>\n"
               "⭐ A Stars payment reaches your wallet as soon as Telegram confirms it; another method, once the "
               "operator has checked the payment.\n"
               "↩️ The operator can refund a Stars payment while its amount is still on your wallet. An order "
               "that fails is refunded to the wallet.{contact}{recent}\n\n"
               "✏️ <b>Type your question</b> in your next message (with the payment reference, e.g. P12): it goes "
               "to the operator.")
PAYSUPPORT_CONTACT = _("\nContact: {contact}")
PAYSUPPORT_RECENT = _("\n\n<b>Your latest top-ups</b>\n{lines}")
PAYSUPPORT_STARS_LINE = _("P{payment_id} · {created} · {stars} ⭐ · {amount} · {state}")
PAYSUPPORT_MANUAL_LINE = _("🏦 #{topup_id} · {created} · {amount} · {state}")
PAYMENT_STATES: dict[str, Text] = {
    "paid": C_("payment state", "credited"),
    "refunding": C_("payment state", "refund in progress"),
    "refunded": C_("payment state", "refunded"),
    "pending": C_("payment state", "waiting for the operator"),
    "approved": C_("payment state", "credited"),
    "rejected": C_("payment state", "not approved"),
}
PAYSUPPORT_SENT = _("📨 Your message was sent to the operator. They will answer you here or contact you directly.")
PAYSUPPORT_WAIT = _("Your previous message has just been sent to the operator, so this one was not sent. You can "
                    "send /paysupport again in a minute.")
PAYSUPPORT_TOO_LONG = _("Your message is too long ({length} characters); please keep it under {limit}.")
PAYSUPPORT_TEXT_EXPECTED = _("Please type your question as a text message, or press Cancel.")
PAYSUPPORT_STILL_OPEN = _("✏️ Type your question about a payment in your next message, or press Cancel.")
PAYSUPPORT_CANCELLED = _("Your question was not sent.")
PAYSUPPORT_EXPIRED = _("⌛ That question waited too long and was not sent. Send /paysupport to ask again.")
BUTTON_CONTINUE_QUESTION = _("▶️ Back to your question")
PAYSUPPORT_ADMIN = _("🆘 <b>Payment support</b> from {name} (<code>{user_id}</code>):\n\n{text}\n\n"
                     "Their card: /user {user_id}")
ALERT_UNEXPECTED_PAYMENT = _("⚠️ <b>A Stars payment did not match a pending invoice</b>: user <code>{user_id}</code>, "
                             "{stars} ⭐ (invoice: {invoice}). Credited {amount} (P{payment_id}). "
                             "Check /user {user_id}.")

ALERT_PAYMENT_NOT_RECORDED = _("🚨 <b>A Stars payment could not be recorded</b>: user <code>{user_id}</code>, "
                               "{stars} ⭐, charge <code>{charge_id}</code> (invoice: {invoice}). Credit it by hand "
                               "with /credit and check the log.")

ALERT_REFUND_CONFIRMED = _("↩️ Telegram confirmed the refund of P{payment_id} ({stars} ⭐) to user "
                           "<code>{user_id}</code>; it is settled and the customer was told.")
ALERT_REFUND_TAKEN_BACK = _("⚠️ <b>P{payment_id} ({stars} ⭐) of user <code>{user_id}</code> was refunded outside "
                            "the bot.</b> Its {amount} was taken from the wallet (balance now {balance}) and the "
                            "customer was told.")
ALERT_REFUND_SHORT = _("🚨 <b>P{payment_id} ({stars} ⭐) of user <code>{user_id}</code> was refunded outside the "
                       "bot</b>, but the wallet holds only {balance} of the {amount} it credited: nothing was taken. "
                       "Decide in /user {user_id} (/debit takes money back).")
ALERT_REFUND_UNKNOWN = _("⚠️ Telegram reported a refund of {stars} ⭐ to user <code>{user_id}</code> that the bot "
                         "could not settle against a payment it recorded (charge <code>{charge_id}</code>). Check "
                         "/user {user_id} and the log.")

# admins: manual requests and Stars refunds
BUTTON_ADMIN_TOPUPS = _("🏦 Top-up requests ({count})")
MANUAL_REQUEST_ADMIN = _("🏦 <b>Top-up request #{topup_id}</b>\nFrom: {name} (<code>{user_id}</code>)\n"
                         "Amount: <b>{amount}</b>\nReference: {reference}\nSent: {created}")
MANUAL_NO_REFERENCE = _("(photo of the receipt)")
BUTTON_APPROVE = _("✅ Approve {amount}")
BUTTON_REJECT = _("❌ Reject")
MANUAL_DECIDED = {"approved": _("✅ Approved by {admin}"), "rejected": _("❌ Rejected by {admin}")}
ADMIN_WITH_USERNAME = _("{name} (@{username})")
MANUAL_ALREADY_DECIDED = _("Already decided: {decision}.")
MANUAL_NOT_FOUND = _("No such top-up request.")
TOPUPS_NONE = _("🏦 No top-up request is waiting.")
TOPUPS_TITLE = _("🏦 <b>Top-up requests waiting</b>: {count}. Press one below to open it with Approve and Reject.")
LIST_OLDEST_SHOWN = _("The oldest {shown} are below.")
USER_PAYMENTS = _("\n\n<b>Stars payments</b>\n{lines}")
USER_PAYMENT_LINE = _("⭐ P{payment_id} · {created} · {stars} ⭐ · {amount} · {state}")
BUTTON_REFUND_STARS = _("↩️ Refund P{payment_id} ({stars} ⭐)")
BUTTON_RETRY_REFUND = _("↩️ Retry refund P{payment_id}")
CONFIRM_STARS_REFUND = _("↩️ Refund payment P{payment_id}: {stars} ⭐ back to user <code>{user_id}</code>, and take "
                         "{amount} from their wallet (it holds {balance})?")
BUTTON_YES_REFUND_STARS = _("Yes, refund {stars} ⭐")
REFUND_RESULTS = {
    "done": _("↩️ Payment P{payment_id} refunded: {stars} ⭐ back to the customer, {amount} taken from the wallet."),
    "already": _("Payment P{payment_id} is already refunded."),
    "busy": _("Payment P{payment_id} is being refunded by another admin; open the card again in a moment."),
    "not_found": _("No such Stars payment for this user."),
    "overdraft": _("Cannot refund P{payment_id}: the wallet holds {balance}, the refund would take {amount}. The "
                   "customer has spent part of it."),
    "refused": _("Telegram refused to refund P{payment_id} ({reason}). The {amount} was put back on the wallet."),
    "unknown": _("Telegram did not confirm the refund of P{payment_id}. {amount} stays taken from the wallet; press "
                 "Retry refund (safe: Telegram refunds a payment only once)."),
}


def _name_texts() -> None:
    """Give every text its name here, so that a queued message can be stored by name."""
    for name, value in list(globals().items()):
        if isinstance(value, Text):
            value.key = name
        elif isinstance(value, dict):
            for entry, text in value.items():
                if isinstance(text, Text):
                    text.key = f"{name}[{entry}]"


_name_texts()

