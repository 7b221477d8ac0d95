"""Shared fixtures: a sandbox panel over loopback HTTP and a client for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.panel import PanelClient
from bot.panel.sandbox import Dialect, SandboxClock, SandboxPanel, SandboxServer
from tests.support import databases

SANDBOX_KEY = "sk-test-0123456789abcdef"


@pytest.fixture(autouse=True)
def _drop_test_databases() -> Iterator[None]:
    """On PostgreSQL (TEST_POSTGRES_URL), each test's databases are emptied for the next when it ends."""
    yield
    if databases.TEST_POSTGRES_URL:
        asyncio.run(databases.release_used())


def pytest_sessionfinish(session: pytest.Session) -> None:
    if databases.TEST_POSTGRES_URL:
        asyncio.run(databases.drop_all())


def pytest_report_header() -> str:
    return f"database engine: {databases.ENGINE}"


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
