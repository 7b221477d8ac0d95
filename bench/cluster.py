"""Several instances of the bot behind one webhook URL: updates handled per second, reply latency,
and the poll cycle for many open orders (issue #15).

Every instance is a real `python -m bot` process in webhook mode (tests/support/cluster.py): the
fake Bot API (tests/support/fake_telegram.py, in this process) posts each update to the next
instance round-robin, as a load balancer would; each instance stores it in the database inbox,
claims it (each user's updates in order, across instances), runs it through the update processor
with the user's dialogue read from the database, and answers. The panel is the sandbox
(`SandboxServer`, in this process, `--speed 0`: orders stay pending). Every configuration gets a
fresh database (PostgreSQL: a new database, dropped afterwards; SQLite: a new file) and a Redis
prefix of its own (its keys deleted afterwards); Redis carries the limiter's shared windows.

1. Updates per second. Telegram's 30 messages a second, for the whole bot and shared by all
   instances, caps any workload answered with messages, so it could never show how instances
   scale. The measured updates are answered with a callback-query toast instead
   (answerCallbackQuery, which no limit counts: `NEVER_COUNTED` in bot/rate_limit.py): each
   customer sends /order twice (setup, not measured), so the categories of the first are a menu
   of an older dialogue, then presses one of its category buttons in a loop: press, wait for the
   answer, press again. The bot answers "This menu has expired" (handlers/dialogues.py: a button
   whose nonce is not the open dialogue's) - the whole path (webhook POST, inbox store, claim,
   the update processor, the access gate, the user's dialogue read, answerCallbackQuery, the
   update marked done) without a message. After a warm-up, the answers received during
   `--seconds` are counted; latency is from the push of the update to the fake Bot API receiving
   answerCallbackQuery. Configurations: SQLite x1 (no Redis: one instance), PostgreSQL x1, x2, x3.
   The figures are reported, not judged: on a machine with few CPUs the instances, PostgreSQL
   and this process (the fake Bot API and every customer) share them, so more instances cannot
   add much. Every press must be answered, with that toast, and no counted message sent meanwhile.
2. The same cap, shown: at PostgreSQL x1, the same customers send /balance in a loop (each
   answered with a message) for `--seconds`: replies per second stay at Telegram's 30.
3. The poll cycle: `--orders` open orders (50,000 by default) are written straight into the
   PostgreSQL x3 configuration's database (state 'placed', due now, status pending, placed a day
   ago so that once polled each is next due in 30 minutes) and created in the sandbox panel with
   the same ids. The three instances' poll jobs (POLL_INTERVAL_SECONDS=1) claim them
   (storage/tracking.py `due_orders`: leased by moving next_poll_at on, FOR UPDATE SKIP LOCKED)
   and ask the panel. From the panel's request log: status requests in the cycle (target:
   exactly ceil(N / 100)), and every order asked exactly once; the cycle's duration runs from the
   first status request until the database holds every order's next poll.

Exit code 0 when every press was answered, the poll cycle took ceil(N / 100) requests and no
order was asked twice (nor missed); 1 otherwise; 2 when PostgreSQL or Redis does not answer.

    python bench/cluster.py [--users 200] [--seconds 10] [--warmup 3] [--orders 50000]
                            [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
                            [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

import argparse
import asyncio
import math
import os
import secrets
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from bot import texts
from bot.panel import BATCH_LIMIT
from bot.panel.sandbox import SandboxClock, SandboxPanel, SandboxServer
from bot.rate_limit import CHAT_MESSAGES_PER_WINDOW, CHAT_WINDOW_SECONDS, MESSAGES_PER_WINDOW
from storage.database import open_database
from tests.support.cluster import (
    Cluster,
    ClusterTelegram,
    forget_redis,
    fresh_postgres,
    running_cluster,
    unreachable,
)
from tests.support.fake_telegram import FakeUser, SentMessage
from tests.support.windows import most_in_window

KEY = "sk-bench-cluster-0001"
FIRST_USER = 800_000
ORDER_OWNER = 1  # the customer the poll cycle's orders belong to
SERVICE_ID = "102"
PATIENCE = 60.0  # seconds a customer waits for an answer before it counts as unanswered
CYCLE_TIMEOUT = 900.0
TOAST = str(texts.MENU_EXPIRED)


class BenchTelegram(ClusterTelegram):
    """The fake Bot API, telling when each callback query was answered and when each chat last got
    a message (time.monotonic())."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.answers: dict[str, tuple[float, str]] = {}  # query id → (when, toast text)
        self.last_sent: dict[int, float] = {}
        self._waiters: dict[str, asyncio.Future[float]] = {}

    def _answer_callback_query(self, p: dict[str, Any]) -> bool:
        result = super()._answer_callback_query(p)  # raises what Telegram would answer
        query_id, now = str(p.get("callback_query_id") or ""), time.monotonic()
        self.answers[query_id] = (now, str(p.get("text") or ""))
        waiter = self._waiters.pop(query_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(now)
        return result

    def _note_send(self, chat_id: int | None) -> None:
        if chat_id is not None:
            self.last_sent[chat_id] = time.monotonic()
        super()._note_send(chat_id)

    async def answered(self, query_id: str, timeout: float) -> float | None:  # noqa: ASYNC109 - bench API
        """When the query was answered; None if not within `timeout` seconds."""
        if query_id in self.answers:
            return self.answers[query_id][0]
        waiter = self._waiters.setdefault(query_id, asyncio.get_running_loop().create_future())
        try:
            return await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            self._waiters.pop(query_id, None)
            return None


class StampedRequests(list):  # type: ignore[type-arg]
    """SandboxServer.requests, with the time each request arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.at: list[float] = []

    def append(self, item: object) -> None:
        self.at.append(time.monotonic())
        super().append(item)

    def clear(self) -> None:
        self.at.clear()
        super().clear()


@dataclass
class Load:
    """What one configuration's customers saw."""

    label: str
    seconds: float
    answered: int = 0  # answers received within the measured window
    latencies: list[float] = field(default_factory=list)  # seconds, of the presses pushed in the window
    presses: int = 0  # every press, warm-up included
    unanswered: int = 0
    wrong_answers: list[str] = field(default_factory=list)
    messages_in_window: int = 0  # counted messages sent while measuring (there should be none)

    @property
    def per_second(self) -> float:
        return self.answered / self.seconds

    def percentile(self, share: float) -> float:
        return percentile(self.latencies, share) * 1000


@dataclass
class Messaging:
    replies: int
    seconds: float
    latencies: list[float]
    most_in_a_second: int
    unanswered: int


@dataclass
class PollCycle:
    orders: int
    requests: int
    seconds: float
    asked_twice: int
    missed: int
    sizes: Counter[int]

    @property
    def target(self) -> int:
        return math.ceil(self.orders / BATCH_LIMIT)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return math.nan
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


# --------------------------------------------------------------------------- the services


# --------------------------------------------------------------------------- the customers


async def until_messages(telegram: BenchTelegram, user: FakeUser, count: int, what: str) -> list[SentMessage]:
    return await telegram.until(user.id, lambda: user.messages() if len(user.messages()) >= count else None,
                                PATIENCE, f"chat {user.id}: {what}")


async def stale_button(telegram: BenchTelegram, user: FakeUser) -> tuple[SentMessage, str]:
    """/order twice: the first categories message is then a menu of an older dialogue; returns it
    and the callback data of its first category button."""
    await user.send("/order")
    first = (await until_messages(telegram, user, 1, "the categories"))[0]
    await user.send("/order")
    await until_messages(telegram, user, 2, "the categories again")
    data = next((str(b["callback_data"]) for row in first.buttons() for b in row
                 if ":cat:" in str(b.get("callback_data", ""))), None)
    if data is None:
        raise AssertionError(f"chat {user.id}: no category button in {first.text[:80]!r}: {first.button_texts()}")
    return first, data


async def press_loop(telegram: BenchTelegram, users: list[FakeUser], label: str, warmup: float,
                     seconds: float) -> Load:
    """Every customer presses its stale button, waits for the answer, presses again."""
    buttons = await asyncio.gather(*(stale_button(telegram, user) for user in users))
    load = Load(label, seconds)
    sent_before = len(telegram.sent_at)
    start = time.monotonic()
    measured_from, measured_to = start + warmup, start + warmup + seconds
    pressed: list[tuple[float, str]] = []

    async def presser(user: FakeUser, message: SentMessage, data: str) -> None:
        while (now := time.monotonic()) < measured_to:
            query_id = await user.press(message, data)
            pressed.append((now, query_id))
            if await telegram.answered(query_id, PATIENCE) is None:
                load.unanswered += 1
                return

    await asyncio.gather(*(presser(user, message, data) for user, (message, data) in zip(users, buttons, strict=True)))
    load.presses = len(pressed)
    for pushed, query_id in pressed:
        answer = telegram.answers.get(query_id)
        if answer is None:
            continue
        at, text = answer
        if text != TOAST:
            load.wrong_answers.append(text)
        if measured_from <= at <= measured_to:
            load.answered += 1
        if measured_from <= pushed < measured_to:
            load.latencies.append(at - pushed)
    load.messages_in_window = sum(1 for at in telegram.sent_at[sent_before:] if measured_from <= at <= measured_to)
    return load


async def messaging_loop(telegram: BenchTelegram, users: list[FakeUser], warmup: float, seconds: float) -> Messaging:
    """Every customer sends /balance, waits for the reply (a message), sends it again."""
    sent_before = len(telegram.sent_at)
    start = time.monotonic()
    measured_from, measured_to = start + warmup, start + warmup + seconds
    latencies: list[float] = []
    unanswered = 0

    async def asker(user: FakeUser) -> None:
        nonlocal unanswered
        while (now := time.monotonic()) < measured_to:
            before = len(user.messages())
            await user.send("/balance")
            try:
                await until_messages(telegram, user, before + 1, "the balance")
            except AssertionError:
                unanswered += 1
                return
            if now >= measured_from:
                latencies.append(telegram.last_sent[user.id] - now)

    await asyncio.gather(*(asker(user) for user in users))
    stamps = [at for at in telegram.sent_at[sent_before:] if measured_from <= at <= measured_to]
    return Messaging(len(stamps), seconds, latencies, most_in_window(stamps, 1.0) if stamps else 0, unanswered)


# --------------------------------------------------------------------------- the poll cycle


async def poll_cycle(url: str, panel: SandboxPanel, server: SandboxServer, orders: int) -> PollCycle:
    """`orders` open orders, due now, given to the running instances; one full cycle measured."""
    panel_ids = panel.create_orders(orders, service_id=SERVICE_ID, quantity=1000)
    requests = server.requests
    assert isinstance(requests, StampedRequests)
    mark = len(requests)
    now = time.time()
    records = [(ORDER_OWNER, f"bench-{i}", SERVICE_ID, "Followers", "Default", "https://example.com", 1000, "{}",
                120000, 120000, "USD", "placed", panel_id, "pending", now - 86400.0, now - 1.0, "main")
               for i, panel_id in enumerate(panel_ids)]
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("INSERT INTO users (user_id, first_name) VALUES ($1, 'Bench') ON CONFLICT DO NOTHING",
                           ORDER_OWNER)
        async with conn.transaction():  # all at once: the instances see every order due together
            await conn.copy_records_to_table(
                "orders", records=records,
                columns=["user_id", "draft_key", "service_id", "service_name", "service_type", "link", "quantity",
                         "request_json", "price_micros", "cost_micros", "currency", "state", "panel_order_id",
                         "panel_status", "placed_at", "next_poll_at", "panel"])
        # Done when no order is due nor claimed (a claim moves next_poll_at by the lease, 5 x
        # CLAIM_SECONDS = 150 s; a poll writes its next time, 30 minutes on).
        deadline = time.monotonic() + CYCLE_TIMEOUT
        while True:
            left = await conn.fetchval("SELECT COUNT(*) FROM orders WHERE state = 'placed' AND next_poll_at < $1",
                                       now + 1000.0)
            if not left:
                done_at = time.monotonic()
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"poll cycle not done after {CYCLE_TIMEOUT:.0f}s: {left} orders not polled")
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    await asyncio.sleep(1.5)  # a tick more: a request still in flight, or a second look, would show now
    status = [(at, r) for at, r in zip(requests.at[mark:], requests[mark:], strict=True) if r.action == "status"]
    asked: Counter[str] = Counter()
    sizes: Counter[int] = Counter()
    for _, request in status:
        ids = request.fields.get("orders", request.fields.get("order", "")).split(",")
        asked.update(i for i in ids if i)
        sizes[len(ids)] += 1
    first = status[0][0] if status else done_at
    return PollCycle(orders, len(status), done_at - first, sum(1 for n in asked.values() if n > 1),
                     len(set(panel_ids) - set(asked)), sizes)


# --------------------------------------------------------------------------- configurations


@dataclass
class Outcome:
    load: Load
    messaging: Messaging | None = None
    poll: PollCycle | None = None


async def configuration(label: str, home: Path, database_url: str, instances: int, args: argparse.Namespace, *,
                        redis_prefix: str | None, messaging: bool = False, poll: bool = False) -> Outcome:
    panel = SandboxPanel(api_key=KEY, clock=SandboxClock(speed=0), funds=10**9)
    settings = {"DATABASE_URL": database_url, "PANEL_TIMEOUT_SECONDS": "10", "POLL_INTERVAL_SECONDS": "1",
                "CLAIM_SECONDS": "30"}
    if redis_prefix is not None:
        settings |= {"REDIS_URL": args.redis, "REDIS_PREFIX": redis_prefix}
    async with BenchTelegram(global_limit_per_second=30) as telegram, SandboxServer(panel) as server:
        server.requests = StampedRequests()
        users = [telegram.user(FIRST_USER + i, first_name=f"C{i}") for i in range(args.users)]
        cluster: Cluster | None = None
        try:
            async with running_cluster(home / label.replace(" ", "-"), telegram, instances,
                                       PANEL_API_URL=server.api_url, PANEL_API_KEY=KEY, **settings) as cluster:
                outcome = Outcome(await press_loop(telegram, users, label, args.warmup, args.seconds))
                if messaging:
                    outcome.messaging = await messaging_loop(telegram, users, args.warmup, args.seconds)
                if poll:
                    outcome.poll = await poll_cycle(database_url, panel, server, args.orders)
                return outcome
        except BaseException:
            if cluster is not None:
                print(f"--- {label}: the instances' last log lines\n{cluster.logs()}", file=sys.stderr)
            raise


async def run(args: argparse.Namespace) -> int:
    if why := await unreachable(args.postgres, args.redis):
        print(why)
        return 2
    run_id = f"{os.getpid()}_{secrets.token_hex(3)}"
    prefix = f"smmbot-bench-cluster-{run_id}:"
    outcomes: list[Outcome] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-cluster-") as folder:
            home = Path(folder)
            sqlite_url = f"sqlite:///{home / 'sqlite' / 'bot.db'}"
            db = await open_database(home / "sqlite" / "bot.db")
            await db.close()
            outcomes.append(await configuration("SQLite x1", home, sqlite_url, 1, args, redis_prefix=None))
            for count in (1, 2, 3):
                async with fresh_postgres(args.postgres, f"smmbot_bench_cluster_{run_id}_{count}") as url:
                    outcomes.append(await configuration(
                        f"PostgreSQL x{count}", home, url, count, args, redis_prefix=f"{prefix}pg{count}:",
                        messaging=count == 1, poll=count == 3))
    finally:
        await forget_redis(args.redis, prefix)
    return report(outcomes, args)


def report(outcomes: list[Outcome], args: argparse.Namespace) -> int:
    print(f"{args.users} customers, each pressing a button of an older menu in a loop (answered with a toast, "
          f"answerCallbackQuery: no message); {args.warmup:g} s warm-up, then {args.seconds:g} s measured per "
          f"configuration; {os.cpu_count()} CPUs for the instances, the database and this process")
    print(f"{'configuration':<18} {'updates/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'answered':>12}")
    for outcome in outcomes:
        load = outcome.load
        print(f"{load.label:<18} {load.per_second:>9.1f} {load.percentile(0.50):>8.1f} {load.percentile(0.95):>8.1f} "
              f"{load.presses - load.unanswered:>6}/{load.presses:<5}")
    print(f"(a closed loop: each customer presses again once answered, so with the instances busy the latency is "
          f"about {args.users} customers / updates per second)")
    loads = {o.load.label: o.load for o in outcomes}
    one = loads["PostgreSQL x1"].per_second
    print(f"scaling on PostgreSQL: x2 {loads['PostgreSQL x2'].per_second / one:.2f}, "
          f"x3 {loads['PostgreSQL x3'].per_second / one:.2f} times x1 (reported, not required: with "
          f"{os.cpu_count()} CPUs shared by every instance, PostgreSQL and the load, more instances add little)")
    messaging = next(o.messaging for o in outcomes if o.messaging is not None)
    rate = messaging.replies / messaging.seconds
    per_chat = args.users * CHAT_MESSAGES_PER_WINDOW / CHAT_WINDOW_SECONDS  # replies/s the chats' own limit allows
    why = ("Telegram's 30 messages/s for the whole bot is what limits it" if per_chat > MESSAGES_PER_WINDOW else
           f"the limit per chat ({CHAT_MESSAGES_PER_WINDOW} in {CHAT_WINDOW_SECONDS:g} s) is what limits it: too "
           f"few customers to reach Telegram's {MESSAGES_PER_WINDOW} messages/s for the whole bot")
    p50, p95 = (percentile(messaging.latencies, share) * 1000 for share in (0.5, 0.95))
    print(f"messaging workload, PostgreSQL x1 (/balance, answered with a message): {rate:.1f} replies/s, "
          f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, at most {messaging.most_in_a_second} in any second: {why}")
    cycle = next(o.poll for o in outcomes if o.poll is not None)
    once = "each order once" if not cycle.asked_twice and not cycle.missed else (
        f"{cycle.asked_twice} orders asked twice, {cycle.missed} never asked")
    print(f"poll cycle, {cycle.orders:,} open orders, 3 instances: {cycle.requests} requests "
          f"(ceil(N/100) = {cycle.target}), {cycle.seconds:.1f} s, {once}")
    if set(cycle.sizes) - {BATCH_LIMIT}:
        print(f"  ids per status request: {dict(sorted(cycle.sizes.items(), reverse=True))}")
    silent = sum(o.load.messages_in_window for o in outcomes)
    wrong = [text for o in outcomes for text in o.load.wrong_answers]
    checks = {
        "every press answered": all(o.load.unanswered == 0 and o.load.presses for o in outcomes),
        f"every answer the toast {TOAST!r}": not wrong,
        "no counted message sent while measuring updates/s": silent == 0,
        "every /balance answered": messaging.unanswered == 0,
        f"poll requests == ceil({cycle.orders} / {BATCH_LIMIT}) = {cycle.target}": cycle.requests == cycle.target,
        "no order polled twice in the cycle, none missed": not cycle.asked_twice and not cycle.missed,
    }
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    if wrong:
        print(f"  answers other than the toast: {Counter(wrong).most_common(3)}")
    return 0 if all(checks.values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Updates per second and the poll cycle with several instances.")
    parser.add_argument("--users", type=int, default=200, help="customers pressing at the same time")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured per configuration")
    parser.add_argument("--warmup", type=float, default=3.0, help="pressing before the measurement starts")
    parser.add_argument("--orders", type=int, default=50_000, help="open orders for the poll cycle")
    parser.add_argument("--postgres", default=os.environ.get("TEST_POSTGRES_URL")
                        or "postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default=os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args(argv)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
