"""Start the demo panels of sandbox mode (SANDBOX_PANELS), each over its own loopback port.

    started = await start_sandbox_panels(3)
    for spec, server, key in started:
        client = PanelClient(server.api_url, key)
    ...
    await stop_sandbox_panels(started)
"""

from __future__ import annotations

import secrets
from typing import NamedTuple

from bot.panel.sandbox.catalogue import SANDBOX_PANELS, SandboxPanelSpec
from bot.panel.sandbox.engine import SandboxClock, SandboxPanel
from bot.panel.sandbox.server import SandboxServer


class StartedSandboxPanel(NamedTuple):
    spec: SandboxPanelSpec
    server: SandboxServer
    key: str  # made up here for this run: a sandbox key, no secret of anyone's


async def start_sandbox_panels(count: int, *, clock: SandboxClock | None = None, host: str = "127.0.0.1",
                               port: int = 0, latency: float = 0.0) -> list[StartedSandboxPanel]:
    """The first `count` (1–3) demo panels, started. They share one clock (a new one unless given).
    `port` 0 takes free ports; another number takes it and the ports after it. If one fails to
    start, those already started are stopped again."""
    if not 1 <= count <= len(SANDBOX_PANELS):
        raise ValueError(f"the sandbox has 1 to {len(SANDBOX_PANELS)} demo panels, not {count}")
    shared_clock = clock or SandboxClock()
    started: list[StartedSandboxPanel] = []
    try:
        for index, spec in enumerate(SANDBOX_PANELS[:count]):
            key = secrets.token_urlsafe(24)
            panel = SandboxPanel(api_key=key, dialect=spec.dialect, clock=shared_clock, funds=spec.funds,
                                 currency=spec.currency, catalogue=spec.catalogue,
                                 first_order_id=spec.first_order_id, first_refill_id=spec.first_refill_id)
            server = SandboxServer(panel, host=host, port=port + index if port else 0, latency=latency)
            started.append(StartedSandboxPanel(spec, server, key))  # first: stopped too if start fails
            await server.start()
    except BaseException:
        await stop_sandbox_panels(started)
        raise
    return started


async def stop_sandbox_panels(started: list[StartedSandboxPanel]) -> None:
    for one in started:
        await one.server.stop()
