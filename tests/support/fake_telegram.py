"""A strict fake Telegram Bot API server for end-to-end tests.

Why: the real python-telegram-bot ``Application`` talks to this server over loopback HTTP, so
the whole stack (PTB's request layer, (de)serialisation, handlers, our code) runs for real.
The fake rejects what Telegram rejects - with Telegram's own error texts - so a message that
Telegram would refuse fails the test instead of failing in production.

Usage::

    async with FakeTelegram() as tg:
        app = ApplicationBuilder().token(tg.token).base_url(tg.base_url).build()
        ...
        user = tg.user(42, "Ann")
        await user.send("/start")
        menu = await user.next_message()
        await user.press(menu, "Buy")

Photos and Telegram Stars: ``user.send_photo(caption)`` sends a photo whose file_ids the bot may
send again (sendPhoto, editMessageCaption); an invoice the bot sent (sendInvoice, XTR only) is
paid with ``await user.pay(invoice)``: a pre_checkout_query the bot must answer within
``pre_checkout_timeout``, then a charge in ``tg.charges`` and a successful_payment message.
``refundStarPayment`` refunds once and tells the chat with a refunded_payment message.
``inject_error`` makes calls fail, before or after they take effect.

Webhooks: once the bot called setWebhook (an https URL, as Telegram insists), the fake posts every
update to the loopback addresses a test names, as a load balancer in front of the bot's instances
would: ``tg.deliver_webhooks_to(["http://127.0.0.1:8081"], mode="round-robin")`` (the registered
URL's path is kept when a target has none; "random" picks a target per attempt). Each POST carries
``X-Telegram-Bot-Api-Secret-Token``; anything but a 2xx is retried with back-off (on the next
target), updates of one chat go one after another, in order, and ``await tg.wait_delivered()``
waits until every update was taken. ``tg.webhook_deliveries`` records each attempt. Formatted text is parsed
as Telegram parses HTML (tests/support/telegram_html.py); Markdown, which the bot never sends, is
refused rather than half-modelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import json
import math
import random
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from tests.support.telegram_html import EntityParseError, parse_html, strip, utf16_len

__all__ = ["ApiCall", "Charge", "FakeTelegram", "FakeUser", "PaymentResult", "SentMessage", "WebhookDelivery"]

_T = TypeVar("_T")

MAX_TEXT_UNITS = 4096
MAX_CAPTION_UNITS = 1024
MAX_CALLBACK_ANSWER_UNITS = 200
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
#: Form fields that carry JSON objects/arrays; they are decoded before recording and checking.
JSON_FIELDS = frozenset(
    {"reply_markup", "commands", "allowed_updates", "entities", "caption_entities", "scope",
     "link_preview_options", "reply_parameters", "media", "results", "prices"}
)
_BUTTON_ACTIONS = (
    "callback_data", "url", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)
#: What Telegram delivers when allowed_updates was never set (or set to []).
_DEFAULT_UPDATE_TYPES = frozenset(
    {"message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
     "business_message", "edited_business_message", "deleted_business_messages",
     "inline_query", "chosen_inline_result", "callback_query", "shipping_query",
     "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer", "my_chat_member",
     "chat_join_request", "chat_boost", "removed_chat_boost"}
)
_CHAT_ACTIONS = frozenset(
    {"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
     "upload_document", "choose_sticker", "find_location", "record_video_note",
     "upload_video_note"}
)
_WEBHOOK_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?=\s|$)")
_BOT_COMMAND_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")


class _ApiError(Exception):
    """An error answer: HTTP status (= error_code) plus Telegram's description."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


def _bad(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


def _flood(retry_after: int) -> _ApiError:
    return _ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)


# --------------------------------------------------------------------------- records


@dataclass
class ApiCall:
    """One request the bot made; ``params`` as sent, with JSON fields decoded."""

    method: str
    params: dict[str, Any]
    ok: bool = True
    error: str | None = None
    status: int = 200
    result: Any = None
    at: float = field(default_factory=time.perf_counter)  # when the server received it

    @property
    def chat_id(self) -> int | None:
        """``params["chat_id"]`` as an int (form values arrive as strings)."""
        try:
            return int(self.params["chat_id"])
        except (KeyError, TypeError, ValueError):
            return None

    def __str__(self) -> str:
        shown = {k: v for k, v in self.params.items() if k not in ("reply_markup", "commands")}
        outcome = "ok" if self.ok else f"FAILED {self.status}: {self.error}"
        return f"{self.method}({json.dumps(shown, ensure_ascii=False)[:160]}) -> {outcome}"


@dataclass(frozen=True)
class WebhookDelivery:
    """One attempt to post an update to a webhook target."""

    update_id: int
    kind: str  # "message", "callback_query"…
    target: str
    attempt: int  # 1 for the first try of this update
    status: int | None  # the HTTP status; None when no answer came (refused, timed out)
    error: str | None = None  # None: delivered (2xx)
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class SentMessage:
    """A message the bot sent, kept up to date by edits and deletion (a live object)."""

    message_id: int
    chat_id: int
    text: str
    raw_text: str
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    edits: int = 0
    deleted: bool = False
    entities: list[dict[str, Any]] = field(default_factory=list)
    date: int = 0
    edit_date: int | None = None
    #: "text", "photo" (``text``/``entities`` hold the caption) or "invoice" (``text`` is the title,
    #: a newline and the description).
    kind: str = "text"
    photo: list[dict[str, Any]] = field(default_factory=list)
    #: For invoices: Telegram's Invoice object plus ``payload`` (which Telegram never shows).
    invoice: dict[str, Any] = field(default_factory=dict)

    def buttons(self) -> list[list[dict[str, Any]]]:
        """Inline keyboard rows; [] when the message has no inline keyboard."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [list(row) for row in rows]

    def button(self, text_contains: str) -> dict[str, Any]:
        """The first inline button whose text contains ``text_contains``."""
        text_contains = str(text_contains)  # a text of bot/texts.py, as the reader would see it
        for row in self.buttons():
            for button in row:
                if text_contains in button.get("text", ""):
                    return button
        raise AssertionError(
            f"no button containing {text_contains!r} in message {self.message_id} "
            f"({self.text[:60]!r}); buttons: {self.button_texts()}"
        )

    def button_texts(self) -> list[list[str]]:
        """Button labels row by row, handy in assertions and failure messages."""
        return [[b.get("text", "") for b in row] for row in self.buttons()]


class FakeUser:
    """A Telegram user in a private chat with the bot; drives updates and reads replies."""

    def __init__(
        self, server: FakeTelegram, user_id: int, first_name: str, username: str | None,
        language_code: str,
    ) -> None:
        self._server = server
        self.id = user_id
        self.first_name = first_name
        self.username = username
        self.language_code = language_code
        self._cursor = 0

    @property
    def chat_id(self) -> int:
        """Private chats share the user's id."""
        return self.id

    def as_dict(self) -> dict[str, Any]:
        """The ``User`` object Telegram puts in ``from``."""
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name,
                                "language_code": self.language_code}
        if self.username:
            user["username"] = self.username
        return user

    def chat_dict(self) -> dict[str, Any]:
        """The private ``Chat`` object."""
        chat: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.username:
            chat["username"] = self.username
        return chat

    def messages(self) -> list[SentMessage]:
        """Everything the bot sent to this user so far (current state)."""
        return self._server.messages(self.id)

    async def send(self, text: str) -> dict[str, Any]:
        """Type a message to the bot; a leading /command gets its bot_command entity."""
        server = self._server
        message: dict[str, Any] = {
            "message_id": server._new_message_id(self.id), "from": self.as_dict(),
            "chat": self.chat_dict(), "date": int(time.time()), "text": text,
        }
        command = _COMMAND_RE.match(text)
        if command:
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command.group())}
            ]
        server._user_message_ids.setdefault(self.id, set()).add(message["message_id"])
        await server.push_update({"message": message})
        return message

    async def press(self, message: SentMessage, button_text_or_data: str) -> str:
        """Press an inline button (exact callback_data, else text containing the string)."""
        server = self._server
        live = server._find_message(message.chat_id, message.message_id)
        if live is None or live.chat_id != self.id:
            raise AssertionError(f"message {message.message_id} was not sent to user {self.id}")
        if live.deleted:
            raise AssertionError(f"message {live.message_id} was deleted; nothing to press")
        buttons = [b for row in live.buttons() for b in row]
        chosen = next((b for b in buttons if b.get("callback_data") == button_text_or_data), None)
        if chosen is None:
            chosen = next((b for b in buttons if button_text_or_data in b.get("text", "")), None)
        if chosen is None:
            raise AssertionError(
                f"no button with callback_data or text {button_text_or_data!r} in message "
                f"{live.message_id} ({live.text[:60]!r}); buttons: {live.button_texts()}"
            )
        if "callback_data" not in chosen:
            raise AssertionError(f"button {chosen!r} has no callback_data; pressing sends nothing")
        server._query_counter += 1
        query_id = str(4_700_000_000_000_000_000 + server._query_counter)
        server._queries[query_id] = self.id
        await server.push_update({"callback_query": {
            "id": query_id, "from": self.as_dict(), "message": server._message_json(live),
            "chat_instance": str(-(abs(self.id) * 7919 + 17)), "data": chosen["callback_data"],
        }})
        return query_id

    async def send_photo(self, caption: str | None = None) -> dict[str, Any]:
        """Send a photo (three sizes, as Telegram delivers it), with an optional caption."""
        server = self._server
        message: dict[str, Any] = {
            "message_id": server._new_message_id(self.id), "from": self.as_dict(),
            "chat": self.chat_dict(), "date": int(time.time()), "photo": server._new_photo(),
        }
        if caption is not None:
            message["caption"] = caption
        server._user_message_ids.setdefault(self.id, set()).add(message["message_id"])
        await server.push_update({"message": message})
        return message

    async def pre_checkout(self, payload: str, total_amount: int, currency: str = "XTR") -> PaymentResult:
        """Only the pre-checkout half of a payment: the bot's answer, nothing charged."""
        result, _ = await self._server._checkout(self, payload, total_amount, currency)
        return result

    async def pay(self, invoice: SentMessage, *, payload: str | None = None, total_amount: int | None = None,
                  currency: str | None = None) -> PaymentResult:
        """Press Pay on an invoice sent to this user: the pre-checkout query, then (if the bot said
        ok in time) the charge and the successful_payment message. Overrides forge the query."""
        server = self._server
        live = server._find_message(invoice.chat_id, invoice.message_id)
        if live is None or live.kind != "invoice" or live.chat_id != self.id:
            raise AssertionError(f"message {invoice.message_id} is not an invoice sent to user {self.id}")
        if live.deleted:
            raise AssertionError(f"invoice {live.message_id} was deleted; there is no Pay button to press")
        details = live.invoice
        payload = details["payload"] if payload is None else payload
        total = details["total_amount"] if total_amount is None else total_amount
        currency = details["currency"] if currency is None else currency
        result, _ = await server._checkout(self, payload, total, currency)
        if not result.ok:
            return result
        server._charge_counter += 1
        charge_id = f"stxFAKE{server._charge_counter:012d}"
        server.charges[charge_id] = Charge(charge_id, self.id, total, currency, payload)
        message: dict[str, Any] = {
            "message_id": server._new_message_id(self.id), "from": self.as_dict(), "chat": self.chat_dict(),
            "date": int(time.time()), "successful_payment": {
                "currency": currency, "total_amount": total, "invoice_payload": payload,
                "telegram_payment_charge_id": charge_id, "provider_payment_charge_id": ""}}
        await server.push_update({"message": message})
        result.charge_id, result.message = charge_id, message
        return result

    def skip_pending(self) -> None:
        """Take every message sent so far as consumed: the next `next_message` is a new one."""
        self._cursor = len(self._server._messages.get(self.id, []))

    async def next_message(self, timeout: float = 5.0) -> SentMessage:  # noqa: ASYNC109 - test API
        """The oldest message to this chat that this user has not consumed yet."""

        def take() -> SentMessage | None:
            sent = self._server._messages.get(self.id, [])
            if self._cursor < len(sent):
                self._cursor += 1
                return sent[self._cursor - 1]
            return None

        return await self._server._wait(take, timeout, lambda: f"a message to chat {self.id}")

    async def wait_answer(
        self, callback_query_id: str, timeout: float = 5.0  # noqa: ASYNC109 - test API
    ) -> ApiCall:
        """The bot's answerCallbackQuery call for that query."""
        return await self._server.wait_call(
            "answerCallbackQuery",
            lambda c: str(c.params.get("callback_query_id")) == callback_query_id,
            timeout,
        )

    async def wait_edit(
        self, message: SentMessage, timeout: float = 5.0  # noqa: ASYNC109 - test API
    ) -> SentMessage:
        """Wait until the message is edited again (after the moment of this call)."""
        live = self._server._find_message(message.chat_id, message.message_id) or message
        seen = live.edits
        return await self._server._wait(
            lambda: live if live.edits > seen else None,
            timeout,
            lambda: f"an edit of message {live.message_id} in chat {live.chat_id}",
        )


@dataclass
class _Injected:
    """An error the next calls of a method answer with (see FakeTelegram.inject_error)."""

    method: str | None
    remaining: int
    status: int
    description: str
    retry_after: int | None = None
    after_applying: bool = False


@dataclass
class Charge:
    """A Stars payment the fake confirmed."""

    charge_id: str
    user_id: int
    total_amount: int
    currency: str
    payload: str
    refunded: bool = False


@dataclass
class PaymentResult:
    """What happened when a user pressed Pay (or only went through the pre-checkout)."""

    ok: bool
    error_message: str | None = None
    answered_after: float | None = None  # seconds from the query to the bot's answer; None: no answer in time
    charge_id: str | None = None
    message: dict[str, Any] | None = None  # the successful_payment message, to replay it


@dataclass
class _Checkout:
    user_id: int
    asked_at: float
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    ok: bool = False
    error_message: str | None = None
    answered_at: float | None = None


# --------------------------------------------------------------------------- the server


class FakeTelegram:
    """The fake Bot API server: state, HTTP dispatch and the waiting helpers tests use."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",  # noqa: S107 - a fake token for a fake server
        *,
        bot_username: str = "storefront_test_bot",
        global_limit_per_second: float | None = None,
        per_chat_limit_per_second: float | None = None,
        strict_html_ampersand: bool = True,
        max_stars_per_invoice: int = 10_000,
        pre_checkout_timeout: float = 10.0,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.global_limit_per_second = global_limit_per_second
        self.per_chat_limit_per_second = per_chat_limit_per_second
        self.strict_html_ampersand = strict_html_ampersand
        self.base_url = ""
        self.url = ""
        self.calls: list[ApiCall] = []
        self.commands: list[dict[str, Any]] = []
        self.blocked: set[int] = set()
        self._cond = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._stopping = False
        self._consumed: set[int] = set()
        self._users: dict[int, FakeUser] = {}
        self._messages: dict[int, list[SentMessage]] = {}
        self._next_message_ids: dict[int, int] = {}
        self._user_message_ids: dict[int, set[int]] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 10_001
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self._queries: dict[str, int] = {}
        self._answered: set[str] = set()
        self._query_counter = 0
        self._injected: list[_Injected] = []
        self.max_stars_per_invoice = max_stars_per_invoice
        self.pre_checkout_timeout = pre_checkout_timeout
        self.charges: dict[str, Charge] = {}
        self._checkouts: dict[str, _Checkout] = {}
        #: Every photo file_id handed out (by a user's photo or the answer to a sendPhoto) and the
        #: PhotoSize list it stands for: sending it again shows these sizes, up to its own.
        self._photo_files: dict[str, list[dict[str, Any]]] = {}
        self._file_counter = 0
        self._charge_counter = 0
        self._pending_service_messages: list[dict[str, Any]] = []
        self._global_sends: deque[float] = deque()
        self._chat_sends: dict[int, deque[float]] = {}
        self._webhook_url = ""
        self._webhook_secret = ""
        self._webhook_max_connections = 40
        self._webhook_targets: list[str] = []
        self._webhook_mode = "round-robin"
        self._webhook_random = random.Random(0)
        self._webhook_turn = 0
        self._last_webhook_error: tuple[int, str] | None = None
        self._in_flight: set[int] = set()  # update ids being posted right now
        self._retry_at: dict[int, float] = {}  # update id → monotonic time of its next attempt
        self._attempts: dict[int, int] = {}
        self._wake = asyncio.Event()  # something changed that the webhook deliverer may act on
        self._deliverer: asyncio.Task[None] | None = None
        self._delivery_tasks: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None
        #: Every attempt to post an update to a webhook target, in the order they ended.
        self.webhook_deliveries: list[WebhookDelivery] = []
        #: How long a target has to answer, and the back-off between attempts of one update.
        self.webhook_timeout = 5.0
        self.webhook_retry_base = 0.05
        self.webhook_retry_max = 1.0
        self._my_commands: dict[str, list[dict[str, Any]]] = {}
        self._commands_key = ""
        self._descriptions: dict[str, str] = {}
        self._methods: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {
            name.lower(): (name, handler) for name, handler in {
                "getMe": self._get_me, "logOut": self._ok, "close": self._ok,
                "deleteWebhook": self._delete_webhook, "setWebhook": self._set_webhook,
                "getWebhookInfo": self._get_webhook_info, "getUpdates": self._get_updates,
                "setMyCommands": self._set_my_commands, "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "setMyDescription": self._set_description("description"),
                "getMyDescription": self._get_description("description"),
                "setMyShortDescription": self._set_description("short_description"),
                "getMyShortDescription": self._get_description("short_description"),
                "sendMessage": self._send_message, "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_reply_markup,
                "deleteMessage": self._delete_message,
                "answerCallbackQuery": self._answer_callback_query,
                "sendChatAction": self._send_chat_action, "getChat": self._get_chat,
                "sendPhoto": self._send_photo, "editMessageCaption": self._edit_message_caption,
                "sendInvoice": self._send_invoice, "answerPreCheckoutQuery": self._answer_pre_checkout_query,
                "refundStarPayment": self._refund_star_payment,
            }.items()
        }

    # ---- lifecycle

    async def start(self) -> None:
        """Serve on an ephemeral loopback port."""
        self._stopping = False
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.url}/bot"
        self._http = aiohttp.ClientSession()
        self._deliverer = asyncio.create_task(self._deliver_forever(), name="fake-telegram-webhooks")

    async def stop(self) -> None:
        """Release pending long polls at once, stop delivering webhooks, then close the server."""
        self._stopping = True
        await self._notify()
        tasks = [t for t in (self._deliverer, *self._delivery_tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._deliverer = None
        if self._http is not None:
            http, self._http = self._http, None
            await http.close()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ---- test-facing helpers

    def user(
        self, user_id: int, first_name: str = "Test", username: str | None = None,
        language_code: str = "en",
    ) -> FakeUser:
        """Create (or fetch) a user; only known users are valid chat_ids."""
        if user_id not in self._users:
            self._users[user_id] = FakeUser(self, user_id, first_name, username, language_code)
        return self._users[user_id]

    def messages(self, chat_id: int) -> list[SentMessage]:
        """Every message the bot sent to the chat, in order, in its current state."""
        return list(self._messages.get(chat_id, []))

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by a getUpdates offset."""
        return copy.deepcopy(self._updates)

    def deliver_webhooks_to(self, targets: list[str], mode: str = "round-robin", *, seed: int = 0) -> None:
        """Where updates go while a webhook is set: the real (loopback) addresses behind the
        public https URL the bot registered. A target without a path gets the registered URL's
        path. ``mode``: "round-robin" (each attempt to the next target) or "random" (seeded).
        May be called again at any time (an instance joins or leaves); [] holds the updates."""
        if mode not in ("round-robin", "random"):
            raise ValueError(f"mode must be 'round-robin' or 'random', not {mode!r}")
        self._webhook_targets = list(targets)
        self._webhook_mode = mode
        self._webhook_random = random.Random(seed)
        self._wake.set()

    @property
    def webhook_targets(self) -> list[str]:
        return list(self._webhook_targets)

    @property
    def webhook_secret(self) -> str:
        """The secret_token of the last setWebhook ("" if none)."""
        return self._webhook_secret

    async def wait_delivered(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - test API
        """Wait until every update pushed so far was taken (2xx) by a webhook target."""
        def done() -> bool | None:
            return True if not self._in_flight and not self._deliverable() else None

        if not self._webhook_url:
            raise AssertionError("no webhook is set: updates wait for getUpdates")
        await self._wait(done, timeout, lambda: (
            f"webhook delivery of {len(self._deliverable())} updates to {self._webhook_targets}; "
            f"last attempts: {[str(d) for d in self.webhook_deliveries[-5:]]}"))

    def calls_of(self, method: str) -> list[ApiCall]:
        """All recorded calls of one method, in order."""
        return [c for c in self.calls if c.method == method]

    def inject_flood(self, count: int, retry_after: int = 1, method: str | None = None) -> None:
        """The next ``count`` calls (of ``method``; any but getUpdates if None) answer 429."""
        self.inject_error(count, 429, f"Too Many Requests: retry after {retry_after}", method,
                          retry_after=retry_after)

    def inject_error(self, count: int, status: int, description: str, method: str | None = None, *,
                     after_applying: bool = False, retry_after: int | None = None) -> None:
        """The next ``count`` calls (of ``method``; any but getUpdates if None) answer ``status``
        with ``description`` (write it as Telegram would, e.g. "Bad Request: CHARGE_NOT_FOUND").

        ``after_applying``: the call runs first and takes effect (a message is sent, a charge is
        refunded, its service update is queued), and only then is the error answered - Telegram
        did the work but its answer was lost; use 500/502, which PTB raises as NetworkError. A call
        that fails on its own still answers its own error, and uses up one injected answer.
        ``retry_after`` adds ``parameters.retry_after`` (for a 429).
        """
        if method is not None:
            method = self._methods.get(method.lower(), (method, None))[0]
        self._injected.append(_Injected(method, count, status, description, retry_after, after_applying))

    async def wait_call(
        self, method: str, predicate: Callable[[ApiCall], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - the timeout is part of the test API
    ) -> ApiCall:
        """The first not-yet-returned call of ``method`` matching ``predicate``, now or later."""
        method = self._methods.get(method.lower(), (method, None))[0]

        def find() -> ApiCall | None:
            for index, call in enumerate(self.calls):
                if index in self._consumed or call.method != method:
                    continue
                if predicate is None or predicate(call):
                    self._consumed.add(index)
                    return call
            return None

        return await self._wait(find, timeout, lambda: f"a {method} call")

    async def wait_for(
        self, probe: Callable[[], _T | None], timeout: float = 5.0,  # noqa: ASYNC109 - test API
        what: str = "a condition",
    ) -> _T:
        """Wait until ``probe()`` returns something other than None (re-checked on every call the
        server receives); AssertionError with a summary of recent calls on timeout."""
        return await self._wait(probe, timeout, lambda: what)

    async def push_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update (update_id assigned) and wake a waiting getUpdates."""
        stored = copy.deepcopy(update)
        stored["update_id"] = self._next_update_id
        self._next_update_id += 1
        self._updates.append(stored)
        await self._notify()
        return stored["update_id"]

    async def _notify(self) -> None:
        self._wake.set()
        async with self._cond:
            self._cond.notify_all()

    async def _wait(
        self, probe: Callable[[], _T | None], within: float, what: Callable[[], str]
    ) -> _T:
        """Wait (event-driven) until ``probe`` returns something; AssertionError on timeout."""
        async with self._cond:
            try:
                async with asyncio.timeout(within):
                    while (found := probe()) is None:
                        await self._cond.wait()
            except TimeoutError:
                raise AssertionError(
                    f"timed out after {within}s waiting for {what()}.\n{self.summary()}"
                ) from None
            return found

    def summary(self, last: int = 25) -> str:
        """The most recent calls, for failure messages."""
        recent = self.calls[-last:]
        first = len(self.calls) - len(recent)
        lines = [f"  #{first + k} {call}" for k, call in enumerate(recent)]
        return f"last {len(recent)} of {len(self.calls)} API calls:\n" + "\n".join(lines)

    # ---- HTTP

    async def _not_found(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    async def _handle(self, request: web.Request) -> web.Response:
        """Record the call, apply token/flood checks, dispatch, answer like Telegram."""
        params = await self._read_params(request)
        raw_method = request.match_info["method"]
        method, handler = self._methods.get(raw_method.lower(), (raw_method, None))
        call = ApiCall(method, params)
        self.calls.append(call)
        body: dict[str, Any]
        try:
            if request.match_info["token"] != self.token:
                raise _ApiError(401, "Unauthorized")
            if handler is None:
                raise _bad("method not found")
            injected = self._take_injected(method)
            if injected is not None and not injected.after_applying:
                raise _ApiError(injected.status, injected.description, injected.retry_after)
            self._check_flood(method, call.chat_id)
            result = handler(params)
            if inspect.isawaitable(result):  # only getUpdates waits (long polling)
                result = await result
            if _is_send(method):
                self._note_send(call.chat_id)
            if injected is not None:  # done, but the answer is "lost"
                raise _ApiError(injected.status, injected.description, injected.retry_after)
            call.result = result
            body = {"ok": True, "result": result}
        except _ApiError as exc:
            call.ok, call.error, call.status = False, exc.description, exc.status
            body = {"ok": False, "error_code": exc.status, "description": exc.description}
            if exc.retry_after is not None:
                body["parameters"] = {"retry_after": exc.retry_after}
        except Exception as exc:  # a bug in the fake or input it cannot digest: make it loud
            call.ok, call.error, call.status = False, f"Internal Server Error: {exc!r}", 500
            body = {"ok": False, "error_code": 500, "description": call.error}
        while self._pending_service_messages:
            await self.push_update(self._pending_service_messages.pop(0))
        await self._notify()
        return web.json_response(body, status=call.status)

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        """Merge query string and body (urlencoded, multipart or JSON); decode JSON fields."""
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                try:
                    data = await request.json()
                except ValueError:
                    data = None  # Telegram then sees no parameters at all
                if isinstance(data, dict):
                    params.update(data)
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        content = value.file.read()
                        value.file.close()
                        params[key] = {"filename": value.filename, "size": len(content)}
                    else:
                        params[key] = value
        for key in JSON_FIELDS & params.keys():
            if isinstance(params[key], str) and params[key]:
                with contextlib.suppress(ValueError):  # else a string the handler rejects
                    params[key] = json.loads(params[key])
        return params

    # ---- flood control

    def _take_injected(self, method: str) -> _Injected | None:
        for injected in self._injected:
            wanted = method != "getUpdates" if injected.method is None else injected.method == method
            if injected.remaining > 0 and wanted:
                injected.remaining -= 1
                return injected
        return None

    def _check_flood(self, method: str, chat_id: int | None) -> None:
        if not _is_send(method):
            return
        now = time.monotonic()
        wait = 0.0
        if self.global_limit_per_second:
            wait = _window_wait(self._global_sends, self.global_limit_per_second, now)
        if self.per_chat_limit_per_second and chat_id is not None:
            stamps = self._chat_sends.setdefault(chat_id, deque())
            wait = max(wait, _window_wait(stamps, self.per_chat_limit_per_second, now))
        if wait > 0:
            raise _flood(max(1, math.ceil(wait)))

    def _note_send(self, chat_id: int | None) -> None:
        now = time.monotonic()
        self._global_sends.append(now)
        if chat_id is not None:
            self._chat_sends.setdefault(chat_id, deque()).append(now)

    # ---- parameter helpers

    def _chat(self, p: dict[str, Any]) -> FakeUser:
        raw = p.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        try:
            user = self._users.get(int(raw))
        except (TypeError, ValueError):
            user = None
        if user is None:
            raise _bad("chat not found")
        return user

    def _reachable(self, p: dict[str, Any]) -> FakeUser:
        user = self._chat(p)
        if user.id in self.blocked:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        return user

    def _target(self, p: dict[str, Any], missing: str) -> tuple[FakeUser, SentMessage]:
        """The (chat, live message) an edit addresses."""
        if p.get("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")
        user = self._reachable(p)
        if p.get("message_id") in (None, ""):
            raise _bad("message identifier is not specified")
        try:
            message = self._find_message(user.id, int(p["message_id"]))
        except (TypeError, ValueError):
            message = None
        if message is None or message.deleted:
            raise _bad(missing)
        return user, message

    def _text(self, p: dict[str, Any]) -> tuple[str, list[dict[str, Any]], str, str | None]:
        """(plain text, entities, raw text, parse_mode) after Telegram's checks."""
        return self._formatted(p, "text", "entities", MAX_TEXT_UNITS)

    def _caption(self, p: dict[str, Any]) -> tuple[str, list[dict[str, Any]], str, str | None]:
        """The same for a caption: at most 1024 units after parsing, and it may be empty (absent,
        blank, or markup with no text in it: the media then simply has no caption)."""
        return self._formatted(p, "caption", "caption_entities", MAX_CAPTION_UNITS, allow_empty=True)

    def _formatted(self, p: dict[str, Any], field: str, entities_field: str, limit: int, *,
                   allow_empty: bool = False) -> tuple[str, list[dict[str, Any]], str, str | None]:
        raw = p.get(field)
        raw = "" if raw is None else str(raw)
        parse_mode = p.get("parse_mode") or None
        explicit = p.get(entities_field)
        if explicit is not None:
            if not isinstance(explicit, list):
                raise _bad("can't parse entities JSON object")
            plain, entities = raw, [dict(e) for e in explicit]
        elif parse_mode is None:
            plain, entities = raw, []
        else:
            mode = str(parse_mode).lower()
            try:
                if mode == "html":
                    plain, entities = parse_html(raw, strict_ampersand=self.strict_html_ampersand)
                else:  # Markdown exists, but the bot never uses it: this fake parses HTML only
                    raise _bad(f"unsupported parse_mode {parse_mode!r} (this fake Bot API parses HTML only)")
            except EntityParseError as exc:
                raise _bad(f"can't parse entities: {exc}") from None
        plain, entities = strip(plain, entities)
        if not plain and not allow_empty:
            raise _bad("message text is empty")
        if utf16_len(plain) > limit:
            raise _bad("message is too long" if field == "text" else "message caption is too long")
        return plain, entities, raw, parse_mode

    def _markup(self, p: dict[str, Any], *, inline_only: bool = False) -> dict[str, Any] | None:
        markup = p.get("reply_markup")
        if markup is None or markup == "":
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            if inline_only:
                raise _bad("inline keyboard expected")
            if not {"keyboard", "remove_keyboard", "force_reply"} & markup.keys():
                raise _bad("can't parse reply keyboard markup JSON object")
            return markup
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad(
                "can't parse inline keyboard button: Field \"inline_keyboard\" of the "
                "InlineKeyboardMarkup must be an Array of Arrays"
            )
        if sum(len(row) for row in rows) > 100:
            raise _bad("reply markup is too long")
        for row in rows:
            for button in row:
                _check_button(button)
        return markup

    def _find_message(self, chat_id: int, message_id: int) -> SentMessage | None:
        for message in self._messages.get(chat_id, []):
            if message.message_id == message_id:
                return message
        return None

    def _new_message_id(self, chat_id: int) -> int:
        """Private chats number messages from both sides in one sequence."""
        self._next_message_ids[chat_id] = self._next_message_ids.get(chat_id, 0) + 1
        return self._next_message_ids[chat_id]

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Storefront Test Bot",
                "username": self.bot_username}

    def _message_json(self, message: SentMessage) -> dict[str, Any]:
        """The full Message object Telegram returns (a copy, safe to keep)."""
        result: dict[str, Any] = {
            "message_id": message.message_id, "from": self._bot_user(),
            "chat": self._users[message.chat_id].chat_dict(), "date": message.date,
        }
        if message.kind == "photo":
            result["photo"] = copy.deepcopy(message.photo)
            if message.text:
                result["caption"] = message.text
            if message.entities:
                result["caption_entities"] = copy.deepcopy(message.entities)
        elif message.kind == "invoice":
            result["invoice"] = {k: v for k, v in message.invoice.items() if k != "payload"}
        else:
            result["text"] = message.text
            if message.entities:
                result["entities"] = copy.deepcopy(message.entities)
        if message.edit_date is not None:
            result["edit_date"] = message.edit_date
        keyboard = _inline_rows(message.reply_markup)
        if keyboard:
            result["reply_markup"] = {"inline_keyboard": copy.deepcopy(keyboard)}
        return result

    # ---- Bot API methods

    def _ok(self, p: dict[str, Any]) -> bool:
        return True

    def _get_me(self, p: dict[str, Any]) -> dict[str, Any]:
        return {**self._bot_user(), "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False, "can_connect_to_business": False,
                "has_main_web_app": False}

    def _delete_webhook(self, p: dict[str, Any]) -> bool:
        self._webhook_url = ""
        if _flag(p, "drop_pending_updates"):
            self._updates.clear()
        return True

    def _set_webhook(self, p: dict[str, Any]) -> bool:
        url = str(p.get("url") or "")
        if url and not url.startswith("https://"):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = str(p.get("secret_token") or "")
        if secret and not _WEBHOOK_SECRET_RE.fullmatch(secret):
            raise _bad("secret token contains unallowed characters")
        max_connections = _int_or(p.get("max_connections"), 40)
        if not 1 <= max_connections <= 100:
            raise _bad("bad webhook: max_connections must be between 1 and 100")
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed]
        self._webhook_url, self._webhook_secret, self._webhook_max_connections = url, secret, max_connections
        if _flag(p, "drop_pending_updates"):
            self._updates.clear()
        return True

    def _get_webhook_info(self, p: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {"url": self._webhook_url, "has_custom_certificate": False,
                                "pending_update_count": len(self._updates)}
        if self._webhook_url:
            info["max_connections"] = self._webhook_max_connections
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
            if self._last_webhook_error is not None:
                info["last_error_date"], info["last_error_message"] = self._last_webhook_error
        return info

    # ---- webhook delivery

    async def _deliver_forever(self) -> None:
        """Post what is due, then sleep until something changes or a retry is due."""
        while not self._stopping:
            self._wake.clear()
            due, wait = self._due_deliveries()
            for update, target in due:
                self._in_flight.add(update["update_id"])
                task = asyncio.create_task(self._deliver(update, target))
                self._delivery_tasks.add(task)
                task.add_done_callback(self._delivery_tasks.discard)
            if due:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    def _due_deliveries(self) -> tuple[list[tuple[dict[str, Any], str]], float | None]:
        """(update, target) pairs to post now, and the seconds until the next retry is due."""
        if not self._webhook_url or not self._webhook_targets:
            return [], None
        now = time.monotonic()
        free = self._webhook_max_connections - len(self._in_flight)
        waiting_chats: set[int] = set()  # a chat whose earlier update is not taken yet waits
        due: list[tuple[dict[str, Any], str]] = []
        soonest: float | None = None
        for update in self._deliverable():
            update_id, chat = update["update_id"], _update_chat(update)
            blocked = chat is not None and chat in waiting_chats
            if chat is not None:
                waiting_chats.add(chat)
            if blocked or update_id in self._in_flight:
                continue
            retry_at = self._retry_at.get(update_id, 0.0)
            if retry_at > now:
                soonest = retry_at if soonest is None else min(soonest, retry_at)
                continue
            if free <= 0:
                break
            due.append((copy.deepcopy(update), self._next_target()))
            free -= 1
        return due, None if soonest is None else soonest - now

    def _next_target(self) -> str:
        if self._webhook_mode == "random":
            target = self._webhook_random.choice(self._webhook_targets)
        else:
            target = self._webhook_targets[self._webhook_turn % len(self._webhook_targets)]
            self._webhook_turn += 1
        if not urlsplit(target).path.strip("/"):  # only an address: the public URL's path is kept
            public = urlsplit(self._webhook_url)
            target = target.rstrip("/") + (public.path or "/") + (f"?{public.query}" if public.query else "")
        return target

    async def _deliver(self, update: dict[str, Any], target: str) -> None:
        update_id = update["update_id"]
        attempt = self._attempts[update_id] = self._attempts.get(update_id, 0) + 1
        headers = {"Content-Type": "application/json"}
        if self._webhook_secret:
            headers[SECRET_HEADER] = self._webhook_secret
        status: int | None = None
        try:
            assert self._http is not None
            async with self._http.post(target, data=json.dumps(update).encode(), headers=headers,
                                       timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
                                       allow_redirects=False) as response:
                status = response.status
                await response.read()
            error = None if 200 <= status < 300 else f"Wrong response from the webhook: {status} {response.reason}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"Connection failed: {type(exc).__name__}"
        finally:
            self._in_flight.discard(update_id)
        self.webhook_deliveries.append(WebhookDelivery(update_id, _update_kind(update), target, attempt, status,
                                                       error))
        if error is None:
            self._updates = [u for u in self._updates if u["update_id"] != update_id]
            self._retry_at.pop(update_id, None)
            self._attempts.pop(update_id, None)
        else:
            self._last_webhook_error = (int(time.time()), error)
            self._retry_at[update_id] = time.monotonic() + min(
                self.webhook_retry_max, self.webhook_retry_base * 2 ** (attempt - 1))
        await self._notify()

    async def _get_updates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        """Long polling: confirm by offset, then wait up to ``timeout`` for an update."""
        if self._webhook_url:
            raise _ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                 "use deleteWebhook to delete the webhook first")
        offset = _int_or(p.get("offset"), 0)
        limit = min(100, max(1, _int_or(p.get("limit"), 100)))
        timeout = max(0.0, float(p.get("timeout") or 0))
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed]
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        async with self._cond:
            self._cond.notify_all()  # an older long poll now ends with 409, as on Telegram
            if timeout > 0:
                try:
                    async with asyncio.timeout(timeout):
                        await self._cond.wait_for(
                            lambda: bool(self._deliverable()) or self._stopping
                            or generation != self._poll_generation
                        )
                except TimeoutError:
                    pass
        if generation != self._poll_generation:
            raise _ApiError(409, "Conflict: terminated by other getUpdates request; make sure "
                                 "that only one bot instance is running")
        return copy.deepcopy(self._deliverable()[:limit])

    def _deliverable(self) -> list[dict[str, Any]]:
        allowed = set(self._allowed_updates) or _DEFAULT_UPDATE_TYPES
        return [u for u in self._updates if _update_kind(u) in allowed]

    def _scope_key(self, p: dict[str, Any]) -> str:
        scope = p.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True) + "|" + str(p.get("language_code") or "")

    def _set_my_commands(self, p: dict[str, Any]) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        parsed: list[dict[str, Any]] = []
        for command in commands:
            name = command.get("command") if isinstance(command, dict) else None
            description = command.get("description") if isinstance(command, dict) else None
            if not isinstance(name, str) or not _BOT_COMMAND_NAME_RE.fullmatch(name):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            parsed.append({"command": name, "description": description})
        self._commands_key = self._scope_key(p)
        self._my_commands[self._commands_key] = parsed
        self.commands = copy.deepcopy(parsed)
        return True

    def commands_for(self, language_code: str = "") -> list[dict[str, Any]]:
        """The default scope's command menu for users of `language_code` ("" : everyone else)."""
        return copy.deepcopy(self._my_commands.get(self._scope_key({"language_code": language_code}), []))

    def description_for(self, kind: str, language_code: str = "") -> str:
        """What setMyDescription ("description") or setMyShortDescription ("short_description") set."""
        return self._descriptions.get(f"{kind}|{language_code}", "")

    def _get_my_commands(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        return copy.deepcopy(self._my_commands.get(self._scope_key(p), []))

    def _delete_my_commands(self, p: dict[str, Any]) -> bool:
        key = self._scope_key(p)
        self._my_commands.pop(key, None)
        if key == self._commands_key:
            self.commands = []
        return True

    def _set_description(self, kind: str) -> Callable[[dict[str, Any]], bool]:
        def handler(p: dict[str, Any]) -> bool:
            self._descriptions[f"{kind}|{p.get('language_code') or ''}"] = str(p.get(kind) or "")
            return True

        return handler

    def _get_description(self, kind: str) -> Callable[[dict[str, Any]], dict[str, str]]:
        def handler(p: dict[str, Any]) -> dict[str, str]:
            return {kind: self._descriptions.get(f"{kind}|{p.get('language_code') or ''}", "")}

        return handler

    def _send_message(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self._reachable(p)
        markup = self._markup(p)
        plain, entities, raw, parse_mode = self._text(p)
        return self._keep(SentMessage(
            message_id=self._new_message_id(user.id), chat_id=user.id, text=plain, raw_text=raw,
            parse_mode=parse_mode, reply_markup=markup, entities=entities, date=int(time.time()),
        ))

    def _keep(self, message: SentMessage) -> dict[str, Any]:
        """Store a message the bot sent; Telegram's answer is the Message object."""
        self._messages.setdefault(message.chat_id, []).append(message)
        return self._message_json(message)

    def _edit_message_text(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._edit_content(p, "text")

    def _edit_message_caption(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._edit_content(p, "photo")

    def _edit_content(self, p: dict[str, Any], kind: str) -> dict[str, Any]:
        """editMessageText (kind "text") or editMessageCaption (kind "photo")."""
        _, message = self._target(p, "message to edit not found")
        if message.kind != kind:
            raise _bad("there is no text in the message to edit" if kind == "text"
                       else "there is no caption in the message to edit")
        markup = self._markup(p, inline_only=True)
        plain, entities, raw, parse_mode = self._text(p) if kind == "text" else self._caption(p)
        unchanged = (plain, entities) == (message.text, message.entities)
        if unchanged and _inline_rows(markup) == _inline_rows(message.reply_markup):
            raise _ApiError(400, NOT_MODIFIED)
        message.text, message.entities, message.raw_text = plain, entities, raw
        message.parse_mode, message.reply_markup = parse_mode, markup
        message.edits += 1
        message.edit_date = int(time.time())
        return self._message_json(message)

    def _edit_reply_markup(self, p: dict[str, Any]) -> dict[str, Any]:
        _, message = self._target(p, "message to edit not found")
        markup = self._markup(p, inline_only=True)
        if _inline_rows(markup) == _inline_rows(message.reply_markup):
            raise _ApiError(400, NOT_MODIFIED)
        message.reply_markup = markup
        message.edits += 1
        message.edit_date = int(time.time())
        return self._message_json(message)

    def _delete_message(self, p: dict[str, Any]) -> bool:
        user = self._chat(p)
        message_id = _int_or(p.get("message_id"), 0)
        message = self._find_message(user.id, message_id)
        if message is not None and not message.deleted:
            message.deleted = True
            return True
        if message_id in self._user_message_ids.get(user.id, set()):
            self._user_message_ids[user.id].discard(message_id)
            return True
        raise _bad("message to delete not found")

    def _answer_callback_query(self, p: dict[str, Any]) -> bool:
        query_id = str(p.get("callback_query_id") or "")
        if query_id not in self._queries or query_id in self._answered:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        if utf16_len(str(p.get("text") or "")) > MAX_CALLBACK_ANSWER_UNITS:
            raise _bad("MESSAGE_TOO_LONG")
        self._answered.add(query_id)
        return True

    def _send_chat_action(self, p: dict[str, Any]) -> bool:
        self._reachable(p)
        if p.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    def _get_chat(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self._chat(p)
        return {**user.chat_dict(), "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                        "unique_gifts": False, "premium_subscription": False,
                                        "gifts_from_channels": False}}

    # ---- photos

    def new_file_id(self) -> str:
        """The file_id of a new photo the server knows (as if a user had sent it): the largest size."""
        return self._new_photo()[-1]["file_id"]

    def _new_photo(self, largest_bytes: int | None = None) -> list[dict[str, Any]]:
        """A new photo as Telegram describes it: three PhotoSizes, smallest first, each with its own
        file_id and file_unique_id; every file_id is remembered so the bot can send it again."""
        self._file_counter += 1
        base = f"AgACAgFAKE{self._file_counter:08d}"
        sizes: list[dict[str, Any]] = []
        for side in (90, 320, 1280):
            file_size = side * 40 if largest_bytes is None else max(1, largest_bytes * side // 1280)
            sizes.append({"file_id": base if side == 1280 else f"{base}-{side}",
                          "file_unique_id": f"AQADFAKE{self._file_counter:08d}x{side}",
                          "width": side, "height": side * 3 // 4, "file_size": file_size})
        for index, size in enumerate(sizes):
            self._photo_files[size["file_id"]] = sizes[: index + 1]
        return copy.deepcopy(sizes)

    def _send_photo(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self._reachable(p)
        photo = p.get("photo")
        if isinstance(photo, dict):  # an uploaded file (multipart); its sizes are made up here
            if not photo.get("size"):
                raise _bad("file must be non-empty")
            sizes = self._new_photo(photo["size"])
        elif photo is None or photo == "":
            raise _bad("there is no photo in the request")
        elif isinstance(photo, str) and photo in self._photo_files:
            sizes = copy.deepcopy(self._photo_files[photo])
        else:  # unknown file_id, or a URL (the fake downloads nothing)
            raise _bad("wrong file identifier/HTTP URL specified")
        markup = self._markup(p)
        plain, entities, raw, parse_mode = self._caption(p)
        return self._keep(SentMessage(
            message_id=self._new_message_id(user.id), chat_id=user.id, text=plain, raw_text=raw,
            parse_mode=parse_mode, reply_markup=markup, entities=entities, date=int(time.time()),
            kind="photo", photo=sizes,
        ))

    # ---- Telegram Stars payments

    def _send_invoice(self, p: dict[str, Any]) -> dict[str, Any]:
        """A Telegram Stars invoice (the only currency the fake takes): XTR, no provider token,
        exactly one price of 1..max_stars_per_invoice Stars, and a Pay button first if a keyboard
        is given. The stored message keeps the payload, which Telegram's answer never shows."""
        user = self._reachable(p)
        title, description = str(p.get("title") or ""), str(p.get("description") or "")
        payload = str(p.get("payload") or "")
        if not 1 <= len(title) <= 32:
            raise _bad("INVOICE_TITLE_INVALID")
        if not 1 <= len(description) <= 255:
            raise _bad("DESCRIPTION_INVALID")
        if not 1 <= len(payload.encode("utf-8")) <= 128:
            raise _bad("INVOICE_PAYLOAD_INVALID")
        if p.get("currency") != "XTR":
            raise _bad("CURRENCY_INVALID")
        if p.get("provider_token"):
            raise _bad("PAYMENT_PROVIDER_INVALID")
        prices = p.get("prices")
        if isinstance(prices, str):
            with contextlib.suppress(ValueError):
                prices = json.loads(prices)
        amount = prices[0].get("amount") if isinstance(prices, list) and len(prices) == 1 \
            and isinstance(prices[0], dict) else None
        if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= self.max_stars_per_invoice:
            raise _bad("CURRENCY_TOTAL_AMOUNT_INVALID")
        markup = self._markup(p, inline_only=True)
        rows = _inline_rows(markup)
        first_button = next((button for row in rows or [] for button in row), None)
        if rows is not None and (first_button is None or first_button.get("pay") is not True):
            raise _bad("REPLY_MARKUP_BUY_EMPTY")
        message = SentMessage(
            message_id=self._new_message_id(user.id), chat_id=user.id, text=f"{title}\n{description}",
            raw_text=description, parse_mode=None, reply_markup=markup, date=int(time.time()), kind="invoice",
            invoice={"title": title, "description": description, "start_parameter": str(p.get("start_parameter") or ""),
                     "currency": "XTR", "total_amount": amount, "payload": payload},
        )
        return self._keep(message)

    def _answer_pre_checkout_query(self, p: dict[str, Any]) -> bool:
        """The bot's verdict on a pre-checkout query: once, within ``pre_checkout_timeout``.

        The parameters are checked before the query id, as the Bot API server does. Telegram reads
        a missing ``ok`` as False (and then wants an error_message); the fake insists on ``ok``.
        """
        if p.get("ok") is None or p.get("ok") == "":
            raise _bad('parameter "ok" is required')
        ok = _flag(p, "ok")
        error_message = str(p.get("error_message") or "")
        if not ok and not error_message.strip():
            raise _bad('parameter "error_message" is required')
        query_id = str(p.get("pre_checkout_query_id") or "")
        checkout = self._checkouts.get(query_id)
        late = checkout is not None and time.monotonic() - checkout.asked_at > self.pre_checkout_timeout
        if checkout is None or checkout.answered.is_set() or late:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        checkout.ok, checkout.error_message = ok, (None if ok else error_message)
        checkout.answered_at = time.monotonic()
        checkout.answered.set()
        return True

    def _refund_star_payment(self, p: dict[str, Any]) -> bool:
        """Give a user their Stars back: only their own charge, and only once."""
        user_id = _int_or(p.get("user_id"), 0)
        if user_id == 0:
            raise _bad("invalid user_id specified")
        charge_id = str(p.get("telegram_payment_charge_id") or "")
        if not charge_id:
            raise _bad('parameter "telegram_payment_charge_id" is required')
        charge = self.charges.get(charge_id)
        if charge is None or charge.user_id != user_id:
            raise _bad("CHARGE_NOT_FOUND")
        if charge.refunded:
            raise _bad("CHARGE_ALREADY_REFUNDED")
        charge.refunded = True
        user = self._users[charge.user_id]
        # Telegram tells the chat with a service message, which reaches the bot as an update.
        self._pending_service_messages.append({"message": {
            "message_id": self._new_message_id(user.id), "from": user.as_dict(), "chat": user.chat_dict(),
            "date": int(time.time()), "refunded_payment": {
                "currency": charge.currency, "total_amount": charge.total_amount,
                "invoice_payload": charge.payload, "telegram_payment_charge_id": charge.charge_id}}})
        return True

    async def _checkout(self, user: FakeUser, payload: str, total_amount: int, currency: str
                        ) -> tuple[PaymentResult, _Checkout]:
        self._query_counter += 1
        query_id = str(5_100_000_000_000_000_000 + self._query_counter)
        checkout = _Checkout(user.id, time.monotonic())
        self._checkouts[query_id] = checkout
        await self.push_update({"pre_checkout_query": {
            "id": query_id, "from": user.as_dict(), "currency": currency, "total_amount": total_amount,
            "invoice_payload": payload}})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(checkout.answered.wait(), self.pre_checkout_timeout)
        if checkout.answered_at is None:
            return PaymentResult(False), checkout
        return PaymentResult(checkout.ok, checkout.error_message, checkout.answered_at - checkout.asked_at), checkout


# --------------------------------------------------------------------------- small helpers


def _is_send(method: str) -> bool:
    """Calls that count against Telegram's message flood limits (sendInvoice and sendPhoto too;
    answers to queries and refundStarPayment send nothing, so they do not count)."""
    if method == "sendChatAction":
        return False
    return method.startswith(("send", "edit", "copyMessage", "forwardMessage"))


def _window_wait(stamps: deque[float], limit: float, now: float) -> float:
    """Seconds until a sliding window of ``limit`` sends per second has room (0 if now)."""
    window = max(1.0, 1.0 / limit)
    capacity = max(1, int(limit * window + 1e-9))
    while stamps and stamps[0] <= now - window:
        stamps.popleft()
    if len(stamps) < capacity:
        return 0.0
    return stamps[len(stamps) - capacity] + window - now


def _check_button(button: Any) -> None:
    """Validate one inline button the way Telegram does."""
    if not isinstance(button, dict):
        raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
    text = button.get("text")
    if not isinstance(text, str):
        raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
    if not text.strip():
        raise _bad("BUTTON_TEXT_INVALID")
    actions = [key for key in _BUTTON_ACTIONS if key in button]
    if not actions:
        raise _bad(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if len(actions) > 1:
        raise _bad("can't parse inline keyboard button: exactly one of the optional fields "
                   f"must be used, found {', '.join(actions)}")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
            raise _bad("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        scheme, _, rest = url.partition(":") if isinstance(url, str) else ("", "", "")
        valid = (scheme.lower() == "tg" and rest) or (
            scheme.lower() in ("http", "https") and rest.startswith("//") and len(rest) > 2
        )
        if not valid:
            raise _bad("BUTTON_URL_INVALID")


def _inline_rows(markup: dict[str, Any] | None) -> list[list[dict[str, Any]]] | None:
    """The inline keyboard as Telegram shows it; None when there is none."""
    rows = (markup or {}).get("inline_keyboard")
    return rows if rows and any(rows) else None


def _update_kind(update: dict[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


def _update_chat(update: dict[str, Any]) -> int | None:
    """Whose update it is (the sender, else the chat): their updates are delivered in order."""
    body = update.get(_update_kind(update))
    if not isinstance(body, dict):
        return None
    for holder in (body.get("from"), body.get("user"), body.get("chat"), (body.get("message") or {}).get("chat")):
        if isinstance(holder, dict) and isinstance(holder.get("id"), int):
            return holder["id"]
    return None


def _int_or(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _flag(p: dict[str, Any], name: str) -> bool:
    return p.get(name) in (True, "true", "True", "1", 1)
