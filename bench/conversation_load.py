"""Reply latency of the storefront bot while 25 customers order at the same time (issue #3).

What it measures: the time from the moment an update is pushed to the fake Bot API server until
the bot's reply (sendMessage / editMessageText to that chat) reaches that server, for

1. a bare python-telegram-bot bot (one CommandHandler("start") answering with a 4-button inline
   menu, ``ApplicationBuilder().token(T).base_url(URL).build()`` with defaults, ``run_polling()``),
   25 users sending /start at the same moment, round after round; and
2. the real storefront bot (``python -m bot``: SQLite in a temp dir, the sandbox panel over HTTP),
   25 funded customers going through a whole order (three in a row by default) in lockstep rounds:
   /order, tap the category, tap the service (which asks for the link), send the link, send the quantity,
   tap Confirm. The reply to Confirm is the "⏳ Placing your order…" edit the bot makes at once;
   the time until the order's outcome ("✅ Order placed…", after two fsynced transactions and the
   panel round trip) is printed on a line of its own and is not part of the reply figures.

Every bot runs in its own process, as in production: the bare bot is a tiny script
(``BARE_BOT_SCRIPT``, written to a temp dir and run by this interpreter), the storefront is ``python -m bot`` configured
through its environment, and its panel is ``python -m bot.panel.sandbox --speed 0`` in a third
process. This process runs only the ``FakeTelegram`` server (tests/support/fake_telegram.py) that
both bots long-poll over loopback HTTP, one after the other (same server, same token, same run),
and the simulated users, and takes the timestamps: its ``calls`` list is replaced by one that
stamps ``time.perf_counter()`` when a call is recorded; waiting is event-driven
(``FakeTelegram.wait_for``), never by polling. Round starts are spaced ``customers / 25`` seconds
apart (1 s for 25 customers), so at most 25 customer messages a second reach "Telegram" and the
figures measure the bot, not the 30 messages/second limit; and a round starts only once the previous
round's messages leave room for this round's replies in the flood window of the storefront's limiter
(30 messages in any 1.02 s, ``bot.rate_limit``), for both bots alike, so that no reply waits for the
limit (the time this adds is printed; Confirm's outcome, a second message in the same round, still
may wait: it is no reply figure). Setup is not measured: each customer
sends /start and the admin credits every wallet before the first ordering round.

Checks: storefront p95 <= 1.1 x the bare bot's p95; every order placed exactly once (the panel's
``/_sandbox/stats`` counts one ``add`` per order, and each order has its "✅ Order placed"
message); no failed Bot API call (getUpdates aside: a stopped poller's last long poll ends with
409 when the next one connects); both bots exit 0 on SIGINT (a bot's stderr, warnings and errors
only, is printed when it is not empty). Also printed, to see where the time goes: the Bot API
calls and the CPU time (/proc/<pid>/stat) of each process per measured update, and each bot
process's peak RSS (VmHWM, read just before it is stopped). Exit code 0 when everything passes,
1 otherwise.

    PYTHONPATH=. python bench/conversation_load.py [--customers 25] [--orders 3] [--rounds 21]
                                                   [--interval SECONDS]
                                                   [--profile DIR]

``--profile DIR`` runs both bots under cProfile (DIR/bare.prof, DIR/storefront.prof) to see where
their time per update goes (the main thread only: aiosqlite's SQL runs in a thread of its own); the
latency figures of such a run are inflated by the profiler.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, like PYTHONPATH=.

import argparse
import asyncio
import ctypes
import os
import re
import resource
import signal
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx

from bot import texts
from bot.domain.catalogue import category_key
from bot.panel.sandbox.catalogue import DEMO_CATALOGUE
from bot.rate_limit import MESSAGES_PER_WINDOW, WINDOW_SECONDS
from tests.support.fake_telegram import ApiCall, FakeTelegram, FakeUser, SentMessage

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.1
MESSAGES_PER_SECOND = 25  # customer updates per second; Telegram allows a bot 30 messages a second
PANEL_KEY = "sk-bench-key-0001"
ADMIN_ID = 900
SERVICE_ID = "102"  # a plain Default service: link, then quantity, then the summary
QUANTITY = "1000"
WALLET = "100"
REPLY_METHODS = frozenset({"sendMessage", "editMessageText"})
BARE_USER_BASE = 10_000
CUSTOMER_BASE = 20_000
WAIT_SECONDS = 120.0
START_SECONDS = 60.0  # a bot process until its first getUpdates, the panel until it listens
STOP_SECONDS = 30.0  # a bot process from SIGINT until it has exited

# The bare bot: PTB defaults, nothing else. argv: BASE_URL TOKEN.
BARE_BOT_SCRIPT = r'''
import html
import sys

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

MENU = InlineKeyboardMarkup([
    [InlineKeyboardButton("🛒 New order", callback_data="new"),
     InlineKeyboardButton("📦 My orders", callback_data="orders")],
    [InlineKeyboardButton("💰 Balance", callback_data="balance"),
     InlineKeyboardButton("❓ Help", callback_data="help")],
])


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and update.effective_user is not None
    await update.effective_message.reply_html(
        f"👋 Hello, {html.escape(update.effective_user.first_name)}!\n\nWhat would you like to do?",
        reply_markup=MENU,
    )


application = ApplicationBuilder().token(sys.argv[2]).base_url(sys.argv[1]).build()
application.add_handler(CommandHandler("start", start))
application.run_polling()
'''


class TimedCalls(list[ApiCall]):
    """``FakeTelegram.calls`` that also keeps the perf_counter moment each call was recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: list[float] = []

    def append(self, call: ApiCall) -> None:
        self.arrived.append(time.perf_counter())
        super().append(call)


# --------------------------------------------------------------------------- the processes


@dataclass
class Child:
    """A process this bench started, and what it left behind once stopped."""

    name: str
    process: asyncio.subprocess.Process
    stderr_path: Path
    peak_rss_mb: float | None = None  # VmHWM, read just before the stop signal
    returncode: int | None = None  # None: it did not stop within STOP_SECONDS and was killed

    @property
    def pid(self) -> int:
        return self.process.pid

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


def child_env(**settings: str) -> dict[str, str]:
    """A clean environment (no stray TELEGRAM_*/PANEL_* or proxy variables): PATH, PYTHONPATH with
    the repo root first so the project imports, and the given settings."""
    python_path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {"PATH": os.environ.get("PATH", os.defpath), "PYTHONPATH": python_path, **settings}


def profiler(profile_dir: Path | None, name: str) -> list[str]:
    """Interpreter options that run the program under cProfile, writing ``profile_dir/name.prof``."""
    return [] if profile_dir is None else ["-m", "cProfile", "-o", str(profile_dir / f"{name}.prof")]


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set size (VmHWM) in MB; None if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+)\s+kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (/proc/<pid>/stat, clock-tick resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime and stime, fields 14 and 15


def cpu_now(*children: Child) -> dict[str, float]:
    """CPU seconds used so far by this process ("bench") and by each child, by name."""
    return {"bench": time.process_time(), **{child.name: cpu_seconds(child.pid) for child in children}}


def cpu_since(before: dict[str, float], *children: Child) -> dict[str, float]:
    after = cpu_now(*children)
    return {name: after[name] - before[name] for name in before}


def die_with_parent() -> None:
    """Run in the child before exec: SIGTERM it if the bench dies first (killed by a test's timeout,
    say), so that no bot is left polling a server that is gone. Linux's PR_SET_PDEATHSIG."""
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)


@asynccontextmanager
async def child_process(
    name: str, args: Sequence[str], *, env: dict[str, str], cwd: Path, log_dir: Path,
    stdout: int = asyncio.subprocess.DEVNULL,
) -> AsyncIterator[Child]:
    """Start ``args``; on the way out read its peak RSS, send SIGINT and wait for it to exit."""
    stderr_path = log_dir / f"{name.replace(' ', '-')}.stderr"
    with stderr_path.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(*args, env=env, cwd=cwd, stdout=stdout, stderr=stderr,
                                                       preexec_fn=die_with_parent)
    child = Child(name, process, stderr_path)
    try:
        yield child
    finally:
        if process.returncode is None:
            child.peak_rss_mb = peak_rss_mb(process.pid)
            process.send_signal(signal.SIGINT)
        try:
            async with asyncio.timeout(STOP_SECONDS):
                child.returncode = await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


async def until_ready(tg: FakeTelegram, child: Child, since: int, methods: Sequence[str]) -> None:
    """Wait until the bot in ``child`` has made the ``methods`` calls, in that order, after call
    number ``since``; RuntimeError with its stderr if it exits or takes too long instead."""
    cursor, pending = since, list(methods)

    def probe() -> bool | None:
        nonlocal cursor
        while pending and cursor < len(tg.calls):
            if tg.calls[cursor].method == pending[0]:
                pending.pop(0)
            cursor += 1
        return None if pending else True

    ready = asyncio.ensure_future(tg.wait_for(probe, timeout=START_SECONDS, what=" then ".join(methods)))
    exited = asyncio.ensure_future(child.process.wait())
    try:
        done, _ = await asyncio.wait({ready, exited}, return_when=asyncio.FIRST_COMPLETED)
        if ready in done:
            ready.result()  # raises if the calls did not come in time
            return
        raise RuntimeError(f"the {child.name} exited with {exited.result()} before it was ready:\n{child.stderr()}")
    finally:
        ready.cancel()
        exited.cancel()


@asynccontextmanager
async def sandbox_panel(work: Path) -> AsyncIterator[tuple[Child, str]]:
    """The sandbox panel in its own process (instant order progress); yields it and its API URL."""
    args = [sys.executable, "-m", "bot.panel.sandbox", "--port", "0", "--key", PANEL_KEY, "--speed", "0"]
    async with child_process("sandbox panel", args, env=child_env(), cwd=work, log_dir=work,
                             stdout=asyncio.subprocess.PIPE) as panel:
        stdout = panel.process.stdout
        assert stdout is not None
        async with asyncio.timeout(START_SECONDS):
            while not (match := re.search(r" at (http://\S+)", (line := (await stdout.readline()).decode()))):
                if not line:
                    raise RuntimeError(f"the sandbox panel exited before it was ready:\n{panel.stderr()}")
        yield panel, match.group(1)


async def panel_requests(api_url: str) -> dict[str, int]:
    """Requests the sandbox panel received, by action (its /_sandbox/stats endpoint)."""
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        response = await http.get(api_url.replace("/api/v2", "/_sandbox/stats"))
        response.raise_for_status()
        return {str(action): int(count) for action, count in response.json()["requests"].items()}


# --------------------------------------------------------------------------- one lockstep round

Push = Callable[[FakeUser], Awaitable[object]]


@dataclass
class Reply:
    """What one user's update got back: the reply calls' indexes in ``calls`` and latencies."""

    indexes: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds after the push, per reply


def is_answer(call: ApiCall) -> bool:
    return call.method in REPLY_METHODS


def flood_window_clear(tg: FakeTelegram, messages: int) -> float:
    """The earliest moment at which ``messages`` more messages keep within the storefront's flood
    limit: at most MESSAGES_PER_WINDOW calls to chats (messages, edits) in any WINDOW_SECONDS."""
    calls = tg.calls
    assert isinstance(calls, TimedCalls)
    horizon = time.perf_counter() - WINDOW_SECONDS
    recent: list[float] = []  # arrival times of the calls to chats still in the window, newest first
    for index in range(len(calls) - 1, -1, -1):
        if calls.arrived[index] <= horizon:
            break
        if calls[index].chat_id:
            recent.append(calls.arrived[index])
    over = len(recent) + min(messages, MESSAGES_PER_WINDOW) - MESSAGES_PER_WINDOW
    return 0.0 if over <= 0 else recent[-over] + WINDOW_SECONDS + 0.01


async def lockstep_round(tg: FakeTelegram, pushes: dict[FakeUser, Push], replies: int = 1) -> dict[int, Reply]:
    """Push every user's update at the same moment, then wait (event-driven) until each chat has
    received ``replies`` answering reply calls; returns them per chat with their latencies."""
    calls = tg.calls
    assert isinstance(calls, TimedCalls)
    start = len(calls)
    pushed: dict[int, float] = {}
    for user, push in pushes.items():
        pushed[user.id] = time.perf_counter()
        await push(user)
    found: dict[int, Reply] = {chat_id: Reply() for chat_id in pushed}
    cursor = start

    def probe() -> bool | None:
        nonlocal cursor
        while cursor < len(calls):
            call = calls[cursor]
            reply = found.get(call.chat_id or 0)
            if reply is not None and len(reply.indexes) < replies and is_answer(call):
                reply.indexes.append(cursor)
                reply.latencies.append(calls.arrived[cursor] - pushed[call.chat_id or 0])
            cursor += 1
        return True if all(len(r.indexes) == replies for r in found.values()) else None

    await tg.wait_for(probe, timeout=WAIT_SECONDS, what=f"{replies} replies in each of {len(found)} chats")
    return found


def replied_message(tg: FakeTelegram, call: ApiCall) -> SentMessage:
    """The live message a sendMessage / editMessageText call produced."""
    assert call.ok, str(call)
    message_id = call.result["message_id"]
    return next(m for m in tg.messages(call.chat_id or 0) if m.message_id == message_id)


def button_data(message: SentMessage, suffix: str) -> str:
    for row in message.buttons():
        for button in row:
            data = str(button.get("callback_data", ""))
            if data.endswith(suffix):
                return data
    raise AssertionError(f"no button ending {suffix!r} in {message.text[:80]!r}: {message.button_texts()}")


def say(text: str) -> Push:
    async def push(user: FakeUser) -> object:
        return await user.send(text)
    return push


def tap(message: SentMessage, suffix: str) -> Push:
    data = button_data(message, suffix)

    async def push(user: FakeUser) -> object:
        return await user.press(message, data)
    return push


async def pace(previous_start: float, interval: float, window_clear: float = 0.0,
               waits: list[float] | None = None) -> float:
    """Sleep until ``interval`` after the previous round's start and until ``window_clear`` (see
    ``flood_window_clear``); returns the new round's start. ``waits`` gets the time added for the
    flood window (printed for both bots).

    Spacing round starts alone is not enough: with 25 customers, replies bunched at the end of
    one round and the start of the next are 50 messages within one second, and the storefront's
    limiter (rightly) holds back the ones past 30; the figure would then measure the limit."""
    ready = max(previous_start + interval, window_clear)
    if waits is not None:
        waits.append(ready - (previous_start + interval))
    await asyncio.sleep(max(0.0, ready - time.perf_counter()))
    return time.perf_counter()


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    spans: list[float] = field(default_factory=list)  # first push → last reply of a round
    per_step: dict[str, list[float]] = field(default_factory=dict)
    outcomes: list[float] = field(default_factory=list)  # Confirm → "✅ Order placed", not a reply figure
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds in the measured rounds, by process
    step_cpu: dict[str, float] = field(default_factory=dict)  # the bot's CPU seconds in each step's interval
    calls: Counter[str] = field(default_factory=Counter)  # the bot's Bot API calls in them, getUpdates aside
    waits: list[float] = field(default_factory=list)  # added to a round's start for the flood window


def count_calls(calls: Sequence[ApiCall]) -> Counter[str]:
    return Counter(call.method for call in calls if call.method != "getUpdates")


def record(phase: Phase, step: str, found: dict[int, Reply]) -> None:
    """The first reply call of each chat is the reply to its update."""
    values = [reply.latencies[0] for reply in found.values()]
    phase.latencies += values
    phase.per_step.setdefault(step, []).extend(values)
    phase.spans.append(max(values))


# --------------------------------------------------------------------------- phase 1: the bare bot


async def bare_phase(
    tg: FakeTelegram, customers: int, rounds: int, interval: float, work: Path, profile_dir: Path | None,
) -> tuple[Phase, Child]:
    users = [tg.user(BARE_USER_BASE + i, f"User {i}") for i in range(customers)]
    phase = Phase()
    script = work / "bare_bot.py"
    script.write_text(BARE_BOT_SCRIPT, encoding="utf-8")
    args = [sys.executable, *profiler(profile_dir, "bare"), str(script), tg.base_url, tg.token]
    since = len(tg.calls)
    async with child_process("bare bot", args, env=child_env(), cwd=work, log_dir=work) as bot:
        await until_ready(tg, bot, since, ("getUpdates",))
        started = time.perf_counter()
        await lockstep_round(tg, {u: say("/start") for u in users})  # warm-up, as the storefront's setup
        cpu, first_call = cpu_now(bot), len(tg.calls)
        for _ in range(rounds):
            started = await pace(started, interval, flood_window_clear(tg, customers), phase.waits)
            record(phase, "/start", await lockstep_round(tg, {u: say("/start") for u in users}))
        await pace(started, interval, flood_window_clear(tg, customers))  # its late calls count too
        phase.cpu = cpu_since(cpu, bot)
    phase.calls = count_calls(tg.calls[first_call:])  # once stopped: the last round's late calls too
    return phase, bot


# --------------------------------------------------------------------------- phase 2: the storefront

STEPS = ("/order", "category", "service", "link", "quantity", "Confirm")


@dataclass
class Storefront:
    bot: Child
    panel: Child
    phase: Phase = field(default_factory=Phase)
    adds: int = 0
    placed_messages: int = 0


async def storefront_phase(
    tg: FakeTelegram, customers: int, orders: int, interval: float, work: Path, profile_dir: Path | None,
) -> Storefront:
    service = next(s for s in DEMO_CATALOGUE if str(s.service_id) == SERVICE_ID)
    home = work / "storefront"
    home.mkdir()
    admin = tg.user(ADMIN_ID, "Admin")
    users = [tg.user(CUSTOMER_BASE + i, f"Customer {i}") for i in range(customers)]
    phase = Phase()
    async with sandbox_panel(work) as (panel, api_url):
        env = child_env(
            TELEGRAM_BOT_TOKEN=tg.token, TELEGRAM_BASE_URL=tg.base_url, PANEL_API_URL=api_url,
            PANEL_API_KEY=PANEL_KEY, DATABASE_URL=f"sqlite:///{home / 'shop.db'}", ADMIN_IDS=str(ADMIN_ID),
            LOG_LEVEL="WARNING",
        )
        args = [sys.executable, *profiler(profile_dir, "storefront"), "-m", "bot"]
        since = len(tg.calls)
        async with child_process("storefront bot", args, env=env, cwd=home, log_dir=work) as bot:
            await until_ready(tg, bot, since, ("setMyCommands", "getUpdates"))
            # Setup, not measured: every customer starts the bot, the admin credits each wallet.
            await lockstep_round(tg, {u: say("/start") for u in users})
            for user in users:
                await admin.send(f"/credit {user.id} {WALLET}")
            await tg.wait_for(
                lambda: True if all(any("was credited" in m.text for m in u.messages()) for u in users) else None,
                timeout=WAIT_SECONDS, what="every wallet credited",
            )
            started = time.perf_counter()  # a full interval before the first measured round
            current: dict[int, SentMessage] = {}
            cpu, first_call = cpu_now(bot, panel), len(tg.calls)
            spacing = interval
            for number, step in enumerate(STEPS * orders):
                started = await pace(started, spacing, flood_window_clear(tg, customers), phase.waits)
                # Confirm's round sends two messages a customer ("⏳ Placing…", then the outcome):
                # twice the interval keeps it, too, under the limit.
                replies = 2 if step == "Confirm" else 1
                spacing = interval * replies
                step_cpu = cpu_seconds(bot.pid)
                pushes: dict[FakeUser, Push]
                if step == "/order":
                    pushes = {u: say("/order") for u in users}
                elif step == "category":
                    pushes = {u: tap(current[u.id], f":cat:{category_key(service.category)}:0") for u in users}
                elif step == "service":
                    pushes = {u: tap(current[u.id], f":svc:{SERVICE_ID}") for u in users}
                elif step == "link":
                    # one link per order: panels refuse a second active order on a link
                    link = f"https://instagram.com/bench_{{}}_{number // len(STEPS)}"
                    pushes = {u: say(link.format(u.id)) for u in users}
                elif step == "quantity":
                    pushes = {u: say(QUANTITY) for u in users}
                else:
                    pushes = {u: tap(current[u.id], ":ok") for u in users}
                found = await lockstep_round(tg, pushes, replies=replies)
                record(phase, step, found)
                if step == "Confirm":
                    phase.outcomes += [reply.latencies[-1] for reply in found.values()]
                for chat_id, reply in found.items():
                    current[chat_id] = replied_message(tg, tg.calls[reply.indexes[-1]])
                    if current[chat_id].text.startswith(("⚠️", texts.ERROR_GENERIC[:20])):
                        raise AssertionError(f"step {step}: chat {chat_id} got {current[chat_id].text!r}\n"
                                             f"--- stderr of the storefront bot:\n{bot.stderr()[-5000:]}")
                await pace(started, spacing)  # the step's whole interval, so that its late calls count too
                phase.step_cpu[step] = phase.step_cpu.get(step, 0.0) + cpu_seconds(bot.pid) - step_cpu
            phase.cpu = cpu_since(cpu, bot, panel)
        phase.calls = count_calls(tg.calls[first_call:])  # once stopped: the last round's late calls too
        adds = (await panel_requests(api_url)).get("add", 0)
    placed = sum(1 for u in users for m in u.messages() if m.text.startswith("✅ Order placed"))
    return Storefront(bot=bot, panel=panel, phase=phase, adds=adds, placed_messages=placed)


# --------------------------------------------------------------------------- report


def p50(values: Sequence[float]) -> float:
    return statistics.median(values)


def p95(values: Sequence[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def figures(values: Sequence[float]) -> str:
    return f"p50 {ms(p50(values))}   p95 {ms(p95(values))}   max {ms(max(values))}"


def megabytes(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} MB"


def cpu_use(phase: Phase) -> str:
    """CPU seconds per process in the measured rounds, and per measured update."""
    return ", ".join(f"{name} {seconds:.2f} s ({seconds / len(phase.latencies) * 1000:.1f} ms)"
                     for name, seconds in phase.cpu.items())


def calls_per_update(phase: Phase) -> str:
    updates = len(phase.latencies)
    return (f"{phase.calls.total() / updates:.2f} (" + ", ".join(
        f"{method} {count / updates:.2f}" for method, count in phase.calls.most_common()) + ")")


def exit_status(child: Child) -> str:
    return "did not stop, killed" if child.returncode is None else f"exit code {child.returncode}"


async def run(customers: int, orders: int, rounds: int | None, interval: float, profile_dir: Path | None) -> bool:
    bare_rounds = len(STEPS) * orders if rounds is None else rounds
    with tempfile.TemporaryDirectory(prefix="conversation-load-") as tmp:
        work = Path(tmp)
        async with FakeTelegram() as tg:
            tg.calls = TimedCalls()
            bare, bare_bot = await bare_phase(tg, customers, bare_rounds, interval, work, profile_dir)
            await asyncio.sleep(interval)  # pacing: a full round interval between the two phases
            shop = await storefront_phase(tg, customers, orders, interval, work, profile_dir)
            failed = [call for call in tg.calls if not call.ok and call.method != "getUpdates"]
        bots = (bare_bot, shop.bot)
        for bot in bots:  # both run with warnings and errors only: anything there is news
            if bot.returncode != 0 or bot.stderr().strip():
                print(f"--- stderr of the {bot.name} ({exit_status(bot)}):\n{bot.stderr()}", file=sys.stderr)
    store = shop.phase
    ratio = p95(store.latencies) / p95(bare.latencies)
    fast_enough = ratio <= TARGET_RATIO
    orders_ok = shop.adds == customers * orders and shop.placed_messages == customers * orders and not failed
    exits_ok = all(bot.returncode == 0 for bot in bots)

    print(f"setup: {os.cpu_count()} cores; bench process (pid {os.getpid()}): the FakeTelegram server, the "
          f"simulated users and the timestamps; bare bot in its own process (pid {bare_bot.pid}: PTB defaults, "
          f"updates one at a time, no rate limiter, run_polling); storefront bot in its own process "
          f"(pid {shop.bot.pid}: python -m bot, its production setup: rate limiter, updates of different users "
          f"at once, SQLite) "
          f"with the sandbox panel in another (pid {shop.panel.pid}: python -m bot.panel.sandbox --speed 0); "
          f"the bots long-poll the one FakeTelegram (no flood limits) over loopback, one after the other"
          f"{'; under cProfile (' + str(profile_dir) + ')' if profile_dir else ''}")
    print(f"customers: {customers}   round interval: {interval:.2f} s (<= {MESSAGES_PER_SECOND} updates/s), plus "
          f"what the flood window needs (mean / max per round): bare bot {ms(statistics.fmean(bare.waits))} / "
          f"{ms(max(bare.waits))}, storefront {ms(statistics.fmean(store.waits))} / {ms(max(store.waits))}")
    print(f"rounds: bare bot {bare_rounds} x /start; storefront {orders} order(s) a customer, "
          f"{len(STEPS)} steps each ({', '.join(STEPS)})")
    print(f"samples: bare bot {len(bare.latencies)}, storefront {len(store.latencies)}")
    print("latency = update pushed -> the bot's reply call (sendMessage/editMessageText) received by the fake server")
    print(f"bare bot        {figures(bare.latencies)}")
    print(f"storefront bot  {figures(store.latencies)}   (all steps; Confirm's reply is '⏳ Placing your order…')")
    for step in STEPS:
        step_cpu_ms = store.step_cpu[step] / len(store.per_step[step]) * 1000
        print(f"  {step:<15}  {figures(store.per_step[step])}   bot CPU {step_cpu_ms:4.1f} ms per update")
    print(f"  {'Confirm -> ✅':<15}  {figures(store.outcomes)}   (until the order's outcome; not a reply figure)")
    print(f"round span (first push -> last reply), median: bare bot {ms(p50(bare.spans))}, "
          f"storefront {ms(p50(store.spans))} (/ customers: {ms(p50(bare.spans) / customers)}, "
          f"{ms(p50(store.spans) / customers)})")
    print(f"p95 ratio storefront / bare: {ratio:.2f} (target <= {TARGET_RATIO}): {'PASS' if fast_enough else 'FAIL'}")
    print(f"orders placed: {shop.placed_messages} of {customers * orders} (panel add requests: {shop.adds}, "
          f"'✅ Order placed' messages: {shop.placed_messages}): {'PASS' if orders_ok else 'FAIL'}")
    if failed:
        print(f"failed Bot API calls: {len(failed)}; first: {failed[0]}")
    print(f"bots stopped with SIGINT: bare bot {exit_status(bare_bot)}, storefront bot {exit_status(shop.bot)}: "
          f"{'PASS' if exits_ok else 'FAIL'}")
    print(f"Bot API calls per measured update: bare bot {calls_per_update(bare)}; "
          f"storefront bot {calls_per_update(store)}")
    print(f"CPU in the measured rounds (per measured update): bare phase: {cpu_use(bare)}; "
          f"storefront phase: {cpu_use(store)}")
    print(f"peak RSS (VmHWM): bare bot {megabytes(bare_bot.peak_rss_mb)}, storefront bot "
          f"{megabytes(shop.bot.peak_rss_mb)} (sandbox panel {megabytes(shop.panel.peak_rss_mb)}, bench process "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MB)")
    return fast_enough and orders_ok and exits_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Reply latency of the storefront under 25 simultaneous customers.")
    parser.add_argument("--customers", type=int, default=25)
    parser.add_argument("--orders", type=int, default=3,
                        help="orders each customer places one after the other (more samples, steadier p95)")
    parser.add_argument("--rounds", type=int, default=None,
                        help=f"bare-bot rounds (default: {len(STEPS)} x orders, as many as the storefront's)")
    parser.add_argument("--interval", type=float, default=None,
                        help=f"seconds between round starts (default: customers / {MESSAGES_PER_SECOND})")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="run both bots under cProfile, writing DIR/bare.prof and DIR/storefront.prof")
    args = parser.parse_args(argv)
    interval = args.customers / MESSAGES_PER_SECOND if args.interval is None else args.interval
    profile_dir = None if args.profile is None else args.profile.resolve()
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    return 0 if asyncio.run(run(args.customers, args.orders, args.rounds, interval, profile_dir)) else 1


if __name__ == "__main__":
    sys.exit(main())
