"""Every text the bot shows a user, in one place, ready for gettext.

Handlers never write user-facing literals; they format these. Texts are HTML (parse_mode HTML):
anything that comes from a user or a panel must be passed through `html.escape` first.
"""

from __future__ import annotations


def _(text: str) -> str:
    """gettext hook: today the identity; a translation catalogue plugs in here later."""
    return text


GREETING = _(
    "👋 Hello, {name}!\n\n"
    "This bot sells social-media services: followers, likes, views, comments and more. "
    "Choose a service, send the link, confirm the price, and the order starts; "
    "you will get a message at every step of its progress.\n\n"
    "Send /help to see how it works."
)
SANDBOX_BANNER = _(
    "🧪 <b>Sandbox mode</b>: this bot is connected to a simulated panel. "
    "Orders are simulated, nothing is bought and no money is spent."
)
HELP = _(
    "<b>How ordering works</b>\n"
    "1. Pick a category and a service; its card shows the price per 1000, the allowed quantity "
    "and whether refill and cancel are offered.\n"
    "2. Send the link (an http(s) address) and the details the service asks for.\n"
    "3. Check the summary and press <b>Confirm</b>: the price is taken from your wallet and the "
    "order goes to the provider.\n"
    "4. The bot tells you when the order starts, completes, or is refunded.\n\n"
    "<b>Commands</b>\n"
    "/start: main menu\n"
    "/help: this help"
)
ERROR_GENERIC = _(
    "😕 Something went wrong on our side. Nothing was charged for this step; please try again "
    "in a minute. If it keeps happening, contact the operator."
)

# The command list Telegram shows in the menu (command, description).
COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", _("Main menu")),
    ("help", _("How ordering works")),
)
