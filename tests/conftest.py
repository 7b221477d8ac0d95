"""Shared fixtures: a sandbox panel over loopback HTTP and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.panel import PanelClient
from bot.panel.sandbox import Dialect, SandboxClock, SandboxPanel, SandboxServer

SANDBOX_KEY = "sk-test-0123456789abcdef"


@pytest.fixture(params=[Dialect.V2, Dialect.V3], ids=["v2", "v3"])
def dialect(request: pytest.FixtureRequest) -> Dialect:
    return request.param


@pytest.fixture
def panel(dialect: Dialect) -> SandboxPanel:
    """A sandbox whose clock only moves when the test says so."""
    return SandboxPanel(api_key=SANDBOX_KEY, dialect=dialect, clock=SandboxClock(speed=0))


@pytest.fixture
async def server(panel: SandboxPanel) -> AsyncIterator[SandboxServer]:
    async with SandboxServer(panel, hang_seconds=5) as running:
        yield running


@pytest.fixture
async def client(server: SandboxServer) -> AsyncIterator[PanelClient]:
    async with PanelClient(server.api_url, SANDBOX_KEY, timeout=0.5, max_concurrency=4,
                           backoff_base=0.01, backoff_max=0.05) as panel_client:
        yield panel_client
